"""A stop signal ends training at the next optimizer step, after a step checkpoint of that step.

Kubernetes and spot machines send SIGTERM before they kill; Dagster interrupts a terminated run's
step processes with SIGINT. Either would otherwise stop training mid-step and lose every step since
the last `save_steps` checkpoint. While an epoch trains, both only note that a stop was asked for;
the trainer then saves at the end of the step in progress and stops (trainer.py's
`_StopAtStepEnd`), and the epoch raises:

- SIGTERM raises `StoppedBySignal`, a failure: the daemon retries failed runs, and the retry
  resumes from the saved step (a preempted machine should come back).
- SIGINT raises KeyboardInterrupt, which Dagster reports as the run's cancellation: a person
  stopped it, and nothing retries it. Re-executing it from failure resumes from the saved step.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StoppedBySignal(RuntimeError):
    """Training stopped on SIGTERM, its last step saved: a retry resumes from that step."""


_received: signal.Signals | None = None  # set by the handler below, in the main thread


def stop_received() -> signal.Signals | None:
    """The stop signal noted while training, if one was (pause points end their wait on it)."""
    return _received


@contextmanager
def deferring_stop_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT are noted, not acted on. Signal handlers can only be
    set from the main thread; elsewhere signals keep their usual effect."""
    global _received
    _received = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}

    def note(number: int, _frame: object) -> None:
        global _received
        _received = signal.Signals(number)

    for number in STOP_SIGNALS:
        signal.signal(number, note)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def raise_if_stopped(global_step: int) -> None:
    if _received is None:
        return
    message = (
        f"stopped by {_received.name} after global step {global_step}, which is saved: a retry "
        "of this step resumes there"
    )
    if _received == signal.SIGINT:
        raise KeyboardInterrupt(message)
    raise StoppedBySignal(message)


def stop_everywhere() -> bool:
    """Under DDP every rank must stop at the same step, or the others wait in a collective
    forever: the ranks agree on whether any of them was signalled."""
    global _received
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return _received is not None
    import torch

    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    flag = torch.tensor([0 if _received is None else int(_received)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    if flag.item() and _received is None:
        _received = signal.Signals(int(flag.item()))
    return bool(flag.item())
