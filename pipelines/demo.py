"""`make demo`: one whole training run on the embedded defaults, through the real Dagster instance.

It runs the jobs the UI launches (prepare, training_run, select_best), each step in a process of
its own, then prints the epoch table. `make ui` afterwards shows it all in the asset graph.
"""

from __future__ import annotations

import dagster as dg

from pipelines.definitions import MAX_EPOCHS
from pipelines.launch import check_passed, latest_metadata, prepare, train_new_run

# Small enough for a 2-core CPU in minutes, big enough to learn: short texts, a smaller rank and
# a higher learning rate than the 8B recipe.
DEMO_DATASET = {
    "catalogue_size": 320,
    "max_text_tokens": 40,
    "validation_size": 40,
    "test_size": 40,
}
DEMO_TRAINING = {
    "epochs": min(4, MAX_EPOCHS),
    "batch_size": 8,
    "learning_rate": 1e-3,
    "lora_r": 16,
    "lora_alpha": 32,
    "max_length": 96,
}


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
