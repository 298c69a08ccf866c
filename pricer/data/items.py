"""A priced product, as the rest of pricer sees it once curation has accepted it."""

from __future__ import annotations

from dataclasses import dataclass

from pricer.data.prompts import make_completion, make_prompt


@dataclass(frozen=True)
class Item:
    text: str
    price: float
    category: str = ""

    @property
    def prompt(self) -> str:
        return make_prompt(self.text)

    @property
    def completion(self) -> str:
        return make_completion(self.price)
