"""A model with Llama 3.1 8B's exact shape and random weights, for measuring speed on a GPU.

The real weights cannot be downloaded here; speed depends on the shapes, not on the values. The
model is written once as safetensors so that it loads through the same 4-bit path as a real one,
with SmolLM2's tokenizer beside it: its ids all fit the larger vocabulary, and a folder with a
tokenizer is a model that every loader takes as it is.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

# Llama-3.1-8B's published architecture.
LLAMA_31_8B = {
    "vocab_size": 128256,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "rope_theta": 500000.0,
    "rope_scaling": {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    },
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
    "tie_word_embeddings": False,
}


def random_llama_8b(folder: Path, tokenizer_from: str) -> str:
    if (folder / "config.json").is_file() and (folder / "tokenizer_config.json").is_file():
        return str(folder)
    if not torch.cuda.is_available():
        raise SystemExit("the 8B-shaped model is for GPU benchmarks: run it on a CUDA machine")
    torch.manual_seed(0)
    # Built on the GPU in bf16: on the CPU, initialising 8B parameters takes minutes.
    with torch.device("cuda"):
        model = LlamaForCausalLM(LlamaConfig(**LLAMA_31_8B, dtype=torch.bfloat16))
    model.to(torch.bfloat16).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer_from).save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    return str(folder)
