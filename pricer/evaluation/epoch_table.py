"""The epoch-by-epoch table a person reads at the end of a training run, and how every table
marks the chosen epoch, the early warning and the onset of overfitting."""

from __future__ import annotations

import math

from pricer.evaluation.epoch_record import EpochRecord
from pricer.evaluation.selection import Selection

CHOSEN = "**chosen**"
ONSET = "overfitting starts"
LOSS_RISING = "validation loss rising"


def marks(epoch: int, selection: Selection | None) -> str:
    """The chosen epoch, the warning and the onset, in one wording for every table."""
    if selection is None:
        return ""
    found = [CHOSEN] if epoch == selection.chosen else []
    if selection.loss_rising is not None and epoch == selection.loss_rising:
        found.append(LOSS_RISING)
    if selection.onset is not None and epoch == selection.onset:
        found.append(ONSET)
    return ", ".join(found)


def warning(selection: Selection) -> str:
    """The early warning in words, or "" when validation loss never rose."""
    if selection.loss_rising is None:
        return ""
    return (
        f"Validation loss rising since epoch {selection.loss_rising} while training loss falls: "
        "the adapter is memorising its training items."
    )


def verdict(selection: Selection) -> str:
    """The onset of overfitting proper (the $ error), after the early warning if there was one:
    the two can differ, and say which is which."""
    onset = selection.onset
    found = (
        f"Overfitting set in at epoch {onset}: its validation $ error rose past the best."
        if onset
        else "No overfitting seen in these epochs' validation $ error."
    )
    return f"{warning(selection)} {found}".strip()


def epoch_table(
    records: list[EpochRecord],
    selection: Selection | None = None,
    baselines: dict[str, float] | None = None,
    revisions: bool = True,
) -> str:
    """Markdown: readable in a terminal and rendered as a table in the Dagster UI and on the Hub.

    The $ errors, RMSLE and hits are the probability-weighted price's, which chooses; greedy
    decoding's validation $ error is beside them. With a selection, the chosen epoch, the warning
    and overfitting are marked and the verdict follows the table; `baselines` (name -> validation
    $ error) are listed under it."""
    header = (
        "| epoch | train loss | val loss | val $ error | greedy val $ error | val RMSLE | val hits "
        "| test $ error |"
    )
    rule = "|---:|---:|---:|---:|---:|---:|---:|---:|"
    if revisions:
        header, rule = header + " hub revision |", rule + ":---|"
    if selection is not None:
        header, rule = header + " |", rule + ":---|"
    lines = [header, rule]
    for record in sorted(records, key=lambda r: r.epoch):
        validation = record.weighted_validation
        cells = [
            str(record.epoch),
            f"{record.train_loss:.4f}",
            "" if math.isnan(record.validation_loss) else f"{record.validation_loss:.4f}",
            f"{validation.mean_abs_error:.2f}",
            f"{record.greedy_validation_error:.2f}",
            f"{validation.rmsle:.3f}",
            f"{validation.hit_rate:.1%}",
            f"{record.test_error:.2f}",
        ]
        if revisions:
            cells.append(record.revision.revision[:12])
        if selection is not None:
            cells.append(marks(record.epoch, selection))
        lines.append(f"| {' | '.join(cells)} |")
    if selection is not None:
        lines += ["", verdict(selection)]
    lines.extend(
        f"- {name}: validation $ error {value:.2f}" for name, value in (baselines or {}).items()
    )
    return "\n".join(lines)
