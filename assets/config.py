"""Run configuration a person sets in the launchpad, turned into the domain's settings.

Defaults come from the domain's dataclasses, so the recipe is written down once.
"""

import dagster as dg
from pydantic import Field

from pricer.model.lora import LoraSettings
from pricer.training.settings import TrainingSettings

_RECIPE = TrainingSettings()


class LoraConfig(dg.Config):
    lora_r: int = Field(default=_RECIPE.lora.r, description="LoRA rank")
    lora_alpha: int = _RECIPE.lora.alpha
    lora_dropout: float = _RECIPE.lora.dropout
    target_modules: list[str] = Field(default_factory=lambda: list(_RECIPE.lora.target_modules))

    def lora(self) -> LoraSettings:
        return LoraSettings(
            self.lora_r, self.lora_alpha, self.lora_dropout, tuple(self.target_modules)
        )


class TrainingRunConfig(LoraConfig):
    """Set once, on epoch 1; later epochs carry on with the settings epoch 1 trained with."""

    epochs: int = Field(default=_RECIPE.epochs, description="at most the location's max_epochs")
    learning_rate: float = _RECIPE.learning_rate
    lr_scheduler: str = _RECIPE.lr_scheduler
    warmup_ratio: float = _RECIPE.warmup_ratio
    batch_size: int = _RECIPE.batch_size
    gradient_accumulation_steps: int = _RECIPE.gradient_accumulation_steps
    max_length: int = _RECIPE.max_length
    weight_decay: float = _RECIPE.weight_decay
    max_grad_norm: float = _RECIPE.max_grad_norm
    optimizer: str = Field(default=_RECIPE.optimizer, description="auto: paged AdamW on a GPU")
    gradient_checkpointing: bool = _RECIPE.gradient_checkpointing
    length_grouped: bool = Field(
        default=_RECIPE.length_grouped, description="batch items of similar length: less padding"
    )
    torch_compile: bool = Field(
        default=_RECIPE.torch_compile, description="compile the model with torch.compile"
    )
    liger_kernel: bool = Field(
        default=_RECIPE.liger_kernel,
        description="Liger's Triton kernels for RMSNorm, RoPE and SwiGLU (a CUDA GPU only)",
    )
    seed: int = _RECIPE.seed
    save_steps: int = Field(
        default=_RECIPE.save_steps, description="a step checkpoint every this many steps"
    )
    early_stopping_patience: int = Field(
        default=_RECIPE.early_stopping_patience,
        description="stop after this many epochs of overfitting; 0 trains them all",
    )
    overfit_tolerance: float = _RECIPE.overfit_tolerance

    def settings(self) -> TrainingSettings:
        values = self.model_dump()
        for name in ("lora_r", "lora_alpha", "lora_dropout", "target_modules"):
            values.pop(name)
        return TrainingSettings(lora=self.lora(), **values)
