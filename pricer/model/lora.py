"""LoRA settings, and checking them against a model before any training is spent on it."""

from __future__ import annotations

from dataclasses import dataclass, field

# The reference recipe: attention projections only.
ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class LoraSettings:
    r: int = 32
    alpha: int = 64
    dropout: float = 0.1
    target_modules: tuple[str, ...] = field(default=ATTENTION_PROJECTIONS)

    def validate(self) -> None:
        if self.r <= 0:
            raise ValueError(f"LoRA rank r must be positive, got {self.r}")
        if self.alpha <= 0:
            raise ValueError(f"LoRA alpha must be positive, got {self.alpha}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ValueError("LoRA needs at least one target module")


@dataclass(frozen=True)
class TargetModule:
    name: str
    count: int  # how many layers carry it
    in_features: int
    out_features: int


def find_target_modules(model: object, wanted: tuple[str, ...]) -> list[TargetModule]:
    """The linear layers LoRA would wrap, grouped by name; unknown names are an error."""
    shapes: dict[str, list[tuple[int, int]]] = {}
    for full_name, module in model.named_modules():  # type: ignore[attr-defined]
        short = full_name.rsplit(".", 1)[-1]
        if short in wanted and hasattr(module, "in_features"):
            shapes.setdefault(short, []).append((module.in_features, module.out_features))
    unknown = [name for name in wanted if name not in shapes]
    if unknown:
        available = sorted(
            {
                name.rsplit(".", 1)[-1]
                for name, module in model.named_modules()  # type: ignore[attr-defined]
                if hasattr(module, "in_features") and "lm_head" not in name
            }
        )
        raise ValueError(f"unknown LoRA target module(s) {unknown}; this model has {available}")
    return [
        TargetModule(name, len(found), found[0][0], found[0][1]) for name, found in shapes.items()
    ]


def lora_parameter_count(targets: list[TargetModule], r: int) -> int:
    """Each wrapped layer gains A (r x in) and B (out x r)."""
    return sum(t.count * r * (t.in_features + t.out_features) for t in targets)
