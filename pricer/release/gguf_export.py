"""A merged checkpoint as one GGUF file, for llama.cpp and the tools built on it (Ollama and more).

The adapter is merged into the base's full-precision weights (release/export.py), and the result
is written with the `gguf` package under llama.cpp's names for a Llama-architecture model. Two
facts of the format shape the mapping: llama.cpp rotates query and key pairs that sit side by
side in each head, where transformers rotates the two halves of the head, so those two weights
are reordered; and the tokenizer goes in as metadata, copied from the GGUF the base came from.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

# The weight types the writer makes, as the command line names them.
GGUF_TYPES = ("q8_0", "f16", "f32")
DEFAULT_GGUF_TYPE = "q8_0"

_LAYER_TENSORS = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_MODEL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
_LAYER_NAME = re.compile(r"model\.layers\.(\d+)\.(.+)\.weight")


def gguf_tensor_name(name: str) -> str:
    """llama.cpp's name for a transformers Llama tensor; ValueError for one it has no place for."""
    if name in _MODEL_TENSORS:
        return _MODEL_TENSORS[name]
    match = _LAYER_NAME.fullmatch(name)
    if match and match.group(2) in _LAYER_TENSORS:
        return f"blk.{match.group(1)}.{_LAYER_TENSORS[match.group(2)]}.weight"
    raise ValueError(f"no GGUF name for the tensor {name}: only Llama-architecture models export")


def interleave_rotary_pairs(weight: np.ndarray, heads: int) -> np.ndarray:
    """Reorder each head's output rows from transformers' halves (x0..x31, y0..y31) to llama.cpp's
    pairs (x0, y0, x1, y1, ...), so both rotate the same numbers together."""
    rows, columns = weight.shape
    return (
        weight.reshape(heads, 2, rows // heads // 2, columns).swapaxes(1, 2).reshape(rows, columns)
    )


def tokenizer_gguf_for(base_model_id: str) -> Path:
    """The GGUF file whose tokenizer metadata the base's export copies; ValueError for a base
    that came without one (only the embedded base does)."""
    from pricer.model.source import EMBEDDED, embedded_gguf

    if base_model_id != EMBEDDED:
        raise ValueError(
            "GGUF export needs the base's tokenizer as GGUF metadata, which only the embedded "
            "base brings; export a merged folder with `pricer export` for other bases"
        )
    return embedded_gguf()


def export_gguf(
    base_model_path: str,
    adapter_dir: Path,
    output: Path,
    tokenizer_gguf: Path,
    gguf_type: str = DEFAULT_GGUF_TYPE,
) -> Path:
    """Merge the adapter into the base and write the model to the file `output`, atomically.

    `tokenizer_gguf` is a GGUF file whose tokenizer the base uses (tokenizer_gguf_for).
    """
    import gguf

    from pricer.release.export import merged_model, require_new_file

    if gguf_type not in GGUF_TYPES:
        raise ValueError(f"GGUF type must be one of {', '.join(GGUF_TYPES)}, got {gguf_type!r}")
    output = Path(output)
    require_new_file(output)
    model, _ = merged_model(base_model_path, adapter_dir, "float32")
    config = model.config
    if config.model_type != "llama":
        raise ValueError(
            f"GGUF export maps Llama-architecture models; this base is {config.model_type}"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, staging_name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}-")
    os.close(fd)
    staging = Path(staging_name)
    try:
        writer = gguf.GGUFWriter(staging, "llama")
        _write_hyperparameters(writer, config, gguf_type)
        _copy_tokenizer(writer, gguf.GGUFReader(tokenizer_gguf))
        for name, tensor in model.state_dict().items():
            if name == "lm_head.weight" and config.tie_word_embeddings:
                continue  # llama.cpp reads the embedding again when output.weight is absent
            _add_tensor(writer, name, tensor.float().numpy(), config, gguf_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        staging.rename(output)
    finally:
        staging.unlink(missing_ok=True)
    return output


def _write_hyperparameters(writer, config, gguf_type: str) -> None:
    import gguf

    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    writer.add_name(getattr(config, "_name_or_path", "") or "pricer")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(_types(gguf_type)[1])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _copy_tokenizer(writer, reader) -> None:
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == field.types[0].ARRAY else None
        writer.add_key_value(key, field.contents(), value_type, sub_type=sub_type)


def _add_tensor(writer, name: str, weight: np.ndarray, config, gguf_type: str) -> None:
    import gguf

    if name.endswith("self_attn.q_proj.weight"):
        weight = interleave_rotary_pairs(weight, config.num_attention_heads)
    elif name.endswith("self_attn.k_proj.weight"):
        weight = interleave_rotary_pairs(weight, config.num_key_value_heads)
    quant = _types(gguf_type)[0]
    # Norms stay in fp32, as llama.cpp's converter keeps them; so does a matrix whose rows do
    # not split into Q8_0's blocks of 32.
    if weight.ndim == 1 or (quant == gguf.GGMLQuantizationType.Q8_0 and weight.shape[-1] % 32 != 0):
        quant = gguf.GGMLQuantizationType.F32
    data = gguf.quants.quantize(weight, quant)
    # The writer reads the shape from the bytes it is given: a Q8_0 row is 34 bytes per 32 weights.
    writer.add_tensor(gguf_tensor_name(name), data, raw_dtype=quant)


def _types(gguf_type: str):
    """The matrices' tensor type and the file type the header declares, for a GGUF type."""
    import gguf

    return {
        "q8_0": (gguf.GGMLQuantizationType.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
        "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
        "f32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32),
    }[gguf_type]
