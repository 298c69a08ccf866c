"""Pricing items with a model: batched greedy decoding, then the course's metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from pricer.items import Item
from pricer.metrics import Scores, score
from pricer.prompts import parse_price

# SmolLM2 writes one digit a token: "999.00" and the end token take 7.
MAX_NEW_TOKENS = 7


@dataclass
class Evaluation:
    scores: Scores
    truths: list[float]
    guesses: list[float | None]
    outputs: list[str]


@torch.inference_mode()
def generate_completions(
    model,
    tokenizer,
    prompts: list[str],
    batch_size: int = 32,
    max_new_tokens: int = MAX_NEW_TOKENS,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Greedy completions in the order given; batches are formed from similar lengths."""
    tokenizer.padding_side = "left"  # generation continues from the right edge of every row
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(prompts)), key=lambda i: -lengths[i])
    outputs: list[str] = [""] * len(prompts)
    device = next(model.parameters()).device
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        encoded = tokenizer(
            [prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
        ).to(device)
        generated = model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
        new_tokens = generated[:, encoded["input_ids"].shape[1] :]
        for index, text in zip(
            batch, tokenizer.batch_decode(new_tokens, skip_special_tokens=True), strict=True
        ):
            outputs[index] = text
        if progress:
            progress(min(start + batch_size, len(order)), len(order))
    return outputs


def evaluate(
    model, tokenizer, items: list[Item], batch_size: int = 32, progress=None
) -> Evaluation:
    outputs = generate_completions(
        model, tokenizer, [item.prompt for item in items], batch_size, progress=progress
    )
    truths = [item.price for item in items]
    guesses = [parse_price(output) for output in outputs]
    return Evaluation(score(truths, guesses), truths, guesses, outputs)


def evaluate_model(
    model_path: str,
    splits: dict[str, list[Item]],
    adapter_dir: str | None = None,
    device: str = "auto",
    batch_size: int = 32,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Evaluation]:
    """Load the 4-bit base (with an adapter, if given) once and score it on each named split."""
    from pricer.quantization import load_quantized, load_tokenizer

    tokenizer = load_tokenizer(model_path)
    model = load_quantized(model_path, device)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    results = {}
    for name, items in splits.items():
        report = (
            (lambda done, total, name=name: progress(f"{name}: {done}/{total}"))
            if progress
            else None
        )
        results[name] = evaluate(model, tokenizer, items, batch_size, report)
    return results
