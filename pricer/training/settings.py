"""A training run's settings: the reference recipe's defaults, checked before any model loads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from pricer.model.lora import LoraSettings


@dataclass(frozen=True)
class TrainingSettings:
    """The reference recipe's defaults; every field is settable per training run."""

    lora: LoraSettings = field(default_factory=LoraSettings)
    epochs: int = 4
    learning_rate: float = 1e-4
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_length: int = 182
    weight_decay: float = 0.001
    max_grad_norm: float = 0.3
    optimizer: str = "auto"  # paged AdamW 32-bit on a GPU, plain AdamW on the CPU
    gradient_checkpointing: bool = False
    length_grouped: bool = False  # batches of similar lengths; pays only where lengths vary
    # Speed levers, off in the recipe until measured on a GPU (docs/gpu/README.md):
    torch_compile: bool = False  # the model compiled by torch.compile, as transformers does it
    liger_kernel: bool = False  # Liger's Triton RMSNorm, RoPE and SwiGLU; a CUDA GPU only
    seed: int = 42
    # A full checkpoint (adapter, optimizer, scheduler, RNG, trainer state) every this many steps:
    # a killed epoch resumes from the last one and redoes at most this many steps.
    save_steps: int = 50
    early_stopping_patience: int = 0  # 0: train every epoch, overfitting or not
    # How much worse than the best so far validation error must get to count as overfitting:
    # the one tolerance, for early stopping and for the onset the run reports.
    overfit_tolerance: float = 0.02

    def validate(self, max_epochs: int | None = None) -> None:
        """Fail on a bad configuration before a model is loaded or any GPU time is spent."""
        self.lora.validate()
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if max_epochs is not None and self.epochs > max_epochs:
            raise ValueError(
                f"epochs={self.epochs} exceeds max_epochs={max_epochs}, the number of epoch assets "
                "this code location was loaded with (set PRICER_MAX_EPOCHS to raise it)"
            )
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ValueError("batch_size and gradient_accumulation_steps must be at least 1")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.early_stopping_patience < 0 or self.overfit_tolerance < 0:
            raise ValueError("early_stopping_patience and overfit_tolerance cannot be negative")
        if self.save_steps < 1:
            raise ValueError(f"save_steps must be at least 1, got {self.save_steps}")
        if self.max_length < 16:
            raise ValueError(f"max_length {self.max_length} leaves no room for a prompt")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainingSettings:
        lora = values.get("lora", {})
        lora = LoraSettings(**{**lora, "target_modules": tuple(lora.get("target_modules", ()))})
        return cls(**{**values, "lora": lora})
