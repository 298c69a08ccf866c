"""The product's main job on a GPU: prepare, training_run and select_best on real data, through a
real Dagster instance, every step in a process of its own started by the fork server, as
`dagster dev` runs them.

    python -m bench.gpu_dagster_run                # 2,000 items, 158 tokens of text, 3 epochs
    python -m bench.gpu_dagster_run --smoke        # the same path, small enough for a CPU

The run trains with the reference recipe's settings (r 32, alpha 64, dropout 0.1 on the attention
projections, lr 1e-4 cosine, batch 16, max length 182) on the embedded model. It prints every
step's outcome and times (launch to start: the process and its imports; its share of the step),
whether any step's log holds CUDA's "Cannot re-initialize CUDA in forked subprocess", and the
quality report. With --out DIR the same goes to DIR/gpu_dagster_run.md. docs/gpu/README.md has
the device commands.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import (
    REAL_SPLIT_SEED,
    TEXT_TOKENS,
    real_pool_source,
    step_timings,
    use_scratch_homes,
)

CUDA_FORK_ERROR = "Cannot re-initialize CUDA"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="64 items, 48 tokens, one epoch")
    parser.add_argument("--out", type=Path, help="a folder for the report")
    args = parser.parse_args()
    dataset = {
        "source": real_pool_source(),
        "max_text_tokens": 48 if args.smoke else TEXT_TOKENS,
        "validation_size": 20 if args.smoke else 400,
        "test_size": 20 if args.smoke else 250,
        "train_size": 64 if args.smoke else 2000,
        "seed": REAL_SPLIT_SEED,
    }
    training = {"epochs": 1 if args.smoke else 3}  # the recipe's defaults otherwise

    with tempfile.TemporaryDirectory(prefix="pricer-gpu-run-") as scratch:
        home = Path(scratch)
        # The shipped instance settings: one training step at a time, as on a one-GPU machine.
        use_scratch_homes(home, (Path(__file__).parents[1] / "docs" / "dagster.yaml").read_text())
        report = _run(dataset, training)
    print(report)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_dagster_run.md").write_text(report)


def _run(dataset: dict, training: dict) -> str:
    import dagster as dg
    import torch

    from pipelines.launch import latest_metadata, prepare, train_new_run

    instance = dg.DagsterInstance.get()
    started = time.monotonic()
    prepare(instance, dataset)
    run_key = train_new_run(instance, training)
    minutes = (time.monotonic() - started) / 60
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    lines = [
        f"# Training run {run_key} through Dagster on {device}",
        "",
        f"dataset {dataset}, training {training}; {minutes:.1f} min from prepare to select_best.",
        "",
        *_outcomes(instance),
        "",
        *_timings(instance),
        "",
        _cuda_fork_errors(instance),
        "",
        Path(str(latest_metadata(instance, "quality_report", run_key)["path"])).read_text(),
    ]
    return "\n".join(lines)


def _outcomes(instance) -> list[str]:
    lines = ["| job | status |", "|---|---|"]
    for run in reversed(instance.get_runs()):
        lines.append(f"| {run.job_name} | {run.status.value} |")
    return lines


def _timings(instance) -> list[str]:
    lines = [
        "| step | launch to start (s) | step (s) | share of the step spent starting |",
        "|---|---:|---:|---:|",
    ]
    for timing in step_timings(instance):
        share = timing.launch_to_start / timing.launch_to_end
        lines.append(
            f"| {timing.step_key} | {timing.launch_to_start:.1f} | {timing.launch_to_end:.1f} | "
            f"{share:.1%} |"
        )
    return lines


def _cuda_fork_errors(instance) -> str:
    found = [
        (run.job_name, entry.step_key)
        for run in instance.get_runs()
        for entry in instance.all_logs(run.run_id)
        if CUDA_FORK_ERROR in (entry.user_message or "")
        or (entry.dagster_event and CUDA_FORK_ERROR in str(entry.dagster_event.event_specific_data))
    ]
    if not found:
        return f'No step log holds "{CUDA_FORK_ERROR}".'
    return f'"{CUDA_FORK_ERROR}" in {len(found)} log entries: {found}'


if __name__ == "__main__":
    main()
