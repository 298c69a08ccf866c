"""Training throughput: pricer's training step against a plain transformers + PEFT + TRL script
with the course recipe (batch 16, padded batches in random order, no gradient checkpointing).

    python -m bench.train_throughput                                # embedded SmolLM2, CPU or GPU
    python -m bench.train_throughput --model llama-8b-shape --steps 30 --warmup-steps 5   # GPU
    python -m bench.train_throughput --model llama-8b-shape --set torch_compile=true      # a lever

Each side trains in a fresh process on the same model and real items, so peak memory is its own.
The first steps are not timed (allocator, kernels, caches warm up).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

from bench.common import median, model_path, print_table, real_items
from pricer.model.source import EMBEDDED

SIDES = ("course recipe", "pricer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=EMBEDDED)
    parser.add_argument("--items", type=int, default=800, help="real items the sampler draws from")
    parser.add_argument("--steps", type=int, default=6, help="timed optimizer steps per run")
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SETTING=VALUE",
        help="a lever on pricer's side only, e.g. batch_size=64, torch_compile=true",
    )
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # a worker process
    args = parser.parse_args()
    if args.side:
        print(json.dumps(_train(args)))
        return

    results: dict[str, list[dict]] = {side: [] for side in SIDES}
    for _ in range(args.repeats):
        for side in SIDES:  # interleaved, so drift in the machine's speed hits both alike
            worker = [sys.executable, "-m", "bench.train_throughput", "--side", side]
            options = [
                "--model",
                args.model,
                "--items",
                str(args.items),
                "--steps",
                str(args.steps),
                *(f"--set={lever}" for lever in args.set),
            ]
            done = subprocess.run(
                [*worker, *options, "--warmup-steps", str(args.warmup_steps)],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
            results[side].append(json.loads(done.stdout.strip().splitlines()[-1]))

    base = {key: median([r[key] for r in results[SIDES[0]]]) for key in results[SIDES[0]][0]}
    rows = []
    for side in SIDES:
        figures = {key: median([r[key] for r in results[side]]) for key in results[side][0]}
        rows.append(
            [
                side,
                f"{figures['samples_per_s']:.2f}",
                f"{figures['samples_per_s'] / base['samples_per_s']:.2f}x",
                f"{figures['tokens_per_s']:.0f}",
                f"{figures['tokens_per_s'] / base['tokens_per_s']:.2f}x",
                f"{figures['padding_share']:.0%}",
                f"{figures['peak_gb']:.2f}",
            ]
        )
    memory = "GPU peak GB" if results[SIDES[0]][0]["on_gpu"] else "process peak RSS GB"
    print_table(
        f"Training on {args.model}, {args.steps} timed steps, median of {args.repeats} runs",
        ["side", "samples/s", "ratio", "real tokens/s", "ratio", "padding", memory],
        rows,
    )


def _train(args: argparse.Namespace) -> dict:
    import torch

    from pricer.model.quantization import load_tokenizer

    tokenizer = load_tokenizer(model_path(args.model))
    items = real_items(args.items, tokenizer)
    total_steps = args.warmup_steps + args.steps
    with tempfile.TemporaryDirectory() as scratch:
        if args.side == "pricer":
            trainer = _pricer_trainer(args.model, items, total_steps, Path(scratch), args.set)
        else:
            trainer = _course_trainer(args.model, items, total_steps, Path(scratch))
        timer = _StepTimer(args.warmup_steps)
        trainer.add_callback(timer)
        counter = _CountingCollator(trainer.data_collator)
        trainer.data_collator = counter
        on_gpu = torch.cuda.is_available()
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
    seconds = timer.seconds
    accumulation = trainer.args.gradient_accumulation_steps
    timed = counter.batches[args.warmup_steps * accumulation : total_steps * accumulation]
    real_tokens, all_tokens = sum(r for r, _ in timed), sum(a for _, a in timed)
    samples = args.steps * trainer.args.per_device_train_batch_size * accumulation
    if on_gpu:
        peak_gb = torch.cuda.max_memory_allocated() / 1e9
    else:
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux
    return {
        "samples_per_s": samples / seconds,
        "tokens_per_s": real_tokens / seconds,
        "padding_share": 1 - real_tokens / all_tokens,
        "peak_gb": peak_gb,
        "on_gpu": on_gpu,
    }


def _pricer_trainer(model: str, items, steps: int, output_dir: Path, levers: list[str]):
    from assets.config import TrainingRunConfig
    from pricer.training.preflight import check_trainer_names
    from pricer.training.trainer import build_trainer

    settings = TrainingRunConfig(**_levers(levers)).settings()
    check_trainer_names(settings, "auto")  # a GPU-only lever on the CPU stops here, with why
    return build_trainer(
        model_path(model), items, items[:16], settings, output_dir, max_steps=steps
    )


def _levers(assignments: list[str]) -> dict[str, object]:
    """`name=value` pairs as TrainingRunConfig takes them: JSON values, or text."""
    levers: dict[str, object] = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        try:
            levers[name] = json.loads(value)
        except json.JSONDecodeError:
            levers[name] = value
    return levers


def _course_trainer(model: str, items, steps: int, output_dir: Path):
    """The course's script, written out plainly, with nothing of pricer's but the data."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
    from trl import SFTConfig, SFTTrainer

    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(model_path(model))
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    quantization = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    base = AutoModelForCausalLM.from_pretrained(
        model_path(model),
        quantization_config=quantization,
        dtype=torch.bfloat16,
        device_map={"": "cuda" if cuda else "cpu"},
    )
    lora = LoraConfig(
        r=32,
        lora_alpha=64,
        lora_dropout=0.1,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        task_type="CAUSAL_LM",
    )
    config = SFTConfig(
        output_dir=str(output_dir),
        max_steps=steps,
        per_device_train_batch_size=16,
        learning_rate=1e-4,
        lr_scheduler_type="cosine",
        warmup_steps=0.03,
        weight_decay=0.001,
        max_grad_norm=0.3,
        optim="paged_adamw_32bit" if cuda else "adamw_torch",
        gradient_checkpointing=False,
        bf16=True,
        max_length=182,
        save_strategy="no",
        logging_steps=1,
        report_to="none",
        use_cpu=not cuda,
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
    )
    data = [{"prompt": i.prompt, "completion": i.completion} for i in items]
    return SFTTrainer(
        model=base,
        args=config,
        train_dataset=Dataset.from_list(data),
        processing_class=tokenizer,
        peft_config=lora,
    )


class _CountingCollator:
    """Wraps the trainer's collator to record each micro-batch's real and padded token counts."""

    def __init__(self, collate) -> None:
        self.collate = collate
        self.batches: list[tuple[int, int]] = []

    def __call__(self, examples):
        batch = self.collate(examples)
        mask = batch["attention_mask"]
        self.batches.append((int(mask.sum()), mask.numel()))
        return batch


class _StepTimer(TrainerCallback):
    """Sums the wall time of the optimizer steps after the warm-up."""

    def __init__(self, warmup_steps: int) -> None:
        self.warmup_steps = warmup_steps
        self.seconds = 0.0
        self._started = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        _synchronize()
        self._started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        _synchronize()
        if state.global_step > self.warmup_steps:
            self.seconds += time.perf_counter() - self._started


def _synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
