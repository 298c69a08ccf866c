"""Pricing descriptions with the ready decoder: both predictors from one prompt pass, in batches
of prompts of one token length, exactly as scoring decodes (evaluation/decoding.py)."""

from __future__ import annotations

import torch

from pricer.data.prompts import make_prompt
from pricer.evaluation.decoding import (
    MAX_NEW_TOKENS,
    Decoded,
    equal_length_batches,
    greedy_completions,
)
from pricer.evaluation.weighted import number_tokens, weighted_prices
from pricer.serving.decoder import Cache, LlamaDecoder
from pricer.serving.fast_tokenizer import FastTokenizer


class _Rows:
    """Rows over the decoder's cache, all at one position (no row is padded)."""

    def __init__(self, decoder: LlamaDecoder, cache: Cache, position: int):
        self.decoder, self.cache, self.position = decoder, cache, position

    def step(self, parents: torch.Tensor | None, tokens: torch.Tensor) -> torch.Tensor:
        if parents is not None:
            self.cache = [(k[parents], v[parents]) for k, v in self.cache]
        logits, self.cache = self.decoder.step(tokens, self.position, self.cache)
        self.position += 1
        return logits


def _cut_to_budget(tokenizer: FastTokenizer, texts: list[str], max_text_tokens: int) -> list[str]:
    """Each description cut to the text budget the model was trained with, as curation cuts it:
    a longer one would be a new task."""
    stripped = [text.strip() for text in texts]
    cut = []
    for text, ids in zip(stripped, tokenizer.encode(stripped), strict=True):
        cut.append(tokenizer.decode(ids[:max_text_tokens]) if len(ids) > max_text_tokens else text)
    return [text.strip() for text in cut]


@torch.inference_mode()
def price_descriptions(
    decoder: LlamaDecoder,
    tokenizer: FastTokenizer,
    texts: list[str],
    max_text_tokens: int,
    batch_size: int = 32,
    weighted: bool = True,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> list[Decoded]:
    """Greedy completions (and weighted prices) for `texts`, in the order given."""
    prompts = [make_prompt(text) for text in _cut_to_budget(tokenizer, texts, max_text_tokens)]
    encoded = tokenizer.encode(prompts)
    numbers = number_tokens(tokenizer) if weighted else None
    end_ids = torch.tensor(tokenizer.end_ids)
    results: dict[int, Decoded] = {}
    for batch in equal_length_batches([len(ids) for ids in encoded], batch_size):
        input_ids = torch.tensor([encoded[i] for i in batch])
        first, cache = decoder.prompt(input_ids)
        length = input_ids.shape[1]
        prices = [None] * len(batch)
        if numbers is not None:
            # The search reorders its own rows; the greedy rows keep the prompt cache as it was.
            prices = weighted_prices(first, _Rows(decoder, cache, length).step, numbers)
        rows = _Rows(decoder, cache, length)
        completions = greedy_completions(rows, first, tokenizer, end_ids, max_new_tokens)
        for index, completion, price in zip(batch, completions, prices, strict=True):
            results[index] = Decoded(completion, price)
    return [results[index] for index in range(len(texts))]
