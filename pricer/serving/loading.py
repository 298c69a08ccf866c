"""A checkpoint ready to price on the CPU: the base's ready copy, made once and then read from
disk, with the checkpoint's adapter on top. torch, safetensors and tokenizers are all it imports."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pricer.model.ready_copy import (
    TooLargeToKeep,
    find_ready_copy,
    read_config,
    read_weights,
    ready_copy_folder,
    write_ready_copy,
)
from pricer.serving.decoder import LlamaDecoder, Shape, UnsupportedModel, read_loras
from pricer.serving.fast_tokenizer import FastTokenizer


def load_ready(
    home: Path,
    base_model_path: str,
    adapter_dir: Path | None,
    precision: str,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[LlamaDecoder, FastTokenizer]:
    """The decoder and tokenizer for the base in `precision` ("bf16" or "fp32") with the adapter
    in `adapter_dir` (None: the base alone). UnsupportedModel for a base or adapter the decoder
    does not run (for a folder base, before its copy is made); AdapterMismatch for an adapter
    that is broken or of another base."""
    # The adapter first: a broken one is known before the base is touched.
    loras = read_loras(adapter_dir) if adapter_dir is not None else None
    base_config = Path(base_model_path) / "config.json"
    if base_config.is_file():  # a base the decoder does not run is known before it is copied
        Shape.from_config(json.loads(base_config.read_text()))
    folder = ready_copy_folder(home, base_model_path, precision)
    copy = find_ready_copy(folder)
    if copy is None:
        progress(f"making the base's ready copy in {folder}, once")
        try:
            copy = write_ready_copy(base_model_path, folder, precision)
        except TooLargeToKeep as error:
            raise UnsupportedModel(str(error)) from None
    shape = Shape.from_config(read_config(copy))
    return LlamaDecoder(shape, read_weights(copy), loras), FastTokenizer(copy.folder)
