"""One epoch of a training run as one rank of a torchrun group, reported through Dagster Pipes.

    torchrun --standalone --nproc_per_node 2 -m pricer.training.distributed epoch.json

Every rank runs train_epoch, the in-process path's own function. Launched by torchrun, the
Trainer wraps the model in DistributedDataParallel itself (gloo on the CPU, NCCL on GPUs), gives
each rank its share of every global batch and averages the gradients, so all ranks hold the same
adapter after every step. Rank 0 alone saves the checkpoint (the Trainer does so) and reports
the epoch through Pipes, its logs and the whole EpochResult as a custom message from which the
asset builds its output and metadata. Started by hand, outside Dagster, rank 0 prints its progress
to stderr instead.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pricer.data.items import Item
from pricer.training.epoch_result import EpochResult, Progress
from pricer.training.settings import TrainingSettings

_PATHS = ("output_dir", "resume_from", "home", "rank_adapters_dir")


@dataclass(frozen=True)
class EpochSpec:
    """train_epoch's arguments, written to a file for every rank to read."""

    model_path: str
    train_items: list[Item]
    eval_items: list[Item]
    settings: TrainingSettings  # the run's, with its global batch size
    epoch: int
    output_dir: Path
    resume_from: Path | None
    device: str = "auto"
    precision: str = "auto"  # model/precision.py
    report_to: str = "none"
    # Where the CPU keeps the base's ready copy (model/ready_copy.py); None: dequantized in process.
    home: Path | None = None
    # When set, every rank saves its own adapter here after the epoch, so they can be compared.
    rank_adapters_dir: Path | None = None

    def to_json(self) -> str:
        values = dataclasses.asdict(self)
        for name in _PATHS:
            values[name] = str(values[name]) if values[name] is not None else None
        return json.dumps(values)

    @classmethod
    def from_json(cls, text: str) -> EpochSpec:
        values = json.loads(text)
        for name in _PATHS:
            values[name] = Path(values[name]) if values[name] is not None else None
        for name in ("train_items", "eval_items"):
            values[name] = [Item(**item) for item in values[name]]
        values["settings"] = TrainingSettings.from_dict(values["settings"])
        return cls(**values)


def rank_settings(settings: TrainingSettings, world_size: int) -> TrainingSettings:
    """The run's settings for one of `world_size` ranks: each takes an equal share of the batch,
    so the global batch, the number of steps and the schedule are those of one process."""
    if settings.batch_size % world_size:
        raise ValueError(
            f"batch_size {settings.batch_size} does not split evenly over {world_size} processes"
        )
    return dataclasses.replace(settings, batch_size=settings.batch_size // world_size)


def result_payload(result: EpochResult) -> dict:
    """An EpochResult as JSON-ready values, the form a Pipes message carries."""
    return {**dataclasses.asdict(result), "checkpoint_dir": str(result.checkpoint_dir)}


def result_from_payload(payload: dict) -> EpochResult:
    return EpochResult(
        **{
            **payload,
            "checkpoint_dir": Path(payload["checkpoint_dir"]),
            "step_losses": [tuple(pair) for pair in payload["step_losses"]],
            "step_learning_rates": [tuple(pair) for pair in payload["step_learning_rates"]],
        }
    )


def run_rank(spec: EpochSpec, progress: Progress | None) -> EpochResult:
    """Train this rank's part of the epoch, and save its adapter if the spec asks."""
    from pricer.training.trainer import (
        train_epoch,  # transformers: not at the code location's import
    )

    _use_own_gpu(spec.device)
    capture = (
        _PeftModelCapture(spec.rank_adapters_dir / f"rank-{_rank()}")
        if spec.rank_adapters_dir is not None
        else None
    )
    result = train_epoch(
        spec.model_path,
        spec.train_items,
        spec.eval_items,
        rank_settings(spec.settings, _world_size()),
        spec.epoch,
        spec.output_dir,
        spec.resume_from,
        spec.device,
        spec.report_to,
        progress,
        precision=spec.precision,
        home=spec.home,
    )
    if capture is not None:
        capture.save()
    return result


def main(argv: list[str]) -> None:
    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    spec = EpochSpec.from_json(Path(argv[0]).read_text())
    if _rank() != 0:
        run_rank(spec, progress=None)
    elif PipesEnvVarParamsLoader().is_dagster_pipes_process():
        # Only rank 0 speaks to Dagster: one log and one result, whatever the group's size.
        with open_dagster_pipes() as pipes:
            result = run_rank(spec, progress=pipes.log.info)
            pipes.report_custom_message(result_payload(result))
    else:
        run_rank(spec, progress=lambda line: print(line, file=sys.stderr, flush=True))
    _leave_group()


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))  # torchrun sets it; a plain process is rank 0 of 1


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _use_own_gpu(device: str) -> None:
    import torch

    # The 4-bit model loads on "cuda", the current device: make that this rank's own GPU.
    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))


def _leave_group() -> None:
    import torch.distributed

    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


class _PeftModelCapture:
    """Keeps hold of the PEFT model the Trainer trains, seen at its first forward pass, so a rank
    can save its own adapter after the epoch: train_epoch keeps its Trainer to itself, and the
    Trainer saves on rank 0 only."""

    def __init__(self, folder: Path) -> None:
        from torch.nn.modules.module import register_module_forward_pre_hook

        self.folder = folder
        self.model = None
        self._hook = register_module_forward_pre_hook(self._see)

    def _see(self, module, args) -> None:
        from peft import PeftModel

        if isinstance(module, PeftModel):
            self.model = module
            self._hook.remove()

    def save(self) -> None:
        if self.model is None:
            raise RuntimeError("the Trainer never ran the PEFT model forward: nothing to save")
        self.model.save_pretrained(str(self.folder))


if __name__ == "__main__":
    main(sys.argv[1:])
