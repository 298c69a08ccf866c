"""The weighted price's search against a hand-written language model whose numbers take several
tokens of several digits each, so every expectation can be worked out by hand."""

import math

import pytest
import torch

from pricer.evaluation.weighted import number_tokens, weighted_prices

VOCABULARY = ["<end>", ".", "x", "0", "1", "2", "5", "12", "05", "250"]


class Vocabulary:
    """Just what number_tokens reads from a tokenizer."""

    def __len__(self) -> int:
        return len(VOCABULARY)

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        return [VOCABULARY[i] for i in ids]


# Next-token probabilities after each text written so far; anything unlisted is impossible.
# "12" can be spelt "1" then "2" or as the single token "12": both paths count.
TABLE = {
    "": {"1": 0.5, "12": 0.2, "250": 0.1, "x": 0.2},
    "1": {".": 0.6, "2": 0.4},
    "12": {".": 1.0},
    "250": {"<end>": 0.5, "5": 0.5},
    "2505": {".": 1.0},
}
# A second prompt in the same batch, with other numbers, to catch rows crossing over.
OTHER = {
    "": {"5": 0.7, "0": 0.1, "05": 0.1, "<end>": 0.1},
    "5": {".": 0.5, "0": 0.5},
    "50": {".": 1.0},
    "0": {".": 0.9, "5": 0.1},
}


class TableModel:
    """A language model read off tables: one table per prompt row."""

    def __init__(self, tables: list[dict[str, dict[str, float]]]):
        self.tables = tables
        self.rows = [(table, "") for table in tables]

    def logits(self, table: dict, text: str) -> torch.Tensor:
        probabilities = table.get(text, {"<end>": 1.0})
        return torch.tensor(
            [math.log(probabilities[t]) if t in probabilities else -math.inf for t in VOCABULARY]
        )

    def first(self) -> torch.Tensor:
        return torch.stack([self.logits(table, text) for table, text in self.rows])

    def step(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        self.rows = [
            (self.rows[p][0], self.rows[p][1] + VOCABULARY[t])
            for p, t in zip(parents.tolist(), tokens.tolist(), strict=True)
        ]
        return torch.stack([self.logits(table, text) for table, text in self.rows])


def search(tables, **options):
    model = TableModel(tables)
    return weighted_prices(model.first(), model.step, number_tokens(Vocabulary()), **options)


def totals(price) -> dict[float, float]:
    """Probability per price, summed over the paths that spell it."""
    found: dict[float, float] = {}
    for value, probability in price.candidates:
        found[value] = found.get(value, 0.0) + probability
    return found


def test_number_tokens_are_the_digit_only_tokens():
    numbers = number_tokens(Vocabulary())
    assert [VOCABULARY[i] for i in numbers.ids.tolist()] == ["0", "1", "2", "5", "12", "05", "250"]
    assert numbers.values.tolist() == [0, 1, 2, 5, 12, 5, 250]
    assert numbers.lengths.tolist() == [1, 1, 1, 1, 2, 2, 3]


def test_a_wide_search_takes_the_exact_expectation_over_every_spelling():
    (price,) = search([TABLE], beam_width=50)
    # 1 ends with .5*.6; 12 two ways (.5*.4 and .2); 250 with .1*.5; 2505 with .1*.5.
    exact = {1.0: 0.3, 12.0: 0.4, 250.0: 0.05, 2505.0: 0.05}
    assert totals(price) == pytest.approx(exact)
    assert price.number_probability == pytest.approx(0.8)
    assert price.expected == pytest.approx(sum(v * p for v, p in exact.items()) / 0.8)


def test_digit_budget_drops_longer_numbers():
    (price,) = search([TABLE], beam_width=50, max_digits=3)
    assert max(value for value, _ in price.candidates) == 250
    assert price.expected == pytest.approx((0.3 * 1 + 0.4 * 12 + 0.05 * 250) / 0.75)


def test_a_narrow_beam_keeps_the_likeliest_paths():
    # Width 1: "1" (.5) beats "12" (.2) and "250" (.1), then "1" + "2" (.2) is the only way on.
    (price,) = search([TABLE], beam_width=1)
    assert totals(price) == pytest.approx({1.0: 0.3, 12.0: 0.2})
    assert price.expected == pytest.approx((0.3 * 1 + 0.2 * 12) / 0.5)


def test_rows_of_a_batch_keep_their_own_numbers():
    alone = search([OTHER], beam_width=50)[0]
    first, second = search([TABLE, OTHER], beam_width=50)
    assert first == search([TABLE], beam_width=50)[0]
    assert second == alone
    # "05" is no way to write a price: only "0", "5" and "50" are scored.
    assert totals(second) == pytest.approx({0.0: 0.09, 5.0: 0.35, 50.0: 0.35})


def test_no_price_when_the_model_would_rather_not_write_a_number():
    words = {"": {"x": 0.6, "5": 0.4}, "5": {".": 1.0}}
    (price,) = search([words])
    assert price.number_probability == pytest.approx(0.4)
    assert price.expected is None
    (lenient,) = search([words], min_number_probability=0.3)
    assert lenient.expected == pytest.approx(5.0)
