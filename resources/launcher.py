"""Where an epoch trains: in the step's own process, or as the ranks of a torchrun group that a
Pipes client launches. The epoch asset asks the `epoch_trainer` resource; which one it gets, and
which Pipes client starts the group, is configuration."""

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from pricer.training.distributed import EpochSpec, result_from_payload
from pricer.training.epoch_result import EpochResult
from pricer.training.tracking import track_epoch
from resources.tracker import TrackerResource


@dataclass(frozen=True)
class LaunchedEpoch:
    result: EpochResult
    processes: int
    tracking: str  # the W&B run's URL online or its folder offline; empty when not tracked


class EpochTrainer(dg.ConfigurableResource):
    """Trains one epoch as `spec` describes it (train_epoch's arguments)."""

    def train_epoch(
        self, context: dg.AssetExecutionContext, spec: EpochSpec, tracker: TrackerResource
    ) -> LaunchedEpoch:
        raise NotImplementedError


class InProcessTrainer(EpochTrainer):
    """The epoch trains in the step's own process, as one W&B run of the training run's group."""

    def train_epoch(
        self, context: dg.AssetExecutionContext, spec: EpochSpec, tracker: TrackerResource
    ) -> LaunchedEpoch:
        from pricer.training.trainer import train_epoch  # transformers: only where it trains

        with track_epoch(
            tracker.mode,
            tracker.project,
            context.partition_key,
            spec.epoch,
            spec.settings.as_dict(),
            spec.output_dir.parent,
            api_key=tracker.api_key,
        ) as tracked:
            result = train_epoch(
                spec.model_path,
                spec.train_items,
                spec.eval_items,
                spec.settings,
                spec.epoch,
                spec.output_dir,
                spec.resume_from,
                spec.device,
                report_to=tracked.report_to,
                progress=context.log.info,
                precision=spec.precision,
                home=spec.home,
            )
        return LaunchedEpoch(result, processes=1, tracking=tracked.location)


class TorchrunLauncher(EpochTrainer):
    """The epoch trains under `torchrun` (DDP, one process per GPU, or several on the CPU),
    started by `pipes_client`: rank 0's logs and its result come back to the asset. No W&B here:
    every rank would start a run of its own."""

    processes: int = Field(default=2, description="processes on this node: one per GPU")
    pipes_client: dg.ResourceDependency[dg.PipesClient]

    def train_epoch(
        self, context: dg.AssetExecutionContext, spec: EpochSpec, tracker: TrackerResource
    ) -> LaunchedEpoch:
        with tempfile.TemporaryDirectory(prefix="pricer-epoch-") as scratch:
            spec_file = Path(scratch) / "epoch.json"
            spec_file.write_text(spec.to_json())
            invocation = self.pipes_client.run(
                context=context, command=[*self.command(), str(spec_file)]
            )
        messages = invocation.get_custom_messages()
        # An epoch that reported nothing is a failure, not an empty materialization.
        if len(messages) != 1:
            raise RuntimeError(f"expected one epoch result from rank 0, got {len(messages)}")
        return LaunchedEpoch(result_from_payload(messages[0]), self.processes, tracking="")

    def command(self) -> list[str]:
        # --standalone: a rendezvous on a free local port, so launches side by side never clash.
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(self.processes),
            "-m",
            "pricer.training.distributed",
        ]
