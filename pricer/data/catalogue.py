"""The embedded product catalogue: synthetic, deterministic, and mostly learnable from its text.

A price starts from the rule the text names: what the product is, its maker's tier and its size.
Then, as in real catalogues where the same product sells for different prices, it carries a
dispersion no text reveals: a log-normal factor, exp(N(0, price_dispersion)), drawn from a random
stream of its own so the texts are the same at every dispersion (and a small ±10% spread, from
the texts' stream). So no model can price these items better than the rule does: the rule's
error on a split is its noise floor. Texts keep details that do not set the price (brand, finish,
the order of features, fillers), so single items can still be memorised, which is what an adapter
trained too long does. Descriptions hold no digits at all, so the price cannot leak into the
prompt. A few rows are deliberately bad (too short, duplicated) so a demo shows curation at work.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

# (product, base price in dollars, phrases a description draws from)
_PRODUCTS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    (
        "USB Charging Cable",
        9.0,
        ("braided nylon jacket", "fast charging support", "reinforced connectors"),
    ),
    ("Phone Case", 14.0, ("shock absorbing corners", "raised camera lip", "slim grippy shell")),
    ("Coffee Mug", 12.0, ("glazed ceramic body", "comfortable handle", "dishwasher safe finish")),
    ("Kitchen Knife", 45.0, ("forged steel blade", "balanced handle", "razor sharp edge")),
    ("Desk Lamp", 38.0, ("adjustable arm", "warm and cool light modes", "touch dimmer")),
    (
        "Wireless Headphones",
        120.0,
        ("noise cancelling drivers", "all day battery", "plush ear cushions"),
    ),
    ("Office Chair", 230.0, ("lumbar support", "breathable mesh back", "smooth rolling casters")),
    (
        "Espresso Machine",
        420.0,
        ("pressurised brew group", "steam wand for milk", "stainless boiler"),
    ),
    ("Robot Vacuum", 310.0, ("smart mapping", "strong suction", "self charging dock")),
    ("Gaming Monitor", 340.0, ("high refresh panel", "vivid colour", "thin bezels")),
    ("Laptop Computer", 560.0, ("fast processor", "bright display", "long lasting battery")),
    ("Road Bicycle", 480.0, ("lightweight frame", "smooth shifting gears", "responsive brakes")),
)
_TIERS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("Basic", 0.55, ("Valuline", "Thriftco", "Budgetry")),
    ("Standard", 1.0, ("Northway", "Calder", "Brightfield")),
    ("Premium", 1.6, ("Aurelian", "Stellaris", "Vantagio")),
)
_SIZES: tuple[tuple[str, float], ...] = (("Compact", 0.8), ("Regular", 1.0), ("Large", 1.25))
_FINISHES = ("Graphite", "Ivory", "Sage", "Cobalt", "Crimson", "Sand", "Slate", "Teal")
_FILLER = (
    "Designed for everyday use at home or in the office.",
    "Backed by a friendly customer support team.",
    "Packaged with care and ready to give as a gift.",
    "Tested for quality before it leaves the factory.",
    "Easy to clean and simple to set up out of the box.",
    "A thoughtful design that fits neatly into any space.",
)


# The spread of prices the text cannot explain: the standard deviation of the log price factor.
PRICE_DISPERSION = 0.35


def generate_catalogue(
    size: int = 400,
    seed: int = 7,
    bad_row_share: float = 0.03,
    price_dispersion: float = PRICE_DISPERSION,
) -> list[dict]:
    """Rows in the same shape as a JSONL source: title, text, price, category."""
    if price_dispersion < 0 or not math.isfinite(price_dispersion):
        raise ValueError(f"price_dispersion must be 0 or more, got {price_dispersion}")
    rng = random.Random(seed)
    # Its own stream: the texts, drawn from `rng`, do not depend on the dispersion.
    dispersion = random.Random(f"price dispersion {seed}")
    rows: list[dict] = []
    for _ in range(size):
        product, base, phrases = rng.choice(_PRODUCTS)
        tier, tier_factor, brands = rng.choice(_TIERS)
        size_name, size_factor = rng.choice(_SIZES)
        brand = rng.choice(brands)
        price = base * tier_factor * size_factor * rng.uniform(0.9, 1.1)
        price *= math.exp(dispersion.gauss(0.0, price_dispersion))
        finish = rng.choice(_FINISHES)
        title = f"{brand} {tier} {size_name} {product}, {finish}"
        features = rng.sample(phrases, k=len(phrases))
        body = (
            f"The {brand} {product.lower()} in its {size_name.lower()} size is part of our "
            f"{tier.lower()} range. It offers {features[0]}, {features[1]} and {features[2]}. "
            + " ".join(rng.sample(_FILLER, k=4))
        )
        rows.append(
            {
                "title": title,
                "text": f"{title}\n{body}",
                "price": round(price, 2),
                "category": product,
            }
        )
    _spoil_some(rows, rng, bad_row_share)
    return rows


def _spoil_some(rows: list[dict], rng: random.Random, share: float) -> None:
    """Duplicate a few rows and cut a few texts short, as real scraped catalogues do."""
    count = int(len(rows) * share)
    for _ in range(count):
        rows.append(dict(rng.choice(rows)))
    for index in rng.sample(range(len(rows)), k=count):
        rows[index] = {**rows[index], "text": rows[index]["title"]}


_BASE_PRICES = {product: base for product, base, _ in _PRODUCTS}
_TIER_FACTORS = {tier: factor for tier, factor, _ in _TIERS}
_SIZE_FACTORS = dict(_SIZES)


def rule_price(text: str) -> float | None:
    """The price the text alone sets (product, tier, size, read from the title), or None for a
    text that is not this catalogue's. Every factor it leaves out has a median of about 1, so it
    is the best guess any model can make from the text."""
    title = text.split("\n", 1)[0]
    words, _, _finish = title.partition(", ")
    parts = words.split(" ", 3)
    if len(parts) != 4:
        return None
    _brand, tier, size, product = parts
    if tier not in _TIER_FACTORS or size not in _SIZE_FACTORS or product not in _BASE_PRICES:
        return None
    return _BASE_PRICES[product] * _TIER_FACTORS[tier] * _SIZE_FACTORS[size]


def rule_prices(texts: Iterable[str]) -> list[float] | None:
    """The rule's price for every text, or None unless every one is from this catalogue."""
    prices = [rule_price(text) for text in texts]
    return None if any(price is None for price in prices) else prices  # type: ignore[return-value]
