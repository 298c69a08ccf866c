"""The quality levers on real data: one training run per setting, scored after every epoch.

    python -m bench.lever_sweep                          # every experiment, 4 at a time (a GPU)
    python -m bench.lever_sweep --only recipe --epochs 1 --train-size 64   # a quick look

The same pool, split and seed as `bench.real_data_run`, at the recipe's 158-token text budget.
Each experiment trains epoch by epoch with pricer's own training and scoring functions (the ones
the epoch and scores assets call), in a process of its own, without Dagster: small models are
bound by per-step overheads, so several runs share one GPU well. Every epoch's validation and test
error, greedy and weighted, goes to `<out>/<experiment>.jsonl` as soon as it is known, with each
run's log beside it (checkpoints stay under $PRICER_HOME); the table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench.common import (
    REAL_SPLIT_SEED,
    REAL_TEST_ITEMS,
    REAL_VALIDATION_ITEMS,
    TEXT_TOKENS,
    pricer_home,
    print_table,
    real_pool_source,
)
from pricer.model.lora import ATTENTION_PROJECTIONS
from pricer.training.settings import TrainingSettings

ALL_LINEAR = (*ATTENTION_PROJECTIONS, "gate_proj", "up_proj", "down_proj")
RECIPE = TrainingSettings(epochs=5, max_length=192)  # a few real examples run to 183 tokens
ALL_LINEAR_RECIPE = replace(
    RECIPE, learning_rate=2e-4, lora=replace(RECIPE.lora, target_modules=ALL_LINEAR)
)
ALL_LINEAR_R64 = replace(ALL_LINEAR_RECIPE, lora=replace(ALL_LINEAR_RECIPE.lora, r=64, alpha=128))
# The levers, against the course recipe (attention only, r32, lr 1e-4, batch 16).
EXPERIMENTS = {
    "recipe": RECIPE,
    "all-linear": ALL_LINEAR_RECIPE,
    "all-linear lr 1e-3": replace(ALL_LINEAR_RECIPE, learning_rate=1e-3),
    "all-linear r64": ALL_LINEAR_R64,
    "all-linear r64 lr 5e-4": replace(ALL_LINEAR_R64, learning_rate=5e-4),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=EXPERIMENTS, help="run just these")
    parser.add_argument("--parallel", type=int, default=4, help="experiments at once")
    parser.add_argument("--epochs", type=int, default=RECIPE.epochs)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--text-tokens", type=int, default=TEXT_TOKENS)
    parser.add_argument("--out", type=Path, default=pricer_home() / "lever-sweep")
    parser.add_argument("--experiment", help=argparse.SUPPRESS)  # a worker process
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.experiment:
        _run_experiment(args)
        return

    names = args.only or list(EXPERIMENTS)
    options = ["--epochs", str(args.epochs), "--train-size", str(args.train_size)]
    options += ["--text-tokens", str(args.text_tokens), "--out", str(args.out)]
    running: list[tuple[str, subprocess.Popen]] = []
    failed = []
    for name in names:
        while len(running) >= args.parallel:
            failed += _reap(running)
            time.sleep(1)
        log = open(args.out / f"{_slug(name)}.log", "w")  # noqa: SIM115 (closed with the process)
        worker = [sys.executable, "-m", "bench.lever_sweep", "--experiment", name, *options]
        running.append((name, subprocess.Popen(worker, stdout=log, stderr=subprocess.STDOUT)))
        print(f"started {name}", flush=True)
    while running:
        failed += _reap(running)
        time.sleep(1)
    _print_results(names, args.out)
    if failed:
        raise SystemExit(f"failed: {failed}; their logs are in {args.out}")


def _reap(running: list[tuple[str, subprocess.Popen]]) -> list[str]:
    failed = []
    for entry in list(running):
        name, process = entry
        if process.poll() is not None:
            running.remove(entry)
            print(f"{name} finished with exit status {process.returncode}", flush=True)
            if process.returncode:
                failed.append(name)
    return failed


def _run_experiment(args: argparse.Namespace) -> None:
    from pricer.data.curation import CurationRules
    from pricer.data.dataset import build_dataset
    from pricer.evaluation.baselines import constant_scores, ridge_scores
    from pricer.evaluation.scoring import evaluate_model, scoring_batch_size
    from pricer.model.device import pick_device
    from pricer.model.quantization import load_tokenizer
    from pricer.model.source import EMBEDDED, resolve_base_model
    from pricer.training.trainer import train_epoch

    settings = replace(EXPERIMENTS[args.experiment], epochs=args.epochs)
    settings.validate()
    model = resolve_base_model(EMBEDDED, pricer_home() / "models")
    dataset = build_dataset(
        real_pool_source(),
        load_tokenizer(model),
        CurationRules(max_text_tokens=args.text_tokens),
        REAL_VALIDATION_ITEMS,
        REAL_TEST_ITEMS,
        REAL_SPLIT_SEED,
        train_size=args.train_size,
    )
    splits = dataset.splits
    held_out = {"validation": splits.validation, "test": splits.test}
    results = args.out / f"{_slug(args.experiment)}.jsonl"
    results.unlink(missing_ok=True)

    def record(row: dict) -> None:
        with results.open("a") as file:
            file.write(json.dumps(row) + "\n")

    baselines: dict[str, dict[str, float]] = {}
    for split, items in held_out.items():
        for name, scores in constant_scores(splits.train, items).items():
            baselines.setdefault(name, {})[split] = scores.mean_abs_error
        baselines.setdefault("ridge", {})[split] = ridge_scores(splits.train, items).mean_abs_error
    record({"dataset": dataset.version, "train": len(splits.train), "baselines": baselines})
    print(f"{args.experiment}: {settings}", flush=True)

    device = pick_device()
    run_dir = pricer_home() / "lever-sweep-runs" / _slug(args.experiment)  # checkpoints
    previous = None
    for epoch in range(1, settings.epochs + 1):
        trained = train_epoch(
            model, splits.train, splits.validation, settings, epoch, run_dir, previous,
            progress=lambda line: print(line, flush=True),
        )  # fmt: skip
        previous = trained.checkpoint_dir
        scored = evaluate_model(
            model,
            held_out,
            adapter_dir=str(trained.checkpoint_dir),
            batch_size=scoring_batch_size(device),
            weighted=True,
        )
        row: dict[str, object] = {
            "epoch": epoch,
            "train_loss": trained.train_loss,
            "train_seconds": trained.seconds,
        }
        for split, evaluation in scored.items():
            assert evaluation.weighted is not None
            row[f"{split}_greedy"] = evaluation.scores.mean_abs_error
            row[f"{split}_weighted"] = evaluation.weighted.scores.mean_abs_error
        record(row)
        print(json.dumps(row), flush=True)


def _print_results(names: list[str], out: Path) -> None:
    from pricer.evaluation.selection import EpochRecord, best_epoch, overfitting_onset

    rows, baselines = [], None
    for name in names:
        lines = _results(out, name)
        epochs = [line for line in lines if "epoch" in line]
        if not epochs:
            rows.append([name, "no epoch finished", "", "", "", "", ""])
            continue
        baselines = lines[0]["baselines"]
        records = [EpochRecord(e["epoch"], e["train_loss"], e["validation_greedy"]) for e in epochs]
        chosen = next(e for e in epochs if e["epoch"] == best_epoch(records))
        median = baselines["median constant"]["test"]
        rows.append(
            [
                name,
                " ".join(f"{e['validation_greedy']:.2f}" for e in epochs),
                " ".join(f"{e['validation_weighted']:.2f}" for e in epochs),
                str(chosen["epoch"]),
                str(overfitting_onset(records) or "none"),
                f"{chosen['test_greedy']:.2f} / {chosen['test_weighted']:.2f}",
                f"{1 - chosen['test_weighted'] / median:.1%}",
            ]
        )
    header = ["experiment", "val $ err greedy, by epoch", "weighted", "chosen", "onset"]
    header += ["test greedy / weighted", "weighted vs median"]
    print_table(f"Levers on real data (results in {out})", header, rows)
    if baselines:
        pairs = [f"{k} {v['validation']:.2f} / {v['test']:.2f}" for k, v in baselines.items()]
        print("baselines, val / test: " + "; ".join(pairs))


def _results(out: Path, name: str) -> list[dict]:
    path = out / f"{_slug(name)}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _slug(name: str) -> str:
    return name.replace(" ", "_")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
