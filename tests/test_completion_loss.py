"""The CPU loss over labelled positions only must be TRL's loss, bit for bit, gradients included."""

import torch
from trl import SFTTrainer

from pricer.catalogue import generate_catalogue
from pricer.curation import CurationRules, curate
from pricer.lora import LoraSettings
from pricer.settings import TrainingSettings
from pricer.sources import RawRow
from pricer.training import build_trainer


def _loss_and_gradients(compute_loss, trainer, batch, num_items_in_batch):
    model = trainer.model
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)  # the same LoRA dropout masks on both paths
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as the trainer runs a bf16 step
        loss = compute_loss(trainer, model, dict(batch), num_items_in_batch=num_items_in_batch)
    loss.backward()
    gradients = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), gradients


def test_labelled_positions_give_trls_loss_and_gradients(model_path, tokenizer, tmp_path):
    rows = [RawRow(i, r) for i, r in enumerate(generate_catalogue(size=40, bad_row_share=0))]
    # Texts of different lengths, so the batch has right padding as well as prompt positions.
    items = curate(rows, tokenizer, CurationRules(max_text_tokens=60)).items[:8]
    settings = TrainingSettings(lora=LoraSettings(r=8, alpha=16), batch_size=8, max_length=128)
    trainer = build_trainer(model_path, items, items[:2], settings, tmp_path, device="cpu")
    batch = next(iter(trainer.get_train_dataloader()))
    labels = batch["labels"][:, 1:]
    assert 0 < int((labels != -100).sum()) < labels.numel() // 3  # mostly prompt and padding
    assert bool((batch["attention_mask"] == 0).any())

    assert trainer._labelled_positions_only()
    for num_items_in_batch in (None, int((labels != -100).sum()) * 2):
        trl_loss, trl_gradients = _loss_and_gradients(
            SFTTrainer.compute_loss, trainer, batch, num_items_in_batch
        )
        loss, gradients = _loss_and_gradients(
            type(trainer).compute_loss, trainer, batch, num_items_in_batch
        )
        assert torch.isfinite(loss) and loss > 0
        assert torch.equal(loss, trl_loss)
        assert gradients.keys() == trl_gradients.keys()
        # LoRA's B starts at zero, so only the B matrices have a gradient at the first step.
        assert sum(bool(g.abs().sum() > 0) for g in gradients.values()) == len(gradients) // 2
        for name, gradient in gradients.items():
            assert torch.equal(gradient, trl_gradients[name]), name
