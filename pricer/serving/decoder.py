"""A Llama decoder in plain torch, for pricing on the CPU without importing transformers.

`pricer predict` has a budget of two seconds for one item, cold. Importing transformers, PEFT and
bitsandbytes takes longer than that on a 2-core CPU (docs/benchmarks.md), while torch alone and
a safetensors file mapped from disk fit. So the ready copy of the base (model/ready_copy.py) is
run by this module: the same operations as transformers' LlamaForCausalLM with its sdpa
attention, in the same order and precision, and each LoRA update added beside its layer as PEFT
adds it (never folded into the weight, where bf16 rounding would wash most of it out).

Only what pricing needs: a prompt pass over rows of equal length (no padding, so no mask), then
one token a step over a KV cache whose rows can be reordered, as the weighted-price search does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

# adapter_config.json values this decoder computes like PEFT; anything else is refused.
_PLAIN_LORA = {"use_dora": False, "use_rslora": False, "bias": "none"}
# The layers the decoder computes through _linear, so the only ones an adapter may change.
_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class UnsupportedModel(ValueError):
    """A base or adapter this decoder does not compute exactly like transformers and PEFT."""


class AdapterMismatch(ValueError):
    """An adapter trained on another base: its layers do not fit this one's."""


@dataclass(frozen=True)
class Shape:
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    eps: float
    rope_theta: float

    @classmethod
    def from_config(cls, config: dict) -> Shape:
        rope = config.get("rope_parameters") or {
            "rope_type": (config.get("rope_scaling") or {}).get("rope_type", "default"),
            "rope_theta": config.get("rope_theta", 10000.0),
        }
        found = {
            "model_type": config.get("model_type"),
            "hidden_act": config.get("hidden_act"),
            "rope_type": rope.get("rope_type"),
            "attention_bias": config.get("attention_bias", False),
            "mlp_bias": config.get("mlp_bias", False),
        }
        wanted = {
            "model_type": "llama",
            "hidden_act": "silu",
            "rope_type": "default",
            "attention_bias": False,
            "mlp_bias": False,
        }
        differs = {key: value for key, value in found.items() if value != wanted[key]}
        if differs:
            raise UnsupportedModel(f"the fast decoder runs plain Llama models; this has {differs}")
        heads = config["num_attention_heads"]
        return cls(
            layers=config["num_hidden_layers"],
            heads=heads,
            kv_heads=config.get("num_key_value_heads", heads),
            head_dim=config.get("head_dim") or config["hidden_size"] // heads,
            eps=config["rms_norm_eps"],
            rope_theta=rope["rope_theta"],
        )


@dataclass(frozen=True)
class Lora:
    """One adapted layer's update, scaling * B(A(x)), in the adapter's own precision."""

    a: torch.Tensor  # (r, in)
    b: torch.Tensor  # (out, r)
    scaling: float


# Per layer: the cached keys and values, (rows, kv_heads, positions, head_dim).
Cache = list[tuple[torch.Tensor, torch.Tensor]]


class LlamaDecoder:
    def __init__(
        self, shape: Shape, weights: dict[str, torch.Tensor], loras: dict[str, Lora] | None = None
    ):
        self.shape = shape
        self.weights = weights
        self.loras = loras or {}
        for name, lora in self.loras.items():
            base = weights.get(name + ".weight")
            if base is None or base.shape != (lora.b.shape[0], lora.a.shape[1]):
                found = "missing" if base is None else tuple(base.shape)
                raise AdapterMismatch(
                    f"the adapter's {name} is {lora.b.shape[0]}x{lora.a.shape[1]}, the base's "
                    f"is {found}: it was trained on another base"
                )
        self.dtype = weights["model.embed_tokens.weight"].dtype
        # The output layer is the embedding where they are tied.
        self.lm_head = weights.get("lm_head.weight", weights["model.embed_tokens.weight"])
        half = torch.arange(0, shape.head_dim, 2, dtype=torch.float) / shape.head_dim
        self.inv_freq = 1.0 / (shape.rope_theta**half)

    def prompt(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, Cache]:
        """Next-token logits (float32) after rows of prompts of one length, and their cache."""
        positions = torch.arange(input_ids.shape[1])
        return self._forward(input_ids, positions, [])

    def step(self, tokens: torch.Tensor, position: int, cache: Cache) -> tuple[torch.Tensor, Cache]:
        """Logits after each row of `cache` is extended by one of `tokens`, at `position`."""
        return self._forward(tokens[:, None], torch.tensor([position]), cache)

    def _forward(
        self, ids: torch.Tensor, positions: torch.Tensor, cache: Cache
    ) -> tuple[torch.Tensor, Cache]:
        s, w = self.shape, self.weights
        hidden = F.embedding(ids, w["model.embed_tokens.weight"])
        cos, sin = self._rotary(positions)
        rows, length = ids.shape
        grown: Cache = []
        for layer in range(s.layers):
            at = f"model.layers.{layer}."
            residual = hidden
            normed = self._norm(hidden, w[at + "input_layernorm.weight"])
            q, k, v = (
                self._linear(normed, at + f"self_attn.{name}_proj")
                .view(rows, length, -1, s.head_dim)
                .transpose(1, 2)
                for name in ("q", "k", "v")
            )
            q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
            if cache:
                k = torch.cat([cache[layer][0], k], dim=2)
                v = torch.cat([cache[layer][1], v], dim=2)
            grown.append((k, v))
            attended = F.scaled_dot_product_attention(
                q, k, v, is_causal=length > 1, scale=s.head_dim**-0.5, enable_gqa=True
            )
            attended = attended.transpose(1, 2).reshape(rows, length, -1)
            hidden = residual + self._linear(attended, at + "self_attn.o_proj")
            residual = hidden
            normed = self._norm(hidden, w[at + "post_attention_layernorm.weight"])
            gate = self._linear(normed, at + "mlp.gate_proj")
            up = self._linear(normed, at + "mlp.up_proj")
            hidden = residual + self._linear(F.silu(gate) * up, at + "mlp.down_proj")
        last = self._norm(hidden[:, -1:], w["model.norm.weight"])
        return F.linear(last, self.lm_head)[:, -1].float(), grown

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        out = F.linear(x, self.weights[name + ".weight"])
        lora = self.loras.get(name)
        if lora is None:
            return out
        # As PEFT: the input in the adapter's precision, the sum back in the layer's.
        low = x.to(lora.a.dtype)
        return (out + F.linear(F.linear(low, lora.a), lora.b) * lora.scaling).to(out.dtype)

    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        # RMSNorm in float32, then back, as transformers computes it.
        wide = x.to(torch.float32)
        wide = wide * torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + self.shape.eps)
        return weight * wide.to(x.dtype)

    def _rotary(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = positions[:, None].float() * self.inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(self.dtype), angles.sin().to(self.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def read_loras(adapter_dir: Path) -> dict[str, Lora]:
    """A PEFT LoRA adapter's updates by layer name. UnsupportedModel for what PEFT would compute
    differently (DoRA, rsLoRA, biases, whole modules saved); AdapterMismatch for a folder that
    holds no LoRA adapter."""
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    try:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
        scaling = config["lora_alpha"] / config["r"]
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as error:
        raise AdapterMismatch(
            f"{adapter_dir / 'adapter_config.json'} is not a LoRA adapter's config ({error!r})"
        ) from None
    differs = {k: config.get(k) for k, v in _PLAIN_LORA.items() if config.get(k, v) != v}
    for setting in ("rank_pattern", "alpha_pattern", "modules_to_save", "lora_bias"):
        if config.get(setting):  # a scaling or a part this decoder does not apply
            differs[setting] = config[setting]
    if config.get("peft_type", "LORA") != "LORA" or differs:
        raise UnsupportedModel(f"the fast decoder runs plain LoRA adapters; this has {differs}")
    try:
        tensors = load_file(adapter_dir / "adapter_model.safetensors")
    except (OSError, ValueError) as error:
        raise AdapterMismatch(f"{adapter_dir} holds no readable LoRA weights ({error})") from None
    loras = {}
    for key, a in tensors.items():
        if ".lora_B." in key:
            continue
        layer = key.removeprefix("base_model.model.").split(".lora_A.")[0]
        b = tensors.get(key.replace(".lora_A.", ".lora_B."))
        # "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" -> the base layer.
        if ".lora_A." not in key or not key.endswith(".weight") or b is None:
            raise UnsupportedModel(f"the fast decoder runs LoRA weights only; this has {key}")
        if layer.rsplit(".", 1)[-1] not in _PROJECTIONS:
            raise UnsupportedModel(f"the fast decoder adapts the projections only, not {layer}")
        # PEFT loads half-precision adapter weights as float32 (autocast_adapter_dtype).
        loras[layer] = Lora(_widened(a), _widened(b), scaling)
    if not loras:
        raise AdapterMismatch(f"{adapter_dir} holds no LoRA weights")
    return loras


def _widened(weight: torch.Tensor) -> torch.Tensor:
    return weight.float() if weight.dtype in (torch.float16, torch.bfloat16) else weight
