"""A training run's scores as its epochs recorded them on the instance, and the choice they make:
what best_checkpoint and quality_report both read, so they cannot disagree."""

from dataclasses import dataclass

import dagster as dg

from assets.epochs import scores_key
from assets.metadata import latest_metadata
from pricer.evaluation.selection import EpochRecord, best_epoch, overfitting_onset


@dataclass(frozen=True)
class RunScores:
    scored: dict[int, dict[str, object]]  # epoch -> its scores' latest metadata
    records: list[EpochRecord]
    chosen: int
    onset: int | None


def run_scores(
    context: dg.AssetExecutionContext, run_key: str, max_epochs: int, tolerance: float
) -> RunScores:
    # Read from the instance, not loaded as inputs: a run that trains fewer than max_epochs
    # epochs, or stops early, is still scored and chosen from.
    scored = {
        epoch: found
        for epoch in range(1, max_epochs + 1)
        if (found := latest_metadata(context, scores_key(epoch), run_key)) is not None
    }
    if not scored:
        raise ValueError(f"no epoch of {run_key} has been scored yet")
    records = [
        EpochRecord(epoch, float(m["train_loss"]), float(m["validation_error"]))
        for epoch, m in scored.items()
    ]
    return RunScores(scored, records, best_epoch(records), overfitting_onset(records, tolerance))
