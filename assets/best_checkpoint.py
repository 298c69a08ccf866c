"""`best_checkpoint`: a training run's verdict, chosen on validation error alone (test is shown,
never used), with the epoch where overfitting set in; and the check that it beats the median."""

import dagster as dg
from pydantic import Field

from assets.epoch_keys import every_epochs_scores
from assets.metadata import image, slug
from assets.partitions import training_runs
from pricer.evaluation.baselines import MEDIAN, NOISE_FLOOR, RIDGE, BaselineScores
from pricer.evaluation.epoch_record import read_records
from pricer.evaluation.epoch_table import epoch_table, verdict
from pricer.evaluation.predictions import load_predictions
from pricer.evaluation.selection import BestCheckpoint, choose_best
from pricer.plots import loss_curve, truth_vs_guess, validation_curve
from pricer.release.checkpoints import BEST_TAG
from resources import ComputeResource, HubResource


class SelectionConfig(dg.Config):
    overfit_tolerance: float | None = Field(
        default=None,
        description="moved: set overfit_tolerance in the training run's config (epoch 1)",
    )

    def refuse_moved_settings(self) -> None:
        # One tolerance per run: the one early stopping used is the one the onset is judged by.
        if self.overfit_tolerance is not None:
            raise dg.Failure(
                "overfit_tolerance is no longer set on select_best: it is a training run setting, "
                "set on lora_adapter_epoch_1's config, so early stopping and the reported onset "
                "use one tolerance. Remove it from this run's config."
            )


def build_best_checkpoint(max_epochs: int) -> dg.AssetsDefinition:
    @dg.asset(
        # Read from each epoch's stored record, not loaded as inputs: a run that trains fewer
        # than max_epochs epochs, or stops early, still gets a winner.
        deps=every_epochs_scores(max_epochs),
        partitions_def=training_runs,
        group_name="release",
        kinds={"huggingface"},
        code_version="2",
    )
    def best_checkpoint(
        context: dg.AssetExecutionContext,
        config: SelectionConfig,
        hub: HubResource,
        compute: ComputeResource,
        baseline_scores: BaselineScores,
    ) -> dg.Output[BestCheckpoint]:
        """The training run's best checkpoint, chosen on validation error alone (test is shown,
        never used), with the epoch where overfitting set in and the table of every epoch."""
        config.refuse_moved_settings()
        run_key = context.partition_key
        records = read_records(compute.run_dir(run_key), through_epoch=max_epochs)
        if not records:
            raise dg.Failure(f"no epoch of {run_key} has been scored yet")
        best = choose_best(records, baseline_scores)
        # In the hub too: `pricer predict --run` and anyone with the repo can load "best".
        hub.store().tag(best.revision.repo_id, best.revision.revision, BEST_TAG)
        context.log.info(
            f"{run_key}: epoch {best.selection.chosen} wins. {verdict(best.selection)}"
        )
        return dg.Output(best, metadata=_metadata(best))

    return best_checkpoint


def _metadata(best: BestCheckpoint) -> dict:
    chosen, onset = best.selection.chosen, best.selection.onset
    baselines = best.baseline_validation_errors
    winner, history = best.chosen, best.epochs[-1].history
    validation = load_predictions(winner.predictions)["validation"]
    return {
        "chosen_epoch": chosen,
        "overfitting_onset": onset if onset is not None else "none seen",
        # The early warning, often epochs before the onset: the adapter memorising.
        "validation_loss_rising_since": best.selection.loss_rising or "not rising",
        "verdict": verdict(best.selection),
        "revision": best.revision.revision,
        "repo_id": best.revision.repo_id,
        "commit": dg.MetadataValue.url(best.revision.url),
        "hub_tag": BEST_TAG,
        # The weighted price's, which chooses; greedy decoding's beside it.
        "validation_error": dg.MetadataValue.float(round(winner.validation_error, 4)),
        "greedy_validation_error": dg.MetadataValue.float(round(winner.greedy_validation_error, 4)),
        "validation_loss": dg.MetadataValue.float(round(winner.validation_loss, 5)),
        "test_error": dg.MetadataValue.float(round(winner.test_error, 4)),
        **{
            f"{slug(name)}_validation_error": dg.MetadataValue.float(round(value, 4))
            for name, value in baselines.items()
        },
        "epochs": dg.MetadataValue.md(epoch_table(best.epochs, best.selection, baselines)),
        "validation_curve": image(
            validation_curve(
                [r.epoch for r in best.epochs],
                [r.validation_error for r in best.epochs],
                chosen,
                onset,
                {
                    name: baselines[name]
                    for name in (MEDIAN, RIDGE, NOISE_FLOOR)
                    if name in baselines
                },
                greedy_errors=[r.greedy_validation_error for r in best.epochs],
                validation_losses=[r.validation_loss for r in best.epochs],
                loss_rising=best.selection.loss_rising,
            ),
            "validation error per epoch",
        ),
        "winner_truth_vs_guess": image(
            truth_vs_guess(
                validation.truths, validation.weighted, f"Epoch {chosen}, validation, weighted"
            ),
            "truth against guess",
        ),
        # The last epoch's history spans the whole run, with every epoch boundary on it.
        "loss_curve": image(
            loss_curve(history.losses, history.learning_rates, history.epoch_ends),
            "training loss and learning rate",
        ),
    }


# Partitioned like its asset, so it loads the one run it judges: an unpartitioned check is handed
# every run's best_checkpoint at once, and fails on its input once an instance holds two runs.
@dg.asset_check(asset="best_checkpoint", blocking=True, partitions_def=training_runs)
def beats_median_baseline(best_checkpoint: BestCheckpoint) -> dg.AssetCheckResult:
    """The chosen checkpoint must price validation items better than always guessing the
    training median; the ridge regression's score is shown beside it."""
    median = best_checkpoint.baseline_validation_errors[MEDIAN]
    error = best_checkpoint.chosen.validation_error
    return dg.AssetCheckResult(
        passed=error < median,
        metadata={
            "checkpoint_validation_error": round(error, 4),
            "median_constant_validation_error": round(median, 4),
            "ridge_validation_error": round(best_checkpoint.baseline_validation_errors[RIDGE], 4),
        },
    )
