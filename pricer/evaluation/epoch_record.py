"""What one scored epoch of a training run came to, at full precision.

The epoch's scores step writes it once; everything after reads it: choosing the best epoch,
early stopping, the quality report, the champion and the model card's history. Dagster metadata
shows the same figures rounded, for people; no decision reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pricer.evaluation.metrics import Scores
from pricer.hub.base import HubRevision
from pricer.training.settings import TrainingSettings


@dataclass(frozen=True)
class EpochRecord:
    run_key: str
    epoch: int
    train_loss: float
    validation: Scores  # greedy decoding: the price that chooses
    test: Scores  # reported beside validation, never used to choose
    weighted_validation: Scores  # the probability-weighted price, on the same items
    weighted_test: Scores
    # The epoch's newest commit: its adapter with the model card that carries these scores.
    revision: HubRevision
    settings: TrainingSettings  # the run's, overfitting tolerance included
    predictions: Path  # every item's truth and guesses (evaluation/predictions.py)

    @property
    def validation_error(self) -> float:
        return self.validation.mean_abs_error

    @property
    def test_error(self) -> float:
        return self.test.mean_abs_error
