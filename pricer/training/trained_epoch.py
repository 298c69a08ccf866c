"""An epoch's trained adapter as the next steps see it, carrying the run's history so far."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from pricer.training.epoch_result import EpochResult
from pricer.training.settings import TrainingSettings


@dataclass(frozen=True)
class StepHistory:
    """Every optimizer step of the run so far, and where each epoch ended: a loss curve."""

    losses: list[tuple[int, float]]  # (global step, training loss)
    learning_rates: list[tuple[int, float]]
    epoch_ends: list[int]  # the global step each epoch ended at


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
    # The completion loss on the validation split after this epoch; NaN in epochs stored before
    # it was kept.
    validation_loss: float = math.nan

    @property
    def history(self) -> StepHistory:
        return StepHistory(self.step_losses, self.step_learning_rates, self.epoch_ends)

    @property
    def adapter_file(self) -> Path:
        return Path(self.checkpoint_dir) / "adapter_model.safetensors"


def require_same_dataset(previous: TrainedEpoch | None, dataset_version: str) -> None:
    """A run trains every epoch on the data epoch 1 trained on."""
    if previous is not None and previous.dataset_version != dataset_version:
        raise ValueError(
            f"the dataset changed since epoch 1 of {previous.run_key} ({previous.dataset_version} "
            f"-> {dataset_version}); start a new training run instead of mixing data mid-run"
        )


def after_epoch(
    previous: TrainedEpoch | None,
    result: EpochResult,
    run_key: str,
    settings: TrainingSettings,
    dataset_version: str,
) -> TrainedEpoch:
    """The run as it stands once `result`'s epoch has trained on top of `previous`."""
    return TrainedEpoch(
        run_key=run_key,
        epoch=result.epoch,
        checkpoint_dir=result.checkpoint_dir,
        settings=settings,
        dataset_version=dataset_version,
        train_loss=result.train_loss,
        step_losses=(previous.step_losses if previous else []) + result.step_losses,
        step_learning_rates=(previous.step_learning_rates if previous else [])
        + result.step_learning_rates,
        epoch_ends=(previous.epoch_ends if previous else []) + [result.global_step],
        validation_loss=result.eval_loss,
    )
