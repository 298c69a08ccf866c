"""Pricing on the CPU: pricer's PyTorch path against the GGUF export in llama.cpp, side by side.

    python -m bench.gguf_speed                 # 32 real items, Q8_0
    python -m bench.gguf_speed --items 64 --gguf-type f16

Both price the same real items with the same adapter: a fresh LoRA adapter over the embedded base
(its B matrices start at zero, so it prices as the base does; speed does not depend on what an
adapter learned). The PyTorch side is what `pricer predict` runs: the 4-bit base dequantized once,
the adapter on top, batched greedy decoding. The llama.cpp side loads `pricer export --format
gguf`'s file and decodes one prompt at a time, greedy. Each side's load and pricing are timed
apart, and the prices are compared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import pricer_home, print_table, real_items
from pricer.data.prompts import make_prompt, parse_price
from pricer.evaluation.decoding import MAX_NEW_TOKENS
from pricer.model.source import EMBEDDED, resolve_base_model
from pricer.release.gguf_export import (
    DEFAULT_GGUF_TYPE,
    GGUF_TYPES,
    export_gguf,
    tokenizer_gguf_for,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--gguf-type", choices=GGUF_TYPES, default=DEFAULT_GGUF_TYPE)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    base = resolve_base_model(EMBEDDED, pricer_home() / "models")
    with tempfile.TemporaryDirectory(prefix="gguf-speed-") as scratch:
        adapter = _fresh_adapter(base, Path(scratch) / "adapter")
        gguf_file = export_gguf(
            base,
            adapter,
            Path(scratch) / "model.gguf",
            tokenizer_gguf_for(EMBEDDED),
            args.gguf_type,
        )
        torch_load, torch_time, torch_prices, prompts = _pytorch(base, adapter, args.items)
        llama_load, llama_time, llama_prices = _llama(gguf_file, prompts, args.threads)
        size_mb = gguf_file.stat().st_size / 1e6

    same = sum(a == b for a, b in zip(torch_prices, llama_prices, strict=True))
    n = len(prompts)
    print_table(
        f"Pricing {n} real items on this CPU, one process",
        ["path", "load s", f"price {n} items s", "items/s", "vs PyTorch"],
        [
            [
                "PyTorch (NF4 dequantized, batched)",
                f"{torch_load:.2f}",
                f"{torch_time:.2f}",
                f"{n / torch_time:.1f}",
                "1.00x",
            ],
            [
                f"llama.cpp GGUF {args.gguf_type} ({size_mb:.0f} MB)",
                f"{llama_load:.2f}",
                f"{llama_time:.2f}",
                f"{n / llama_time:.1f}",
                f"{torch_time / llama_time:.2f}x",
            ],
        ],
    )
    print(f"same price on {same} of {n} items")


def _fresh_adapter(base: str, folder: Path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from pipelines.presets import DEMO_TRAINING

    model = AutoModelForCausalLM.from_pretrained(base)
    lora = LoraConfig(
        r=DEMO_TRAINING["lora_r"],
        lora_alpha=DEMO_TRAINING["lora_alpha"],
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        task_type="CAUSAL_LM",
    )
    get_peft_model(model, lora).save_pretrained(folder)
    return folder


def _pytorch(base: str, adapter: Path, count: int):
    from pricer.evaluation.decoding import decode
    from pricer.evaluation.scoring import load_for_pricing

    start = time.perf_counter()
    model, tokenizer = load_for_pricing(base, str(adapter), "cpu", "fp32")
    loaded = time.perf_counter()
    prompts = [make_prompt(item.text) for item in real_items(count, tokenizer)]
    begin = time.perf_counter()
    decoded = decode(model, tokenizer, prompts)
    done = time.perf_counter()
    return loaded - start, done - begin, [d.price() for d in decoded], prompts


def _llama(gguf_file: Path, prompts: list[str], threads: int):
    from llama_cpp import Llama

    start = time.perf_counter()
    llm = Llama(str(gguf_file), n_ctx=512, n_threads=threads, verbose=False)
    loaded = time.perf_counter()
    prices = []
    for prompt in prompts:
        ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
        tokens = []
        for token in llm.generate(ids, temp=0.0):
            if token == llm.token_eos() or len(tokens) == MAX_NEW_TOKENS:
                break
            tokens.append(token)
        prices.append(parse_price(llm.detokenize(tokens).decode(errors="replace")))
    done = time.perf_counter()
    return loaded - start, done - loaded, prices


if __name__ == "__main__":
    main()
