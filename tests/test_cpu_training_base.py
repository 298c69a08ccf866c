"""On the CPU the frozen 4-bit base trains from its ready copy, the NF4 values dequantized once and
saved, not through bitsandbytes' layers, which dequantize every weight again at each pass; it is
the same training, bit for bit: the same losses step by step, the same evaluation loss and the
same adapter, which names the base it was trained on, not the copy."""

import json

import bitsandbytes as bnb
from safetensors.torch import load_file

import pricer.model.ready_copy
from pricer.data.catalogue import generate_catalogue
from pricer.data.curation import CurationRules, curate
from pricer.data.sources import RawRow
from pricer.model.lora import LoraSettings
from pricer.model.quantization import load_quantized
from pricer.model.ready_copy import find_ready_copy, ready_copy_folder
from pricer.training.settings import TrainingSettings
from pricer.training.trainer import build_trainer

STEPS = 3
# fp32 on every CPU kind: both paths compute with the same weights and multiply alike, so the
# comparison is exact by construction, whatever a CPU's bf16 kernels round.
PRECISION = "fp32"


def _train(model_path, items, settings, output_dir, home=None):
    trainer = build_trainer(
        model_path,
        items,
        items[:4],
        settings,
        output_dir,
        device="cpu",
        max_steps=STEPS,
        precision=PRECISION,
        home=home,
    )
    four_bit = [m for m in trainer.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    for layer in four_bit:
        # On a CPU with AVX512_BF16, bitsandbytes would repack the layers for its bf16 inference
        # kernel at the evaluation, which rounds the input to bf16 even in fp32: kept on the path
        # they train with, dequantize then multiply, they are the reference on every CPU kind.
        assert hasattr(layer, "support_avx512bf16_for_cpu"), "bitsandbytes renamed its switch"
        layer.support_avx512bf16_for_cpu = False
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    losses.append(trainer.evaluate()["eval_loss"])
    checkpoint = output_dir / f"checkpoint-{STEPS}"
    adapter = load_file(checkpoint / "adapter_model.safetensors")
    base = json.loads((checkpoint / "adapter_config.json").read_text())["base_model_name_or_path"]
    return len(four_bit), losses, adapter, base


def test_the_ready_copy_trains_exactly_as_the_4bit_layers(
    model_path, tokenizer, tmp_path, monkeypatch
):
    rows = [RawRow(i, r) for i, r in enumerate(generate_catalogue(size=40, bad_row_share=0))]
    items = curate(rows, tokenizer, CurationRules(max_text_tokens=24)).items[:12]
    settings = TrainingSettings(
        lora=LoraSettings(r=8, alpha=16),
        batch_size=4,
        learning_rate=2e-3,
        max_length=64,
        save_steps=STEPS,
    )
    home = tmp_path / "home"

    four_bit, losses, adapter, base = _train(model_path, items, settings, tmp_path / "ready", home)
    assert find_ready_copy(ready_copy_folder(home, model_path, PRECISION)) is not None
    with monkeypatch.context() as patch:
        # The reference: bitsandbytes' own 4-bit layers, as a GPU trains.
        patch.setattr(
            pricer.model.ready_copy,
            "load_base",
            lambda path, device, precision, home: load_quantized(path, device, precision),
        )
        reference_four_bit, reference_losses, reference, reference_base = _train(
            model_path, items, settings, tmp_path / "4bit"
        )

    assert four_bit == 0 and reference_four_bit > 0
    assert base == reference_base == model_path
    assert len(losses) == STEPS + 1 and all(loss > 0 for loss in losses)
    assert losses == reference_losses
    assert adapter.keys() == reference.keys()
    assert all(tensor.abs().sum() > 0 for tensor in adapter.values())
    for name, tensor in adapter.items():
        assert tensor.equal(reference[name]), name
