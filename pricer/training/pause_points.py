"""Named points where a training process can be made to stop and wait to be killed.

Off unless `PRICER_PAUSE_AT` is set. It lists points, comma-separated, in the order they are to be
reached, e.g. `PRICER_PAUSE_AT=early_in_epoch,save,hub_push`; `PRICER_PAUSE_DIR` names a folder.
A point that knows its epoch can be given one: `late_in_epoch@2` passes epoch 1 by and pauses in
epoch 2. On reaching the first listed point that has not paused yet, the process writes
`<PRICER_PAUSE_DIR>/<point as listed>.json` (its pid, the point and where it stood) and blocks, so
a test can SIGKILL it from outside, as a preempted machine would. At the points inside training
(early_in_epoch, late_in_epoch, save), a stop signal (stop_signals.py) ends the wait too, and
training stops at that step's end; elsewhere a signal acts as it always does. A point whose file
exists is passed, so the retried process goes on to the next one. The preemption test drives
this; see docs/preemption.md.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pricer.training.stop_signals import stop_received

POINTS = ("early_in_epoch", "late_in_epoch", "save", "hub_push", "evaluation")
# Nobody killed the process: fail loudly rather than hang a forgotten setting forever.
_WAIT_S = float(os.environ.get("PRICER_PAUSE_SECONDS", "600"))


def pause_at(point: str, **where: int | float | str) -> None:
    """Block here if `point` is the next armed pause point; otherwise return at once."""
    armed = [name.strip() for name in os.environ.get("PRICER_PAUSE_AT", "").split(",") if name]
    if not armed:
        return
    unknown = sorted({*(name.partition("@")[0] for name in armed), point} - set(POINTS))
    if unknown:
        raise ValueError(f"unknown pause point(s) {unknown}; the points are {POINTS}")
    folder = Path(os.environ["PRICER_PAUSE_DIR"])
    waiting = [name for name in armed if not (folder / f"{name}.json").exists()]
    if not waiting:
        return
    name, _, epoch = waiting[0].partition("@")
    if name != point or (epoch and str(where.get("epoch")) != epoch):
        return
    marker = folder / f"{waiting[0]}.json"
    # Written under another name and renamed: whoever waits for it never reads half a file.
    partial = marker.with_suffix(".partial")
    partial.write_text(json.dumps({"point": point, "pid": os.getpid(), **where}))
    partial.rename(marker)
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        if stop_received() is not None:
            return  # told to stop rather than killed: go on to the next step's end, and stop
        time.sleep(0.1)
    raise RuntimeError(f"paused at {point} for {_WAIT_S:.0f} s and was not killed")
