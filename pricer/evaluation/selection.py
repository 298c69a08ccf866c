"""Choosing a training run's best checkpoint, and seeing when overfitting set in.

Only validation error chooses; test error is reported beside it and never consulted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

DEFAULT_TOLERANCE = 0.02


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    validation_error: float


def best_epoch(records: list[EpochRecord]) -> int:
    """Lowest validation error; on a tie, the earlier (cheaper, less fitted) epoch."""
    if not records:
        raise ValueError("no scored epochs to choose from")
    return min(records, key=lambda r: (r.validation_error, r.epoch)).epoch


def overfitting_onset(
    records: list[EpochRecord], tolerance: float = DEFAULT_TOLERANCE
) -> int | None:
    """The first epoch after the best one whose validation error is worse than the best by more
    than `tolerance` (a fraction) while training loss is still falling.

    Only epochs after the best count: a rise that a later epoch recovers from was noise."""
    ordered = sorted(records, key=lambda r: r.epoch)
    if not ordered:
        return None
    best = next(r for r in ordered if r.epoch == best_epoch(ordered))
    for previous, record in pairwise(ordered):
        if record.epoch <= best.epoch:
            continue
        still_learning = record.train_loss < previous.train_loss
        if still_learning and record.validation_error > best.validation_error * (1 + tolerance):
            return record.epoch
    return None


def should_stop_early(
    records: list[EpochRecord], patience: int, tolerance: float = DEFAULT_TOLERANCE
) -> bool:
    """True once overfitting began at least `patience` scored epochs ago (onset included)."""
    onset = overfitting_onset(records, tolerance)
    if onset is None:
        return False
    return sum(r.epoch >= onset for r in records) >= patience
