"""Nobody resumes a killed training run by hand: under the real `dagster dev` (webserver and
daemon) on an instance set up by the shipped dagster.yaml, a training run launched as the UI
launches it has its epoch process killed with SIGKILL, and the daemon's own retry, from failure,
resumes the epoch from its last step checkpoint and finishes the run.

Meanwhile a second training run, launched while the first trains, waits for the training pool's
one slot, and a `select_best` run, which does not train, goes through."""

import itertools
import shutil
import time
from collections.abc import Callable
from typing import TypeVar

import dagster as dg
from conftest import REPO, serving_dagster_dev
from pausing import arm, check_one_push_per_epoch, epoch_starts, send, wait_until_paused
from test_preemption import prepare_training_inputs
from test_webserver import graphql

from assets.epoch_keys import TRAINING_POOL, adapter_key, checkpoint_key, scores_key
from pipelines.presets import TINY_DATASET, TINY_TRAINING
from pricer.training import step_checkpoints
from resources import ComputeResource

# The tiny preset cut to what the story needs, four steps an epoch: epoch 2 is killed at its
# third step (global step 7), one step after a save.
DATASET = {**TINY_DATASET, "train_size": 16, "validation_size": 2, "test_size": 2}
TRAINING = {**TINY_TRAINING, "batch_size": 4, "save_steps": 2}
KILLED = "late_in_epoch@2"
LAUNCH = """
mutation ($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}
"""
ENDED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# Each step is a process of its own that loads the model: on a 2-core machine busy with other
# training, each of the two runs took five minutes (docs/preemption.md).
PATIENCE_S = 1200


def launch_training_run(url: str, run_key: str, training: dict = TRAINING) -> str:
    """What the launchpad sends for a training run of one partition; the run goes to the queue."""
    return launch(
        url, "training_run", run_key, {"ops": {"lora_adapter_epoch_1": {"config": training}}}
    )


def launch(url: str, job: str, run_key: str, run_config: dict) -> str:
    params = {
        "selector": {
            "repositoryLocationName": "pipelines.definitions",
            "repositoryName": "__repository__",
            "jobName": job,
        },
        "runConfigData": run_config,
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": run_key}]},
    }
    launched = graphql(url, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


Found = TypeVar("Found")


def wait_for(found: Callable[[], Found], what: str, timeout_s: float = PATIENCE_S) -> Found:
    deadline = time.monotonic() + timeout_s
    while not (value := found()):
        assert time.monotonic() < deadline, f"no {what} in {timeout_s:.0f} s"
        time.sleep(1)
    return value


def test_the_daemon_retries_a_killed_training_run_by_itself(
    tmp_path, pricer_home, model_path, monkeypatch
):
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(REPO / "docs" / "dagster.yaml", home / "dagster.yaml")
    # A home of its own, the converted model aside: the daemon's sensors promote a champion here,
    # and the session's other tests start with none.
    own_home = tmp_path / "pricer"
    own_home.mkdir()
    (own_home / "models").symlink_to(pricer_home / "models")
    # `dagster dev` and every process it starts inherit these, the pause point included.
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("PRICER_HOME", str(own_home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    arm(monkeypatch, [KILLED], pauses)
    run_key, second_key = "retried-by-the-daemon", "waits-for-the-pool"
    epoch_2 = ComputeResource().run_dir(run_key) / "trainer" / "epoch_2"
    with dg.DagsterInstance.get() as instance:
        prepare_training_inputs(instance, DATASET, baselines=True)
        instance.add_dynamic_partitions("training_runs", [run_key, second_key])
        # One GPU, one slot (docs/dagster.yaml): the killed step's slot must be freed for the
        # retry to train.
        assert instance.event_log_storage.get_concurrency_info(TRAINING_POOL).limit == 1

        def run(run_id: str) -> dg.DagsterRun:
            return instance.get_run_by_id(run_id)

        def logged(run_id: str, text: str) -> bool:
            return any(text in (e.user_message or "") for e in instance.all_logs(run_id))

        with serving_dagster_dev(str(home)) as url:
            first_id = launch_training_run(url, run_key)
            paused = wait_until_paused(
                pauses, KILLED, lambda: run(first_id).status not in ENDED, PATIENCE_S
            )
            # The first run holds the slot, paused in epoch 2. A second training run waits in the
            # queue, which holds back a run whose pool is full; selection, which trains nothing,
            # is launched after it and goes through.
            second_id = launch_training_run(url, second_key, {**TRAINING, "epochs": 1})
            selected_id = launch(url, "select_best", run_key, {})
            wait_for(lambda: run(selected_id).status in ENDED, "end of select_best", 400)
            assert run(selected_id).status == dg.DagsterRunStatus.SUCCESS
            assert logged(selected_id, f"{run_key}: epoch 1 wins")
            assert run(second_id).status == dg.DagsterRunStatus.QUEUED
            send(paused)
            killed_at = time.time()
            # What the killed attempt left: the retry may resume from nothing else.
            left_behind = step_checkpoints.newest(epoch_2)
            assert left_behind is not None, "no step checkpoint was saved before the kill"
            retry = wait_for(
                lambda: run(first_id).tags.get("dagster/auto_retry_run_id"), "retry of the run"
            )
            wait_for(lambda: run(retry).status in ENDED, "end of the retry")
            wait_for(lambda: run(second_id).status in ENDED, "end of the second run")

        first, retried = run(first_id), run(retry)
        assert first.status == dg.DagsterRunStatus.FAILURE
        assert first.tags["dagster/will_retry"] == "true"
        assert retried.status == dg.DagsterRunStatus.SUCCESS
        assert retried.tags["dagster/parent_run_id"] == first_id
        assert retried.tags["dagster/root_run_id"] == first_id
        assert retried.tags["dagster/retry_number"] == "1"
        assert retried.tags["dagster/partition"] == run_key
        # Exactly one retry, launched by the daemon: the run group holds these two runs only.
        _, group = instance.get_run_group(first_id)
        assert sorted(r.run_id for r in group) == sorted([first_id, retry])

        # From failure: epoch 1 stays as the killed run left it, only epoch 2 runs again.
        def materialized_by(asset: str) -> list[str]:
            of_this_run = dg.AssetRecordsFilter(dg.AssetKey(asset), asset_partitions=[run_key])
            records = instance.fetch_materializations(of_this_run, limit=10).records
            return [record.run_id for record in records]

        for asset in (adapter_key(1), checkpoint_key(1), scores_key(1)):
            assert materialized_by(asset) == [first_id], asset
        for asset in (adapter_key(2), checkpoint_key(2), scores_key(2)):
            assert materialized_by(asset) == [retry], asset

        # Epoch 2 began from its beginning once, in the killed run, and the retry took it up
        # at the step checkpoint the kill left, not from scratch.
        ((_, epoch_1_end),) = [s for s in epoch_starts(instance, first_id) if s[0] == 2]
        assert epoch_starts(instance, first_id) == [(1, 0), (2, epoch_1_end)]
        resumed = step_checkpoints.step_of(left_behind)
        assert epoch_starts(instance, retry) == [(2, resumed)]
        assert paused["epoch"] == 2 and epoch_1_end < resumed < paused["global_step"]
        redone = paused["global_step"] - resumed
        assert redone <= TRAINING["save_steps"]
        timing = instance.get_run_record_by_id(retry)
        print(
            f"\nkilled at step {paused['global_step']}, resumed from step {resumed} "
            f"({redone} steps redone, save_steps={TRAINING['save_steps']}); after the kill, the "
            f"retry was launched at {timing.create_timestamp.timestamp() - killed_at:.0f} s, "
            f"started at {timing.start_time - killed_at:.0f} s and succeeded at "
            f"{timing.end_time - killed_at:.0f} s"
        )
        check_one_push_per_epoch(own_home, run_key, TRAINING["epochs"])

        # One slot: no two training steps of the three runs ever overlapped.
        assert run(second_id).status == dg.DagsterRunStatus.SUCCESS
        spans = sorted(
            span
            for run_id in (first_id, retry, second_id)
            for span in training_spans(instance, run_id)
        )
        # Epochs 1 and 2 (killed) of the first run, epoch 2 of its retry, epoch 1 of the second;
        # the epoch steps past a run's own count take the slot too, for the moment they skip.
        trained = {step for _, _, step in spans}
        for run_id, epoch in ((first_id, 1), (first_id, 2), (retry, 2), (second_id, 1)):
            assert f"{run_id[:8]}/{adapter_key(epoch)}" in trained
        for (_, earlier_end, earlier), (later_start, _, later) in itertools.pairwise(spans):
            assert earlier_end <= later_start, f"{earlier} and {later} trained at once"


def training_spans(instance: dg.DagsterInstance, run_id: str) -> list[tuple[float, float, str]]:
    """(start, end, step) of each training step of a run, from its event log."""
    started: dict[str, float] = {}
    spans = []
    for entry in instance.all_logs(run_id):
        step, event = entry.step_key or "", entry.dagster_event_type
        if not step.startswith("lora_adapter_epoch_") or event is None:
            continue
        if event == dg.DagsterEventType.STEP_START:
            started[step] = entry.timestamp
        elif event in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            spans.append((started.pop(step), entry.timestamp, f"{run_id[:8]}/{step}"))
    assert not started, f"{run_id}: {sorted(started)} started and never ended"
    return spans
