from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from pricer.home import default_home


class ComputeResource(dg.ConfigurableResource):
    """Which device trains and scores, and where the working files live."""

    device: str = Field(default="auto", description='"auto" picks CUDA when there is one')
    work_dir: str = Field(default="", description="defaults to $PRICER_HOME, else ./.pricer")
    eval_batch_size: int = 32
    training_processes: int = Field(
        default=1,
        description="ranks per epoch: above 1, each epoch trains under torchrun (DDP, one process "
        "per GPU, launched through Dagster Pipes)",
    )

    def root(self) -> Path:
        return Path(self.work_dir or default_home())

    def run_dir(self, run_key: str) -> Path:
        return self.root() / "runs" / run_key
