"""Training an epoch in an external torchrun process group, launched and heard through Pipes."""

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from pricer.training.distributed import EpochSpec, result_from_payload
from pricer.training.epoch_result import EpochResult


@dataclass(frozen=True)
class LaunchedEpoch:
    result: EpochResult  # as train_epoch returns it in process
    metadata: dict[str, Any]  # what rank 0 reported for the asset's materialization


class TorchrunLauncher(dg.ConfigurableResource):
    """Runs train_epoch under `torchrun` (DDP, one process per GPU, or several on the CPU) as a
    Pipes subprocess of the asset's step: its logs and metadata come back to the asset."""

    processes: int = Field(default=2, description="processes on this node: one per GPU")

    def train_epoch(self, context: dg.AssetExecutionContext, spec: EpochSpec) -> LaunchedEpoch:
        """Train the epoch `spec` describes (train_epoch's arguments) on `processes` ranks."""
        with tempfile.TemporaryDirectory(prefix="pricer-epoch-") as scratch:
            spec_file = Path(scratch) / "epoch.json"
            spec_file.write_text(spec.to_json())
            invocation = dg.PipesSubprocessClient().run(
                context=context,
                command=[*self.command(), str(spec_file)],
            )
        # Not implicit: an epoch that reported nothing is a failure, not an empty materialization.
        reported = invocation.get_materialize_result(implicit_materialization=False)
        messages = invocation.get_custom_messages()
        if len(messages) != 1:
            raise RuntimeError(f"expected one epoch result from rank 0, got {len(messages)}")
        return LaunchedEpoch(result_from_payload(messages[0]), dict(reported.metadata or {}))

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
