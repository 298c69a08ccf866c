"""Where the base model's weights really came from, and a hash of their content.

A model card that names `HuggingFaceTB/SmolLM2-135M-Instruct` while the weights were a Q4_1 GGUF
from a Python package tells half the story: the GGUF's rounding is in every adapter trained on
it. So the origin names the package and file (or the Hub id and commit, or the folder), and the
content hash changes whenever the weights do, which makes it the base model's data version.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from pricer.model.source import (
    EMBEDDED,
    EMBEDDED_NAME,
    EMBEDDED_PACKAGE,
    embedded_gguf,
    names_a_folder,
)

_CHUNK = 1 << 24
# What from_pretrained reads from a folder: its weights and the config that shapes them.
_WEIGHT_PATTERNS = ("config.json", "*.safetensors", "pytorch_model*.bin")


@dataclass(frozen=True)
class BaseModelOrigin:
    description: str  # one line, for a model card and the asset's metadata
    content_hash: str  # "sha256:…" of the weights read, or "git:…" for a Hub commit
    revision: str | None = None  # the Hub commit, for a Hub base


def base_model_origin(model_id: str) -> BaseModelOrigin:
    """The origin of the base `model_id` names ("embedded", a folder or a Hub id)."""
    if model_id == EMBEDDED:
        return _embedded_origin(embedded_gguf())
    if names_a_folder(model_id):
        return _folder_origin(Path(model_id).expanduser())
    return _hub_origin(model_id)


def _embedded_origin(gguf: Path) -> BaseModelOrigin:
    version = importlib.metadata.version(EMBEDDED_PACKAGE)
    return BaseModelOrigin(
        description=f"{EMBEDDED_NAME} as the Q4_1 GGUF {gguf.name} in the {EMBEDDED_PACKAGE} "
        f"{version} package, dequantized to fp32",
        content_hash=f"sha256:{_sha256([gguf], gguf.parent)}",
    )


def _folder_origin(folder: Path) -> BaseModelOrigin:
    files = sorted({path for pattern in _WEIGHT_PATTERNS for path in folder.glob(pattern)})
    return BaseModelOrigin(
        description=f"the folder {folder.resolve()}",
        content_hash=f"sha256:{_sha256(files, folder)}",
    )


def _hub_origin(model_id: str) -> BaseModelOrigin:
    from huggingface_hub import hf_hub_download

    # The Hub's cache keeps each download under snapshots/<commit>/: the config's folder names
    # the commit from_pretrained loads (from the cache when offline, as it does).
    commit = Path(hf_hub_download(model_id, "config.json")).parent.name
    return BaseModelOrigin(
        description=f"{model_id} at commit {commit} on the Hugging Face Hub",
        content_hash=f"git:{commit}",
        revision=commit,
    )


def _sha256(files: list[Path], root: Path) -> str:
    # Names go in with the bytes, so renaming a shard changes the hash as a different model would.
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
