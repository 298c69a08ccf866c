from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from pricer.home import default_home


class ComputeResource(dg.ConfigurableResource):
    """Which device trains and scores, and where the working files live."""

    device: str = Field(default="auto", description='"auto" picks CUDA when there is one')
    work_dir: str = Field(default="", description="defaults to $PRICER_HOME, else ./.pricer")
    eval_batch_size: int = Field(
        default=0, description="items scored at once; 0 picks 512 on a GPU and 32 on the CPU"
    )

    def scoring_batch_size(self) -> int:
        from pricer.evaluation.scoring import (
            scoring_batch_size,  # torch: loaded by the steps that score
        )
        from pricer.model.quantization import pick_device

        return self.eval_batch_size or scoring_batch_size(pick_device(self.device))

    def root(self) -> Path:
        return Path(self.work_dir or default_home())

    def run_dir(self, run_key: str) -> Path:
        return self.root() / "runs" / run_key
