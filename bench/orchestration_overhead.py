"""Orchestration overhead: the demo's training run through Dagster against the same domain
functions called directly in one Python process.

    python -m bench.orchestration_overhead            # the `make demo` configuration
    python -m bench.orchestration_overhead --tiny     # the test suite's tiny configuration

Dagster runs every step in a process of its own; the difference in wall time is what that costs.
Each step's fixed cost (process start and imports, read from the event log, plus model loads,
timed inside the steps) is printed apart from the work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.common import print_table, step_timings, use_scratch_homes
from pipelines.presets import DEMO_DATASET, DEMO_TRAINING, TINY_DATASET, TINY_TRAINING


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    dataset, training = (
        (TINY_DATASET, TINY_TRAINING) if args.tiny else (DEMO_DATASET, DEMO_TRAINING)
    )

    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        use_scratch_homes(home)
        _convert_model_once(home / "pricer")
        direct = _direct(dataset, training, home / "direct")
        orchestrated, per_step = _through_dagster(dataset, training)

    print_table(
        f"One training run ({'tiny' if args.tiny else 'demo'} configuration), wall seconds",
        ["path", "seconds", "ratio"],
        [
            ["domain functions, one process", f"{direct:.1f}", "1.00x"],
            [
                "Dagster jobs, a process per step",
                f"{orchestrated:.1f}",
                f"{orchestrated / direct:.2f}x",
            ],
        ],
    )
    print_table(
        "Dagster's fixed cost per step (median over steps of each kind)",
        ["step kind", "steps", "process start + imports (s)", "step total (s)"],
        [
            [kind, str(len(rows)), f"{_median(rows, 0):.2f}", f"{_median(rows, 1):.1f}"]
            for kind, rows in sorted(per_step.items())
        ],
    )


def _convert_model_once(pricer_home: Path) -> None:
    # Both paths then read the same converted model; the one-off conversion is timed by neither.
    from pricer.model.source import EMBEDDED, resolve_base_model

    resolve_base_model(EMBEDDED, pricer_home / "models")


def _direct(dataset_config: dict, training_config: dict, work: Path) -> float:
    """What the assets do, as plain calls, in the order the jobs run them."""
    from assets.config import TrainingRunConfig
    from assets.dataset import DatasetConfig
    from pricer.evaluation.baselines import constant_scores, ridge_scores
    from pricer.evaluation.epoch_scoring import score_checkpoint
    from pricer.evaluation.scoring import evaluate_model
    from pricer.evaluation.selection import select
    from pricer.hub.local_git import LocalGitStore
    from pricer.model.device import pick_device
    from pricer.model.lora import find_target_modules
    from pricer.model.precision import choose_precision
    from pricer.model.quantization import footprint, load_quantized, load_tokenizer
    from pricer.model.source import EMBEDDED, EMBEDDED_NAME, resolve_base_model
    from pricer.plots import loss_curve, price_histogram, truth_vs_guess, validation_curve
    from pricer.release.checkpoints import push_checkpoint, push_model_card, scored_record
    from pricer.training.tracking import track_epoch
    from pricer.training.trained_epoch import after_epoch
    from pricer.training.trainer import train_epoch

    started = time.perf_counter()
    data = DatasetConfig(**dataset_config)
    settings = TrainingRunConfig(**training_config).settings()
    path = resolve_base_model(EMBEDDED, Path(os.environ["PRICER_HOME"]) / "models")
    dataset = data.build(load_tokenizer(path))
    price_histogram([i.price for i in dataset.curation.items])
    precision = choose_precision("auto", pick_device()).name  # as quantized_base_model does
    model = load_quantized(path, precision=precision)
    find_target_modules(model, settings.lora.target_modules)
    footprint(path, model)
    del model
    splits = dataset.splits
    held_out = {"validation": splits.validation, "test": splits.test}
    for items in held_out.values():
        constant_scores(splits.train, items)
        ridge_scores(splits.train, items)
    evaluate_model(path, held_out, weighted=True, precision=precision)

    store, run_key = LocalGitStore(work / "hub"), "direct-run"
    records, trained = [], None
    for epoch in range(1, settings.epochs + 1):
        with track_epoch("offline", "pricer", run_key, epoch, settings.as_dict(), work) as run:
            result = train_epoch(
                path,
                splits.train,
                splits.validation,
                settings,
                epoch,
                work / "trainer",
                resume_from=trained.checkpoint_dir if trained else None,
                report_to=run.report_to,
                precision=precision,
            )
        trained = after_epoch(trained, result, run_key, settings, dataset.version)
        loss_curve(
            trained.history.losses, trained.history.learning_rates, trained.history.epoch_ends
        )
        # As the assets do: the adapter's commit, scored from the hub, then its card's commit.
        pushed = push_checkpoint(store, trained, work / "push" / f"epoch_{epoch}")
        revision = pushed.revision.revision
        adapter = store.download(pushed.revision.repo_id, revision, work / "revisions" / revision)
        scored = score_checkpoint(
            path,
            adapter,
            splits,
            work / "predictions" / f"epoch_{epoch}.json",
            precision=precision,
        )
        truth_vs_guess(scored.validation.truths, scored.validation.guesses, f"epoch {epoch}")
        record = push_model_card(
            store,
            scored_record(pushed, scored, precision),
            records,
            adapter,
            work / "cards" / f"epoch_{epoch}",
            EMBEDDED_NAME,
            dataset.version,
        )
        records.append(record)
    selection = select(records)
    validation_curve(
        [r.epoch for r in records],
        [r.validation_error for r in records],
        selection.chosen,
        selection.onset,
        {},
    )
    return time.perf_counter() - started


def _through_dagster(dataset: dict, training: dict) -> tuple[float, dict[str, list]]:
    import dagster as dg

    from pipelines.launch import prepare, train_new_run

    instance = dg.DagsterInstance.get()
    started = time.perf_counter()
    prepare(instance, dataset)
    train_new_run(instance, training)
    wall = time.perf_counter() - started
    costs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for timing in step_timings(instance):
        kind = timing.step_key.rstrip("0123456789").removesuffix("_epoch_")
        costs[kind].append((timing.launch_to_start, timing.launch_to_end))
    return wall, costs


def _median(rows: list[tuple[float, float]], column: int) -> float:
    return statistics.median(row[column] for row in rows)


if __name__ == "__main__":
    main()
