"""Launching pricer's jobs on a Dagster instance from Python, as the UI or a sensor would.

Each job is rebuilt in the step processes from this module's functions, so every step (each
epoch included) runs in a process of its own, exactly as under `dagster dev`.
"""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import defs
from pricer.run_keys import new_run_key


def prepare_job() -> dg.JobDefinition:
    return defs.resolve_job_def("prepare")


def training_run_job() -> dg.JobDefinition:
    return defs.resolve_job_def("training_run")


def select_best_job() -> dg.JobDefinition:
    return defs.resolve_job_def("select_best")


def execute(job, instance: dg.DagsterInstance, run_config=None, partition_key=None) -> str:
    """Run one job to the end; returns the Dagster run id, raises if the run failed."""
    tags = {"dagster/partition": partition_key} if partition_key else None
    with dg.execute_job(
        dg.reconstructable(job), instance=instance, run_config=run_config or {}, tags=tags
    ) as result:
        if not result.success:
            raise RuntimeError(f"{result.job_def.name} failed: see the UI, run {result.run_id}")
        return result.run_id


def prepare(instance: dg.DagsterInstance, dataset_config: dict) -> str:
    return execute(prepare_job, instance, {"ops": {"product_dataset": {"config": dataset_config}}})


def train_new_run(instance: dg.DagsterInstance, training_config: dict) -> str:
    """Add a training-run partition, train it epoch by epoch and choose its best checkpoint."""
    run_key = new_run_key()
    instance.add_dynamic_partitions("training_runs", [run_key])
    execute(
        training_run_job, instance,
        {"ops": {"lora_adapter_epoch_1": {"config": training_config}}}, partition_key=run_key,
    )
    execute(select_best_job, instance, partition_key=run_key)
    return run_key


def latest_metadata(instance: dg.DagsterInstance, asset: str, partition: str | None = None) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None
        ),
        limit=1,
    ).records
    if not records:
        raise LookupError(f"{asset} ({partition}) has never been materialized")
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}
