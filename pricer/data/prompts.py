"""The course's prompt format, and reading a price back out of what the model wrote."""

from __future__ import annotations

import re

QUESTION = "How much does this cost to the nearest dollar?"
PRICE_PREFIX = "Price is $"

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def make_prompt(text: str) -> str:
    """The part the model reads; training loss is never taken on it."""
    return f"{QUESTION}\n\n{text}\n\n{PRICE_PREFIX}"


def make_completion(price: float) -> str:
    """The part the model learns to write: whole dollars, as the course did."""
    return f"{round(price)}.00"


def parse_price(generated: str) -> float | None:
    """The first number after `Price is $` (or in the text, if the prefix was not echoed)."""
    _, found, after = generated.partition(PRICE_PREFIX)
    match = _NUMBER.search(after if found else generated)
    if match is None:
        return None
    return float(match.group().replace(",", ""))
