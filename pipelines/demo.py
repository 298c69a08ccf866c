"""`make demo`: one whole training run on the embedded defaults, through the real Dagster instance.

It runs the same jobs the UI launches (prepare, training_run, select_best), each step in its own
process, then prints the epoch table. Open `make ui` afterwards to see it all in the asset graph.
"""

from __future__ import annotations

import sys

import dagster as dg

from pipelines.definitions import MAX_EPOCHS, defs
from pricer.run_keys import new_run_key

# Small enough for a 2-core CPU in minutes, large enough to learn: short texts, a higher learning
# rate than the 8B recipe, a smaller rank.
DEMO_DATASET = {"catalogue_size": 320, "max_text_tokens": 40, "validation_size": 40, "test_size": 40}
DEMO_TRAINING = {
    "epochs": min(4, MAX_EPOCHS), "batch_size": 8, "learning_rate": 1e-3,
    "lora_r": 16, "lora_alpha": 32, "max_length": 96,
}


def prepare_job() -> dg.JobDefinition:
    return defs.resolve_job_def("prepare")


def training_run_job() -> dg.JobDefinition:
    return defs.resolve_job_def("training_run")


def select_best_job() -> dg.JobDefinition:
    return defs.resolve_job_def("select_best")


def _execute(job, instance, run_config=None, partition_key=None) -> None:
    tags = {"dagster/partition": partition_key} if partition_key else None
    with dg.execute_job(
        dg.reconstructable(job), instance=instance, run_config=run_config or {}, tags=tags
    ) as result:
        if not result.success:
            raise SystemExit(f"{result.job_def.name} failed: see `make ui`, run {result.run_id}")


def main() -> None:
    instance = dg.DagsterInstance.get()
    _execute(prepare_job, instance, {"ops": {"product_dataset": {"config": DEMO_DATASET}}})
    run_key = new_run_key()
    instance.add_dynamic_partitions("training_runs", [run_key])
    print(f"training run {run_key}", flush=True)
    _execute(
        training_run_job, instance,
        {"ops": {"lora_adapter_epoch_1": {"config": DEMO_TRAINING}}}, partition_key=run_key,
    )
    _execute(select_best_job, instance, partition_key=run_key)
    print_summary(instance, run_key)


def print_summary(instance: dg.DagsterInstance, run_key: str) -> None:
    record = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("best_checkpoint"), asset_partitions=[run_key]),
        limit=1,
    ).records[0]
    metadata = record.asset_materialization.metadata
    print(f"\n{run_key}: epoch {metadata['chosen_epoch'].value} chosen on validation error\n")
    print(metadata["epochs"].value)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
