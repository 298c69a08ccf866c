"""What one scored epoch of a training run came to, at full precision, and the run's ledger of
them: one JSON file an epoch in the run's folder.

The epoch's scores step writes its record once; everything after reads the ledger: choosing the
best epoch, early stopping, the quality report, the champion and the model card's history.
Dagster metadata shows the same figures rounded, for people; no decision reads them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from pricer.evaluation.metrics import Scores
from pricer.hub.base import HubRevision
from pricer.training.settings import TrainingSettings
from pricer.training.trained_epoch import StepHistory

LEDGER = "epochs"  # the folder, in a run's folder, that holds its records
_SCORES = ("validation", "test", "weighted_validation", "weighted_test")


@dataclass(frozen=True)
class EpochRecord:
    run_key: str
    epoch: int
    train_loss: float
    # The completion loss on the validation split: its rise is the early warning of memorising.
    validation_loss: float
    validation: Scores  # greedy decoding, reported beside the weighted price
    test: Scores  # reported beside validation, never used to choose
    weighted_validation: Scores  # the probability-weighted price, on the same items: it chooses
    weighted_test: Scores
    # The epoch's newest commit: its adapter with the model card that carries these scores.
    revision: HubRevision
    settings: TrainingSettings  # the run's, overfitting tolerance included
    predictions: Path  # every item's truth and guesses (evaluation/predictions.py)
    history: StepHistory  # the run's training steps up to the end of this epoch
    precision: str  # what it trained and was scored in: "bf16", "fp16" or "fp32"

    @property
    def validation_error(self) -> float:
        """The $ error that chooses the best epoch: the probability-weighted price's."""
        return self.weighted_validation.mean_abs_error

    @property
    def test_error(self) -> float:
        """The weighted price's, like the validation error: reported, never used to choose."""
        return self.weighted_test.mean_abs_error

    @property
    def greedy_validation_error(self) -> float:
        return self.validation.mean_abs_error

    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "predictions": str(self.predictions)})

    @classmethod
    def from_json(cls, text: str) -> EpochRecord:
        values = json.loads(text)
        history = values["history"]
        return cls(
            run_key=values["run_key"],
            epoch=values["epoch"],
            train_loss=values["train_loss"],
            # Records from before validation loss was kept: unknown, and never a warning.
            validation_loss=values.get("validation_loss", math.nan),
            **{name: Scores(**values[name]) for name in _SCORES},
            revision=HubRevision(**values["revision"]),
            settings=TrainingSettings.from_dict(values["settings"]),
            predictions=Path(values["predictions"]),
            # Records from before the precision was chosen by the hardware: always bf16.
            precision=values.get("precision", "bf16"),
            history=StepHistory(
                [(step, loss) for step, loss in history["losses"]],
                [(step, rate) for step, rate in history["learning_rates"]],
                list(history["epoch_ends"]),
            ),
        )


def record_path(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / LEDGER / f"epoch_{epoch}.json"


def write_record(run_dir: Path, record: EpochRecord) -> Path:
    """Put the epoch's record in the run's ledger in one step: a reader sees all of it or none."""
    path = record_path(run_dir, record.epoch)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(record.to_json())
    os.replace(partial, path)
    return path


def read_records(run_dir: Path, through_epoch: int | None = None) -> list[EpochRecord]:
    """Every scored epoch of the run (up to `through_epoch`, if given), in order; a run may have
    trained fewer epochs than it could, or stopped early."""
    ledger = Path(run_dir) / LEDGER
    named = (path for path in ledger.glob("epoch_*.json") if path.stem[6:].isdigit())
    paths = {int(path.stem[6:]): path for path in named}
    records = []
    for epoch, path in sorted(paths.items()):
        if through_epoch is not None and epoch > through_epoch:
            break
        try:
            records.append(EpochRecord.from_json(path.read_text()))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"{path} is not a readable epoch record ({error}): materialize scores_epoch_"
                f"{epoch} again to write it anew"
            ) from None
    return records
