"""An epoch killed mid-way resumes from its last whole step checkpoint, never a half-saved one; an
epoch told to stop saves the step in progress first. Either ends exactly where an epoch that was
never stopped ends."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pausing import arm, signal_when_paused

from pricer.data.catalogue import generate_catalogue
from pricer.data.curation import CurationRules, curate
from pricer.data.items import Item
from pricer.data.sources import RawRow
from pricer.model.lora import LoraSettings
from pricer.training.distributed import EpochSpec
from pricer.training.epoch_result import EpochResult
from pricer.training.settings import TrainingSettings
from pricer.training.trainer import train_epoch

SETTINGS = TrainingSettings(
    lora=LoraSettings(r=4, alpha=8),
    epochs=2,
    batch_size=4,  # 6 steps an epoch
    learning_rate=2e-3,
    warmup_ratio=0.2,
    max_length=64,
    save_steps=2,
)


@pytest.fixture(scope="module")
def items(tokenizer) -> list[Item]:
    rows = [RawRow(i, r) for i, r in enumerate(generate_catalogue(size=40, bad_row_share=0))]
    return curate(rows, tokenizer, CurationRules(max_text_tokens=20)).items[:24]


@pytest.fixture(scope="module")
def reference(model_path, items, tmp_path_factory) -> EpochResult:
    """Epoch 1 trained once, never stopped."""
    output = tmp_path_factory.mktemp("uninterrupted")
    return train_epoch(model_path, items, items[:4], SETTINGS, 1, output, None)


def _same_training(resumed: EpochResult, reference: EpochResult) -> None:
    assert [s for s, _ in resumed.step_losses] == [s for s, _ in reference.step_losses]
    assert [loss for _, loss in resumed.step_losses] == pytest.approx(
        [loss for _, loss in reference.step_losses], rel=1e-4
    )
    assert resumed.eval_loss == pytest.approx(reference.eval_loss, rel=1e-4)
    assert (resumed.steps_this_epoch, resumed.global_step) == (6, 6)


def _attempt(spec: Path, stderr: int | None = None) -> subprocess.Popen:
    """Epoch 1 in a process of its own, trained as the torchrun entry point trains it."""
    command = [sys.executable, "-m", "pricer.training.distributed", str(spec)]
    return subprocess.Popen(command, stderr=stderr, text=True)


def test_killed_epoch_resumes_from_its_last_whole_checkpoint(
    model_path, items, reference, tmp_path, monkeypatch
):

    # Each attempt is a process of its own, training epoch 1 as the torchrun entry point does.
    output = tmp_path / "killed"
    spec = tmp_path / "epoch.json"
    spec.write_text(EpochSpec(model_path, items, items[:4], SETTINGS, 1, output, None).to_json())
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    epoch_dir = output / "epoch_1"
    for points in (["late_in_epoch"], ["late_in_epoch", "save"]):
        arm(monkeypatch, points, pauses)
        attempt = _attempt(spec)
        paused = signal_when_paused(pauses, points[-1], lambda p=attempt: p.poll() is None)
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
        model_path, items, items[:4], SETTINGS, 1, output, None, progress=lines.append
    )
    assert "epoch 1: from global step 4, resumed from epoch_1/checkpoint-4" in lines
    assert [p.name for p in epoch_dir.glob("checkpoint-*")] == ["checkpoint-6"]
    assert not any((epoch_dir / ".unpublished").iterdir())  # the half-saved step 6 is gone
    assert resumed.checkpoint_dir == epoch_dir / "checkpoint-6"
    _same_training(resumed, reference)


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_saves_the_step_in_progress_and_the_retry_redoes_none(
    sent, model_path, items, reference, tmp_path, monkeypatch
):
    output = tmp_path / "stopped"
    spec = tmp_path / "epoch.json"
    spec.write_text(EpochSpec(model_path, items, items[:4], SETTINGS, 1, output, None).to_json())
    pauses = tmp_path / "pauses"
    pauses.mkdir()
    epoch_dir = output / "epoch_1"
    raised = "StoppedBySignal" if sent == signal.SIGTERM else "KeyboardInterrupt"
    # Told to stop at two points, each in an attempt of its own: during step 3, one step after the
    # save_steps checkpoint of step 2, then during step 5, one step after step 4's.
    stops = [  # (pause point, the step the attempt begins at, the step it is stopped in)
        ("early_in_epoch", "0, from scratch", 3),
        ("late_in_epoch", "3, resumed from epoch_1/checkpoint-3", 5),
    ]
    for armed, (point, began, step) in enumerate(stops, start=1):
        arm(monkeypatch, [p for p, _, _ in stops[:armed]], pauses)
        attempt = _attempt(spec, stderr=subprocess.PIPE)
        paused = signal_when_paused(pauses, point, lambda a=attempt: a.poll() is None, sent=sent)
        _, errors = attempt.communicate(timeout=300)
        assert paused["global_step"] == step
        assert attempt.returncode != 0
        # Each attempt began where the one before it stopped: no completed step was trained again.
        assert f"epoch 1: from global step {began}" in errors
        assert (
            f"{raised}: stopped by {sent.name} after global step {step}, which is saved" in errors
        )
        assert [p.name for p in epoch_dir.glob("checkpoint-*")] == [f"checkpoint-{step}"]

    lines: list[str] = []
    monkeypatch.delenv("PRICER_PAUSE_AT")
    resumed = train_epoch(
        model_path, items, items[:4], SETTINGS, 1, output, None, progress=lines.append
    )
    assert "epoch 1: from global step 5, resumed from epoch_1/checkpoint-5" in lines
    _same_training(resumed, reference)
