"""Every item's truth and guesses for one scored checkpoint, kept on disk beside the run: the
numbers are too many for metadata, and a report drawn later needs them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # evaluation brings torch, which a Dagster process should load only to score
    from pricer.evaluation.scoring import Evaluation


@dataclass(frozen=True)
class SplitPredictions:
    truths: list[float]
    greedy: list[float | None]  # None: the model wrote no number
    weighted: list[float | None]


def from_evaluation(evaluation: Evaluation) -> SplitPredictions:
    if evaluation.weighted is None:
        raise ValueError("predictions are kept for evaluations with the weighted price")
    return SplitPredictions(evaluation.truths, evaluation.guesses, evaluation.weighted.guesses)


def save_predictions(path: Path, splits: dict[str, SplitPredictions]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({name: asdict(split) for name, split in splits.items()}))
    return path


def load_predictions(path: Path) -> dict[str, SplitPredictions]:
    return {name: SplitPredictions(**split) for name, split in json.loads(path.read_text()).items()}
