"""Scoring one epoch's checkpoint on the validation and test splits, both predictors at once, with
every item's truth and guesses kept on disk for the reports drawn later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pricer.data.splits import Splits
from pricer.evaluation.metrics import Scores
from pricer.evaluation.predictions import from_evaluation, save_predictions

if TYPE_CHECKING:  # scoring brings torch, which a Dagster process should load only to score
    from pricer.evaluation.scoring import Evaluation


@dataclass(frozen=True)
class ScoredCheckpoint:
    validation: Evaluation
    test: Evaluation
    predictions: Path

    def scores(self) -> dict[str, Scores]:
        """Greedy and weighted scores on both splits, by the names an EpochRecord gives them."""
        weighted = {split: self._weighted(split) for split in ("validation", "test")}
        return {
            "validation": self.validation.scores,
            "test": self.test.scores,
            "weighted_validation": weighted["validation"],
            "weighted_test": weighted["test"],
        }

    @property
    def weighted_fallbacks(self) -> int:
        return sum(e.weighted.fallbacks for e in (self.validation, self.test) if e.weighted)

    def _weighted(self, split: str) -> Scores:
        weighted = getattr(self, split).weighted
        assert weighted is not None  # every checkpoint is scored with both predictors
        return weighted.scores


def score_checkpoint(
    base_model_path: str,
    adapter_dir: Path,
    splits: Splits,
    predictions_file: Path,
    device: str = "auto",
    batch_size: int = 32,
    progress: Callable[[str], None] | None = None,
    precision: str = "auto",
    home: Path | None = None,
) -> ScoredCheckpoint:
    from pricer.evaluation.scoring import evaluate_model  # torch: only where it scores

    results = evaluate_model(
        base_model_path,
        {"validation": splits.validation, "test": splits.test},
        adapter_dir=str(adapter_dir),
        device=device,
        batch_size=batch_size,
        progress=progress,
        weighted=True,
        precision=precision,
        home=home,
    )
    saved = save_predictions(
        predictions_file,
        {split: from_evaluation(evaluation) for split, evaluation in results.items()},
    )
    return ScoredCheckpoint(results["validation"], results["test"], saved)
