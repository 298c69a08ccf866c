"""The base model as it travels between steps: enough to load it again, never the model itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseModelSpec:
    model_id: str  # as the base model resource names it: "embedded", a Hub id or a folder
    name: str  # the name a model card gives as its base
    path: str  # the converted, loadable folder
    # What every step computes in (model/precision.py), chosen when the base is quantized.
    precision: str = "auto"
    origin: str = ""  # where the weights came from (model/provenance.py), for the model card
