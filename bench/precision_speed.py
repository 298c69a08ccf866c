"""bf16 against fp32 on this CPU, side by side: a matrix product, the demo's training step and
greedy scoring, each in both precisions in one process, with the ratio.

    python -m bench.precision_speed                          # this CPU's own kernels
    python -m bench.precision_speed --kernels native,avx2    # and what an AVX2-only CPU runs
    python -m bench.precision_speed --steps 4 --items 32

The training step is the demo's (its catalogue, batch, rank and lengths: pipelines/presets.py),
built by pricer's own trainer with the precision forced. AVX2 runs set ATEN_CPU_CAPABILITY=avx2
and ONEDNN_MAX_CPU_ISA=AVX2 before torch loads, so a CPU with bf16 instructions shows what one
without them does. The last column is what `auto` picks under those kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench.common import median, pricer_home, print_table
from pipelines.presets import DEMO_DATASET, DEMO_TRAINING

KERNELS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}
PRECISIONS = ("bf16", "fp32")
# The MLP's shape in SmolLM2-135M at 512 positions: the product the issue timed.
MATMUL = (512, 576, 1536)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", default="native")
    parser.add_argument("--steps", type=int, default=2, help="timed training steps a precision")
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--items", type=int, default=16, help="validation items scored")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_measure(args)), flush=True)
        return

    rows = []
    for kernels in args.kernels.split(","):
        result = _in_a_process(kernels, args)
        for what, unit in (("matmul", "ms"), ("train_step", "s"), ("score_item", "s")):
            bf16, fp32 = result["bf16"][what], result["fp32"][what]
            scale = 1000 if unit == "ms" else 1
            rows.append(
                [
                    result["cpu"],
                    kernels,
                    what.replace("_", " "),
                    f"{bf16 * scale:.2f} {unit}",
                    f"{fp32 * scale:.2f} {unit}",
                    f"{bf16 / fp32:.2f}x",
                    result["auto"],
                ]
            )
    print_table(
        f"bf16 against fp32: matmul {'x'.join(map(str, MATMUL))}, demo training step "
        f"(median of {args.steps}), greedy scoring ({args.items} items)",
        ["cpu", "kernels", "what", "bf16", "fp32", "bf16 / fp32", "auto picks"],
        rows,
    )


def _in_a_process(kernels: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, "-m", "bench.precision_speed", "--worker"]
    command += ["--steps", str(args.steps), "--warmup-steps", str(args.warmup_steps)]
    command += ["--items", str(args.items)]
    env = {**os.environ, **KERNELS[kernels]}
    # Progress on stderr as it comes; the result is stdout's last line.
    done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(args: argparse.Namespace) -> dict:
    import torch

    from pricer.model.precision import choose_precision, matmul_seconds

    results: dict = {"cpu": _cpu_kind(), "auto": choose_precision("auto", "cpu").name}
    for precision in PRECISIONS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bf16 forced where emulated: measured, not warned
            results[precision] = {
                "matmul": matmul_seconds(getattr(torch, _TORCH[precision]), *MATMUL, repeats=5),
                "train_step": _train_step_seconds(precision, args.steps, args.warmup_steps),
                "score_item": _score_item_seconds(precision, args.items),
            }
        _progress(f"{precision}: {results[precision]}")
    return results


_TORCH = {"bf16": "bfloat16", "fp32": "float32"}


def _demo_splits():
    from assets.dataset import DatasetConfig
    from pricer.model.quantization import load_tokenizer

    path = _model()
    return DatasetConfig(**DEMO_DATASET).build(load_tokenizer(path)).splits


def _model() -> str:
    from pricer.model.source import EMBEDDED, resolve_base_model

    return resolve_base_model(EMBEDDED, pricer_home() / "models")


def step_timer(progress=None):  # -> transformers.TrainerCallback
    """A trainer callback that keeps each optimizer step's wall time in `.seconds`."""
    from transformers import TrainerCallback  # in the worker: after the kernels are chosen

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self.started)
            if progress is not None:
                progress(f"step {state.global_step} {self.seconds[-1]:.2f} s")

    return StepTimer()


def _train_step_seconds(precision: str, steps: int, warmup_steps: int) -> float:
    from assets.config import TrainingRunConfig
    from pricer.training.trainer import build_trainer

    splits = _demo_splits()
    settings = TrainingRunConfig(**DEMO_TRAINING).settings()
    timer = step_timer(lambda line: _progress(f"{precision}: {line}"))
    with tempfile.TemporaryDirectory() as work:
        trainer = build_trainer(
            _model(),
            splits.train,
            splits.validation[:2],
            settings,
            Path(work),
            device="cpu",
            callbacks=[timer],
            max_steps=warmup_steps + steps,
            precision=precision,
        )
        trainer.train()
    return median(timer.seconds[warmup_steps:])


def _score_item_seconds(precision: str, items: int) -> float:
    from pricer.evaluation.scoring import evaluate, load_for_pricing

    validation = _demo_splits().validation[:items]
    model, tokenizer = load_for_pricing(_model(), device="cpu", precision=precision)
    evaluate(model, tokenizer, validation[:2])  # warm-up
    started = time.perf_counter()
    evaluate(model, tokenizer, validation)
    return (time.perf_counter() - started) / len(validation)


def _cpu_kind() -> str:
    import torch

    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    kinds = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 BF16"), ("avx512f", "AVX-512"))
    kind = next((name for flag, name in kinds if flag in flags), "AVX2")
    return f"{kind} ({torch.backends.cpu.get_cpu_capability()} kernels)"


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
