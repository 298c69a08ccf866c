"""Training-run names, in the course's style: pricer-2026-11-22_10.15.39."""

from __future__ import annotations

import re
from datetime import datetime

PREFIX = "pricer"
_PATTERN = re.compile(rf"^{PREFIX}-\d{{4}}-\d{{2}}-\d{{2}}_\d{{2}}\.\d{{2}}\.\d{{2}}$")


def new_run_key(now: datetime | None = None) -> str:
    return f"{PREFIX}-{(now or datetime.now()).strftime('%Y-%m-%d_%H.%M.%S')}"


def is_run_key(key: str) -> bool:
    return bool(_PATTERN.match(key))
