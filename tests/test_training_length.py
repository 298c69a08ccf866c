"""A price is never cut off: an example longer than max_length is refused, not truncated."""

import pytest

from pricer.data.curation import CurationRules, curate
from pricer.data.sources import read_source
from pricer.training.settings import TrainingSettings
from pricer.training.trainer import build_trainer


@pytest.fixture(scope="module")
def real_items(shared_data, tokenizer):
    # The recipe's 160-token text budget makes these 183-184 tokens with SmolLM2's tokenizer.
    rows = read_source(str(shared_data / "pricer_6cat_2000.jsonl"))[:40]
    return curate(rows, tokenizer, CurationRules()).items[:16]


def test_examples_longer_than_max_length_are_refused(real_items, model_path, tmp_path):
    with pytest.raises(ValueError, match="so its price would be cut off"):
        build_trainer(
            model_path, real_items, real_items, TrainingSettings(max_length=182), tmp_path
        )


def test_examples_within_max_length_keep_their_price_tokens(real_items, model_path, tmp_path):
    trainer = build_trainer(
        model_path, real_items, real_items, TrainingSettings(max_length=192), tmp_path
    )
    example = trainer.train_dataset[0]
    # The loss is on the completion only: exactly the price's tokens and the end token.
    learned = [token for token in example["labels"] if token != -100]
    decoded = trainer.processing_class.decode(learned, skip_special_tokens=True)
    assert decoded == real_items[0].completion
    assert example["input_ids"][-len(learned) :] == learned
