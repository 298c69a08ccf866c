"""Shaping domain results into Dagster metadata: typed numbers, tables and inline plots."""

import base64

import dagster as dg

from pricer.evaluation.metrics import Scores


def image(png: bytes, title: str) -> dg.MetadataValue:
    """An inline PNG the asset page renders as a picture."""
    return dg.MetadataValue.md(f"![{title}]({inline_png(png)})")


def inline_png(png: bytes) -> str:
    """A PNG as an image address that needs no file: markdown can show it anywhere."""
    return f"data:image/png;base64,{base64.b64encode(png).decode()}"


def tracking_link(mode: str, location: str) -> dg.MetadataValue:
    """Where an epoch's W&B run lives: a link online, the run's folder offline."""
    if not location:
        return dg.MetadataValue.text("tracking disabled")
    if mode == "online":
        return dg.MetadataValue.url(location)
    return dg.MetadataValue.path(location)


def slug(name: str) -> str:
    """A metadata key from a display name: "ridge on TF-IDF" -> "ridge_on_tfidf"."""
    return name.replace(" ", "_").replace("-", "").lower()


def scores(prefix: str, value: Scores) -> dict[str, dg.MetadataValue]:
    return {
        f"{prefix}_error": dg.MetadataValue.float(round(value.mean_abs_error, 4)),
        f"{prefix}_rmsle": dg.MetadataValue.float(round(value.rmsle, 4)),
        f"{prefix}_hit_rate": dg.MetadataValue.float(round(value.hit_rate, 4)),
        f"{prefix}_no_number": dg.MetadataValue.int(value.no_number),
    }
