"""How good a set of price guesses is: the course's dollar error, RMSLE and hit rate."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

HIT_DOLLARS = 40.0
HIT_FRACTION = 0.20


@dataclass(frozen=True)
class Scores:
    mean_abs_error: float
    rmsle: float
    hit_rate: float
    no_number: int  # outputs with no number in them, scored as a guess of $0
    count: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def is_hit(truth: float, guess: float) -> bool:
    error = abs(guess - truth)
    return error < HIT_DOLLARS or error < HIT_FRACTION * truth


def score(truths: list[float], guesses: list[float | None]) -> Scores:
    if not truths or len(truths) != len(guesses):
        raise ValueError("score needs as many guesses as truths, and at least one")
    filled = [max(guess, 0.0) if guess is not None else 0.0 for guess in guesses]
    errors = [abs(g - t) for g, t in zip(filled, truths, strict=True)]
    log_errors = [(math.log1p(g) - math.log1p(t)) ** 2 for g, t in zip(filled, truths, strict=True)]
    hits = sum(is_hit(t, g) for g, t in zip(filled, truths, strict=True))
    return Scores(
        mean_abs_error=sum(errors) / len(errors),
        rmsle=math.sqrt(sum(log_errors) / len(log_errors)),
        hit_rate=hits / len(truths),
        no_number=sum(guess is None for guess in guesses),
        count=len(truths),
    )
