"""The ready copy: the base model as the CPU computes with it, saved once to load in a moment.

On the CPU, training, scoring and `pricer predict` compute with the base's NF4 weights dequantized
once (model/quantization.py): bitsandbytes would dequantize them again at every pass. Loading the
base and quantizing it takes seconds in every step that needs it (6.6 s for the embedded model on
a 2-core AMD EPYC with AVX2 only and no native bf16, in fp32, against 0.2 s to read the copy), and
what comes out depends only on the base and the precision. So it is written once, as safetensors
in that precision, with the tokenizer and configs beside it. The fast decoder reads it with torch
and safetensors alone (serving/decoder.py); transformers reads it as a plain model to train and
score (load_base).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


class TooLargeToKeep(ValueError):
    """A base that would fill too much of this machine's memory dequantized."""


READY_FILE = "ready.json"
_WEIGHTS = "model.safetensors"


@dataclass(frozen=True)
class ReadyCopy:
    folder: Path
    base_model: str  # what from_pretrained read
    precision: str


def ready_copy_folder(home: Path, base_model_path: str, precision: str) -> Path:
    """Where the ready copy of a base in a precision lives under the pricer home. A folder base
    is known by its path and its weight files' sizes and times (a stat, not a read: this runs on
    every predict), so a base saved anew gets a new copy."""
    identity = [base_model_path]
    folder = Path(base_model_path)
    if folder.is_dir():
        for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.json")):
            stat = path.stat()
            identity.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
    return Path(home) / "ready" / f"{folder.name or 'base'}-{digest}-{precision}"


def find_ready_copy(folder: Path) -> ReadyCopy | None:
    marker = folder / READY_FILE
    try:
        recorded = json.loads(marker.read_text())
        return ReadyCopy(folder, recorded["base_model"], recorded["precision"])
    except (OSError, ValueError, KeyError, TypeError):  # none, or not one this code wrote
        return None


def write_ready_copy(base_model_path: str, folder: Path, precision: str) -> ReadyCopy:
    """Load the base as pricing does (NF4, dequantized once) and save it to `folder`; a copy
    already there is kept. Written beside and renamed: a reader sees all of it or none."""
    found = find_ready_copy(folder)
    if found is not None:
        return found
    from safetensors.torch import save_file

    from pricer.model.quantization import dequantize_once, load_quantized, load_tokenizer

    model = load_quantized(base_model_path, "cpu", precision)
    if not dequantize_once(model):
        raise TooLargeToKeep(f"{base_model_path} is too large to keep dequantized here")
    weights = {
        name: tensor.contiguous()
        for name, tensor in model.state_dict().items()
        # A tied output layer is the embedding: saved once.
        if not (name == "lm_head.weight" and model.config.tie_word_embeddings)
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        save_file(weights, staging / _WEIGHTS)
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        model.generation_config.save_pretrained(staging)
        load_tokenizer(base_model_path).save_pretrained(staging)
        (staging / READY_FILE).write_text(
            json.dumps({"base_model": base_model_path, "precision": precision}, indent=2)
        )
        try:
            staging.rename(folder)
        except OSError:  # another process wrote it first: theirs is the same copy
            if find_ready_copy(folder) is None:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ReadyCopy(folder, base_model_path, precision)


def read_config(copy: ReadyCopy) -> dict:
    return json.loads((copy.folder / "config.json").read_text())


def read_weights(copy: ReadyCopy):  # -> dict[str, torch.Tensor]
    from safetensors.torch import load_file

    return load_file(copy.folder / _WEIGHTS)


def load_base(model_path: str, device: str, precision: str, home: Path | None = None):
    """The base as training and scoring compute with it, in `precision`. On a GPU: NF4 through
    bitsandbytes. On the CPU: the same NF4 values dequantized, read from the base's ready copy
    under `home` (written by the first step that needs it); with no home, or a base too large to
    keep dequantized, loaded and dequantized here."""
    from pricer.model.device import pick_device
    from pricer.model.precision import choose_precision
    from pricer.model.quantization import dequantize_once, load_quantized

    device = pick_device(device)
    if device != "cpu":
        return load_quantized(model_path, device, precision)
    name = choose_precision(precision, device).name  # a precision the CPU cannot run stops here
    if home is not None:
        folder = ready_copy_folder(home, model_path, name)
        try:
            copy = find_ready_copy(folder) or write_ready_copy(model_path, folder, name)
        except TooLargeToKeep:
            copy = None
        if copy is not None:
            return _read_as_model(copy)
    model = load_quantized(model_path, device, name)
    dequantize_once(model)
    return model


def _read_as_model(copy: ReadyCopy):  # -> transformers.AutoModelForCausalLM
    from transformers import AutoModelForCausalLM

    from pricer.model.precision import Precision

    model = AutoModelForCausalLM.from_pretrained(
        copy.folder, dtype=Precision(copy.precision, "").dtype, device_map={"": "cpu"}
    )
    # An adapter names the base it was trained on from this: the base, not its copy.
    model.name_or_path = model.config.name_or_path = copy.base_model
    model.config.use_cache = True
    return model
