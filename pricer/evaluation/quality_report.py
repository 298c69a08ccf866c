"""A training run's quality report in the course's style: every baseline and every epoch, scored on
validation and test, with the language models' two predictors side by side."""

from __future__ import annotations

from dataclasses import dataclass

from pricer.evaluation.metrics import Scores


@dataclass(frozen=True)
class Cell:
    """One predictor on one split: the three figures the course reported."""

    error: float
    rmsle: float
    hit_rate: float

    @classmethod
    def of(cls, scores: Scores) -> Cell:
        return cls(scores.mean_abs_error, scores.rmsle, scores.hit_rate)


@dataclass(frozen=True)
class Row:
    model: str
    validation: Cell
    test: Cell
    # The probability-weighted predictor on (validation, test), for the rows that have one.
    weighted: tuple[Cell, Cell] | None = None


def quality_table(
    baselines: list[Row], epochs: dict[int, Row], chosen: int, onset: int | None
) -> str:
    """Markdown; where a row has two figures they are greedy / weighted."""
    lines = [
        "| model | val $ error | val RMSLE | val hits | test $ error | test RMSLE | test hits | |",
        "|:---|---:|---:|---:|---:|---:|---:|:---|",
    ]
    for row in baselines:
        lines.append(_line(row, ""))
    for epoch, row in sorted(epochs.items()):
        marks = ["**chosen**"] if epoch == chosen else []
        if epoch == onset:
            marks.append("overfitting starts")
        lines.append(_line(row, ", ".join(marks)))
    return "\n".join(lines)


def best_on_test(epochs: dict[int, Row]) -> int:
    """The epoch test would have picked (shown, never used to choose); ties go to the earlier."""
    return min(epochs, key=lambda epoch: (epochs[epoch].test.error, epoch))


def quality_report(
    run_key: str,
    baselines: list[Row],
    epochs: dict[int, Row],
    chosen: int,
    onset: int | None,
    figures: list[tuple[str, str]],
) -> str:
    """The whole report as markdown; `figures` are (title, image address) pairs, so the same text
    can point at files beside it or carry its images inline."""
    on_test = best_on_test(epochs)
    verdict = (
        "it is also the best epoch on test"
        if on_test == chosen
        else f"on test, epoch {on_test} would have been better"
    )
    lines = [
        f"# Quality report: {run_key}",
        "",
        f"Epoch {chosen} is chosen on validation $ error; {verdict}. "
        + (f"Overfitting set in at epoch {onset}." if onset else "No overfitting was seen."),
        "",
        "Hits: error under $40 or under 20% of the price. Where a cell holds two figures, they are "
        "the greedy price / the probability-weighted price.",
        "",
        quality_table(baselines, epochs, chosen, onset),
        "",
    ]
    for title, address in figures:
        lines += [f"## {title}", "", f"![{title}]({address})", ""]
    return "\n".join(lines)


def _line(row: Row, marks: str) -> str:
    greedy = (row.validation, row.test)
    cells = [
        _pair(getattr(greedy[split], name), _weighted(row, split, name), style)
        for split in (0, 1)
        for name, style in (("error", "{:.2f}"), ("rmsle", "{:.3f}"), ("hit_rate", "{:.1%}"))
    ]
    return f"| {row.model} | {' | '.join(cells)} | {marks} |"


def _weighted(row: Row, split: int, name: str) -> float | None:
    return getattr(row.weighted[split], name) if row.weighted else None


def _pair(greedy: float, weighted: float | None, style: str) -> str:
    shown = style.format(greedy)
    return shown if weighted is None else f"{shown} / {style.format(weighted)}"
