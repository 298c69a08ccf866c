import dagster as dg
from pydantic import Field

from assets.baselines import UNTRAINED
from assets.epochs import adapter_key, checkpoint_key, scores_key
from assets.metadata import image, latest_metadata, slug
from assets.partitions import training_runs
from assets.run_scores import run_scores
from pricer.evaluation.epoch_table import EpochRow, epoch_table
from pricer.evaluation.metrics import Scores
from pricer.evaluation.selection import DEFAULT_TOLERANCE
from pricer.hub import HubRevision
from pricer.plots import validation_curve
from pricer.runs import BEST_TAG, BestCheckpoint
from resources import HubResource

MEDIAN = "median constant"
RIDGE = "ridge on TF-IDF"


class SelectionConfig(dg.Config):
    overfit_tolerance: float = Field(
        default=DEFAULT_TOLERANCE,
        description="how much worse than the best so far validation error must get to count",
    )


def build_best_checkpoint(max_epochs: int) -> dg.AssetsDefinition:
    @dg.asset(
        # Read from each epoch's recorded scores, not loaded as inputs: a run that trains fewer
        # than max_epochs epochs, or stops early, still gets a winner.
        deps=[scores_key(epoch) for epoch in range(1, max_epochs + 1)],
        partitions_def=training_runs,
        group_name="release",
        kinds={"huggingface"},
        code_version="1",
    )
    def best_checkpoint(
        context: dg.AssetExecutionContext,
        config: SelectionConfig,
        hub: HubResource,
        baseline_scores: dict[str, dict[str, Scores]],
    ) -> dg.Output[BestCheckpoint]:
        """The training run's best checkpoint, chosen on validation error alone (test is shown,
        never used), with the epoch where overfitting set in and the table of every epoch."""
        run_key = context.partition_key
        found = run_scores(context, run_key, max_epochs, config.overfit_tolerance)
        scored, records = found.scored, found.records
        chosen, onset = found.chosen, found.onset
        winner = scored[chosen]
        baselines = {
            name: baseline_scores[name]["validation"].mean_abs_error
            for name in (MEDIAN, RIDGE, UNTRAINED)
        }
        rows = [
            EpochRow(
                epoch,
                float(m["train_loss"]),
                float(m["validation_error"]),
                float(m["validation_rmsle"]),
                float(m["validation_hit_rate"]),
                float(m["test_error"]),
                str(m["card_revision"]),
            )
            for epoch, m in scored.items()
        ]
        pushed = latest_metadata(context, checkpoint_key(chosen), run_key) or {}
        # The last epoch's loss curve spans the whole run, with every epoch boundary on it.
        trained = latest_metadata(context, adapter_key(max(scored)), run_key) or {}
        repo_id = str(pushed["repo_id"])
        best = BestCheckpoint(
            run_key=run_key,
            epoch=chosen,
            # The winner's newest commit: its adapter with the model card that carries its scores.
            revision=HubRevision(repo_id, str(winner["card_revision"]), str(winner["card_commit"])),
            validation_error=float(winner["validation_error"]),
            test_error=float(winner["test_error"]),
            overfitting_onset=onset,
            baseline_validation_errors=baselines,
        )
        # In the hub too: `pricer predict --run` and anyone with the repo can load "best".
        hub.store().tag(repo_id, best.revision.revision, BEST_TAG)
        context.log.info(f"{run_key}: epoch {chosen} wins; overfitting from epoch {onset}")
        return dg.Output(
            best,
            metadata={
                "chosen_epoch": chosen,
                "overfitting_onset": onset if onset is not None else "none seen",
                "revision": best.revision.revision,
                "repo_id": repo_id,
                "commit": dg.MetadataValue.url(best.revision.url),
                "hub_tag": BEST_TAG,
                "validation_error": dg.MetadataValue.float(round(best.validation_error, 4)),
                "test_error": dg.MetadataValue.float(round(best.test_error, 4)),
                **{
                    f"{slug(name)}_validation_error": dg.MetadataValue.float(round(value, 4))
                    for name, value in baselines.items()
                },
                "epochs": dg.MetadataValue.md(epoch_table(rows, chosen, onset, baselines)),
                "validation_curve": image(
                    validation_curve(
                        [r.epoch for r in records],
                        [r.validation_error for r in records],
                        chosen,
                        onset,
                        {k: baselines[k] for k in (MEDIAN, RIDGE)},
                    ),
                    "validation error per epoch",
                ),
                # Drawn when the epochs were scored and trained; shown again beside the verdict.
                "winner_truth_vs_guess": dg.MetadataValue.md(str(winner["truth_vs_guess"])),
                "loss_curve": dg.MetadataValue.md(str(trained["loss_curve"])),
            },
        )

    return best_checkpoint


# Partitioned like its asset, so it loads the one run it judges: an unpartitioned check is handed
# every run's best_checkpoint at once, and fails on its input once an instance holds two runs.
@dg.asset_check(asset="best_checkpoint", blocking=True, partitions_def=training_runs)
def beats_median_baseline(best_checkpoint: BestCheckpoint) -> dg.AssetCheckResult:
    """The chosen checkpoint must price validation items better than always guessing the
    training median; the ridge regression's score is shown beside it."""
    median = best_checkpoint.baseline_validation_errors[MEDIAN]
    return dg.AssetCheckResult(
        passed=best_checkpoint.validation_error < median,
        metadata={
            "checkpoint_validation_error": round(best_checkpoint.validation_error, 4),
            "median_constant_validation_error": round(median, 4),
            "ridge_validation_error": round(best_checkpoint.baseline_validation_errors[RIDGE], 4),
        },
    )
