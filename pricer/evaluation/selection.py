"""Choosing a training run's best checkpoint, and seeing when overfitting set in.

Only validation error chooses; test error is reported beside it and never consulted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

from pricer.evaluation.baselines import MEDIAN, RIDGE, UNTRAINED, BaselineScores
from pricer.evaluation.epoch_record import EpochRecord
from pricer.hub.base import HubRevision

# The baselines a run's best checkpoint is shown against: it must beat the median to be promoted.
COMPARED_BASELINES = (MEDIAN, RIDGE, UNTRAINED)


class ScoredEpoch(Protocol):
    """What the choice reads from an epoch: an EpochRecord, or a benchmark's own lighter row."""

    @property
    def epoch(self) -> int: ...
    @property
    def train_loss(self) -> float: ...
    @property
    def validation_error(self) -> float: ...


@dataclass(frozen=True)
class Selection:
    chosen: int
    onset: int | None  # the first epoch of overfitting, if any

    def overfitted(self, epoch: int) -> bool:
        """Whether `epoch` came at or after the onset: trained on past what generalises."""
        return self.onset is not None and epoch >= self.onset


@dataclass(frozen=True)
class BestCheckpoint:
    """A training run's verdict: every scored epoch, the one chosen and where overfitting began."""

    epochs: list[EpochRecord]
    selection: Selection
    baseline_validation_errors: dict[str, float]

    @property
    def chosen(self) -> EpochRecord:
        return self.record(self.selection.chosen)

    def record(self, epoch: int) -> EpochRecord:
        found = [record for record in self.epochs if record.epoch == epoch]
        if not found:
            raise LookupError(f"{self.run_key} has no scored epoch {epoch}")
        return found[0]

    @property
    def run_key(self) -> str:
        return self.epochs[0].run_key

    @property
    def revision(self) -> HubRevision:
        return self.chosen.revision

    @property
    def overfitting_onset(self) -> int | None:
        return self.selection.onset


def best_epoch(records: Sequence[ScoredEpoch]) -> int:
    """Lowest validation error; on a tie, the earlier (cheaper, less fitted) epoch."""
    if not records:
        raise ValueError("no scored epochs to choose from")
    return min(records, key=lambda r: (r.validation_error, r.epoch)).epoch


def overfitting_onset(records: Sequence[ScoredEpoch], tolerance: float) -> int | None:
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


def select(records: list[EpochRecord]) -> Selection:
    """The run's choice, at the overfitting tolerance of the run's own settings: the tolerance
    early stopping used too."""
    tolerance = records[-1].settings.overfit_tolerance if records else 0.0
    return Selection(best_epoch(records), overfitting_onset(records, tolerance))


def should_stop_early(records: list[EpochRecord], patience: int, tolerance: float) -> bool:
    """True once overfitting began at least `patience` scored epochs ago (onset included)."""
    onset = overfitting_onset(records, tolerance)
    if onset is None:
        return False
    return sum(r.epoch >= onset for r in records) >= patience


def choose_best(records: list[EpochRecord], baselines: BaselineScores) -> BestCheckpoint:
    """The run's best checkpoint, with the baselines' validation errors beside it."""
    ordered = sorted(records, key=lambda r: r.epoch)
    return BestCheckpoint(
        epochs=ordered,
        selection=select(ordered),
        baseline_validation_errors={
            name: baselines[name]["validation"].mean_abs_error for name in COMPARED_BASELINES
        },
    )
