"""`make demo`: one whole training run on the embedded defaults, through the real Dagster instance.

It runs the jobs the UI and the sensors launch (prepare, training_run, select_best, then
promote_champion), each step in a process of its own, prints the epoch table, and prices one
product with `pricer predict` and no flags, as a user would next. `make ui` afterwards shows it
all in the asset graph.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.launch import (
    check_passed,
    check_passed_in_run,
    prepare,
    promote,
    stored_value,
    train_new_run,
)
from pipelines.presets import DEMO_DATASET, DEMO_TRAINING
from pricer.evaluation.baselines import NOISE_FLOOR
from pricer.evaluation.epoch_table import epoch_table
from pricer.evaluation.selection import BestCheckpoint

SAMPLE = "Stainless steel electric kettle with a rapid boil and a cordless base"


def main() -> None:
    instance = dg.DagsterInstance.get()
    prepare(instance, DEMO_DATASET)
    run_key = train_new_run(instance, DEMO_TRAINING)
    best = stored_value(instance, "best_checkpoint", run_key)
    assert isinstance(best, BestCheckpoint)
    chosen = best.selection.chosen
    print(
        f"\nTraining run {run_key}: epoch {chosen} chosen on the probability-weighted price's "
        "validation $ error.\n"
    )
    print(epoch_table(best.epochs, best.selection, best.baseline_validation_errors), flush=True)
    floor = best.baseline_validation_errors.get(NOISE_FLOOR)
    if floor is not None:
        print(
            f"\nNo model can beat ${floor:.2f} on this catalogue's validation items: the rest of "
            "each price is a dispersion no text reveals.",
            flush=True,
        )
    if not check_passed(instance, "best_checkpoint", "beats_median_baseline", run_key):
        # The asset check has already failed in the UI; the demo's exit status says so too.
        raise SystemExit("The best checkpoint does not beat the median constant on validation.")
    promotion = promote(instance, run_key)
    if not check_passed_in_run(instance, promotion, "challenger", "beats_champion_and_median"):
        raise SystemExit(f"{run_key} was not promoted: see the challenger's check in the UI.")
    # As a user would: the command line, no flags, the champion just promoted.
    pricer = Path(sys.executable).with_name("pricer")
    price = subprocess.run([pricer, "predict", SAMPLE], check=True, capture_output=True, text=True)
    print(f'\n$ pricer predict "{SAMPLE}"\n{price.stdout.strip()}', flush=True)


if __name__ == "__main__":
    main()
