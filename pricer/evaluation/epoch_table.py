"""The epoch-by-epoch table a person reads at the end of a training run, and how every table
marks the chosen epoch and the onset of overfitting."""

from __future__ import annotations

from pricer.evaluation.epoch_record import EpochRecord
from pricer.evaluation.selection import Selection

CHOSEN = "**chosen**"
ONSET = "overfitting starts"


def marks(epoch: int, selection: Selection | None) -> str:
    """The chosen epoch and the onset, in one wording for every table."""
    if selection is None:
        return ""
    found = [CHOSEN] if epoch == selection.chosen else []
    if selection.onset is not None and epoch == selection.onset:
        found.append(ONSET)
    return ", ".join(found)


def verdict(selection: Selection) -> str:
    onset = selection.onset
    return (
        f"Overfitting set in at epoch {onset}." if onset else "No overfitting seen in these epochs."
    )


def epoch_table(
    records: list[EpochRecord],
    selection: Selection | None = None,
    baselines: dict[str, float] | None = None,
    revisions: bool = True,
) -> str:
    """Markdown: readable in a terminal and rendered as a table in the Dagster UI and on the Hub.

    With a selection, the chosen epoch and overfitting are marked and the verdict follows the
    table; `baselines` (name -> validation $ error) are listed under it."""
    header = "| epoch | train loss | val $ error | val RMSLE | val hits | test $ error |"
    rule = "|---:|---:|---:|---:|---:|---:|"
    if revisions:
        header, rule = header + " hub revision |", rule + ":---|"
    if selection is not None:
        header, rule = header + " |", rule + ":---|"
    lines = [header, rule]
    for record in sorted(records, key=lambda r: r.epoch):
        validation = record.validation
        cells = [
            str(record.epoch),
            f"{record.train_loss:.4f}",
            f"{validation.mean_abs_error:.2f}",
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
