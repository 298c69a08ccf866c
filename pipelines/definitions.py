"""The pricer code location."""

from __future__ import annotations

import os

import dagster as dg

from assets.base_model import quantized_base_model
from assets.baselines import baseline_scores
from assets.best_checkpoint import beats_median_baseline, build_best_checkpoint
from assets.champion import beats_champion_and_median, challenger, champion
from assets.dataset import product_dataset
from assets.epochs import build_epoch_assets
from assets.overfitting_marks import build_overfitting_marks
from assets.partitions import training_runs
from assets.quality_report import build_quality_report
from pipelines.environment import read_settings
from pipelines.sensors import (
    promote_after_selection,
    retrain_on_new_data,
    retrain_on_schedule,
    select_best_after_training,
    train_on_new_data,
)
from pipelines.step_processes import model_job_executor
from resources import BaseModelResource, ComputeResource, HubResource, TrackerResource
from resources.launcher import EpochTrainer, InProcessTrainer, TorchrunLauncher

SETTINGS = read_settings()
# Fixed when the code location loads: a run may train fewer epochs, never more.
MAX_EPOCHS = SETTINGS.max_epochs

epoch_assets = build_epoch_assets(MAX_EPOCHS)
best_checkpoint = build_best_checkpoint(MAX_EPOCHS)
quality_report = build_quality_report(MAX_EPOCHS)
overfitting_marks = build_overfitting_marks(MAX_EPOCHS)

prepare_job = dg.define_asset_job(
    "prepare",
    selection=dg.AssetSelection.assets(product_dataset, quantized_base_model, baseline_scores),
    executor_def=model_job_executor(),
    description="Curate the data, quantize the base model and score the baselines.",
)

# One step at a time: each epoch trains in its own process, and one GPU trains one run.
training_run_job = dg.define_asset_job(
    "training_run",
    # The epochs' overfitting marks wait for the whole run: select_best runs them.
    selection=dg.AssetSelection.assets(*epoch_assets).without_checks(),
    partitions_def=training_runs,
    executor_def=model_job_executor(max_concurrent=1),
    # A preempted (killed) epoch fails its run; with run_retries on (docs/dagster.yaml), the
    # daemon re-executes it from failure and the epoch resumes from its last step checkpoint.
    tags={"dagster/max_retries": "5", "dagster/retry_strategy": "FROM_FAILURE"},
    description="Train a run epoch by epoch, push each checkpoint to the hub and score it.",
)

select_best_job = dg.define_asset_job(
    "select_best",
    selection=dg.AssetSelection.assets(best_checkpoint, quality_report)
    | dg.AssetSelection.checks(overfitting_marks),
    partitions_def=training_runs,
    description="Choose the run's best checkpoint on validation error, mark the overfitted epochs "
    "on the graph and write the run's quality report.",
)


promote_champion_job = dg.define_asset_job(
    "promote_champion",
    selection=dg.AssetSelection.assets(challenger, champion),
    executor_def=model_job_executor(),
    description="Challenge the champion with a training run's best checkpoint; promote it only if "
    "it beats the champion, re-scored on the run's validation split, and the median constant.",
)


def _resources() -> dict[str, dg.ConfigurableResource]:
    # Tokens are read from the environment at run time and only for the services that need them.
    hub_kind, tracker_mode = SETTINGS.hub, SETTINGS.tracker
    return {
        "base_model": BaseModelResource(
            model_id=SETTINGS.base_model,
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
        "compute": ComputeResource(precision=SETTINGS.precision),
        "epoch_trainer": _epoch_trainer(SETTINGS.training_processes),
    }


def _epoch_trainer(processes: int) -> EpochTrainer:
    # Above one process, each epoch's ranks run under torchrun, started by this Pipes client:
    # another client (Kubernetes, say) runs them elsewhere with no change to the assets.
    if processes > 1:
        return TorchrunLauncher(processes=processes, pipes_client=dg.PipesSubprocessClient())
    return InProcessTrainer()


defs = dg.Definitions(
    assets=[
        product_dataset,
        quantized_base_model,
        baseline_scores,
        *epoch_assets,
        best_checkpoint,
        quality_report,
        challenger,
        champion,
    ],
    asset_checks=[beats_median_baseline, beats_champion_and_median, overfitting_marks],
    jobs=[prepare_job, training_run_job, select_best_job, promote_champion_job],
    sensors=[
        # Retraining on a cron and on new data: both are off until switched on in the UI.
        retrain_on_schedule(SETTINGS.retrain_cron, training_run_job),
        retrain_on_new_data(SETTINGS.watch_source, prepare_job),
        train_on_new_data(prepare_job, training_run_job),
        select_best_after_training(training_run_job, select_best_job),
        promote_after_selection(select_best_job, promote_champion_job),
    ],
    resources=_resources(),
)
