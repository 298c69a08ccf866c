"""`quality_report`: the training run's report in the course's style, beside best_checkpoint."""

import dagster as dg

from assets.best_checkpoint import SelectionConfig
from assets.epoch_keys import every_epochs_scores
from assets.metadata import inline_png
from assets.partitions import training_runs
from pricer.evaluation.baselines import MEDIAN, NOISE_FLOOR, RIDGE, BaselineScores
from pricer.evaluation.epoch_record import EpochRecord, read_records
from pricer.evaluation.predictions import load_predictions
from pricer.evaluation.quality_report import quality_report
from pricer.evaluation.selection import Selection, select
from pricer.plots import truth_vs_guess, validation_curve
from resources import ComputeResource

REPORT_FILE = "quality_report.md"


def build_quality_report(max_epochs: int) -> dg.AssetsDefinition:
    @dg.asset(
        name="quality_report",
        group_name="release",
        kinds={"markdown"},
        code_version="2",
        partitions_def=training_runs,
        # Beside best_checkpoint, from the same records and the same rule, not after it: its
        # blocking check stops whatever is downstream, and a run that fails to beat the median
        # constant is the one whose report is most needed.
        deps=every_epochs_scores(max_epochs),
    )
    def quality_report_asset(
        context: dg.AssetExecutionContext,
        config: SelectionConfig,
        compute: ComputeResource,
        baseline_scores: BaselineScores,
    ) -> dg.MaterializeResult:
        """The training run's report in the course's style: the constants, the ridge regression,
        the untrained base model and every epoch on validation and test, greedy beside weighted,
        the chosen checkpoint's truth-vs-guess scatter and the validation curve. Also written as
        markdown, its pictures beside it, in the run's folder."""
        config.refuse_moved_settings()
        run_key = context.partition_key
        records = read_records(compute.run_dir(run_key), through_epoch=max_epochs)
        if not records:
            raise dg.Failure(f"no epoch of {run_key} has been scored yet")
        selection = select(records)
        figures = _figures(records, selection, baseline_scores)
        folder = compute.run_dir(run_key) / "quality_report"
        folder.mkdir(parents=True, exist_ok=True)
        for name, (_, png) in figures.items():
            (folder / name).write_bytes(png)
        path = folder / REPORT_FILE
        beside = [(title, name) for name, (title, _) in figures.items()]
        path.write_text(quality_report(baseline_scores, records, selection, beside))
        inline = [(title, inline_png(png)) for title, png in figures.values()]
        return dg.MaterializeResult(
            metadata={
                "report": dg.MetadataValue.md(
                    quality_report(baseline_scores, records, selection, inline)
                ),
                "path": dg.MetadataValue.path(str(path)),
                "chosen_epoch": selection.chosen,
                "epochs_scored": len(records),
            }
        )

    return quality_report_asset


def _figures(
    records: list[EpochRecord], selection: Selection, baselines: BaselineScores
) -> dict[str, tuple[str, bytes]]:
    """File name -> (title, PNG)."""
    chosen = selection.chosen
    winner = next(r for r in records if r.epoch == chosen)
    test = load_predictions(winner.predictions)["test"]
    curve = validation_curve(
        [r.epoch for r in records],
        [r.validation_error for r in records],
        chosen,
        selection.onset,
        {
            name: baselines[name]["validation"].mean_abs_error
            for name in (MEDIAN, RIDGE, NOISE_FLOOR)
            if name in baselines
        },
        greedy_errors=[r.greedy_validation_error for r in records],
        validation_losses=[r.validation_loss for r in records],
        loss_rising=selection.loss_rising,
    )
    return {
        "validation_curve.png": ("Validation error per epoch", curve),
        "truth_vs_guess_greedy.png": (
            f"Epoch {chosen} on test, greedy price",
            truth_vs_guess(test.truths, test.greedy, f"Epoch {chosen} on test, greedy"),
        ),
        "truth_vs_guess_weighted.png": (
            f"Epoch {chosen} on test, weighted price",
            truth_vs_guess(test.truths, test.weighted, f"Epoch {chosen} on test, weighted"),
        ),
    }
