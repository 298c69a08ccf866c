"""A training run's quality report in the course's style: every baseline and every epoch, scored on
validation and test, with the language models' two predictors side by side."""

from __future__ import annotations

from pricer.evaluation.baselines import (
    MEAN,
    MEDIAN,
    NOISE_FLOOR,
    RIDGE,
    UNTRAINED,
    WEIGHTED_UNTRAINED,
    BaselineScores,
)
from pricer.evaluation.epoch_record import EpochRecord
from pricer.evaluation.epoch_table import marks, warning
from pricer.evaluation.metrics import Scores
from pricer.evaluation.selection import Selection

# (name, greedy validation, greedy test, weighted (validation, test) where the row has one)
_Line = tuple[str, Scores, Scores, tuple[Scores, Scores] | None]
# Each figure a table cell shows: the Scores field and how it is written.
_FIGURES = (("mean_abs_error", "{:.2f}"), ("rmsle", "{:.3f}"), ("hit_rate", "{:.1%}"))


def quality_table(
    baselines: BaselineScores, records: list[EpochRecord], selection: Selection
) -> str:
    """Markdown; where a row has two figures they are greedy / weighted."""
    lines = [
        "| model | val $ error | val RMSLE | val hits | test $ error | test RMSLE | test hits | |",
        "|:---|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for name in (MEDIAN, MEAN, RIDGE, NOISE_FLOOR):
        if name in baselines:
            lines.append(_row((name, baselines[name]["validation"], baselines[name]["test"], None)))
    weighted = baselines[WEIGHTED_UNTRAINED]
    untrained = baselines[UNTRAINED]
    lines.append(
        _row(
            (
                UNTRAINED,
                untrained["validation"],
                untrained["test"],
                (weighted["validation"], weighted["test"]),
            )
        )
    )
    for record in sorted(records, key=lambda r: r.epoch):
        line = (
            f"epoch {record.epoch}",
            record.validation,
            record.test,
            (record.weighted_validation, record.weighted_test),
        )
        lines.append(_row(line, marks(record.epoch, selection)))
    return "\n".join(lines)


def best_on_test(records: list[EpochRecord]) -> int:
    """The epoch test would have picked (shown, never used to choose); ties go to the earlier."""
    return min(records, key=lambda r: (r.test_error, r.epoch)).epoch


def quality_report(
    baselines: BaselineScores,
    records: list[EpochRecord],
    selection: Selection,
    figures: list[tuple[str, str]],
) -> str:
    """The whole report as markdown; `figures` are (title, image address) pairs, so the same text
    can point at files beside it or carry its images inline."""
    chosen, onset = selection.chosen, selection.onset
    on_test = best_on_test(records)
    verdict = (
        "it is also the best epoch on test"
        if on_test == chosen
        else f"on test, epoch {on_test} would have been better"
    )
    lines = [
        f"# Quality report: {records[0].run_key}",
        "",
        f"Epoch {chosen} is chosen on the probability-weighted price's validation $ error; "
        f"{verdict}. "
        + (f"Overfitting set in at epoch {onset}." if onset else "No overfitting was seen.")
        + (f" {warning(selection)}" if selection.loss_rising else ""),
        "",
        "Hits: error under $40 or under 20% of the price. Where a cell holds two figures, they are "
        "the greedy price / the probability-weighted price.",
        "",
        quality_table(baselines, records, selection),
        "",
    ]
    for title, address in figures:
        lines += [f"## {title}", "", f"![{title}]({address})", ""]
    return "\n".join(lines)


def _row(line: _Line, marked: str = "") -> str:
    name, validation, test, weighted = line
    cells = [
        _pair(greedy, weighted[split] if weighted else None, field, style)
        for split, greedy in enumerate((validation, test))
        for field, style in _FIGURES
    ]
    return f"| {name} | {' | '.join(cells)} | {marked} |"


def _pair(greedy: Scores, weighted: Scores | None, field: str, style: str) -> str:
    shown = style.format(getattr(greedy, field))
    return shown if weighted is None else f"{shown} / {style.format(getattr(weighted, field))}"
