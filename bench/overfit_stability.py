"""Is the demo's overfitting a real rise or noise? Its catalogue and split, trained with seeds 0,
1 and 2, each with this CPU's own kernels and with AVX2 ones.

    python -m bench.overfit_stability                          # the six runs, then a table
    python -m bench.overfit_stability --seeds 0 --kernels native
    python -m bench.overfit_stability --set learning_rate=2e-3 --set train_size=48
    python -m bench.overfit_stability --set source=PATH --set train_size=8 ...  # any DatasetConfig

Each run is one process that calls the functions the demo's assets call (train an epoch, score
validation with the probability-weighted price and greedy decoding), with the demo's settings and
only the training seed changed. The chosen epoch, the onset (on the weighted price's $ error) and
the early warning (validation loss rising) come from the project's own rules at the run's
tolerance. The catalogue's noise floor is printed above the table. AVX2 runs set
ATEN_CPU_CAPABILITY=avx2 and ONEDNN_MAX_CPU_ISA=AVX2 before torch loads: bf16 rounds differently
on AVX-512 and AMX, and the story must not rest on one CPU's rounding.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import pricer_home, print_table
from pipelines.presets import DEMO_DATASET, DEMO_TRAINING

KERNELS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}


@dataclass(frozen=True)
class ScoredEpoch:
    epoch: int
    train_loss: float
    validation_loss: float
    validation_error: float  # the weighted price's, which chooses
    greedy_validation_error: float


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--kernels", default="native,avx2")
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE")
    parser.add_argument("--worker", type=int, metavar="SEED", help=argparse.SUPPRESS)
    args = parser.parse_args()
    dataset, training = _configs(args.set)
    if args.worker is not None:
        print(json.dumps(_one_run(dataset, {**training, "seed": args.worker})), flush=True)
        return

    print(f"noise floor of the validation split: ${_noise_floor(dataset):.2f}", flush=True)
    rows = []
    for kernels in args.kernels.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            started = time.monotonic()
            result = _in_a_process(seed, kernels, args.set)
            epochs = [ScoredEpoch(**e) for e in result["epochs"]]
            rows.append(_row(seed, kernels, epochs, training, time.monotonic() - started))
            print("  ".join(rows[-1]), flush=True)
    print_table(
        f"Demo settings {dataset} {training}",
        [
            "seed",
            "kernels",
            "weighted val $ error by epoch",
            "greedy",
            "val loss",
            "train loss",
            "chosen",
            "onset",
            "rise",
            "val loss rising",
            "seconds",
        ],
        rows,
    )


def _noise_floor(dataset_config: dict) -> float:
    """The rule price's $ error on the validation split: what no model can beat."""
    from assets.dataset import DatasetConfig
    from pricer.data.catalogue import rule_prices
    from pricer.evaluation.metrics import score
    from pricer.model.quantization import load_tokenizer
    from pricer.model.source import EMBEDDED, resolve_base_model

    path = resolve_base_model(EMBEDDED, pricer_home() / "models")
    validation = DatasetConfig(**dataset_config).build(load_tokenizer(path)).splits.validation
    rules = rule_prices(item.text for item in validation)
    if rules is None:
        return float("nan")  # not the embedded catalogue: no rule to know
    return score([item.price for item in validation], rules).mean_abs_error


def _configs(overrides: list[str]) -> tuple[dict, dict]:
    from assets.dataset import DatasetConfig

    dataset, training = dict(DEMO_DATASET), dict(DEMO_TRAINING)
    for override in overrides:
        name, value = override.split("=", 1)
        target = dataset if name in DatasetConfig.model_fields else training
        target[name] = json.loads(value) if value[0].isdigit() or value[0] in "-[" else value
    return dataset, training


def _in_a_process(seed: int, kernels: str, overrides: list[str]) -> dict:
    command = [sys.executable, "-m", "bench.overfit_stability", "--worker", str(seed)]
    command += [f"--set={o}" for o in overrides]
    env = {**os.environ, **KERNELS[kernels]}
    # Its progress goes to stderr, shown as it comes; its result is the last line of stdout.
    done = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _one_run(dataset_config: dict, training_config: dict) -> dict:
    from assets.config import TrainingRunConfig
    from assets.dataset import DatasetConfig
    from pricer.evaluation.scoring import evaluate_model
    from pricer.model.quantization import load_tokenizer
    from pricer.model.source import EMBEDDED, resolve_base_model
    from pricer.training.trainer import train_epoch

    data = DatasetConfig(**dataset_config)
    settings = TrainingRunConfig(**training_config).settings()
    path = resolve_base_model(EMBEDDED, pricer_home() / "models")
    splits = data.build(load_tokenizer(path)).splits
    epochs, checkpoint = [], None
    with tempfile.TemporaryDirectory() as work:
        for epoch in range(1, settings.epochs + 1):
            result = train_epoch(
                path, splits.train, splits.validation, settings, epoch, Path(work), checkpoint
            )
            checkpoint = result.checkpoint_dir
            scored = evaluate_model(
                path, {"validation": splits.validation}, str(checkpoint), weighted=True
            )["validation"]
            assert scored.weighted is not None
            row = ScoredEpoch(
                epoch,
                result.train_loss,
                result.eval_loss,
                scored.weighted.scores.mean_abs_error,
                scored.scores.mean_abs_error,
            )
            epochs.append(row.__dict__)
            print(
                f"epoch {epoch}: train loss {row.train_loss:.4f}, validation loss "
                f"{row.validation_loss:.4f}, validation ${row.validation_error:.2f} weighted, "
                f"${row.greedy_validation_error:.2f} greedy",
                file=sys.stderr,
                flush=True,
            )
    return {"epochs": epochs}


def _row(
    seed: int, kernels: str, epochs: list[ScoredEpoch], training: dict, seconds: float
) -> list[str]:
    from pricer.evaluation.selection import best_epoch, overfitting_onset, validation_loss_rising
    from pricer.training.settings import TrainingSettings

    tolerance = training.get("overfit_tolerance", TrainingSettings().overfit_tolerance)
    chosen, onset = best_epoch(epochs), overfitting_onset(epochs, tolerance)
    warning = validation_loss_rising(epochs, tolerance)
    errors = {e.epoch: e.validation_error for e in epochs}
    rise = f"{errors[onset] / errors[chosen] - 1:+.1%}" if onset else "none"

    def curve(values: list[float], style: str = "{:.1f}") -> str:
        return " ".join(style.format(value) for value in values)

    ordered = sorted(epochs, key=lambda e: e.epoch)
    return [
        str(seed),
        kernels,
        curve([e.validation_error for e in ordered]),
        curve([e.greedy_validation_error for e in ordered]),
        curve([e.validation_loss for e in ordered], "{:.3f}"),
        curve([e.train_loss for e in ordered], "{:.3f}"),
        str(chosen),
        str(onset or "none"),
        rise,
        str(warning or "none"),
        f"{seconds:.0f}",
    ]


if __name__ == "__main__":
    main()
