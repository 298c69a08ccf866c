"""An epoch's checkpoint folder, kept safe to resume from whenever its process is killed.

The Trainer writes every checkpoint under `.unpublished/`, a name no reader looks at; only a whole
checkpoint is renamed to `checkpoint-<step>` beside it. A rename is atomic, so a process killed
mid-save leaves a half-written folder that nothing picks, and the next attempt discards it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

UNPUBLISHED = ".unpublished"
# Publishing is atomic, so the newest checkpoint is always whole: older ones are only disk.
KEEP = 1
_PREFIX = "checkpoint-"


def step_of(checkpoint: Path) -> int:
    return int(checkpoint.name.removeprefix(_PREFIX))


def published(folder: Path) -> list[Path]:
    """The folder's whole checkpoints, oldest first."""
    found = [p for p in folder.glob(f"{_PREFIX}*") if p.name.removeprefix(_PREFIX).isdigit()]
    return sorted(found, key=step_of)


def newest(folder: Path) -> Path | None:
    checkpoints = published(folder)
    return checkpoints[-1] if checkpoints else None


def discard_unpublished(folder: Path) -> None:
    """Drop what a killed attempt left half-written or half-deleted."""
    shutil.rmtree(folder / UNPUBLISHED, ignore_errors=True)


def publish(folder: Path, step: int) -> Path:
    """Move the checkpoint the Trainer just wrote under `.unpublished/` into place, whole."""
    staged = folder / UNPUBLISHED / f"{_PREFIX}{step}"
    for file in staged.rglob("*"):
        if file.is_file():
            _flush(file)  # on disk before the rename, so a lost machine cannot publish it empty
    target = folder / staged.name
    staged.rename(target)
    _flush(folder)
    return target


def prune(folder: Path, keep: int = KEEP) -> None:
    """Delete all but the newest `keep` checkpoints, each moved out of sight before its files go."""
    for old in published(folder)[:-keep]:
        doomed = folder / UNPUBLISHED / f"discarded-{old.name}"
        old.rename(doomed)
        shutil.rmtree(doomed)


def _flush(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
