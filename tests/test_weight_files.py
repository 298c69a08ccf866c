"""A weights file cut short, or a base-model folder that is not one, is named before any load."""

from __future__ import annotations

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


def test_text_saved_under_the_weights_name_is_not_safetensors(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00<html>oops</html>")
    with pytest.raises(DamagedWeights, match="its header is not JSON"):
        check_safetensors(weights)


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
