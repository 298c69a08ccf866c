"""Weights & Biases tracking: one W&B group per training run, one W&B run per epoch.

Offline W&B runs cannot be resumed, so the group is the unit that spans epochs. Each epoch's run
keeps its full loss history in its folder (offline) or on the W&B server (online).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MODES = ("offline", "online", "disabled")


@dataclass(frozen=True)
class TrackedEpoch:
    report_to: str  # what the trainer's `report_to` should be
    location: str  # the run's URL online, or its folder offline; empty when disabled


@contextmanager
def track_epoch(
    mode: str,
    project: str,
    group: str,
    epoch: int,
    config: dict,
    directory: Path,
    api_key: str | None = None,
) -> Iterator[TrackedEpoch]:
    if mode not in MODES:
        raise ValueError(f"tracker mode must be one of {MODES}, got {mode!r}")
    if mode == "disabled":
        yield TrackedEpoch(report_to="none", location="")
        return
    import wandb

    os.environ["WANDB_MODE"] = mode
    os.environ.setdefault("WANDB_SILENT", "true")
    directory.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=project,
        group=group,
        name=f"{group}-epoch-{epoch}",
        job_type="train",
        config={**config, "epoch": epoch},
        dir=str(directory),
        reinit="finish_previous",
        # The key goes to this run's settings only: wandb.login(key=...) would also write it to
        # ~/.netrc, where it would outlive the environment it came from.
        settings=wandb.Settings(api_key=api_key if mode == "online" else None),
    )
    location = run.url if mode == "online" else str(Path(run.dir).parent)
    try:
        # The trainer's W&B callback finds this run already started and logs into it.
        yield TrackedEpoch(report_to="wandb", location=location or "")
    finally:
        run.finish()
