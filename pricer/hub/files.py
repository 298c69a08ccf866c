"""A checkpoint's files on their way to a store and back: staged before a push, checked after a
download."""

from __future__ import annotations

import shutil
from pathlib import Path

from pricer.model.weight_files import DamagedWeights, check_safetensors


def copy_files(source: Path, dest: Path, names: tuple[str, ...]) -> Path:
    """A fresh `dest` holding exactly `names` from `source`: a push sends nothing stale."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in names:
        shutil.copy2(source / name, dest / name)
    return dest


def checked_download(folder: Path, repo_id: str, revision: str) -> Path:
    """`folder`, once its adapter weights are whole: a damaged copy in the store is named here, by
    its revision, rather than deep inside PEFT's load."""
    weights = folder / "adapter_model.safetensors"
    if not weights.is_file():
        raise DamagedWeights(f"{repo_id}@{revision} holds no adapter_model.safetensors")
    try:
        check_safetensors(weights)
    except DamagedWeights as error:
        raise DamagedWeights(
            f"{repo_id}@{revision}: {error}; the store's copy is damaged and was left as it is: "
            "push the checkpoint again (materialize its hub_checkpoint asset) or use another one"
        ) from error
    return folder
