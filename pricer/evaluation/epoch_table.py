"""The epoch-by-epoch table a person reads at the end of a training run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EpochRow:
    epoch: int
    train_loss: float
    validation_error: float
    validation_rmsle: float
    validation_hit_rate: float
    test_error: float
    revision: str


def epoch_table(
    rows: list[EpochRow], chosen: int, onset: int | None, baselines: dict[str, float]
) -> str:
    """Markdown: readable in a terminal and rendered as a table in the Dagster UI."""
    lines = [
        "| epoch | train loss | val $ error | val RMSLE | val hits | test $ error "
        "| hub revision | |",
        "|---:|---:|---:|---:|---:|---:|:---|:---|",
    ]
    for row in sorted(rows, key=lambda r: r.epoch):
        marks = []
        if row.epoch == chosen:
            marks.append("**chosen**")
        if onset is not None and row.epoch == onset:
            marks.append("overfitting starts")
        lines.append(
            f"| {row.epoch} | {row.train_loss:.4f} | {row.validation_error:.2f} | "
            f"{row.validation_rmsle:.3f} | {row.validation_hit_rate:.1%} | {row.test_error:.2f} | "
            f"{row.revision[:12]} | {', '.join(marks)} |"
        )
    lines.append("")
    lines.append(
        f"Overfitting set in at epoch {onset}." if onset else "No overfitting seen in these epochs."
    )
    lines.extend(f"- {name}: validation $ error {value:.2f}" for name, value in baselines.items())
    return "\n".join(lines)
