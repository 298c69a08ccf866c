from pathlib import Path

import dagster as dg

from assets.baselines import UNTRAINED, WEIGHTED_UNTRAINED
from assets.best_checkpoint import MEDIAN, RIDGE, SelectionConfig
from assets.epochs import scores_key
from assets.metadata import inline_png
from assets.partitions import training_runs
from assets.run_scores import run_scores
from pricer.evaluation.metrics import Scores
from pricer.evaluation.predictions import load_predictions
from pricer.evaluation.quality_report import Cell, Row, quality_report
from pricer.plots import truth_vs_guess, validation_curve
from resources import ComputeResource

MEAN = "mean constant"
REPORT_FILE = "quality_report.md"


def build_quality_report(max_epochs: int) -> dg.AssetsDefinition:
    @dg.asset(
        name="quality_report",
        # Beside best_checkpoint, from the same recorded scores and the same rule, not after it:
        # its blocking check stops whatever is downstream, and a run that fails to beat the
        # median constant is the one whose report is most needed.
        deps=[scores_key(epoch) for epoch in range(1, max_epochs + 1)],
        partitions_def=training_runs,
        group_name="release",
        kinds={"markdown"},
        code_version="1",
    )
    def quality_report_asset(
        context: dg.AssetExecutionContext,
        config: SelectionConfig,
        compute: ComputeResource,
        baseline_scores: dict[str, dict[str, Scores]],
    ) -> dg.MaterializeResult:
        """The training run's report in the course's style: the constants, the ridge regression,
        the untrained base model and every epoch on validation and test, greedy beside weighted,
        the chosen checkpoint's truth-vs-guess scatter and the validation curve. Also written as
        markdown, its pictures beside it, in the run's folder."""
        run_key = context.partition_key
        found = run_scores(context, run_key, max_epochs, config.overfit_tolerance)
        scored, chosen, onset = found.scored, found.chosen, found.onset
        epochs = {epoch: _epoch_row(epoch, values) for epoch, values in scored.items()}
        baselines = [
            Row(
                name,
                Cell.of(baseline_scores[name]["validation"]),
                Cell.of(baseline_scores[name]["test"]),
            )
            for name in (MEDIAN, MEAN, RIDGE)
        ]
        untrained, weighted = baseline_scores[UNTRAINED], baseline_scores[WEIGHTED_UNTRAINED]
        baselines.append(
            Row(
                UNTRAINED,
                Cell.of(untrained["validation"]),
                Cell.of(untrained["test"]),
                (Cell.of(weighted["validation"]), Cell.of(weighted["test"])),
            )
        )
        figures = _figures(epochs, chosen, onset, baseline_scores, scored[chosen])
        folder = compute.run_dir(run_key) / "quality_report"
        folder.mkdir(parents=True, exist_ok=True)
        for name, (_, png) in figures.items():
            (folder / name).write_bytes(png)
        path = folder / REPORT_FILE
        beside = [(title, name) for name, (title, _) in figures.items()]
        path.write_text(quality_report(run_key, baselines, epochs, chosen, onset, beside))
        inline = [(title, inline_png(png)) for title, png in figures.values()]
        return dg.MaterializeResult(
            metadata={
                "report": dg.MetadataValue.md(
                    quality_report(run_key, baselines, epochs, chosen, onset, inline)
                ),
                "path": dg.MetadataValue.path(str(path)),
                "chosen_epoch": chosen,
                "epochs_scored": len(epochs),
            }
        )

    return quality_report_asset


def _epoch_row(epoch: int, values: dict[str, object]) -> Row:
    def cell(prefix: str) -> Cell:
        return Cell(
            float(values[f"{prefix}_error"]),
            float(values[f"{prefix}_rmsle"]),
            float(values[f"{prefix}_hit_rate"]),
        )

    return Row(
        f"epoch {epoch}",
        cell("validation"),
        cell("test"),
        (cell("weighted_validation"), cell("weighted_test")),
    )


def _figures(
    epochs: dict[int, Row],
    chosen: int,
    onset: int | None,
    baseline_scores: dict[str, dict[str, Scores]],
    winner: dict[str, object],
) -> dict[str, tuple[str, bytes]]:
    """File name -> (title, PNG)."""
    order = sorted(epochs)
    test = load_predictions(Path(str(winner["predictions"])))["test"]
    curve = validation_curve(
        order,
        [epochs[e].validation.error for e in order],
        chosen,
        onset,
        {name: baseline_scores[name]["validation"].mean_abs_error for name in (MEDIAN, RIDGE)},
        [_weighted_validation(epochs[e]) for e in order],
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


def _weighted_validation(row: Row) -> float:
    assert row.weighted is not None  # every epoch is scored with both predictors
    return row.weighted[0].error
