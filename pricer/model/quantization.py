"""Loading a base model in 4-bit NF4 with bitsandbytes, on a GPU or on the CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

from pricer.model.device import pick_device
from pricer.model.precision import AUTO, choose_precision


@dataclass(frozen=True)
class ModelFootprint:
    parameters: int
    bf16_bytes: int  # what the unquantized model would take in bf16
    quantized_bytes: int


def nf4_config(compute_dtype: torch.dtype) -> BitsAndBytesConfig:
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def load_tokenizer(model_path: str) -> AutoTokenizer:
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_quantized(
    model_path: str, device: str = "auto", precision: str = AUTO
) -> AutoModelForCausalLM:
    """The 4-bit model, computing in `precision` ("auto": chosen by the hardware, precision.py);
    a precision the device cannot run fails here, before any weight is read."""
    device = pick_device(device)
    dtype = choose_precision(precision, device).dtype
    model = AutoModelForCausalLM.from_pretrained(
        model_path,
        quantization_config=nf4_config(dtype),
        dtype=dtype,
        device_map={"": device},
    )
    model.config.use_cache = True
    return model


def dequantize_once(model: AutoModelForCausalLM) -> int:
    """Replace each 4-bit linear layer of a model on the CPU by a plain one holding its weight
    dequantized, and return how many were replaced. bitsandbytes' CPU path dequantizes every NF4
    weight again at every forward (and backward) pass, which is most of the cost of a decoding
    step and of a training step; the weights are the NF4 values exactly, frozen, so training and
    pricing compute what they did. It undoes the 4-bit memory saving, so a model that would fill
    over a quarter of this machine's memory dequantized is left as it is.

    Call it before the model's first forward pass. On a CPU with AVX512_BF16, bitsandbytes
    repacks each layer for its own bf16 kernel at the first pass in eval mode, and from then on
    the layer's data no longer dequantizes to its weight (that kernel also rounds differently:
    the dequantized model is then the more exact of the two)."""
    import bitsandbytes as bnb

    layers = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if isinstance(child, bnb.nn.Linear4bit)
    ]
    if any(getattr(c.weight.quant_state, "packing_format_for_cpu", False) for _, _, c in layers):
        raise ValueError(
            "dequantize_once needs a model that has not run yet: bitsandbytes has repacked its "
            "4-bit layers for its AVX512_BF16 kernel, and they no longer dequantize to weights"
        )
    dtype = next(p.dtype for p in model.parameters() if p.is_floating_point())
    needed = sum(c.in_features * c.out_features for _, _, c in layers) * dtype.itemsize
    if not layers or needed > os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 4:
        return 0
    for parent, name, child in layers:
        weight = bnb.functional.dequantize_4bit(child.weight.data, child.weight.quant_state)
        # Built on the meta device: a random initialisation of weights replaced at once would
        # take longer than the dequantization.
        plain = torch.nn.Linear(child.in_features, child.out_features, bias=False, device="meta")
        plain.weight = torch.nn.Parameter(weight.to(dtype), requires_grad=False)
        plain.bias = child.bias
        setattr(parent, name, plain)
    return len(layers)


def footprint(model_path: str, quantized: AutoModelForCausalLM) -> ModelFootprint:
    # Count the full model's parameters on the meta device: no memory, no second real load.
    config = AutoConfig.from_pretrained(model_path)
    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    parameters = sum(p.numel() for p in skeleton.parameters())
    return ModelFootprint(
        parameters=parameters,
        bf16_bytes=parameters * 2,
        quantized_bytes=int(quantized.get_memory_footprint()),
    )
