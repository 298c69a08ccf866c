"""An epoch killed mid-way resumes from its last whole step checkpoint, never a half-saved one,
and ends exactly where an epoch that was never killed ends."""

import subprocess
import sys

import pytest
from pausing import arm, kill_when_paused

from pricer.data.catalogue import generate_catalogue
from pricer.data.curation import CurationRules, curate
from pricer.data.sources import RawRow
from pricer.model.lora import LoraSettings
from pricer.training.distributed import EpochSpec
from pricer.training.settings import TrainingSettings
from pricer.training.trainer import train_epoch


def test_killed_epoch_resumes_from_its_last_whole_checkpoint(
    model_path, tokenizer, tmp_path, monkeypatch
):
    rows = [RawRow(i, r) for i, r in enumerate(generate_catalogue(size=40, bad_row_share=0))]
    items = curate(rows, tokenizer, CurationRules(max_text_tokens=20)).items[:24]
    settings = TrainingSettings(
        lora=LoraSettings(r=4, alpha=8),
        epochs=2,
        batch_size=4,  # 6 steps an epoch
        learning_rate=2e-3,
        warmup_ratio=0.2,
        max_length=64,
        save_steps=2,
    )
    reference = train_epoch(
        model_path, items, items[:4], settings, 1, tmp_path / "uninterrupted", None
    )

    # Each attempt is a process of its own, training epoch 1 as the torchrun entry point does.
    output = tmp_path / "killed"
    spec = tmp_path / "epoch.json"
    spec.write_text(EpochSpec(model_path, items, items[:4], settings, 1, output, None).to_json())
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    epoch_dir = output / "epoch_1"
    for points in (["late_in_epoch"], ["late_in_epoch", "save"]):
        arm(monkeypatch, points, pauses)
        attempt = subprocess.Popen([sys.executable, "-m", "pricer.training.distributed", str(spec)])
        paused = kill_when_paused(pauses, points[-1], lambda p=attempt: p.poll() is None)
        attempt.wait()
        # Killed after step 5, then while saving step 6: only step 4's checkpoint is whole.
        assert paused["global_step"] == {"late_in_epoch": 5, "save": 6}[points[-1]]
        assert [p.name for p in epoch_dir.glob("checkpoint-*")] == ["checkpoint-4"]
    half_saved = epoch_dir / ".unpublished" / "checkpoint-6"
    assert (half_saved / "adapter_model.safetensors").exists()
    assert not (half_saved / "optimizer.pt").exists()

    lines: list[str] = []
    monkeypatch.delenv("PRICER_PAUSE_AT")
    resumed = train_epoch(
        model_path, items, items[:4], settings, 1, output, None, progress=lines.append
    )
    assert "epoch 1: from global step 4, resumed from epoch_1/checkpoint-4" in lines
    assert [p.name for p in epoch_dir.glob("checkpoint-*")] == ["checkpoint-6"]
    assert not any((epoch_dir / ".unpublished").iterdir())  # the half-saved step 6 is gone
    assert resumed.checkpoint_dir == epoch_dir / "checkpoint-6"
    assert [s for s, _ in resumed.step_losses] == [s for s, _ in reference.step_losses]
    assert [loss for _, loss in resumed.step_losses] == pytest.approx(
        [loss for _, loss in reference.step_losses], rel=1e-4
    )
    assert resumed.eval_loss == pytest.approx(reference.eval_loss, rel=1e-4)
    assert (resumed.steps_this_epoch, resumed.global_step) == (6, 6)
