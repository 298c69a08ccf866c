"""Will this run fit its data, its model and its GPU? Checked before any weight is loaded.

The model is built on the meta device from its config alone: module names and shapes cost no
memory and no download. The GPU check uses a floor, never an estimate: the 4-bit weights plus
the float32 logits the loss needs. Training needs more than that, so a run refused here could
never have fitted, and a run allowed here may still need a smaller batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from pricer.model.lora import find_target_modules
from pricer.training.settings import TrainingSettings

_NF4_BYTES = 0.5  # a 4-bit weight
_BF16_BYTES = 2  # what bitsandbytes leaves unquantized: embeddings, norms, the output head
_LOGIT_BYTES = 4  # the loss upcasts logits to float32


@dataclass(frozen=True)
class ModelShape:
    vocab_size: int
    quantized_parameters: int  # in the linear layers bitsandbytes turns into 4-bit
    other_parameters: int


def check_run_fits(
    settings: TrainingSettings, train_items: int, model_path: str, device: str = "auto"
) -> None:
    """Raise ValueError, naming the setting to change, when the run cannot fit."""
    check_batch_fits_split(settings, train_items)
    skeleton = model_skeleton(model_path)
    find_target_modules(skeleton, settings.lora.target_modules)  # an unknown name raises
    free = free_gpu_bytes(device)
    if free is not None:
        check_memory_floor(settings, model_shape(skeleton), free)


def check_batch_fits_split(settings: TrainingSettings, train_items: int) -> None:
    step_items = settings.batch_size * settings.gradient_accumulation_steps
    if settings.batch_size > train_items:
        raise ValueError(
            f"batch_size={settings.batch_size} is larger than the training split "
            f"({train_items} items): lower batch_size or train on more data"
        )
    if step_items > train_items:
        raise ValueError(
            f"one optimizer step takes batch_size x gradient_accumulation_steps = {step_items} "
            f"items, more than the training split ({train_items} items): lower either"
        )


def model_skeleton(model_path: str) -> object:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_path))


def model_shape(skeleton: object) -> ModelShape:
    import torch

    quantized = 0
    for name, module in skeleton.named_modules():  # type: ignore[attr-defined]
        if isinstance(module, torch.nn.Linear) and not name.endswith("lm_head"):
            quantized += module.weight.numel()
    total = sum(p.numel() for p in skeleton.parameters())  # type: ignore[attr-defined]
    vocab = skeleton.get_output_embeddings().out_features  # type: ignore[attr-defined]
    return ModelShape(vocab, quantized, total - quantized)


def weights_floor_bytes(shape: ModelShape) -> int:
    return int(shape.quantized_parameters * _NF4_BYTES + shape.other_parameters * _BF16_BYTES)


def memory_floor_bytes(settings: TrainingSettings, shape: ModelShape) -> int:
    logits = settings.batch_size * settings.max_length * shape.vocab_size * _LOGIT_BYTES
    return weights_floor_bytes(shape) + logits


def check_memory_floor(settings: TrainingSettings, shape: ModelShape, free_bytes: int) -> None:
    floor = memory_floor_bytes(settings, shape)
    if floor > free_bytes:
        raise ValueError(
            f"batch_size={settings.batch_size} with max_length={settings.max_length} needs at "
            f"least {floor / 2**30:.1f} GiB of GPU memory (4-bit weights and float32 logits "
            f"over a {shape.vocab_size}-token vocabulary), but {free_bytes / 2**30:.1f} GiB are "
            "free: lower batch_size (raising gradient_accumulation_steps keeps the step size) "
            "or max_length"
        )


def free_gpu_bytes(device: str) -> int | None:
    """Free memory on the CUDA device training would use; None when it trains elsewhere."""
    import torch

    wanted = torch.device("cuda" if device == "auto" else device)
    if wanted.type != "cuda" or not torch.cuda.is_available():
        return None
    free, _ = torch.cuda.mem_get_info(wanted)
    return free
