"""The environment variables the code location reads, checked as it loads: a wrong value stops the
load with one line naming the variable and what it takes, before any run can start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pricer.model.precision import AUTO, PRECISIONS
from pricer.training.tracking import MODES as TRACKER_MODES
from resources.hub import KINDS as HUB_KINDS


class SettingError(ValueError):
    """An environment variable the code location cannot load with."""


@dataclass(frozen=True)
class LocationSettings:
    max_epochs: int  # epoch assets per run, fixed at load: a run may train fewer, never more
    hub: str
    tracker: str
    training_processes: int
    precision: str  # "auto" (chosen by the hardware) or one forced: model/precision.py
    base_model: str
    retrain_cron: str
    watch_source: str | None


def read_settings(env: Mapping[str, str] = os.environ) -> LocationSettings:
    hub = env.get("PRICER_HUB", "local")
    if hub not in HUB_KINDS:
        raise SettingError(f"PRICER_HUB={hub!r}: use one of {', '.join(HUB_KINDS)}")
    tracker = env.get("PRICER_TRACKER", "offline")
    if tracker not in TRACKER_MODES:
        raise SettingError(f"PRICER_TRACKER={tracker!r}: use one of {', '.join(TRACKER_MODES)}")
    precision = env.get("PRICER_PRECISION", AUTO)
    if precision != AUTO and precision not in PRECISIONS:
        choices = ", ".join((AUTO, *PRECISIONS))
        raise SettingError(f"PRICER_PRECISION={precision!r}: use one of {choices}")
    return LocationSettings(
        max_epochs=_whole_number(env, "PRICER_MAX_EPOCHS", "6"),
        hub=hub,
        tracker=tracker,
        training_processes=_whole_number(env, "PRICER_TRAINING_PROCESSES", "1"),
        precision=precision,
        base_model=env.get("PRICER_BASE_MODEL", "embedded"),
        retrain_cron=env.get("PRICER_RETRAIN_CRON", "0 3 * * 0"),  # Sundays 03:00 UTC
        watch_source=env.get("PRICER_WATCH_SOURCE") or None,
    )


def _whole_number(env: Mapping[str, str], name: str, default: str) -> int:
    text = env.get(name, default)
    if not text.strip().isdigit() or int(text) < 1:
        raise SettingError(f"{name}={text!r}: use a whole number, 1 or more")
    return int(text)
