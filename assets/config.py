"""Run configuration a person sets in the launchpad, turned into the domain's settings."""


import dagster as dg
from pydantic import Field

from pricer.lora import ATTENTION_PROJECTIONS, LoraSettings
from pricer.selection import DEFAULT_TOLERANCE
from pricer.settings import TrainingSettings


class LoraConfig(dg.Config):
    lora_r: int = Field(default=32, description="LoRA rank")
    lora_alpha: int = 64
    lora_dropout: float = 0.1
    target_modules: list[str] = Field(default_factory=lambda: list(ATTENTION_PROJECTIONS))

    def lora(self) -> LoraSettings:
        return LoraSettings(
            self.lora_r, self.lora_alpha, self.lora_dropout, tuple(self.target_modules)
        )


class TrainingRunConfig(LoraConfig):
    """Set once, on epoch 1; later epochs carry on with the settings epoch 1 trained with."""

    epochs: int = Field(default=4, description="at most the code location's max_epochs")
    learning_rate: float = 1e-4
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_length: int = 182
    weight_decay: float = 0.001
    max_grad_norm: float = 0.3
    optimizer: str = Field(default="auto", description="auto: paged AdamW 32-bit on a GPU")
    gradient_checkpointing: bool = False
    seed: int = 42
    early_stopping_patience: int = Field(
        default=0, description="stop after this many epochs of overfitting; 0 trains them all"
    )
    overfit_tolerance: float = DEFAULT_TOLERANCE

    def settings(self) -> TrainingSettings:
        return TrainingSettings(
            lora=self.lora(),
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            lr_scheduler=self.lr_scheduler,
            warmup_ratio=self.warmup_ratio,
            batch_size=self.batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            max_length=self.max_length,
            weight_decay=self.weight_decay,
            max_grad_norm=self.max_grad_norm,
            optimizer=self.optimizer,
            gradient_checkpointing=self.gradient_checkpointing,
            seed=self.seed,
            early_stopping_patience=self.early_stopping_patience,
            overfit_tolerance=self.overfit_tolerance,
        )
