"""The precision pricer computes in follows the hardware: bf16 where the CPU has bf16
instructions, fp32 where torch would emulate bf16. A forced precision the hardware cannot run is
one line before any weight loads; bf16 forced where it is emulated runs, with one warning."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pricer.data.catalogue import generate_catalogue
from pricer.data.curation import CurationRules, curate
from pricer.data.sources import RawRow
from pricer.model.lora import LoraSettings
from pricer.model.precision import choose_precision
from pricer.model.quantization import load_quantized
from pricer.training.settings import TrainingSettings
from pricer.training.trainer import build_trainer

REPO = Path(__file__).resolve().parents[1]
# What an AVX2-only CPU runs, on any x86 CPU: the kernels torch and oneDNN pick are held to AVX2.
AVX2_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    raise AssertionError("/proc/cpuinfo names no flags")


def held_to_avx2(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **AVX2_KERNELS}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )


def test_auto_is_bf16_exactly_where_the_cpu_has_bf16_instructions():
    # The kernel's own word on the processor, beside torch's.
    native = bool({"avx512_bf16", "amx_bf16"} & cpu_flags())
    assert choose_precision("auto", "cpu").name == ("bf16" if native else "fp32")


def test_kernels_held_to_avx2_compute_in_fp32():
    done = held_to_avx2(
        "from pricer.model.precision import choose_precision as c; print(c('auto', 'cpu'))"
    )
    assert "name='fp32'" in done.stdout and "no bf16 instructions" in done.stdout


def test_bf16_forced_where_it_is_emulated_warns_once_with_the_slowdown():
    done = held_to_avx2(
        "import warnings; warnings.simplefilter('always')\n"
        "from pricer.model.precision import choose_precision as c\n"
        "print([c('bf16', 'cpu').name for _ in range(3)])"
    )
    assert done.stdout.strip() == "['bf16', 'bf16', 'bf16']"
    assert done.stderr.count("bf16 is forced on a CPU without bf16 instructions") == 1
    slowdown = re.search(r"takes (\d+)x as long as in fp32", done.stderr)
    assert slowdown is not None, done.stderr
    assert int(slowdown.group(1)) >= 1


def test_fp16_on_a_cpu_is_one_line_before_any_weight_is_read(tmp_path):
    # No model at this path: an error about weights would mean it tried to read them.
    with pytest.raises(ValueError, match=r"^precision fp16 needs a GPU[^\n]*$"):
        load_quantized(str(tmp_path / "no-model"), "cpu", "fp16")


def test_a_precision_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match="precision must be 'auto' or one of bf16, fp16, fp32"):
        choose_precision("fp64", "cpu")


def test_training_in_fp32_computes_and_learns_in_fp32(model_path, tokenizer, tmp_path):
    rows = [RawRow(i, r) for i, r in enumerate(generate_catalogue(size=40, bad_row_share=0))]
    items = curate(rows, tokenizer, CurationRules(max_text_tokens=40)).items[:8]
    settings = TrainingSettings(
        lora=LoraSettings(r=4, alpha=8), batch_size=4, max_length=96, save_steps=2
    )
    trainer = build_trainer(
        model_path, items, items[:2], settings, tmp_path, "cpu", max_steps=2, precision="fp32"
    )
    assert not trainer.args.bf16 and not trainer.args.fp16
    # On the CPU the frozen base is its NF4 weights dequantized (model/ready_copy.py), in fp32.
    frozen = {p.dtype for p in trainer.model.parameters() if not p.requires_grad}
    assert frozen == {torch.float32}
    trained = {p.dtype for p in trainer.model.parameters() if p.requires_grad}
    assert trained == {torch.float32}
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
