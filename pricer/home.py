"""Where pricer keeps its working files when nobody says otherwise."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """Models, trainer state, offline runs and the local hub: $PRICER_HOME, else ./.pricer."""
    return Path(os.environ.get("PRICER_HOME", str(Path.cwd() / ".pricer")))
