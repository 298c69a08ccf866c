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
    check_trainer_names(settings, device)
    skeleton = model_skeleton(model_path)
    find_target_modules(skeleton, settings.lora.target_modules)  # an unknown name raises
    if settings.liger_kernel:
        check_liger_applies(skeleton.config.model_type)  # type: ignore[attr-defined]
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


def check_trainer_names(settings: TrainingSettings, device: str) -> None:
    """The scheduler and optimizer are names transformers knows, and the device can run them and
    the speed levers asked for."""
    import torch
    from transformers.trainer_utils import SchedulerType
    from transformers.training_args import OptimizerNames

    schedulers = [kind.value for kind in SchedulerType]
    if settings.lr_scheduler not in schedulers:
        raise ValueError(
            f"lr_scheduler={settings.lr_scheduler!r} is not a transformers scheduler: use one of "
            + ", ".join(schedulers)
        )
    optimizers = ["auto", *(name.value for name in OptimizerNames)]
    if settings.optimizer not in optimizers:
        raise ValueError(
            f"optimizer={settings.optimizer!r} is not a transformers optimizer: use 'auto' (paged "
            "AdamW on a GPU, AdamW on the CPU) or one of transformers' OptimizerNames, such as "
            "adamw_torch"
        )
    on_cuda = torch.cuda.is_available() and torch.device(_cuda_if_auto(device)).type == "cuda"
    if settings.optimizer.startswith("paged_") and not on_cuda:
        raise ValueError(
            f"optimizer={settings.optimizer!r} pages its state through CUDA memory, and this run "
            "trains on the CPU: use 'auto' or adamw_torch"
        )
    if settings.liger_kernel and not on_cuda:
        raise ValueError(
            "liger_kernel=True runs Liger's Triton kernels, which need a CUDA GPU, and this run "
            "trains on the CPU: turn it off"
        )


def check_liger_applies(model_type: str) -> None:
    """Liger patches one architecture's classes; pricer applies its Llama patch."""
    import importlib.util

    if model_type != "llama":
        raise ValueError(
            f"liger_kernel=True is wired for Llama-architecture models, and this base model is "
            f"{model_type!r}: turn it off"
        )
    if importlib.util.find_spec("liger_kernel") is None:
        raise ValueError(
            "liger_kernel=True needs the liger-kernel package: pip install liger-kernel"
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

    wanted = torch.device(_cuda_if_auto(device))
    if wanted.type != "cuda" or not torch.cuda.is_available():
        return None
    free, _ = torch.cuda.mem_get_info(wanted)
    return free


def _cuda_if_auto(device: str) -> str:
    return "cuda" if device == "auto" else device
