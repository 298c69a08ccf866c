"""A weights file cut short, or a base-model folder that is not one, is named before any load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from pricer.model.source import resolve_base_model
from pricer.model.weight_files import DamagedWeights, check_safetensors


def _weights(path: Path) -> Path:
    save_file({"a": np.ones((64, 64), dtype=np.float32), "b": np.zeros(16, np.float32)}, path)
    return path


def _cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def test_a_whole_file_passes_and_the_same_file_one_byte_short_is_named(tmp_path):
    weights = _weights(tmp_path / "model.safetensors")
    check_safetensors(weights)  # raises nothing
    size = weights.stat().st_size
    _cut(weights, size - 1)
    with pytest.raises(DamagedWeights, match=rf"cut short: {size - 1:,} of {size:,} bytes"):
        check_safetensors(weights)


@pytest.mark.parametrize("keep", [0, 5, 20])
def test_a_file_cut_inside_its_header_is_named(tmp_path, keep):
    weights = _weights(tmp_path / "model.safetensors")
    _cut(weights, keep)
    with pytest.raises(DamagedWeights, match=r"model\.safetensors is (cut short|not safetensors)"):
        check_safetensors(weights)


@pytest.mark.parametrize("header", [b"<html>oops</html>", b'["a", "list"]', b'{"a": {"x": 1}}'])
def test_a_header_that_is_not_a_safetensors_header_is_named(tmp_path, header):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(DamagedWeights, match="is not safetensors: its header is not one"):
        check_safetensors(weights)


def test_a_file_longer_than_its_header_says_is_named(tmp_path):
    weights = _weights(tmp_path / "model.safetensors")
    size = weights.stat().st_size
    weights.write_bytes(weights.read_bytes() + b"\0" * 10)
    with pytest.raises(DamagedWeights, match=rf"is {size + 10:,} bytes, longer than the {size:,}"):
        check_safetensors(weights)


def test_a_sharded_folder_missing_a_listed_shard_is_named(tmp_path):
    folder = _model_folder(tmp_path / "base")
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    index = {
        "weight_map": {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors",
        }
    }
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"lacks model-00002-of-00002\.safetensors, which model"):
        resolve_base_model(str(folder), tmp_path / "cache")


def _model_folder(folder: Path) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama"}')
    _weights(folder / "model.safetensors")
    return folder


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "config.json").unlink(), "has no config.json"),
        (lambda f: (f / "model.safetensors").unlink(), "holds no weights"),
        (lambda f: _cut(f / "model.safetensors", 300), "cut short: 300 of"),
    ],
)
def test_a_partial_base_model_folder_is_named_with_what_to_set(tmp_path, damage, message):
    folder = _model_folder(tmp_path / "base")
    assert resolve_base_model(str(folder), tmp_path / "cache") == str(folder)
    damage(folder)
    with pytest.raises(ValueError, match=message) as refused:
        resolve_base_model(str(folder), tmp_path / "cache")
    assert "Set PRICER_BASE_MODEL (or --base-model)" in str(refused.value)


def test_a_base_model_path_that_is_not_there_is_named(tmp_path):
    missing = str(tmp_path / "models" / "llama")
    with pytest.raises(ValueError, match=rf"base model '{missing}': .* is not a folder"):
        resolve_base_model(missing, tmp_path / "cache")
    # A Hub id is left to the Hub: it is not a folder here.
    assert resolve_base_model("meta-llama/Llama-3.1-8B", tmp_path / "cache") == (
        "meta-llama/Llama-3.1-8B"
    )
