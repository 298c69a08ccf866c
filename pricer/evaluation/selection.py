"""Choosing a training run's best checkpoint, and seeing when overfitting set in.

Only validation chooses: the probability-weighted price's $ error, which beats greedy decoding's
at every epoch on real data and on the catalogue, and moves more smoothly from epoch to epoch.
Test error is reported beside it and never consulted here. Two signals say a run went too far:
validation loss rising while training loss falls, the early warning (the adapter is memorising
its training items), and then the $ error rising, the onset of overfitting proper.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol, TypeVar

from pricer.evaluation.baselines import MEDIAN, NOISE_FLOOR, RIDGE, UNTRAINED, BaselineScores
from pricer.evaluation.epoch_record import EpochRecord
from pricer.hub.base import HubRevision

# The baselines a run's best checkpoint is shown against: it must beat the median to be promoted.
# The noise floor is shown where the source has one (the embedded catalogue).
COMPARED_BASELINES = (MEDIAN, RIDGE, UNTRAINED, NOISE_FLOOR)


class ScoredEpoch(Protocol):
    """What the choice reads from an epoch: an EpochRecord, or a benchmark's own lighter row."""

    @property
    def epoch(self) -> int: ...
    @property
    def train_loss(self) -> float: ...
    @property
    def validation_error(self) -> float: ...


class LossedEpoch(ScoredEpoch, Protocol):
    @property
    def validation_loss(self) -> float: ...


Epoch = TypeVar("Epoch", bound=ScoredEpoch)


@dataclass(frozen=True)
class Selection:
    chosen: int
    onset: int | None  # the first epoch of overfitting, if any
    # The first epoch whose validation loss rose past its lowest while training loss fell.
    loss_rising: int | None = None

    def overfitted(self, epoch: int) -> bool:
        """Whether `epoch` came at or after the onset: trained on past what generalises."""
        return self.onset is not None and epoch >= self.onset

    def memorising(self, epoch: int) -> bool:
        """Whether `epoch` came at or after validation loss began to rise: the early warning."""
        return self.loss_rising is not None and epoch >= self.loss_rising


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
    return _first_rise(records, lambda r: r.validation_error, tolerance)


def validation_loss_rising(records: Sequence[LossedEpoch], tolerance: float) -> int | None:
    """The early warning: the first epoch after validation loss's lowest whose validation loss
    is above that lowest by more than `tolerance` while training loss is still falling. Epochs
    recorded before validation loss was (NaN) never raise it."""
    known = [r for r in records if not math.isnan(r.validation_loss)]
    return _first_rise(known, lambda r: r.validation_loss, tolerance)


def _first_rise(
    records: Sequence[Epoch], measure: Callable[[Epoch], float], tolerance: float
) -> int | None:
    ordered = sorted(records, key=lambda r: r.epoch)
    if not ordered:
        return None
    best = min(ordered, key=lambda r: (measure(r), r.epoch))
    for previous, record in pairwise(ordered):
        if record.epoch <= best.epoch:
            continue
        still_learning = record.train_loss < previous.train_loss
        if still_learning and measure(record) > measure(best) * (1 + tolerance):
            return record.epoch
    return None


def select(records: list[EpochRecord]) -> Selection:
    """The run's choice, at the overfitting tolerance of the run's own settings: the tolerance
    early stopping used too, and the one the validation loss's warning is judged by."""
    tolerance = records[-1].settings.overfit_tolerance if records else 0.0
    return Selection(
        best_epoch(records),
        overfitting_onset(records, tolerance),
        validation_loss_rising(records, tolerance),
    )


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
            name: baselines[name]["validation"].mean_abs_error
            for name in COMPARED_BASELINES
            if name in baselines
        },
    )
