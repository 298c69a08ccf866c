from __future__ import annotations

import dagster as dg
from pydantic import Field


class TrackerResource(dg.ConfigurableResource):
    """Weights & Biases: offline by default; online only when this says so."""

    mode: str = Field(default="offline", description="offline, online or disabled")
    project: str = "pricer"
    api_key: str | None = Field(default=None, description="for online mode; set it by EnvVar")
