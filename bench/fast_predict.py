"""`pricer predict`'s ready path against the path it replaced, in one process, on the same items.

    PRICER_HOME=.pricer python -m bench.fast_predict                  # the champion, demo items
    python -m bench.fast_predict --items real --count 250             # real descriptions
    python -m bench.fast_predict --adapter path/to/checkpoint         # any adapter folder

Before: the 4-bit base loaded through transformers and bitsandbytes, dequantized once, with the
adapter under PEFT (scoring's path, and predict's until the ready copy). After: the base's ready
copy run by the plain-torch decoder (pricer/serving) with the same adapter. Both price the same
descriptions with both predictors and then greedily alone; the table gives loading seconds (after
imports), items a second, and how many prices agree. The items are the demo catalogue's (short
titles, the demo's 40-token budget) or real ones (158 tokens of text). A fresh process, imports
included, is timed from outside: `/usr/bin/time pricer predict "..."`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from bench.common import model_path, pricer_home, print_table, real_items
from pipelines.presets import DEMO_DATASET
from pricer.data.curation import CurationRules, curate
from pricer.data.prompts import make_prompt, parse_price
from pricer.data.sources import read_source
from pricer.evaluation.decoding import decode
from pricer.hub.local_git import LocalGitStore
from pricer.model.precision import choose_precision
from pricer.model.quantization import load_tokenizer
from pricer.model.source import EMBEDDED
from pricer.release.champion import read_champion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", choices=("demo", "real"), default="demo")
    parser.add_argument("--count", type=int, default=250)
    parser.add_argument("--adapter", type=Path, help="default: the champion's, from the local hub")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    from pricer.evaluation.scoring import load_for_pricing
    from pricer.serving.loading import load_ready
    from pricer.serving.pricing import price_descriptions

    base = model_path(EMBEDDED)
    precision = choose_precision(args.precision, "cpu").name
    texts = _texts(args.items, args.count, base)
    scratch = Path(tempfile.mkdtemp(prefix="bench-fast-predict-"))
    adapter = args.adapter or _champion_adapter(scratch)
    print(f"{len(texts)} {args.items} items, {precision}, {torch.get_num_threads()} threads")

    started = time.perf_counter()
    model, tokenizer = load_for_pricing(base, str(adapter), "cpu", precision)
    before_load = time.perf_counter() - started
    started = time.perf_counter()
    load_ready(pricer_home(), base, adapter, precision)  # made once, if it is not there yet
    made = time.perf_counter() - started
    started = time.perf_counter()
    decoder, fast_tokenizer = load_ready(pricer_home(), base, adapter, precision)
    after_load = time.perf_counter() - started
    if made > 2 * after_load:
        print(f"the ready copy was made first, in {made:.1f} s")

    prompts = [make_prompt(text) for text in texts]
    rows, results = [], {}
    for weighted in (True, False):
        runs = {
            "before": lambda w=weighted: decode(
                model, tokenizer, prompts, args.batch_size, weighted=w
            ),
            "after": lambda w=weighted: price_descriptions(
                decoder, fast_tokenizer, texts, 10_000, args.batch_size, weighted=w
            ),
        }
        rates = {}
        for name, run in runs.items():
            started = time.perf_counter()
            results[name, weighted] = run()
            rates[name] = len(texts) / (time.perf_counter() - started)
        label = "both predictors" if weighted else "greedy only"
        rows.append(
            [
                label,
                f"{rates['before']:.1f}",
                f"{rates['after']:.1f}",
                f"{rates['after'] / rates['before']:.2f}x",
            ]
        )
    print_table(
        f"items a second (loading: before {before_load:.1f} s, after {after_load:.2f} s)",
        ["pricing", "before", "after", "after/before"],
        rows,
    )

    before, after = results["before", True], results["after", True]
    greedy = sum(
        parse_price(a.completion) == parse_price(b.completion)
        for a, b in zip(before, after, strict=True)
    )
    weighted_pairs = [
        (a.price(weighted=True), b.price(weighted=True)) for a, b in zip(before, after, strict=True)
    ]
    cents = sum(_cents(a) == _cents(b) for a, b in weighted_pairs)
    largest = max(abs(a - b) for a, b in weighted_pairs if a is not None and b is not None)
    print(f"\ngreedy prices equal: {greedy}/{len(texts)}")
    print(
        f"weighted prices equal to the cent: {cents}/{len(texts)}; "
        f"the largest difference ${largest:.6f}"
    )
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        if parse_price(a.completion) != parse_price(b.completion):
            print(f"  item {index}: greedy {a.completion!r} before, {b.completion!r} after")


def _texts(kind: str, count: int, base: str) -> list[str]:
    if kind == "real":
        return [item.text for item in real_items(count, load_tokenizer(base))]
    # The demo's catalogue, cut to the demo's budget: the items the demo's champion prices.
    rows = read_source(EMBEDDED, catalogue_size=max(count, DEMO_DATASET["catalogue_size"]))
    rules = CurationRules(max_text_tokens=DEMO_DATASET["max_text_tokens"])
    return [item.text for item in curate(rows, load_tokenizer(base), rules).items[:count]]


def _champion_adapter(scratch: Path) -> Path:
    champion = read_champion(pricer_home())
    if champion is None or champion.hub != "local":
        raise SystemExit(
            "no champion in the local hub of $PRICER_HOME: run `make demo`, or --adapter"
        )
    store = LocalGitStore(pricer_home() / "hub")
    return store.download(champion.repo_id, champion.revision, scratch / "adapter")


def _cents(price: float | None) -> str:
    return "nan" if price is None else f"{price:.2f}"


if __name__ == "__main__":
    main()
