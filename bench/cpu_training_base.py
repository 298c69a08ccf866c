"""The frozen base on the CPU, side by side: bitsandbytes' 4-bit layers (which dequantize every
weight again at each forward and backward pass), the same NF4 values dequantized once after
loading, and those values read from the base's ready copy, as pricer trains (model/ready_copy.py).
The trainer's setup (loading the base), the demo's training step and its evaluation loss, in the
precision `auto` picks here, with the ratios, and whether all three trained alike to the bit.

    python -m bench.cpu_training_base
    python -m bench.cpu_training_base --steps 4 --precision fp32
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import median, print_table
from bench.precision_speed import _cpu_kind, _demo_splits, _model, step_timer
from pipelines.presets import DEMO_TRAINING

SIDES = ("4-bit layers", "dequantized on load", "ready copy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed training steps a side")
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()

    # Imported before any timing, which would otherwise charge them to the first side.
    import peft  # noqa: F401
    import trl  # noqa: F401

    from pricer.model.precision import choose_precision

    precision = choose_precision(args.precision, "cpu").name
    with tempfile.TemporaryDirectory() as home:
        from pricer.model.ready_copy import ready_copy_folder, write_ready_copy

        # Made before the timing: each training step reads it, the first one to need it writes it.
        write_ready_copy(_model(), ready_copy_folder(Path(home), _model(), precision), precision)
        results = {
            side: _train(side, precision, args.steps, args.warmup_steps, Path(home))
            for side in SIDES
        }
    base = results[SIDES[0]]
    rows = []
    for side in SIDES:
        figures = results[side]
        rows.append(
            [
                side,
                f"{figures['setup_s']:.2f}",
                f"{base['setup_s'] / figures['setup_s']:.2f}x",
                f"{figures['step_s']:.2f}",
                f"{base['step_s'] / figures['step_s']:.2f}x",
                f"{figures['eval_s']:.2f}",
                f"{base['eval_s'] / figures['eval_s']:.2f}x",
            ]
        )
    print_table(
        f"The demo's training on {_cpu_kind()} in {precision}, median of {args.steps} steps",
        ["frozen base", "setup s", "speed-up", "step s", "speed-up", "eval loss s", "speed-up"],
        rows,
    )
    same = all(results[side]["losses"] == base["losses"] for side in SIDES)
    print(f"\nlosses step by step and the evaluation loss identical on every side: {same}")


def _train(side: str, precision: str, steps: int, warmup_steps: int, home: Path) -> dict:
    from unittest import mock

    from assets.config import TrainingRunConfig
    from pricer.training.trainer import build_trainer

    splits = _demo_splits()
    settings = TrainingRunConfig(**DEMO_TRAINING).settings()
    timer = step_timer()
    # The baseline keeps bitsandbytes' layers, as a GPU trains: pricer's dequantization is skipped.
    keep_4bit = side == SIDES[0]
    with (
        tempfile.TemporaryDirectory() as work,
        mock.patch("pricer.model.quantization.dequantize_once", return_value=0)
        if keep_4bit
        else mock.MagicMock(),
    ):
        started = time.perf_counter()
        trainer = build_trainer(
            _model(),
            splits.train,
            splits.validation,
            settings,
            Path(work),
            device="cpu",
            callbacks=[timer],
            max_steps=warmup_steps + steps,
            precision=precision,
            home=home if side == SIDES[2] else None,
        )
        setup = time.perf_counter() - started
        trainer.train()
        started = time.perf_counter()
        eval_loss = trainer.evaluate()["eval_loss"]
        eval_seconds = time.perf_counter() - started
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "setup_s": setup,
        "step_s": median(timer.seconds[warmup_steps:]),
        "eval_s": eval_seconds,
        "losses": [*losses, eval_loss],
    }


if __name__ == "__main__":
    main()
