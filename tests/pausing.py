"""Killing a process from outside at one of pricer's pause points (pricer/pause_points.py)."""

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path


def arm(monkeypatch, points: list[str], folder: Path) -> None:
    """Make processes started from now on pause at `points`, in this order, once each."""
    monkeypatch.setenv("PRICER_PAUSE_AT", ",".join(points))
    monkeypatch.setenv("PRICER_PAUSE_DIR", str(folder))


def kill_when_paused(
    folder: Path, point: str, still_running: Callable[[], bool], timeout_s: float = 600
) -> dict:
    """Wait until a process pauses at `point`, SIGKILL it, and return what its marker says."""
    marker = folder / f"{point}.json"
    deadline = time.monotonic() + timeout_s
    while not marker.exists():
        if not still_running():
            raise AssertionError(f"the process ended without pausing at {point}")
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing paused at {point} in {timeout_s:.0f} s")
        time.sleep(0.2)
    paused = json.loads(marker.read_text())
    os.kill(paused["pid"], signal.SIGKILL)
    _wait_gone(paused["pid"])
    return paused


def _wait_gone(pid: int) -> None:
    # A killed child stays a zombie until its parent reaps it; /proc then says "Z".
    status = Path(f"/proc/{pid}/stat")
    while status.exists():
        try:
            if status.read_text().split(") ", 1)[1].startswith("Z"):
                return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.05)
