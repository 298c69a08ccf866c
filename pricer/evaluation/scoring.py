"""Pricing items with a model: greedy decoding, optionally the weighted price beside it, then the
course's metrics for each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pricer.data.items import Item
from pricer.evaluation.decoding import decode
from pricer.evaluation.metrics import Scores, score

# Items scored at once when none is set: on a GPU, the fastest batch measured at the 8B shape
# (docs/benchmarks.md); on the CPU, one that keeps memory modest.
GPU_SCORING_BATCH = 512
CPU_SCORING_BATCH = 32


def scoring_batch_size(device: str) -> int:
    return GPU_SCORING_BATCH if device == "cuda" else CPU_SCORING_BATCH


@dataclass
class WeightedEvaluation:
    scores: Scores
    guesses: list[float | None]
    # Items the weighted price could not be taken for (the model would rather not write a
    # number): they keep their greedy guess.
    fallbacks: int


@dataclass
class Evaluation:
    scores: Scores
    truths: list[float]
    guesses: list[float | None]
    outputs: list[str]
    weighted: WeightedEvaluation | None = None


def evaluate(
    model, tokenizer, items: list[Item], batch_size: int = 32, progress=None, weighted=False
) -> Evaluation:
    decoded = decode(
        model,
        tokenizer,
        [item.prompt for item in items],
        batch_size,
        weighted=weighted,
        progress=progress,
    )
    truths = [item.price for item in items]
    guesses = [d.price() for d in decoded]
    evaluation = Evaluation(
        score(truths, guesses), truths, guesses, [d.completion for d in decoded]
    )
    if weighted:
        blended = [d.price(weighted=True) for d in decoded]
        fallbacks = sum(d.weighted is None or d.weighted.expected is None for d in decoded)
        evaluation.weighted = WeightedEvaluation(score(truths, blended), blended, fallbacks)
    return evaluation


def evaluate_model(
    model_path: str,
    splits: dict[str, list[Item]],
    adapter_dir: str | None = None,
    device: str = "auto",
    batch_size: int = 32,
    progress: Callable[[str], None] | None = None,
    weighted: bool = False,
    precision: str = "auto",
    home: Path | None = None,
) -> dict[str, Evaluation]:
    """Load the 4-bit base (with an adapter, if given) once and score it on each named split."""
    model, tokenizer = load_for_pricing(model_path, adapter_dir, device, precision, home)
    results = {}
    for name, items in splits.items():
        report = (
            (lambda done, total, name=name: progress(f"{name}: {done}/{total}"))
            if progress
            else None
        )
        results[name] = evaluate(model, tokenizer, items, batch_size, report, weighted)
    return results


def load_for_pricing(
    model_path: str,
    adapter_dir: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    home: Path | None = None,
):
    """The 4-bit base with the adapter applied, ready to price, and its tokenizer. On the CPU
    its NF4 weights are dequantized once, not at every step: the same prices, sooner; read from
    the base's ready copy under `home` (model/ready_copy.py), when one is given."""
    from pricer.model.quantization import load_tokenizer
    from pricer.model.ready_copy import load_base

    tokenizer = load_tokenizer(model_path)
    model = load_base(model_path, device, precision, home)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    return model, tokenizer
