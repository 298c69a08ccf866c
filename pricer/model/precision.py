"""The precision pricer computes in, chosen by the hardware it runs on.

bf16 is the recipe's precision, and where the hardware has it (a CUDA GPU with bf16, a CPU with
AVX512_BF16 or AMX) it is the fastest. A CPU without bf16 instructions emulates it, and there a
matrix product takes tens of times as long as in fp32 (docs/benchmarks.md), so such a CPU computes
in fp32. A GPU without bf16 takes fp16, as QLoRA allows. Every step that loads the model asks here,
so the whole run computes in one precision; `"auto"` can be overridden by naming one.
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from dataclasses import dataclass

AUTO = "auto"
PRECISIONS = ("bf16", "fp16", "fp32")
# oneDNN's instruction-set caps (ONEDNN_MAX_CPU_ISA) under which it has no bf16 instructions.
_ONEDNN_CAPS_WITHOUT_BF16 = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI"}


@dataclass(frozen=True)
class Precision:
    name: str  # one of PRECISIONS
    reason: str  # why, in a few words a person reads in the metadata

    @property
    def dtype(self):  # -> torch.dtype
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.name]


def check_requested(requested: str) -> None:
    """A precision a setting can name: before anything is loaded."""
    if requested != AUTO and requested not in PRECISIONS:
        raise ValueError(
            f"precision must be {AUTO!r} or one of {', '.join(PRECISIONS)}, got {requested!r}"
        )


def choose_precision(requested: str = AUTO, device: str = "cpu") -> Precision:
    """The precision to compute in on `device` ("cpu" or "cuda"): `requested`, if it names one
    the hardware can run, else the fastest the hardware runs natively."""
    check_requested(requested)
    if device == "cuda":
        return _on_gpu(requested)
    if requested == "fp16":
        raise ValueError(
            "precision fp16 needs a GPU: the CPU has no fp16 training path; use fp32 or auto"
        )
    native = cpu_has_native_bf16()
    if requested == "bf16":
        if not native:
            _warn_emulated_bf16()
            return Precision("bf16", "forced; emulated on this CPU")
        return Precision("bf16", "forced")
    if requested == "fp32":
        return Precision("fp32", "forced")
    if native:
        return Precision("bf16", "auto: this CPU has bf16 instructions")
    return Precision("fp32", "auto: this CPU has no bf16 instructions")


def cpu_has_native_bf16() -> bool:
    """Whether torch's CPU kernels run bf16 on the processor's own instructions here. Kernels held
    to AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2) count as a CPU without them."""
    import torch

    if torch.backends.cpu.get_cpu_capability() not in ("AVX512", "AVX512_BF16", "AMX"):
        return False
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() in _ONEDNN_CAPS_WITHOUT_BF16:
        return False
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def _on_gpu(requested: str) -> Precision:
    import torch

    has_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    if requested == "bf16" and not has_bf16:
        raise ValueError("precision bf16 was requested but this GPU has no bf16; use fp16 or auto")
    if requested != AUTO:
        return Precision(requested, "forced")
    if has_bf16:
        return Precision("bf16", "auto: this GPU has bf16")
    return Precision("fp16", "auto: this GPU has no bf16")


@functools.cache
def _warn_emulated_bf16() -> None:
    # Measured on the spot, once a process: how much slower the run about to start will be.
    slowdown = emulated_bf16_slowdown()
    warnings.warn(
        f"bf16 is forced on a CPU without bf16 instructions: torch emulates it, and a matrix "
        f"product takes {slowdown:.0f}x as long as in fp32 here; precision auto would pick fp32",
        RuntimeWarning,
        stacklevel=3,
    )


def emulated_bf16_slowdown(rows: int = 64) -> float:
    """How many times longer a matrix product of SmolLM2's MLP shape takes in bf16 than in fp32
    on this CPU."""
    import torch

    return matmul_seconds(torch.bfloat16, rows) / matmul_seconds(torch.float32, rows)


def matmul_seconds(dtype, rows: int, inner: int = 576, columns: int = 1536, repeats: int = 3):
    """The best of `repeats` times for a (rows x inner) by (inner x columns) product in `dtype`."""
    import torch

    a = torch.randn(rows, inner, dtype=dtype)
    b = torch.randn(inner, columns, dtype=dtype)
    a @ b  # the first product pays for kernel selection
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return min(times)
