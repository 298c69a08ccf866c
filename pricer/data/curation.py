"""Raw rows to training items by the course's rules, every rejection counted by its reason."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from pricer.data.items import Item
from pricer.data.sources import RawRow

# Characters kept before tokenizing: generous for the token budget, and it stops a single
# pathological multi-megabyte row from stalling the tokenizer.
_CHARS_PER_TOKEN_CEILING = 12


class Tokenizer(Protocol):
    def __call__(self, texts: list[str], add_special_tokens: bool = ...) -> dict: ...
    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...


@dataclass(frozen=True)
class CurationRules:
    min_price: float = 0.50
    max_price: float = 999.49
    min_chars: int = 200
    max_text_tokens: int = 160


@dataclass(frozen=True)
class Rejection:
    """Where a rejected row was and why, so a person can find it in the source."""

    origin: str
    line: int
    reason: str


@dataclass
class CurationResult:
    rows_in: int
    items: list[Item]
    rejected: Counter = field(default_factory=Counter)
    text_tokens: list[int] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def reject(self, row: RawRow, reason: str) -> None:
        self.rejected[reason] += 1
        self.rejections.append(Rejection(row.origin, row.line, reason))

    @property
    def rows_kept(self) -> int:
        return len(self.items)

    def rejection_summary(self) -> str:
        """Each reason with its count and the first row it rejected: where to look first."""
        first: dict[str, Rejection] = {}
        for rejection in self.rejections:
            first.setdefault(rejection.reason, rejection)
        return ", ".join(
            f"{reason} {count} (first at {first[reason].origin}:{first[reason].line})"
            for reason, count in self.rejected.most_common()
        )


def curate(rows: list[RawRow], tokenizer: Tokenizer, rules: CurationRules) -> CurationResult:
    result = CurationResult(rows_in=len(rows), items=[])
    candidates: list[tuple[RawRow, tuple[str, float, str]]] = []
    for row in rows:
        reason, candidate = _check_row(row, rules)
        if reason:
            result.reject(row, reason)
        else:
            candidates.append((row, candidate))

    truncated, lengths = _truncate(tokenizer, [text for _, (text, _, _) in candidates], rules)
    seen: set[str] = set()
    for (row, (_, price, category)), text, length in zip(
        candidates, truncated, lengths, strict=True
    ):
        # Duplicates are judged on what the model will see: two rows that differ only past the
        # token budget would otherwise teach two prices for one prompt, or leak into validation.
        key = " ".join(text.lower().split())
        if key in seen:
            result.reject(row, "duplicate")
            continue
        seen.add(key)
        result.items.append(Item(text=text, price=price, category=category))
        result.text_tokens.append(length)
    return result


def _check_row(row: RawRow, rules: CurationRules) -> tuple[str | None, tuple[str, float, str]]:
    if row.problem:
        return row.problem, ("", 0.0, "")
    price, problem = _as_price(row.fields.get("price"))
    if problem:
        return problem, ("", 0.0, "")
    if not rules.min_price <= price <= rules.max_price:
        return "price_out_of_range", ("", 0.0, "")
    text = row.fields.get("text")
    if not isinstance(text, str) or not text.strip():
        return "text_empty", ("", 0.0, "")
    text = text.strip()
    if len(text) < rules.min_chars:
        return "text_too_short", ("", 0.0, "")
    category = row.fields.get("category") or ""
    return None, (text[: rules.max_text_tokens * _CHARS_PER_TOKEN_CEILING], price, str(category))


def _as_price(value: object) -> tuple[float, str | None]:
    """The price, or why there is none: each reason is counted apart, as each has its own fix."""
    if isinstance(value, str):
        value = value.strip().lstrip("$").replace(",", "")
    if value is None or value == "":
        return 0.0, "price_missing"
    if isinstance(value, bool):
        return 0.0, "price_not_a_number"
    try:
        price = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0, "price_not_a_number"
    if not math.isfinite(price):  # NaN or infinity: a number in name only
        return 0.0, "price_not_a_number"
    # Never a price, whatever range is configured: a sign error, or a refund in the listing.
    return price, "price_negative" if price < 0 else None


def _truncate(
    tokenizer: Tokenizer, texts: list[str], rules: CurationRules
) -> tuple[list[str], list[int]]:
    if not texts:
        return [], []
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    cut = [ids[: rules.max_text_tokens] for ids in encoded]
    decoded = [
        text if len(ids) == len(kept) else tokenizer.decode(kept, skip_special_tokens=True).strip()
        for text, ids, kept in zip(texts, encoded, cut, strict=True)
    ]
    return decoded, [len(ids) for ids in cut]
