"""Training-run names, in the course's style: pricer-2026-11-22_10.15.39."""

from __future__ import annotations

from datetime import datetime

PREFIX = "pricer"


def new_run_key(now: datetime | None = None) -> str:
    return f"{PREFIX}-{(now or datetime.now()).strftime('%Y-%m-%d_%H.%M.%S')}"
