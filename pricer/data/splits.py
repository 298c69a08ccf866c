"""A deterministic train / validation / test split of curated items."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pricer.data.items import Item


@dataclass
class Splits:
    train: list[Item]
    validation: list[Item]
    test: list[Item]


def split_items(
    items: list[Item], validation_size: int, test_size: int, seed: int, train_size: int = 0
) -> Splits:
    """Shuffle with `seed`, then cut test first, then validation; the rest trains, or the first
    `train_size` of the rest when it is set (held-out splits stay the same whatever it is)."""
    if validation_size < 1 or test_size < 1:
        raise ValueError("validation_size and test_size must each be at least 1")
    if train_size < 0:
        raise ValueError(f"train_size cannot be negative, got {train_size}")
    if validation_size + test_size >= len(items):
        raise ValueError(
            f"only {len(items)} items after curation: too few for {validation_size} validation "
            f"and {test_size} test items with any left to train on"
        )
    order = list(items)
    random.Random(seed).shuffle(order)
    test = order[:test_size]
    validation = order[test_size : test_size + validation_size]
    train = order[test_size + validation_size :]
    if train_size and train_size < len(train):
        train = train[:train_size]
    return Splits(train=train, validation=validation, test=test)
