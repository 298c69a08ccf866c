"""What training one epoch returns: plain values, importable without torch or transformers, so
the code location (loaded again by every step process) stays quick to import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Progress = Callable[[str], None]


@dataclass
class EpochResult:
    epoch: int
    checkpoint_dir: Path
    global_step: int
    steps_this_epoch: int
    train_loss: float
    eval_loss: float
    learning_rate: float
    tokens_this_epoch: int
    seconds: float
    setup_seconds: float  # loading the 4-bit model and tokenizing the data, before any step
    step_losses: list[tuple[int, float]]  # (global step, loss) for this epoch
    step_learning_rates: list[tuple[int, float]]
