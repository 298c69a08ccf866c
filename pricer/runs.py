"""What one training run produces, epoch by epoch: the values passed between its steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pricer.evaluation.metrics import Scores
from pricer.hub import HubRevision
from pricer.training.settings import TrainingSettings

# The hub tag on a training run's best checkpoint, so it can be loaded without knowing its epoch.
BEST_TAG = "best"


def checkpoint_message(run_key: str, epoch: int) -> str:
    """The commit message of an epoch's checkpoint: how an epoch is found again in its repo."""
    return f"{run_key}: epoch {epoch}"


def model_card_message(run_key: str, epoch: int) -> str:
    """The epoch's second commit adds its model card, scores included. Its subject is the
    checkpoint's, so finding an epoch by message finds this, its newest commit, first."""
    return f"{checkpoint_message(run_key, epoch)}\n\nModel card with validation and test scores."


@dataclass(frozen=True)
class BaseModelSpec:
    """Enough to load the quantized base again; the model itself never travels between steps."""

    model_id: str
    name: str
    path: str


@dataclass
class TrainedEpoch:
    run_key: str
    epoch: int
    checkpoint_dir: Path
    settings: TrainingSettings
    dataset_version: str
    train_loss: float
    # Every step so far in the run, so each epoch can draw the whole curve with its boundaries.
    step_losses: list[tuple[int, float]] = field(default_factory=list)
    step_learning_rates: list[tuple[int, float]] = field(default_factory=list)
    epoch_ends: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class PushedCheckpoint:
    run_key: str
    epoch: int
    revision: HubRevision
    train_loss: float
    settings: TrainingSettings


@dataclass(frozen=True)
class CheckpointScores:
    epoch: int
    revision: HubRevision
    train_loss: float
    validation: Scores
    test: Scores
    # The probability-weighted price, scored on the same items.
    weighted_validation: Scores
    weighted_test: Scores


@dataclass(frozen=True)
class BestCheckpoint:
    run_key: str
    epoch: int
    revision: HubRevision
    validation_error: float
    test_error: float
    overfitting_onset: int | None
    baseline_validation_errors: dict[str, float]
