"""The embedded product catalogue: synthetic, deterministic, and learnable from its text.

A price is set by what the product is, its maker's tier and its size, all of which the text names,
plus a little noise. Descriptions hold no digits at all, so the price cannot leak into the prompt.
A few rows are deliberately bad (too short, duplicated) so a demo shows curation at work.
"""

from __future__ import annotations

import random

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


def generate_catalogue(size: int = 400, seed: int = 7, bad_row_share: float = 0.03) -> list[dict]:
    """Rows in the same shape as a JSONL source: title, text, price, category."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for _ in range(size):
        product, base, phrases = rng.choice(_PRODUCTS)
        tier, tier_factor, brands = rng.choice(_TIERS)
        size_name, size_factor = rng.choice(_SIZES)
        brand = rng.choice(brands)
        price = base * tier_factor * size_factor * rng.uniform(0.9, 1.1)
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
