"""Evaluation throughput: pricer's batched scorer against pricing one item at a time.

    python -m bench.eval_throughput                      # embedded SmolLM2, CPU or GPU
    python -m bench.eval_throughput --model llama-8b-shape --items 512 --new-tokens 3   # GPU

Both decode greedily with a KV cache from the same 4-bit model, on the same real items; the run
fails if any prediction differs between the two.
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.common import median, model_path, print_table, real_items
from pricer.data.prompts import parse_price
from pricer.evaluation.decoding import MAX_NEW_TOKENS, decode
from pricer.evaluation.scoring import GPU_SCORING_BATCH
from pricer.model.device import pick_device
from pricer.model.quantization import load_quantized, load_tokenizer
from pricer.model.source import EMBEDDED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=EMBEDDED)
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--single-items", type=int, default=None, help="fewer for the slow side")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 512 GPU, 64 CPU")
    parser.add_argument("--new-tokens", type=int, default=MAX_NEW_TOKENS)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    device = pick_device()
    batch_size = args.batch_size or (GPU_SCORING_BATCH if device == "cuda" else 64)
    tokenizer = load_tokenizer(model_path(args.model))
    model = load_quantized(model_path(args.model), device).eval()
    prompts = [item.prompt for item in real_items(args.items, tokenizer)]
    single_prompts = prompts[: args.single_items or args.items]

    def run(batch: int, chosen: list[str]) -> tuple[float, list[str]]:
        _synchronize(device)
        started = time.perf_counter()
        decoded = decode(model, tokenizer, chosen, batch, args.new_tokens)
        outputs = [d.completion for d in decoded]
        _synchronize(device)
        return len(chosen) / (time.perf_counter() - started), outputs

    run(batch_size, prompts[:batch_size])  # warm-up: kernels, allocator, caches
    batched = [run(batch_size, prompts) for _ in range(args.repeats)]
    single = [run(1, single_prompts) for _ in range(args.repeats)]

    batched_outputs, single_outputs = batched[0][1], single[0][1]
    differing = [
        i
        for i, output in enumerate(single_outputs)
        if parse_price(output) != parse_price(batched_outputs[i])
    ]
    one_rate, batch_rate = median([r for r, _ in single]), median([r for r, _ in batched])
    print_table(
        f"Evaluation on {device} ({args.model}, {args.new_tokens} new tokens, "
        f"median of {args.repeats})",
        ["scorer", "items", "items/s", "ratio"],
        [
            ["one at a time", str(len(single_prompts)), f"{one_rate:.2f}", "1.00x"],
            [
                f"pricer, batch {batch_size}",
                str(len(prompts)),
                f"{batch_rate:.2f}",
                f"{batch_rate / one_rate:.2f}x",
            ],
        ],
    )
    print(
        f"\npredictions identical on {len(single_outputs) - len(differing)}/{len(single_outputs)}"
    )
    if differing:
        raise SystemExit(f"batched predictions differ from one-at-a-time on items {differing}")


def _synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
