from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from pricer.home import default_home


class ComputeResource(dg.ConfigurableResource):
    """Which device trains and scores, and where the working files live."""

    device: str = Field(default="auto", description='"auto" picks CUDA when there is one')
    precision: str = Field(
        default="auto",
        description='"auto": bf16 where the hardware has it, else fp32 on a CPU and fp16 on a GPU; '
        'or "bf16", "fp16", "fp32" to force one',
    )
    work_dir: str = Field(default="", description="defaults to $PRICER_HOME, else ./.pricer")
    eval_batch_size: int = Field(
        default=0, description="items scored at once; 0 picks 512 on a GPU and 32 on the CPU"
    )

    def compute_precision(self):  # -> pricer.model.precision.Precision
        """The precision this device computes in, as the setting asks or the hardware picks."""
        from pricer.model.device import pick_device
        from pricer.model.precision import choose_precision  # torch: loaded by the model steps

        return choose_precision(self.precision, pick_device(self.device))

    def scoring_batch_size(self) -> int:
        from pricer.evaluation.scoring import (
            scoring_batch_size,  # torch: loaded by the steps that score
        )
        from pricer.model.device import pick_device

        return self.eval_batch_size or scoring_batch_size(pick_device(self.device))

    def root(self) -> Path:
        return Path(self.work_dir or default_home())

    def run_dir(self, run_key: str) -> Path:
        return self.root() / "runs" / run_key
