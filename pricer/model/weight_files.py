"""Is a weights file whole, and is a base-model folder a model? Checked before loading either.

A safetensors file starts with the length of a JSON header that lists every tensor's byte range,
so a file cut short (a copy or a download that stopped) shows without reading any weight: its size
falls short of the last range's end. torch and PEFT would otherwise fail deep in a load with a
message that names neither the file nor what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

_LENGTH_BYTES = 8  # the header's length, a little-endian u64, comes first
_MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit: a longer one is damage, not a header


class DamagedWeights(ValueError):
    """A weights file that is cut short or is not safetensors at all."""


def check_safetensors(path: Path) -> None:
    """Raise DamagedWeights, naming the file and its size against the size its header promises."""
    size = path.stat().st_size
    with path.open("rb") as file:
        length = int.from_bytes(file.read(_LENGTH_BYTES), "little")
        if size < _LENGTH_BYTES or length > min(size - _LENGTH_BYTES, _MAX_HEADER_BYTES):
            raise DamagedWeights(f"{path} is cut short or not safetensors ({size:,} bytes)")
        try:
            header = json.loads(file.read(length))
            ends = [
                entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"
            ]
        except (UnicodeDecodeError, ValueError, AttributeError, KeyError, TypeError) as error:
            raise DamagedWeights(f"{path} is not safetensors: its header is not one") from error
    expected = _LENGTH_BYTES + length + max(ends, default=0)
    if size < expected:
        raise DamagedWeights(f"{path} is cut short: {size:,} of {expected:,} bytes")
    if size > expected:  # safetensors refuses these too: something was written past the end
        raise DamagedWeights(f"{path} is {size:,} bytes, longer than the {expected:,} it holds")


def check_model_folder(folder: Path) -> None:
    """Raise ValueError unless `folder` holds a config and weights, every weights file whole."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} has no config.json: it was not saved with save_pretrained")
    weights = set(folder.glob("*.safetensors"))
    # A sharded model lists its shards: a download that stopped between two leaves some out.
    for index in folder.glob("*.safetensors.index.json"):
        listed = set(json.loads(index.read_text()).get("weight_map", {}).values())
        missing = sorted(name for name in listed if not (folder / name).is_file())
        if missing:
            raise ValueError(f"{folder} lacks {', '.join(missing)}, which {index.name} lists")
        weights |= {folder / name for name in listed}
    if not weights and not any(folder.glob("pytorch_model*.bin")):
        raise ValueError(f"{folder} holds no weights (*.safetensors or pytorch_model*.bin)")
    for path in sorted(weights):
        check_safetensors(path)
