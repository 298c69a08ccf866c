"""Killing a process from outside at one of pricer's pause points (pricer/training/pause_points.py),
and reading what the killed run and its retries left behind."""

import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

from pricer.hub.local_git import LocalGitStore
from pricer.release.checkpoints import checkpoint_message

STARTED = re.compile(r"epoch (\d+): from global step (\d+)")


def arm(monkeypatch, points: list[str], folder: Path) -> None:
    """Make processes started from now on pause at `points`, in this order, once each."""
    monkeypatch.setenv("PRICER_PAUSE_AT", ",".join(points))
    monkeypatch.setenv("PRICER_PAUSE_DIR", str(folder))


def signal_when_paused(
    folder: Path,
    point: str,
    still_running: Callable[[], bool],
    timeout_s: float = 600,
    sent: signal.Signals = signal.SIGKILL,
) -> dict:
    """Wait until a process pauses at `point` (as armed, e.g. `late_in_epoch@2`), send it `sent`
    (SIGKILL: wait until it is gone), and return what its marker says."""
    paused = wait_until_paused(folder, point, still_running, timeout_s)
    send(paused, sent)
    return paused


def wait_until_paused(
    folder: Path, point: str, still_running: Callable[[], bool], timeout_s: float = 600
) -> dict:
    """Wait until a process pauses at `point`; return what its marker says. It waits there."""
    marker = folder / f"{point}.json"
    deadline = time.monotonic() + timeout_s
    while not marker.exists():
        if not still_running():
            raise AssertionError(f"the process ended without pausing at {point}")
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing paused at {point} in {timeout_s:.0f} s")
        time.sleep(0.2)
    return json.loads(marker.read_text())


def send(paused: dict, sent: signal.Signals = signal.SIGKILL) -> None:
    """Send the paused process `sent`; after SIGKILL, wait until it is gone."""
    os.kill(paused["pid"], sent)
    if sent == signal.SIGKILL:
        _wait_gone(paused["pid"])


def _wait_gone(pid: int) -> None:
    # A killed child stays a zombie until its parent reaps it; /proc then says "Z".
    status = Path(f"/proc/{pid}/stat")
    while status.exists():
        try:
            if status.read_text().split(") ", 1)[1].startswith("Z"):
                return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.05)


def epoch_starts(instance, run_id: str) -> list[tuple[int, int]]:
    """(epoch, global step) where each training attempt in a Dagster run began, from its log."""
    found = []
    for entry in instance.all_logs(run_id):
        match = STARTED.match(entry.user_message or "")
        if match:
            found.append((int(match[1]), int(match[2])))
    return found


def check_one_push_per_epoch(pricer_home: Path, run_key: str, epochs: int) -> None:
    store = LocalGitStore(pricer_home / "hub")
    messages = [message for _, message in store.history(f"local/{run_key}")]
    # Newest first: each epoch's adapter, then its model card (one subject for both), a killed
    # push neither lost nor doubled.
    subjects = [checkpoint_message(run_key, epoch) for epoch in range(epochs, 0, -1)]
    assert messages == [subject for subject in subjects for _ in ("card", "adapter")]
