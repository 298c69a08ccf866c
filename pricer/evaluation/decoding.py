"""Batched decoding that reads each prompt once for both predictors.

The prompt's forward pass is nearly all the cost of pricing an item (a completion is a handful of
tokens). Greedy decoding and the probability-weighted price both start from the logits and the KV
cache that one pass leaves, so asking for the weighted price adds only its few short steps.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch

from pricer.data.prompts import parse_price
from pricer.evaluation.weighted import WeightedPrice, number_tokens, weighted_prices

# SmolLM2 writes one digit a token: "999.00" and the end token take 7.
MAX_NEW_TOKENS = 7


@dataclass(frozen=True)
class Decoded:
    completion: str  # the greedy text, as model.generate would write it
    weighted: WeightedPrice | None  # only when asked for

    def price(self, weighted: bool = False) -> float | None:
        """The weighted price where asked for and it could be taken, else the greedy one."""
        if weighted and self.weighted is not None and self.weighted.expected is not None:
            return self.weighted.expected
        return parse_price(self.completion)


class _Rows:
    """Rows of a batch that grow one token at a time over a shared KV cache."""

    def __init__(self, model, cache, attention_mask: torch.Tensor, positions: torch.Tensor):
        self.model = model
        self.cache = cache
        self.cache_keyword = _cache_keyword(model)
        self.attention_mask = attention_mask
        self.positions = positions  # where each row's next token goes, padding not counted

    def step(self, parents: torch.Tensor | None, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits after row `parents[i]` (row i if None) is extended by tokens[i]."""
        if parents is not None:
            self.cache.batch_select_indices(parents)
            self.attention_mask = self.attention_mask[parents]
            self.positions = self.positions[parents]
        self.attention_mask = torch.cat(
            [self.attention_mask, self.attention_mask.new_ones(len(tokens), 1)], dim=1
        )
        output = self.model(
            input_ids=tokens[:, None],
            attention_mask=self.attention_mask,
            position_ids=self.positions[:, None],
            use_cache=True,
            **{self.cache_keyword: self.cache},
            logits_to_keep=1,
        )
        self.positions = self.positions + 1
        return output.logits[:, -1].float()


@torch.inference_mode()
def decode(
    model,
    tokenizer,
    prompts: list[str],
    batch_size: int = 32,
    max_new_tokens: int = MAX_NEW_TOKENS,
    weighted: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Decoded]:
    """Greedy completions (and weighted prices) in the order given, from batches of prompts of
    equal length, so that no row is padded."""
    tokenizer.padding_side = "left"  # every row's completion starts at the right edge
    numbers = number_tokens(tokenizer) if weighted else None
    lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
    results: dict[int, Decoded] = {}
    device = next(model.parameters()).device
    for batch in equal_length_batches(lengths, batch_size):
        encoded = tokenizer(
            [prompts[i] for i in batch], return_tensors="pt", padding=True, add_special_tokens=False
        ).to(device)
        mask = encoded["attention_mask"]
        # As generate() numbers them: padding does not shift where a row's text sits.
        positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
        output = model(
            input_ids=encoded["input_ids"],
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        first = output.logits[:, -1].float()
        cache = getattr(output, _cache_keyword(model))
        next_position = positions[:, -1] + 1
        prices: list[WeightedPrice | None] = [None] * len(batch)
        if numbers is not None:
            # Its own copy of the prompt cache: the search reorders and grows rows as it goes.
            rows = _Rows(model, copy.deepcopy(cache), mask, next_position)
            prices = list(weighted_prices(first, rows.step, numbers))
        rows = _Rows(model, cache, mask, next_position)
        end_ids = _end_ids(model, tokenizer)
        completions = greedy_completions(rows, first, tokenizer, end_ids, max_new_tokens)
        for index, completion, price in zip(batch, completions, prices, strict=True):
            results[index] = Decoded(completion, price)
        if progress:
            progress(len(results), len(prompts))
    return [results[index] for index in range(len(prompts))]


def equal_length_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices in batches of prompts that all have the same length, longest first.

    A padded row goes through masked attention, which rounds differently in bf16, and its greedy
    price can then differ from the same prompt priced alone; in fp32 a batch without padding
    prices every row exactly as alone (in bf16 on a CPU with bf16 instructions, nearly: 4 greedy
    prices of 64 differed, docs/benchmarks.md). Real items are mostly cut to the same token
    budget, so batches stay big.
    """
    by_length: dict[int, list[int]] = {}
    for index, length in enumerate(lengths):
        by_length.setdefault(length, []).append(index)
    return [
        group[start : start + batch_size]
        for length in sorted(by_length, reverse=True)
        for group in [by_length[length]]
        for start in range(0, len(group), batch_size)
    ]


def greedy_completions(
    rows, first: torch.Tensor, tokenizer, end_ids: torch.Tensor, max_new_tokens: int
) -> list[str]:
    """Each row's greedy text from its first logits on; `rows.step(None, tokens)` gives the next
    logits (transformers' model here, serving's own decoder for `pricer predict`)."""
    token = first.argmax(-1)
    generated = [token]
    finished = torch.isin(token, end_ids)
    while len(generated) < max_new_tokens and not bool(finished.all()):
        token = rows.step(None, token).argmax(-1)
        # A finished row is padded, as generate() does, and decoding drops the padding.
        token = token.masked_fill(finished, tokenizer.pad_token_id)
        generated.append(token)
        finished |= torch.isin(token, end_ids)
    return tokenizer.batch_decode(torch.stack(generated, dim=1), skip_special_tokens=True)


def _cache_keyword(model) -> str:
    # transformers 5.24 renamed past_key_values to cache (the old name warns, then goes away);
    # earlier 5.x releases know only the old one.
    core = model.get_base_model() if hasattr(model, "get_base_model") else model  # under PEFT
    return "cache" if "cache" in inspect.signature(core.forward).parameters else "past_key_values"


def _end_ids(model, tokenizer) -> torch.Tensor:
    # generate() stops on the generation config's end tokens, which may be several.
    configured = getattr(model.generation_config, "eos_token_id", None)
    if configured is None:
        configured = tokenizer.eos_token_id
    ids = configured if isinstance(configured, list) else [configured]
    return torch.tensor(ids, device=next(model.parameters()).device)
