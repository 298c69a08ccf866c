"""What a checkpoint has to beat: constant guesses and a classical TF-IDF ridge regression; and,
on the embedded catalogue, what it cannot beat: the rule price's error, the noise floor."""

from __future__ import annotations

import math
import statistics

from pricer.data.catalogue import rule_prices
from pricer.data.items import Item
from pricer.evaluation.metrics import Scores, score

# Every baseline's name, as tables, metadata and the promotion rule call it.
MEDIAN = "median constant"
MEAN = "mean constant"
RIDGE = "ridge on TF-IDF"
UNTRAINED = "untrained base model"
WEIGHTED_UNTRAINED = "weighted untrained base model"  # the same model, probability-weighted price
NOISE_FLOOR = "noise floor (the catalogue's rule price)"

# baseline name -> split -> scores: what the baseline_scores asset holds.
BaselineScores = dict[str, dict[str, Scores]]


def constant_scores(train: list[Item], held_out: list[Item]) -> dict[str, Scores]:
    """The training median (the best constant for absolute error) and the training mean."""
    prices = [item.price for item in train]
    truths = [item.price for item in held_out]
    return {
        MEDIAN: score(truths, [statistics.median(prices)] * len(truths)),
        MEAN: score(truths, [statistics.fmean(prices)] * len(truths)),
    }


class RidgeOnTfidf:
    """Ridge regression on word 1-2-gram TF-IDF, fitted to log prices (errors scale with price)."""

    def __init__(self, alpha: float = 1.0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import Ridge

        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        self.model = Ridge(alpha=alpha)

    def fit(self, items: list[Item]) -> RidgeOnTfidf:
        features = self.vectorizer.fit_transform([item.text for item in items])
        self.model.fit(features, [math.log1p(item.price) for item in items])
        return self

    def predict(self, items: list[Item]) -> list[float]:
        logs = self.model.predict(self.vectorizer.transform([item.text for item in items]))
        return [math.expm1(value) for value in logs]


def ridge_scores(train: list[Item], held_out: list[Item]) -> Scores:
    guesses = RidgeOnTfidf().fit(train).predict(held_out)
    return score([item.price for item in held_out], list(guesses))


def noise_floor_scores(held_out: list[Item]) -> Scores | None:
    """The embedded catalogue's rule price scored on `held_out`: the error no model can beat,
    since the rest of each price is a dispersion no text reveals. None for other sources."""
    rules = rule_prices(item.text for item in held_out)
    if rules is None:
        return None
    return score([item.price for item in held_out], rules)
