"""A whole training run on real product data, through the Dagster instance as a user runs it.

    python -m bench.real_data_run                  # 2,000 items, 5 epochs, text cut to 48 tokens
    python -m bench.real_data_run --set learning_rate=1e-3 --set target_modules=q_proj,v_proj
    python -m bench.real_data_run --resume RUN_ID  # an interrupted run, from where it stopped

The pool is three pricer-format files from ../shared/data (pricer_train_250, pricer_6cat_2000 and
pricer_test_tail_1750, the distribution the reference results were measured on), curated by the
recipe's rules and split with a fixed seed: 250 test items and 200 validation items held out, the
first `--train-size` of the rest to train on. Runs land in their own Dagster instance under
$PRICER_HOME/real-data, so `DAGSTER_HOME=... make ui` shows them; the quality report is printed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import dagster as dg

from assets.config import TrainingRunConfig
from bench.common import (
    REAL_SPLIT_SEED,
    REAL_TEST_ITEMS,
    REAL_VALIDATION_ITEMS,
    pricer_home,
    real_pool_source,
)
from pipelines.presets import REAL_DATA_TRAINING


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--text-tokens", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=REAL_DATA_TRAINING["epochs"])
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a training setting to change, e.g. lora_r=16 or target_modules=q_proj,v_proj",
    )
    parser.add_argument("--resume", metavar="RUN_ID", help="an interrupted training_run's id")
    args = parser.parse_args()
    training = {**REAL_DATA_TRAINING, "epochs": args.epochs, **_settings(args.set)}

    home = pricer_home() / "real-data"
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").touch()
    # Step processes inherit these: the instance, the model cache, runs and hub repos, all here.
    os.environ.update(DAGSTER_HOME=str(home / "dagster"), PRICER_HOME=str(home))

    from pipelines.launch import latest_metadata, resume_training_run

    instance = dg.DagsterInstance.get()
    started = time.monotonic()
    if args.resume:
        run_key = resume_training_run(instance, args.resume)
    else:
        run_key = _train(instance, args, training)
    minutes = (time.monotonic() - started) / 60
    report = latest_metadata(instance, "quality_report", run_key)
    print(f"\nTraining run {run_key} on real data took {minutes:.1f} min.\n")
    print(Path(str(report["path"])).read_text())


def _train(instance: dg.DagsterInstance, args: argparse.Namespace, training: dict) -> str:
    from pipelines.launch import prepare, train_new_run

    dataset = {
        "source": real_pool_source(),
        "max_text_tokens": args.text_tokens,
        "validation_size": REAL_VALIDATION_ITEMS,
        "test_size": REAL_TEST_ITEMS,
        "train_size": args.train_size,
        "seed": REAL_SPLIT_SEED,
    }
    started = time.monotonic()
    prepare(instance, dataset)
    print(f"prepared in {time.monotonic() - started:.0f} s", flush=True)
    print(f"training with {training}", flush=True)
    return train_new_run(instance, training)


def _settings(assignments: list[str]) -> dict[str, object]:
    """`name=value` pairs as run config: numbers as numbers, commas make a list."""
    settings: dict[str, object] = {}
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        if not separator or name not in TrainingRunConfig.model_fields:
            raise SystemExit(
                f"--set {assignment!r}: expected SETTING=VALUE, a TrainingRunConfig field"
            )
        is_list = TrainingRunConfig.model_fields[name].annotation == list[str]
        settings[name] = value.split(",") if is_list else _number_or_text(value)
    return settings


def _number_or_text(value: str) -> object:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


if __name__ == "__main__":
    main()
