"""Two runs never train at once on one instance: the training steps share a pool of one slot.

Each run is its own process on the instance `docs/dagster.yaml` configures, materializing one
asset in the training pool. The first holds the pool until the second has been seen blocked.

Run as a script, this file is one of those runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from assets.epoch_keys import TRAINING_POOL

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = f"Step blocked by limit for pool {TRAINING_POOL}"


@dg.asset(pool=TRAINING_POOL)
def holds_the_gpu() -> None:
    started = time.time()
    release = Path(os.environ["RELEASE_FILE"])
    while not release.exists():  # held until the test has seen the other run wait
        time.sleep(0.2)
    print(json.dumps([started, time.time()]), flush=True)


def test_every_training_step_is_in_the_pool_and_nothing_else_is_in_any():
    from pipelines.definitions import defs  # here: the script's runs need none of it

    # The instance's limit is a default for every pool: no other step may fall under it.
    assets = [a for a in defs.resolve_asset_graph().assets_defs if a.is_executable]
    pools = {key.path[-1]: a.op.pool for a in assets for key in a.keys}
    training = {name for name in pools if name.startswith("lora_adapter_epoch_")}
    assert training and {pools[name] for name in training} == {TRAINING_POOL}
    assert {pool for name, pool in pools.items() if name not in training} == {None}


def test_a_second_run_waits_for_the_first_to_leave_the_pool(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "docs" / "dagster.yaml", home / "dagster.yaml")
    release = tmp_path / "release"
    env = {**os.environ, "DAGSTER_HOME": str(home), "RELEASE_FILE": str(release)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    logs = [tmp_path / "first.log", tmp_path / "second.log"]

    def launch(log: Path) -> subprocess.Popen:
        command = [sys.executable, __file__]
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log.open("w"))

    runs = [launch(logs[0])]
    try:
        _wait_for(logs[0], "STEP_START", runs[0])
        runs.append(launch(logs[1]))
        _wait_for(logs[1], BLOCKED, runs[1])
        release.touch()
        printed = [run.communicate(timeout=300)[0] for run in runs]
    finally:
        for run in runs:
            run.kill()  # no-op for a run that ended
    assert [run.returncode for run in runs] == [0, 0], [log.read_text() for log in logs]
    (_, first_end), (second_start, _) = [json.loads(out) for out in printed]
    assert first_end <= second_start, f"the runs trained at once: {printed}"
    assert BLOCKED not in logs[0].read_text()


def _wait_for(log: Path, text: str, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert process.poll() is None, f"the run ended before {text!r}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} in {timeout:.0f} s:\n{log.read_text()}"
        time.sleep(0.5)


if __name__ == "__main__":
    dg.materialize([holds_the_gpu], instance=dg.DagsterInstance.get())
