"""`lora_adapter_epoch_k`: the adapter after epoch k of a training run, trained by the
`epoch_trainer` resource on top of epoch k-1, with optimizer, scheduler and RNG state."""

from pathlib import Path
from typing import NamedTuple

import dagster as dg

from assets.config import TrainingRunConfig
from assets.epoch_keys import TRAINING_POOL, adapter_key, in_epoch, scores_key
from assets.metadata import image, tracking_link
from pricer.data.dataset import CuratedDataset
from pricer.evaluation.epoch_record import read_records
from pricer.evaluation.selection import should_stop_early
from pricer.model.spec import BaseModelSpec
from pricer.plots import loss_curve
from pricer.training.distributed import EpochSpec
from pricer.training.preflight import check_run_fits
from pricer.training.settings import TrainingSettings
from pricer.training.state_in_hub import epoch_state_on_this_machine, keep_epoch_state
from pricer.training.trained_epoch import TrainedEpoch, after_epoch, require_same_dataset
from resources import ComputeResource, HubResource, TrackerResource
from resources.launcher import EpochTrainer, LaunchedEpoch


class _EpochInputs(NamedTuple):
    """What every epoch trains with, whichever epoch it is."""

    trainer: EpochTrainer
    tracker: TrackerResource
    compute: ComputeResource
    hub: HubResource
    dataset: CuratedDataset
    base: BaseModelSpec


def build_adapter_asset(epoch: int, max_epochs: int) -> dg.AssetsDefinition:
    ins = {
        "product_dataset": dg.AssetIn("product_dataset"),
        "quantized_base_model": dg.AssetIn("quantized_base_model"),
    }
    if epoch > 1:
        ins["previous"] = dg.AssetIn(adapter_key(epoch - 1))
    decorator = dg.asset(
        name=adapter_key(epoch),
        ins=ins,
        # Epoch k waits for the scores of epoch k-1: early stopping reads them.
        deps=[scores_key(epoch - 1)] if epoch > 1 else [],
        output_required=False,  # past the run's own epoch count, or once stopped early
        kinds={"pytorch", "wandb"},
        pool=TRAINING_POOL,
        code_version="1",
        **in_epoch(epoch),
        description=f"The LoRA adapter after epoch {epoch} of a training run (TRL SFTTrainer, "
        "loss on the price only), resumed from the epoch before with optimizer, scheduler and "
        "RNG state, so the run trains exactly as one continuous run would. That state is also kept "
        "on a branch of the run's hub repo, so a retry on another machine resumes from it.",
    )

    def train(context, inputs: _EpochInputs, settings, previous):
        trainer, tracker, compute, hub, dataset, base = inputs
        run_key = context.partition_key
        if epoch > settings.epochs:
            context.log.info(f"{run_key} trains {settings.epochs} epochs: epoch {epoch} is not one")
            return
        if _overfitting_long_enough(compute.run_dir(run_key), epoch, settings):
            context.log.info(f"overfitting began before epoch {epoch}: stopping {run_key} early")
            return
        require_same_dataset(previous, dataset.version)
        output_dir = compute.run_dir(run_key) / "trainer"
        store = hub.store()
        repo_id = store.ensure_repo(run_key)
        resume_from = None
        if previous is not None:
            # The run may have trained epoch k-1 on another machine.
            resume_from, fetched = epoch_state_on_this_machine(
                store, repo_id, output_dir, previous.checkpoint_dir, epoch - 1
            )
            if fetched:
                context.log.info(f"epoch {epoch - 1}'s trainer state fetched from {repo_id}")
        spec = EpochSpec(
            model_path=base.path,
            train_items=dataset.splits.train,
            eval_items=dataset.splits.validation,
            settings=settings,
            epoch=epoch,
            output_dir=output_dir,
            resume_from=resume_from,
            device=compute.device,
            precision=base.precision,
            home=compute.root(),
        )
        launched = trainer.train_epoch(context, spec, tracker)
        kept = keep_epoch_state(store, repo_id, launched.result.checkpoint_dir, epoch)
        context.log.info(f"epoch {epoch}'s trainer state kept at {repo_id}@{kept.revision[:12]}")
        trained = after_epoch(previous, launched.result, run_key, settings, dataset.version)
        yield dg.Output(trained, metadata=_metadata(launched, trained, tracker.mode))

    if epoch == 1:

        @decorator
        def first_epoch(
            context: dg.AssetExecutionContext,
            config: TrainingRunConfig,
            epoch_trainer: EpochTrainer,
            tracker: TrackerResource,
            compute: ComputeResource,
            hub: HubResource,
            product_dataset: CuratedDataset,
            quantized_base_model: BaseModelSpec,
        ):
            settings = config.settings()
            # Before any model is loaded: settings alone, then against the data and the model's
            # config (no weights).
            settings.validate(max_epochs)
            check_run_fits(
                settings,
                len(product_dataset.splits.train),
                quantized_base_model.path,
                compute.device,
            )
            inputs = _EpochInputs(
                epoch_trainer, tracker, compute, hub, product_dataset, quantized_base_model
            )
            yield from train(context, inputs, settings, previous=None)

        return first_epoch

    @decorator
    def later_epoch(
        context: dg.AssetExecutionContext,
        epoch_trainer: EpochTrainer,
        tracker: TrackerResource,
        compute: ComputeResource,
        hub: HubResource,
        product_dataset: CuratedDataset,
        quantized_base_model: BaseModelSpec,
        previous: TrainedEpoch,
    ):
        inputs = _EpochInputs(
            epoch_trainer, tracker, compute, hub, product_dataset, quantized_base_model
        )
        # Later epochs carry on with the settings epoch 1 trained with.
        yield from train(context, inputs, previous.settings, previous)

    return later_epoch


def _overfitting_long_enough(run_dir: Path, epoch: int, settings: TrainingSettings) -> bool:
    """Early stopping, on the records of the epochs before this one."""
    if settings.early_stopping_patience == 0:
        return False
    records = read_records(run_dir, through_epoch=epoch - 1)
    return should_stop_early(records, settings.early_stopping_patience, settings.overfit_tolerance)


def _metadata(launched: LaunchedEpoch, trained: TrainedEpoch, tracker_mode: str) -> dict:
    result, history = launched.result, trained.history
    return {
        "epoch": result.epoch,
        "train_loss": dg.MetadataValue.float(round(result.train_loss, 5)),
        "eval_loss": dg.MetadataValue.float(round(result.eval_loss, 5)),
        "learning_rate": dg.MetadataValue.float(result.learning_rate),
        "steps": dg.MetadataValue.int(result.steps_this_epoch),
        "global_step": dg.MetadataValue.int(result.global_step),
        "tokens": dg.MetadataValue.int(result.tokens_this_epoch),
        "wall_time_s": dg.MetadataValue.float(round(result.seconds, 1)),
        "setup_time_s": dg.MetadataValue.float(round(result.setup_seconds, 1)),
        "adapter_mb": dg.MetadataValue.float(round(trained.adapter_file.stat().st_size / 1e6, 2)),
        "checkpoint_dir": dg.MetadataValue.path(str(result.checkpoint_dir)),
        "wandb_run": tracking_link(tracker_mode, launched.tracking),
        "training_processes": launched.processes,
        "loss_curve": image(
            loss_curve(history.losses, history.learning_rates, history.epoch_ends),
            "training loss and learning rate",
        ),
    }
