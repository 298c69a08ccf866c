"""`make demo`: one whole training run on the embedded defaults, through the real Dagster instance.

It runs the jobs the UI launches (prepare, training_run, select_best), each step in a process of
its own, then prints the epoch table. `make ui` afterwards shows it all in the asset graph.
"""

from __future__ import annotations

import dagster as dg

from pipelines.launch import check_passed, prepare, stored_value, train_new_run
from pipelines.presets import DEMO_DATASET, DEMO_TRAINING
from pricer.evaluation.epoch_table import epoch_table
from pricer.evaluation.selection import BestCheckpoint


def main() -> None:
    instance = dg.DagsterInstance.get()
    prepare(instance, DEMO_DATASET)
    run_key = train_new_run(instance, DEMO_TRAINING)
    best = stored_value(instance, "best_checkpoint", run_key)
    assert isinstance(best, BestCheckpoint)
    chosen = best.selection.chosen
    print(f"\nTraining run {run_key}: epoch {chosen} chosen on validation error.\n")
    print(epoch_table(best.epochs, best.selection, best.baseline_validation_errors), flush=True)
    if not check_passed(instance, "best_checkpoint", "beats_median_baseline", run_key):
        # The asset check has already failed in the UI; the demo's exit status says so too.
        raise SystemExit("The best checkpoint does not beat the median constant on validation.")


if __name__ == "__main__":
    main()
