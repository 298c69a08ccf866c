"""The probability-weighted price: the model's expected price over the numbers it could write.

The course took the top-k numeric tokens at the first generated position and averaged their values
by probability, which works when one token holds the whole number. SmolLM2 writes one digit a
token, so a price is a path through several positions: here every whole-dollar price the model
could start writing is scored as the product of its tokens' probabilities times the probability
that a non-number token (".", the end token, ...) follows, and the expectation is taken over the
best-scoring paths, kept `beam_width` at a time. With number tokens of several digits (Llama 3
writes up to three a token) the same search applies, and a one-token price is the course's case.

Plain tensors in, plain values out: the model is reached only through `step`, so the search is
the same on a GPU, on the CPU, and against a hand-written distribution in a test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# Advances rows by one token: row i of the result continues row parents[i] of the previous call
# (of the prompt rows, on the first call) with tokens[i]; it returns next-token logits per row.
Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

BEAM_WIDTH = 8
MAX_DIGITS = 4  # up to $9,999: prices past the course's $999 cut stay representable
# Below this chance of writing a number at all, the model's own greedy text is trusted instead.
MIN_NUMBER_PROBABILITY = 0.5


@dataclass(frozen=True)
class NumberTokens:
    """The vocabulary's tokens made of digits only, with the number each one spells."""

    ids: torch.Tensor  # (K,) token ids
    values: torch.Tensor  # (K,) float64, the digits as a number
    lengths: torch.Tensor  # (K,) digits in each token


@dataclass(frozen=True)
class WeightedPrice:
    # None where the model is unlikely to write a number: the caller falls back to greedy.
    expected: float | None
    number_probability: float  # chance the first generated token is a number token
    candidates: tuple[tuple[float, float], ...]  # (price, probability) of every scored path


def number_tokens(tokenizer) -> NumberTokens:
    tokens = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    found = [(i, t) for i, t in enumerate(tokens) if t and t.isascii() and t.isdigit()]
    if not found:
        raise ValueError("the tokenizer has no token made of digits alone to score prices with")
    return NumberTokens(
        ids=torch.tensor([i for i, _ in found]),
        values=torch.tensor([float(t) for _, t in found], dtype=torch.float64),
        lengths=torch.tensor([len(t) for _, t in found]),
    )


def weighted_prices(
    first_logits: torch.Tensor,
    step: Step,
    numbers: NumberTokens,
    beam_width: int = BEAM_WIDTH,
    max_digits: int = MAX_DIGITS,
    min_number_probability: float = MIN_NUMBER_PROBABILITY,
) -> list[WeightedPrice]:
    """One WeightedPrice per row of `first_logits` (the logits at each prompt's first completion
    position); `step` is called `max_digits` times, each time with `beam_width` rows per prompt."""
    items = first_logits.shape[0]
    count = numbers.ids.numel()
    ids, lengths = numbers.ids.to(first_logits.device), numbers.lengths.to(first_logits.device)
    values = numbers.values.to(first_logits.device)
    log_probs = first_logits.float().log_softmax(-1)
    number_probability = log_probs[:, ids].logsumexp(-1).exp()
    # One beam per prompt to start with: the empty number, certain so far.
    beam_log_prob = torch.zeros(items, 1, device=first_logits.device)
    beam_value = torch.zeros(items, 1, dtype=torch.float64, device=first_logits.device)
    beam_digits = torch.zeros(items, 1, dtype=torch.long, device=first_logits.device)
    ended: list[tuple[torch.Tensor, torch.Tensor]] = []  # (values, probabilities), (items, beams)
    for depth in range(max_digits + 1):
        beams = beam_log_prob.shape[1]
        next_number = log_probs[:, ids].view(items, beams, count)
        if depth > 0:
            # A number ends where anything but a number token comes next.
            ending = beam_log_prob + _log_one_minus_exp(next_number.logsumexp(-1))
            ended.append((beam_value, ending.exp()))
        if depth == max_digits:
            break
        extended = beam_log_prob[..., None] + next_number
        digits = beam_digits[..., None] + lengths
        # Well-formed numbers only: "0" is a price and "05" is not, so each price has one path.
        if depth == 0:
            malformed = ((lengths > 1) & (values < 10.0 ** (lengths - 1)))[None, None, :]
        else:
            malformed = (beam_value == 0)[..., None]
        extended = extended.masked_fill(malformed | (digits > max_digits), float("-inf"))
        extended = extended.view(items, -1)
        beam_log_prob, flat = extended.topk(min(beam_width, extended.shape[1]), dim=-1)
        parent, token = flat // count, flat % count
        beam_value = beam_value.gather(1, parent) * 10.0 ** lengths[token] + values[token]
        beam_digits = beam_digits.gather(1, parent) + lengths[token]
        rows = torch.arange(items, device=parent.device)[:, None] * beams + parent
        log_probs = step(rows.flatten(), ids[token].flatten()).float().log_softmax(-1)
    return [
        _summarize(
            torch.cat([v[row] for v, _ in ended]),
            torch.cat([p[row] for _, p in ended]),
            float(number_probability[row]),
            min_number_probability,
        )
        for row in range(items)
    ]


def _summarize(
    values: torch.Tensor, probabilities: torch.Tensor, number_probability: float, floor: float
) -> WeightedPrice:
    kept = probabilities > 0  # a beam filled with an impossible path (too many digits) ends nowhere
    values, probabilities = values[kept].double(), probabilities[kept].double()
    total = float(probabilities.sum())
    expected = (
        float((values * probabilities).sum()) / total
        if number_probability >= floor and total > 0
        else None
    )
    candidates = tuple(
        (float(v), float(p)) for v, p in zip(values.tolist(), probabilities.tolist(), strict=True)
    )
    return WeightedPrice(expected, number_probability, candidates)


def _log_one_minus_exp(log_p: torch.Tensor) -> torch.Tensor:
    # log(1 - p) from log p; rounding can put log p a hair above 0, which means p = 1.
    return torch.log(-torch.expm1(log_p.clamp(max=0.0)))
