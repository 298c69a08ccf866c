"""`scores_epoch_k`: epoch k's checkpoint, loaded back from the hub by revision, scored on
validation and test, its model card committed on top; the run's typed record of the epoch."""

import dagster as dg

from assets.epoch_keys import checkpoint_key, in_epoch, scores_key
from assets.metadata import image
from assets.metadata import scores as scores_metadata
from pricer.data.dataset import CuratedDataset
from pricer.evaluation.epoch_record import EpochRecord, read_records, write_record
from pricer.evaluation.epoch_scoring import ScoredCheckpoint, score_checkpoint
from pricer.model.spec import BaseModelSpec
from pricer.plots import truth_vs_guess
from pricer.release.checkpoints import PushedCheckpoint, push_model_card, scored_record
from resources import ComputeResource, HubResource


def build_scores_asset(epoch: int) -> dg.AssetsDefinition:
    @dg.asset(
        name=scores_key(epoch),
        ins={"pushed": dg.AssetIn(checkpoint_key(epoch))},
        kinds={"pytorch", "huggingface"},
        code_version="3",
        **in_epoch(epoch),
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
    ) -> dg.Output[EpochRecord]:
        run_dir = compute.run_dir(pushed.run_key)
        store, revision = hub.store(), pushed.revision.revision
        adapter = store.download(
            pushed.revision.repo_id, revision, run_dir / "revisions" / revision
        )
        scored = score_checkpoint(
            quantized_base_model.path,
            adapter,
            product_dataset.splits,
            run_dir / "predictions" / f"epoch_{epoch}.json",
            device=compute.device,
            batch_size=compute.scoring_batch_size(),
            progress=context.log.info,
            precision=quantized_base_model.precision,
            home=compute.root(),
        )
        record = push_model_card(
            store,
            scored_record(pushed, scored, quantized_base_model.precision),
            read_records(run_dir, through_epoch=epoch - 1),
            adapter,
            run_dir / "cards" / f"epoch_{epoch}",
            quantized_base_model.name,
            product_dataset.version,
            quantized_base_model.origin,
        )
        # The run's ledger: what selection, early stopping and the reports read.
        write_record(run_dir, record)
        return dg.Output(record, metadata=_metadata(record, scored, revision))

    return checkpoint_scores


def _metadata(record: EpochRecord, scored: ScoredCheckpoint, scored_revision: str) -> dict:
    validation = scored.validation
    weighted = validation.weighted
    assert weighted is not None  # every checkpoint is scored with both predictors
    return {
        "epoch": record.epoch,
        "revision": scored_revision,
        # The checkpoint with its card: what best_checkpoint tags and users load.
        "card_revision": record.revision.revision,
        "card_commit": dg.MetadataValue.url(record.revision.url),
        "train_loss": dg.MetadataValue.float(round(record.train_loss, 5)),
        "validation_loss": dg.MetadataValue.float(round(record.validation_loss, 5)),
        "compute_precision": record.precision,
        **scores_metadata("validation", record.validation),
        **scores_metadata("test", record.test),
        # The probability-weighted price beside greedy: the weighted price chooses the winner.
        **scores_metadata("weighted_validation", record.weighted_validation),
        **scores_metadata("weighted_test", record.weighted_test),
        "weighted_fallbacks": dg.MetadataValue.int(scored.weighted_fallbacks),
        "predictions": dg.MetadataValue.path(str(record.predictions)),
        "truth_vs_guess": image(
            truth_vs_guess(
                validation.truths,
                weighted.guesses,
                f"Epoch {record.epoch}, validation, weighted price",
            ),
            "truth against guess",
        ),
    }
