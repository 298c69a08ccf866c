"""One asset per epoch for the adapter, its hub checkpoint and its scores, from a small factory.

Dagster refuses an asset that depends on itself unless it is time-partitioned, so "epoch k resumes
from epoch k-1" is spelled out as k assets, up to a max_epochs fixed when the code location loads.
Epoch k also waits for the scores of epoch k-1, which is what lets early stopping see them.
"""

from pathlib import Path

import dagster as dg

from assets.config import TrainingRunConfig
from assets.metadata import image, latest_metadata, recorded_scores, tracking_link
from assets.metadata import scores as scores_metadata
from assets.partitions import training_runs
from pricer.data.dataset import CuratedDataset
from pricer.data.splits import Splits
from pricer.evaluation.predictions import from_evaluation, save_predictions
from pricer.evaluation.selection import EpochRecord, should_stop_early
from pricer.hub.base import ADAPTER_FILES
from pricer.hub.files import copy_files
from pricer.plots import loss_curve, truth_vs_guess
from pricer.release.model_card import EpochRecord as CardRecord
from pricer.release.model_card import model_card
from pricer.runs import (
    BaseModelSpec,
    CheckpointScores,
    PushedCheckpoint,
    TrainedEpoch,
    checkpoint_message,
    model_card_message,
)
from pricer.training.preflight import check_run_fits
from pricer.training.settings import TrainingSettings
from pricer.training.tracking import track_epoch
from resources import ComputeResource, HubResource, TrackerResource
from resources.launcher import TorchrunLauncher

# One GPU trains one run at a time: every training step shares this pool.
TRAINING_POOL = "pricer_training"


def adapter_key(epoch: int) -> str:
    return f"lora_adapter_epoch_{epoch}"


def checkpoint_key(epoch: int) -> str:
    return f"hub_checkpoint_epoch_{epoch}"


def scores_key(epoch: int) -> str:
    return f"scores_epoch_{epoch}"


def epoch_group(epoch: int) -> str:
    # One group an epoch: collapsed, the lineage graph reads as a chain of epochs, left to right.
    return f"epoch_{epoch}"


def epoch_tags(epoch: int) -> dict[str, str]:
    # Shown on every node of the epoch and searchable in the catalog (tag:epoch=3).
    return {"epoch": str(epoch)}


def build_epoch_assets(max_epochs: int) -> list[dg.AssetsDefinition]:
    assets: list[dg.AssetsDefinition] = []
    for epoch in range(1, max_epochs + 1):
        assets += [
            _adapter_asset(epoch, max_epochs),
            _checkpoint_asset(epoch),
            _scores_asset(epoch),
        ]
    return assets


def _adapter_asset(epoch: int, max_epochs: int) -> dg.AssetsDefinition:
    ins = {
        "product_dataset": dg.AssetIn("product_dataset"),
        "quantized_base_model": dg.AssetIn("quantized_base_model"),
    }
    if epoch > 1:
        ins["previous"] = dg.AssetIn(adapter_key(epoch - 1))
    decorator = dg.asset(
        name=adapter_key(epoch),
        ins=ins,
        deps=[scores_key(epoch - 1)] if epoch > 1 else [],
        partitions_def=training_runs,
        output_required=False,  # past the run's own epoch count, or once stopped early
        group_name=epoch_group(epoch),
        kinds={"pytorch", "wandb"},
        pool=TRAINING_POOL,
        code_version="1",
        tags=epoch_tags(epoch),
        description=f"The LoRA adapter after epoch {epoch} of a training run (TRL SFTTrainer, "
        "loss on the price only), resumed from the epoch before with optimizer, scheduler and "
        "RNG state, so the run trains exactly as one continuous run would.",
    )

    def train(context, tracker, compute, product_dataset, quantized_base_model, settings, previous):
        run_key = context.partition_key
        if epoch > settings.epochs:
            context.log.info(f"{run_key} trains {settings.epochs} epochs: epoch {epoch} is not one")
            return
        if _stopped_early(context, run_key, epoch, settings):
            return
        yield _train(
            context,
            tracker,
            compute,
            product_dataset,
            quantized_base_model,
            settings,
            previous,
            epoch,
        )

    if epoch == 1:

        @decorator
        def first_epoch(
            context: dg.AssetExecutionContext,
            config: TrainingRunConfig,
            tracker: TrackerResource,
            compute: ComputeResource,
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
            yield from train(
                context, tracker, compute, product_dataset, quantized_base_model, settings, None
            )

        return first_epoch

    @decorator
    def later_epoch(
        context: dg.AssetExecutionContext,
        tracker: TrackerResource,
        compute: ComputeResource,
        product_dataset: CuratedDataset,
        quantized_base_model: BaseModelSpec,
        previous: TrainedEpoch,
    ):
        yield from train(
            context,
            tracker,
            compute,
            product_dataset,
            quantized_base_model,
            previous.settings,
            previous,
        )

    return later_epoch


def _stopped_early(context, run_key: str, epoch: int, settings: TrainingSettings) -> bool:
    if settings.early_stopping_patience == 0:
        return False
    records = []
    for earlier in range(1, epoch):
        found = latest_metadata(context, scores_key(earlier), run_key)
        if found:
            records.append(
                EpochRecord(earlier, float(found["train_loss"]), float(found["validation_error"]))
            )
    if should_stop_early(records, settings.early_stopping_patience, settings.overfit_tolerance):
        context.log.info(f"overfitting began before epoch {epoch}: stopping {run_key} early")
        return True
    return False


def _train(
    context: dg.AssetExecutionContext,
    tracker: TrackerResource,
    compute: ComputeResource,
    dataset: CuratedDataset,
    base: BaseModelSpec,
    settings: TrainingSettings,
    previous: TrainedEpoch | None,
    epoch: int,
) -> dg.Output[TrainedEpoch]:
    from pricer.training.trainer import (
        train_epoch,  # torch and transformers: only where they are used
    )

    run_key = context.partition_key
    if previous is not None and previous.dataset_version != dataset.version:
        raise ValueError(
            f"the dataset changed since epoch 1 of {run_key} ({previous.dataset_version} -> "
            f"{dataset.version}); start a new training run instead of mixing data mid-run"
        )
    run_dir = compute.run_dir(run_key)
    epoch_arguments = {
        "model_path": base.path,
        "train_items": dataset.splits.train,
        "eval_items": dataset.splits.validation,
        "settings": settings,
        "epoch": epoch,
        "output_dir": run_dir / "trainer",
        "resume_from": previous.checkpoint_dir if previous else None,
        "device": compute.device,
    }
    if compute.training_processes > 1:
        from pricer.training.distributed import EpochSpec

        # No W&B here: every rank would start a run of its own.
        launcher = TorchrunLauncher(processes=compute.training_processes)
        result = launcher.train_epoch(context, EpochSpec(**epoch_arguments)).result
        tracking = tracking_link(tracker.mode, "")
    else:
        with track_epoch(
            tracker.mode,
            tracker.project,
            run_key,
            epoch,
            settings.as_dict(),
            run_dir,
            api_key=tracker.api_key,
        ) as tracked:
            result = train_epoch(
                **epoch_arguments, report_to=tracked.report_to, progress=context.log.info
            )
        tracking = tracking_link(tracker.mode, tracked.location)
    trained = TrainedEpoch(
        run_key=run_key,
        epoch=epoch,
        checkpoint_dir=result.checkpoint_dir,
        settings=settings,
        dataset_version=dataset.version,
        train_loss=result.train_loss,
        step_losses=(previous.step_losses if previous else []) + result.step_losses,
        step_learning_rates=(previous.step_learning_rates if previous else [])
        + result.step_learning_rates,
        epoch_ends=(previous.epoch_ends if previous else []) + [result.global_step],
    )
    adapter_file = Path(result.checkpoint_dir) / "adapter_model.safetensors"
    return dg.Output(
        trained,
        metadata={
            "epoch": epoch,
            "train_loss": dg.MetadataValue.float(round(result.train_loss, 5)),
            "eval_loss": dg.MetadataValue.float(round(result.eval_loss, 5)),
            "learning_rate": dg.MetadataValue.float(result.learning_rate),
            "steps": dg.MetadataValue.int(result.steps_this_epoch),
            "global_step": dg.MetadataValue.int(result.global_step),
            "tokens": dg.MetadataValue.int(result.tokens_this_epoch),
            "wall_time_s": dg.MetadataValue.float(round(result.seconds, 1)),
            "setup_time_s": dg.MetadataValue.float(round(result.setup_seconds, 1)),
            "adapter_mb": dg.MetadataValue.float(round(adapter_file.stat().st_size / 1e6, 2)),
            "checkpoint_dir": dg.MetadataValue.path(str(result.checkpoint_dir)),
            "wandb_run": tracking,
            "training_processes": compute.training_processes,
            "loss_curve": image(
                loss_curve(trained.step_losses, trained.step_learning_rates, trained.epoch_ends),
                "training loss and learning rate",
            ),
        },
    )


def _checkpoint_asset(epoch: int) -> dg.AssetsDefinition:
    @dg.asset(
        name=checkpoint_key(epoch),
        ins={"trained": dg.AssetIn(adapter_key(epoch))},
        partitions_def=training_runs,
        group_name=epoch_group(epoch),
        kinds={"huggingface"},
        code_version="2",
        tags=epoch_tags(epoch),
        description=f"Epoch {epoch}'s adapter pushed as one commit to the training run's hub repo "
        "in PEFT format, loadable again by its revision; its scores add the model card on top.",
    )
    def hub_checkpoint(
        context: dg.AssetExecutionContext,
        hub: HubResource,
        compute: ComputeResource,
        trained: TrainedEpoch,
    ) -> dg.Output[PushedCheckpoint]:
        # The adapter alone: the trainer's folder also holds PEFT's own card, and the model card
        # worth pushing needs the scores this checkpoint has yet to get.
        staged = compute.run_dir(trained.run_key) / "push" / f"epoch_{epoch}"
        copy_files(Path(trained.checkpoint_dir), staged, ADAPTER_FILES)
        store = hub.store()
        repo_id = store.ensure_repo(trained.run_key)
        revision = store.push_folder(repo_id, staged, checkpoint_message(trained.run_key, epoch))
        context.log.info(f"pushed epoch {epoch} to {repo_id}@{revision.revision[:12]}")
        return dg.Output(
            PushedCheckpoint(
                trained.run_key, epoch, revision, trained.train_loss, trained.settings
            ),
            data_version=dg.DataVersion(revision.revision),
            metadata={
                "epoch": epoch,
                "repo_id": repo_id,
                "revision": revision.revision,
                "commit": dg.MetadataValue.url(revision.url),
            },
        )

    return hub_checkpoint


def _scores_asset(epoch: int) -> dg.AssetsDefinition:
    @dg.asset(
        name=scores_key(epoch),
        ins={"pushed": dg.AssetIn(checkpoint_key(epoch))},
        partitions_def=training_runs,
        group_name=epoch_group(epoch),
        kinds={"pytorch", "huggingface"},
        code_version="2",
        tags=epoch_tags(epoch),
        description=f"Epoch {epoch}'s checkpoint, loaded back from the hub by revision and scored "
        "on the validation and test splits ($ error, RMSLE, hits, outputs with no number); the "
        "scores then go to the hub as the checkpoint's model card, in a commit of their own.",
    )
    def checkpoint_scores(
        context: dg.AssetExecutionContext,
        hub: HubResource,
        compute: ComputeResource,
        pushed: PushedCheckpoint,
        product_dataset: CuratedDataset,
        quantized_base_model: BaseModelSpec,
    ) -> dg.Output[CheckpointScores]:
        from pricer.evaluation.scoring import evaluate_model

        run_dir = compute.run_dir(pushed.run_key)
        splits = product_dataset.splits
        store = hub.store()
        repo_id, scored_revision = pushed.revision.repo_id, pushed.revision.revision
        local = store.download(repo_id, scored_revision, run_dir / "revisions" / scored_revision)
        results = evaluate_model(
            quantized_base_model.path,
            {"validation": splits.validation, "test": splits.test},
            adapter_dir=str(local),
            device=compute.device,
            batch_size=compute.scoring_batch_size(),
            progress=context.log.info,
            weighted=True,
        )
        validation, test = results["validation"], results["test"]
        assert validation.weighted is not None and test.weighted is not None
        predictions = save_predictions(
            run_dir / "predictions" / f"epoch_{epoch}.json",
            {split: from_evaluation(evaluation) for split, evaluation in results.items()},
        )

        history = _card_history(context, pushed.run_key, epoch, splits)
        history.append(CardRecord(epoch, pushed.train_loss, validation.scores, test.scores))
        carded = run_dir / "cards" / f"epoch_{epoch}"
        copy_files(local, carded, ADAPTER_FILES)
        (carded / "README.md").write_text(
            model_card(
                quantized_base_model.name,
                pushed.run_key,
                pushed.settings,
                history,
                product_dataset.version,
            )
        )
        card = store.push_folder(repo_id, carded, model_card_message(pushed.run_key, epoch))
        return dg.Output(
            CheckpointScores(
                epoch,
                card,
                pushed.train_loss,
                validation.scores,
                test.scores,
                validation.weighted.scores,
                test.weighted.scores,
            ),
            metadata={
                "epoch": epoch,
                "revision": scored_revision,
                # The checkpoint with its card: what best_checkpoint tags and users load.
                "card_revision": card.revision,
                "card_commit": dg.MetadataValue.url(card.url),
                "train_loss": dg.MetadataValue.float(round(pushed.train_loss, 5)),
                **scores_metadata("validation", validation.scores),
                **scores_metadata("test", test.scores),
                # The probability-weighted price beside greedy; greedy alone chooses the winner.
                **scores_metadata("weighted_validation", validation.weighted.scores),
                **scores_metadata("weighted_test", test.weighted.scores),
                "weighted_fallbacks": dg.MetadataValue.int(
                    validation.weighted.fallbacks + test.weighted.fallbacks
                ),
                "predictions": dg.MetadataValue.path(str(predictions)),
                "truth_vs_guess": image(
                    truth_vs_guess(
                        validation.truths, validation.guesses, f"Epoch {epoch}, validation"
                    ),
                    "truth against guess",
                ),
            },
        )

    return checkpoint_scores


def _card_history(
    context: dg.AssetExecutionContext, run_key: str, epoch: int, splits: Splits
) -> list[CardRecord]:
    """The scores earlier epochs recorded, for the per-epoch table in this epoch's card."""
    history = []
    for earlier in range(1, epoch):
        found = latest_metadata(context, scores_key(earlier), run_key)
        if found:
            history.append(
                CardRecord(
                    earlier,
                    float(found["train_loss"]),
                    recorded_scores(found, "validation", len(splits.validation)),
                    recorded_scores(found, "test", len(splits.test)),
                )
            )
    return history
