"""The pricer code location."""

from __future__ import annotations

import os

import dagster as dg

from assets.base_model import quantized_base_model
from assets.baselines import baseline_scores
from assets.best_checkpoint import beats_median_baseline, build_best_checkpoint
from assets.dataset import product_dataset
from assets.epochs import build_epoch_assets
from assets.partitions import training_runs
from assets.quality_report import build_quality_report
from resources import BaseModelResource, ComputeResource, HubResource, TrackerResource

# Fixed when the code location loads: a run may train fewer epochs, never more.
MAX_EPOCHS = int(os.environ.get("PRICER_MAX_EPOCHS", "6"))

epoch_assets = build_epoch_assets(MAX_EPOCHS)
best_checkpoint = build_best_checkpoint(MAX_EPOCHS)
quality_report = build_quality_report(MAX_EPOCHS)

prepare_job = dg.define_asset_job(
    "prepare",
    selection=dg.AssetSelection.assets(product_dataset, quantized_base_model, baseline_scores),
    description="Curate the data, quantize the base model and score the baselines.",
)

# One step at a time: each epoch trains in its own process, and one GPU trains one run.
training_run_job = dg.define_asset_job(
    "training_run",
    selection=dg.AssetSelection.assets(*epoch_assets),
    partitions_def=training_runs,
    config={"execution": {"config": {"multiprocess": {"max_concurrent": 1}}}},
    description="Train a run epoch by epoch, push each checkpoint to the hub and score it.",
)

select_best_job = dg.define_asset_job(
    "select_best",
    selection=dg.AssetSelection.assets(best_checkpoint, quality_report),
    partitions_def=training_runs,
    description="Choose the run's best checkpoint on validation error, mark overfitting and write "
    "the run's quality report.",
)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[training_run_job],
    request_job=select_best_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def select_best_after_training(context: dg.RunStatusSensorContext):
    """A finished training run gets its winner chosen straight away."""
    partition = context.dagster_run.tags.get("dagster/partition")
    if partition:
        return dg.RunRequest(run_key=context.dagster_run.run_id, partition_key=partition)
    return dg.SkipReason("the finished run named no training run")


def _resources() -> dict[str, dg.ConfigurableResource]:
    # Tokens are read from the environment at run time and only for the services that need them.
    hub_kind = os.environ.get("PRICER_HUB", "local")
    tracker_mode = os.environ.get("PRICER_TRACKER", "offline")
    return {
        "base_model": BaseModelResource(
            model_id=os.environ.get("PRICER_BASE_MODEL", "embedded"),
            hf_token=dg.EnvVar("HF_TOKEN") if os.environ.get("HF_TOKEN") else None,
        ),
        "hub": HubResource(
            kind=hub_kind,
            token=dg.EnvVar("HF_TOKEN") if hub_kind == "huggingface" else None,
        ),
        "tracker": TrackerResource(
            mode=tracker_mode,
            api_key=dg.EnvVar("WANDB_API_KEY") if tracker_mode == "online" else None,
        ),
        "compute": ComputeResource(),
    }


defs = dg.Definitions(
    assets=[
        product_dataset,
        quantized_base_model,
        baseline_scores,
        *epoch_assets,
        best_checkpoint,
        quality_report,
    ],
    asset_checks=[beats_median_baseline],
    jobs=[prepare_job, training_run_job, select_best_job],
    sensors=[select_best_after_training],
    resources=_resources(),
)
