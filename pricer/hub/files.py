"""Staging a checkpoint's files in a folder of their own before a push."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_files(source: Path, dest: Path, names: tuple[str, ...]) -> Path:
    """A fresh `dest` holding exactly `names` from `source`: a push sends nothing stale."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in names:
        shutil.copy2(source / name, dest / name)
    return dest
