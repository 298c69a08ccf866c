"""On the CPU the LM head sees only the labelled positions, and training is still TRL's, bit for
bit: the same losses step by step and the same adapter; the evaluation loss agrees to rounding."""

import pytest
from safetensors.torch import load_file

from pricer.data.catalogue import generate_catalogue
from pricer.data.curation import CurationRules, curate
from pricer.data.sources import RawRow
from pricer.model.lora import LoraSettings
from pricer.training.settings import TrainingSettings
from pricer.training.trainer import build_trainer

STEPS = 3


def _train(model_path, items, settings, output_dir, labelled_only: bool):
    trainer = build_trainer(
        model_path, items, items[:2], settings, output_dir, device="cpu", max_steps=STEPS
    )
    if not labelled_only:
        # TRL's own loss, every position through the head: the reference to match.
        trainer._labelled_positions_only = lambda: False
    assert trainer._labelled_positions_only() is labelled_only
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    losses.append(trainer.evaluate()["eval_loss"])
    adapter = load_file(output_dir / f"checkpoint-{STEPS}" / "adapter_model.safetensors")
    return losses, adapter


def test_labelled_positions_train_exactly_as_trls_loss(model_path, tokenizer, tmp_path):
    rows = [RawRow(i, r) for i, r in enumerate(generate_catalogue(size=60, bad_row_share=0))]
    # Texts of different lengths: batches carry right padding as well as prompt positions.
    items = curate(rows, tokenizer, CurationRules(max_text_tokens=60)).items[:16]
    assert len({len(item.text) for item in items}) > 1
    settings = TrainingSettings(
        lora=LoraSettings(r=8, alpha=16),
        batch_size=4,
        learning_rate=2e-3,
        max_length=128,
        save_steps=STEPS,
    )

    reference_losses, reference = _train(model_path, items, settings, tmp_path / "trl", False)
    losses, adapter = _train(model_path, items, settings, tmp_path / "labelled", True)

    assert len(losses) == STEPS + 1 and all(loss > 0 for loss in losses)
    # Training is bit for bit. The evaluation loss, one mean over every labelled position of the
    # split, may round in its last bits: 6e-7 apart in fp32 on an AVX2 CPU (2026-12-06).
    assert losses[:STEPS] == reference_losses[:STEPS]
    assert losses[STEPS] == pytest.approx(reference_losses[STEPS], rel=1e-5)
    assert adapter.keys() == reference.keys()
    # Trained past the first step, where LoRA's A matrices still have no gradient.
    assert all(tensor.abs().sum() > 0 for tensor in adapter.values())
    for name, tensor in adapter.items():
        assert tensor.equal(reference[name]), name
