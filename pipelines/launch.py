"""Launching pricer's jobs on a Dagster instance from Python, as the UI or a sensor would.

Each job is rebuilt in the step processes from this module's functions, so every step (each
epoch included) runs in a process of its own, exactly as under `dagster dev`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from pipelines.definitions import defs
from pipelines.step_processes import fork_server_of_its_own
from pricer.training.run_keys import new_run_key


def prepare_job() -> dg.JobDefinition:
    return defs.resolve_job_def("prepare")


def training_run_job() -> dg.JobDefinition:
    return defs.resolve_job_def("training_run")


def select_best_job() -> dg.JobDefinition:
    return defs.resolve_job_def("select_best")


def promote_champion_job() -> dg.JobDefinition:
    return defs.resolve_job_def("promote_champion")


@contextmanager
def launched(job, instance: dg.DagsterInstance, **options) -> Iterator[dg.ExecuteJobResult]:
    """`dg.execute_job` on a fork server of the run's own, so its steps see the environment as it
    is now (pipelines/step_processes.py); `job` is reconstructable."""
    with fork_server_of_its_own(), dg.execute_job(job, instance, **options) as result:
        yield result


def execute(job, instance: dg.DagsterInstance, run_config=None, partition_key=None) -> str:
    """Run one job to the end; returns the Dagster run id, raises if the run failed.

    A blocking asset check that fails is a verdict, not a crash: its asset was materialized and
    the check's result is recorded on the instance, so the run id is returned as for a success.
    """
    tags = {"dagster/partition": partition_key} if partition_key else None
    with launched(
        dg.reconstructable(job), instance, run_config=run_config or {}, tags=tags
    ) as result:
        if not result.success and not _only_checks_failed(result):
            raise RuntimeError(f"{result.job_def.name} failed: see the UI, run {result.run_id}")
        return result.run_id


def _only_checks_failed(result: dg.ExecuteJobResult) -> bool:
    failures = result.get_step_failure_events()
    return bool(failures) and all(
        event.step_failure_data.error is not None
        and event.step_failure_data.error.cls_name == "DagsterAssetCheckFailedError"
        for event in failures
    )


def prepare(instance: dg.DagsterInstance, dataset_config: dict) -> str:
    return execute(prepare_job, instance, {"ops": {"product_dataset": {"config": dataset_config}}})


def train_new_run(instance: dg.DagsterInstance, training_config: dict) -> str:
    """Add a training-run partition, train it epoch by epoch and choose its best checkpoint."""
    run_key = new_run_key()
    instance.add_dynamic_partitions("training_runs", [run_key])
    execute(
        training_run_job,
        instance,
        {"ops": {"lora_adapter_epoch_1": {"config": training_config}}},
        partition_key=run_key,
    )
    execute(select_best_job, instance, partition_key=run_key)
    return run_key


def promote(instance: dg.DagsterInstance, run_key: str) -> str:
    """Challenge the champion with a judged run's best checkpoint, as the sensor after select_best
    does; a challenger that loses is a verdict, not a failure."""
    config = {"ops": {"challenger": {"config": {"run": run_key}}}}
    return execute(promote_champion_job, instance, config)


def resume_training_run(instance: dg.DagsterInstance, run_id: str) -> str:
    """Re-execute an interrupted training run from its first unfinished step, with its own
    config and partition, then choose its best checkpoint; returns the run's key."""
    run_key = instance.get_run_by_id(run_id).tags["dagster/partition"]
    with launched(
        dg.reconstructable(training_run_job),
        instance,
        reexecution_options=dg.ReexecutionOptions.from_failure(run_id, instance),
        # The partition is not carried over by re-execution from Python; without it every
        # partitioned step would fail.
        tags={"dagster/partition": run_key},
    ) as result:
        if not result.success:
            raise RuntimeError(f"training_run failed again: see the UI, run {result.run_id}")
    execute(select_best_job, instance, partition_key=run_key)
    return run_key


def check_passed(
    instance: dg.DagsterInstance, asset: str, check: str, partition: str
) -> bool | None:
    """The latest verdict of an asset check for one partition: None if it never finished.

    Read from the runs of that partition, newest first, through the instance's public API."""
    for run in instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": partition})):
        verdict = check_passed_in_run(instance, run.run_id, asset, check)
        if verdict is not None:
            return verdict
    return None


def check_passed_in_run(
    instance: dg.DagsterInstance, run_id: str, asset: str, check: str
) -> bool | None:
    """An asset check's verdict in one run: None if the run did not evaluate it."""
    key = dg.AssetCheckKey(dg.AssetKey(asset), check)
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    for entry in reversed(events):
        evaluation = entry.asset_check_evaluation
        if evaluation is not None and evaluation.asset_check_key == key:
            return evaluation.passed
    return None


def stored_value(instance: dg.DagsterInstance, asset: str, partition: str | None = None) -> object:
    """The value an asset's newest materialization stored, typed, through its IO manager."""
    return defs.load_asset_value(asset, partition_key=partition, instance=instance)


def latest_metadata(instance: dg.DagsterInstance, asset: str, partition: str | None = None) -> dict:
    """What the UI shows for an asset's newest materialization: display values, for people."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None
        ),
        limit=1,
    ).records
    if not records:
        raise LookupError(f"{asset} ({partition}) has never been materialized")
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}
