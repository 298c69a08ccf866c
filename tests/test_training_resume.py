"""Training epoch by epoch must be the very same training as one continuous run, also when the
epoch before was trained on another machine and its state comes from the hub."""

import shutil

import pytest
from safetensors.torch import load_file

from pricer.data.catalogue import generate_catalogue
from pricer.data.curation import CurationRules, curate
from pricer.data.sources import RawRow
from pricer.hub.local_git import LocalGitStore
from pricer.model.lora import LoraSettings
from pricer.training.settings import TrainingSettings
from pricer.training.state_in_hub import epoch_state_here, keep_epoch_state
from pricer.training.trainer import train_epoch


def test_epoch_by_epoch_equals_one_continuous_run(model_path, tokenizer, tmp_path):
    rows = [RawRow(i, r) for i, r in enumerate(generate_catalogue(size=40, bad_row_share=0))]
    items = curate(rows, tokenizer, CurationRules(max_text_tokens=20)).items[:16]
    settings = TrainingSettings(
        lora=LoraSettings(r=4, alpha=8),
        epochs=2,
        batch_size=4,
        learning_rate=2e-3,
        warmup_ratio=0.2,
        max_length=64,
    )

    def train(epoch, output, resume_from=None):
        return train_epoch(
            model_path, items, items[:4], settings, epoch, tmp_path / output, resume_from
        )

    continuous = train(2, "continuous")
    first = train(1, "by_epoch")
    # Epoch 2 on a machine without epoch 1's files: only the hub, kept outside them, has its state.
    store = LocalGitStore(tmp_path / "hub")
    repo_id = store.ensure_repo("by-epoch")
    keep_epoch_state(store, repo_id, first.checkpoint_dir, 1)
    shutil.rmtree(tmp_path / "by_epoch")
    fetched, was_fetched = epoch_state_here(store, repo_id, first.checkpoint_dir, 1)
    assert was_fetched and fetched == first.checkpoint_dir
    assert {"optimizer.pt", "scheduler.pt", "rng_state.pth"} <= {p.name for p in fetched.iterdir()}
    second = train(2, "by_epoch", fetched)

    split_losses = first.step_losses + second.step_losses
    assert (
        [s for s, _ in split_losses] == [s for s, _ in continuous.step_losses] == list(range(1, 9))
    )
    assert [loss for _, loss in split_losses] == pytest.approx(
        [loss for _, loss in continuous.step_losses], rel=1e-4
    )
    # One schedule across both epochs: warm-up, then cosine decay that is still high after epoch 1.
    rates = [lr for _, lr in first.step_learning_rates + second.step_learning_rates]
    assert rates == pytest.approx([lr for _, lr in continuous.step_learning_rates], rel=1e-6)
    assert first.learning_rate > 0.3 * settings.learning_rate > second.learning_rate
    # And the same adapter at the end.
    adapter = "adapter_model.safetensors"
    resumed = load_file(second.checkpoint_dir / adapter)
    direct = load_file(continuous.checkpoint_dir / adapter)
    assert resumed.keys() == direct.keys()
    for name, tensor in direct.items():
        assert resumed[name].float().allclose(tensor.float(), rtol=1e-3, atol=1e-5), name
