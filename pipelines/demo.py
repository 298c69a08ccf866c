"""`make demo`: one whole training run on the embedded defaults, through the real Dagster instance.

It runs the jobs the UI launches (prepare, training_run, select_best), each step in a process of
its own, then prints the epoch table. `make ui` afterwards shows it all in the asset graph.
"""

from __future__ import annotations

import dagster as dg

from pipelines.launch import check_passed, latest_metadata, prepare, train_new_run
from pipelines.presets import DEMO_DATASET, DEMO_TRAINING


def main() -> None:
    instance = dg.DagsterInstance.get()
    prepare(instance, DEMO_DATASET)
    run_key = train_new_run(instance, DEMO_TRAINING)
    best = latest_metadata(instance, "best_checkpoint", run_key)
    print(f"\nTraining run {run_key}: epoch {best['chosen_epoch']} chosen on validation error.\n")
    print(best["epochs"], flush=True)
    if not check_passed(instance, "best_checkpoint", "beats_median_baseline", run_key):
        # The asset check has already failed in the UI; the demo's exit status says so too.
        raise SystemExit("The best checkpoint does not beat the median constant on validation.")


if __name__ == "__main__":
    main()
