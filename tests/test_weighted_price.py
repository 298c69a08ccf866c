"""Both predictors on the real embedded SmolLM2, whose tokenizer writes one digit a token."""

import math

import pytest
import torch

from pricer.data.curation import CurationRules, curate
from pricer.data.items import Item
from pricer.data.sources import read_source
from pricer.evaluation.decoding import MAX_NEW_TOKENS, decode
from pricer.evaluation.scoring import evaluate, load_for_pricing
from pricer.evaluation.weighted import number_tokens
from pricer.model.precision import choose_precision

# Twenty examples that all answer 37: the model copies the pattern with little doubt.
FORCED = "Price is $37.00\n" * 20 + "Price is $"
# How far a searched price's log probability may sit from scoring it alone, by the precision the
# CPU computes in. bf16 logits differ by a few hundredths between batch shapes: the largest gap
# seen was 0.161 (on an AMX Xeon, these prompts; 0.123 on 12 others), so 0.25. In fp32 the two
# agreed to 1e-4 there; other CPUs' fp32 logits differ by up to 4e-5 between batch shapes
# (test_fast_predict), summed over a price's few digits: 0.01 leaves room. A wrong position, mask
# or parent row moves a probability far more.
LOG_PROBABILITY_TOLERANCE = {"fp32": 0.01, "bf16": 0.25}


@pytest.fixture(scope="module")
def model(model_path):
    return load_for_pricing(model_path, device="cpu")[0]


@pytest.fixture(scope="module")
def real_items(shared_data, tokenizer) -> list[Item]:
    # Three items of different lengths among the first ones, the shortest: quick to score.
    rows = read_source(str(shared_data / "pricer_test_tail_1750.jsonl"))[:60]
    items = curate(rows, tokenizer, CurationRules(max_text_tokens=60)).items
    by_length = {len(tokenizer(i.prompt, add_special_tokens=False)["input_ids"]): i for i in items}
    return [by_length[length] for length in sorted(by_length)[:3]]


@pytest.fixture(scope="module")
def real_prompts(real_items) -> list[str]:
    return [item.prompt for item in real_items]


@pytest.fixture(scope="module")
def decoded(model, tokenizer, real_prompts):
    """Both predictors on the real items, in one call."""
    return decode(model, tokenizer, real_prompts, batch_size=len(real_prompts), weighted=True)


def test_smollm2_numbers_take_one_token_a_digit(tokenizer):
    numbers = number_tokens(tokenizer)
    assert sorted(numbers.values.tolist()) == list(range(10))
    assert len(tokenizer("123", add_special_tokens=False)["input_ids"]) == 3


def test_greedy_completions_are_what_generate_writes(model, tokenizer, real_prompts, decoded):
    expected = []
    for prompt in real_prompts:
        encoded = tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            generated = model.generate(
                **encoded,
                max_new_tokens=MAX_NEW_TOKENS,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = generated[0, encoded["input_ids"].shape[1] :]
        expected.append(tokenizer.decode(new_tokens, skip_special_tokens=True))
    # Computed in the same passes as the weighted price, and no different for it.
    assert [d.completion for d in decoded] == expected


def test_a_forced_price_is_its_own_expectation(model, tokenizer):
    (decoded,) = decode(model, tokenizer, [FORCED], weighted=True)
    price = decoded.weighted
    assert decoded.completion.startswith("37.00")
    best_value, best_probability = max(price.candidates, key=lambda c: c[1])
    # A 135M model in 4 bits keeps about a tenth of its belief for other numbers (4, 40, 42...).
    assert best_value == 37.0 and best_probability > 0.85
    assert price.number_probability > 0.99
    assert price.expected == pytest.approx(37.0, rel=0.03)


def test_candidate_probabilities_match_scoring_each_price_alone(
    model, tokenizer, real_prompts, decoded
):
    precision = choose_precision("auto", "cpu").name
    """The search grows beams through a KV cache whose rows it reorders at every digit; scoring
    the same prices with one plain forward pass over prompt and digits, no cache, must agree."""
    digit_ids = number_tokens(tokenizer).ids
    for prompt, result in zip(real_prompts, decoded, strict=True):
        likeliest = sorted(result.weighted.candidates, key=lambda c: -c[1])[:3]
        alone = _price_probabilities(
            model, tokenizer, prompt, [str(int(v)) for v, _ in likeliest], digit_ids
        )
        for (value, probability), reference in zip(likeliest, alone, strict=True):
            gap = abs(math.log(probability) - math.log(reference))
            assert gap < LOG_PROBABILITY_TOLERANCE[precision], (value, gap, prompt)


def test_weighted_guesses_fall_back_to_greedy_only_where_unscored(
    model, tokenizer, real_items, decoded
):
    evaluation = evaluate(model, tokenizer, real_items, weighted=True)
    weighted = evaluation.weighted
    assert weighted is not None and len(weighted.guesses) == len(real_items)
    expected = [d.weighted.expected for d in decoded]
    assert weighted.guesses == [
        e if e is not None else g for e, g in zip(expected, evaluation.guesses, strict=True)
    ]
    assert weighted.fallbacks == expected.count(None)


def _price_probabilities(model, tokenizer, prompt: str, prices: list[str], digit_ids) -> list:
    """P(the digits of each price, then anything but a digit), teacher-forced in one batch."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    rows = [prompt_ids + tokenizer(p, add_special_tokens=False)["input_ids"] for p in prices]
    width = max(len(r) for r in rows)
    # Padding on the right: a causal model's earlier positions never see it.
    ids = torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    with torch.inference_mode():
        log_probs = model(input_ids=ids, attention_mask=mask).logits.float().log_softmax(-1)
    start = len(prompt_ids) - 1  # the position whose logits predict the first digit
    found = []
    for row, ids_of_row in zip(log_probs, rows, strict=True):
        digits = ids_of_row[len(prompt_ids) :]
        total = sum(float(row[start + i, t]) for i, t in enumerate(digits))
        ending = 1.0 - float(row[start + len(digits), digit_ids].exp().sum())
        found.append(math.exp(total) * ending)
    return found
