"""A checkpoint as a plain model: its LoRA adapter merged into the base's full-precision weights.

The adapter was trained over a 4-bit base, but it is merged into the unquantized weights: folding
it into NF4 blocks would round the update away. The folder that comes out holds safetensors and
the tokenizer, and `transformers.AutoModelForCausalLM.from_pretrained(folder)` loads it without
PEFT.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

# The precisions a merge is written in; 4-bit is not one of them.
DTYPES = ("bfloat16", "float32")


def export_merged(
    base_model_path: str, adapter_dir: Path, output_dir: Path, dtype: str = "bfloat16"
) -> Path:
    """Merge the adapter in `adapter_dir` into the base and save the result to `output_dir`."""
    output_dir = Path(output_dir)
    require_empty_folder(output_dir)
    merged, tokenizer = merged_model(base_model_path, adapter_dir, dtype)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a failed export never leaves a half-written model.
    staging = Path(tempfile.mkdtemp(dir=output_dir.parent, prefix=f".{output_dir.name}-"))
    try:
        merged.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if output_dir.exists():
            output_dir.rmdir()
        staging.rename(output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output_dir


def merged_model(base_model_path: str, adapter_dir: Path, dtype: str):
    """The base with the adapter folded into its weights, and its tokenizer; ValueError, in one
    line, for an adapter trained on another base.

    The merge runs on the CPU: it is one addition per adapted matrix, and saving needs the weights
    in host memory anyway.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from pricer.model.quantization import load_tokenizer

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    tokenizer = load_tokenizer(base_model_path)
    base = AutoModelForCausalLM.from_pretrained(
        base_model_path, dtype=getattr(torch, dtype), device_map={"": "cpu"}
    )
    try:
        adapted = PeftModel.from_pretrained(base, str(adapter_dir))
    except (RuntimeError, ValueError, KeyError) as error:
        raise ValueError(
            f"the adapter in {adapter_dir} does not fit the base {base_model_path}: "
            f"{_first_finding(error)}"
        ) from error
    return adapted.merge_and_unload(), tokenizer


def _first_finding(error: Exception) -> str:
    # torch's message runs to a line per mismatched tensor under a heading: the first one says it.
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return lines[1] if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def require_empty_folder(output_dir: Path) -> None:
    """An export never writes over anything: the folder is new or empty."""
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        raise FileExistsError(f"{output_dir} exists and is not an empty folder")


def require_new_file(output: Path) -> None:
    """A file export never writes over anything either: nothing is there, or an empty file."""
    if output.is_dir() or (output.exists() and output.stat().st_size > 0):
        raise FileExistsError(f"{output} exists and is not an empty file")
