"""A stop signal ends training at the next optimizer step, after a step checkpoint of that step.

Whatever stops a step (a run terminated from the UI, a Kubernetes pod or spot machine told to go)
would otherwise stop training mid-step and lose every step since the last `save_steps` checkpoint.
While an epoch trains, SIGINT and SIGTERM only note that a stop was asked for; the trainer then
saves at the end of the step in progress and stops (trainer.py's `_StopAtStepEnd`), and the epoch
raises:

- SIGINT raises KeyboardInterrupt, as Dagster expects of an interrupted step. Under the
  multiprocess executor this is the signal every step gets: the run worker turns its own
  SIGTERM, or a termination asked for in the UI, into SIGINT for its step processes. Dagster then
  ends the run CANCELED if a person asked to terminate it (nothing retries it), and FAILURE
  otherwise, which the daemon retries.
- SIGTERM, which reaches the step itself only where the step is its pod's own process (a
  step-per-pod executor), raises `StoppedBySignal`: a failure, retried likewise.

Either way the retry, or a re-execution from failure, resumes at the saved step.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StoppedBySignal(RuntimeError):
    """Training stopped on SIGTERM, its last step saved: a retry resumes from that step."""


# The first stop signal of the current training block: set by its handler, or by the ranks'
# agreement under DDP; cleared once the epoch has raised for it.
_received: signal.Signals | None = None


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
        if _received is None:
            _received = signal.Signals(number)
            return
        # Asked twice: the step is not reaching a step's end. Act as if never deferred.
        _restore(previous)
        signal.raise_signal(number)

    for number in STOP_SIGNALS:
        signal.signal(number, note)
    try:
        yield
    finally:
        _restore(previous)


def _restore(handlers: dict) -> None:
    for number, handler in handlers.items():
        if handler is not None:  # None: set from C, and Python cannot put it back
            signal.signal(number, handler)


def raise_if_stopped(global_step: int) -> None:
    global _received
    received, _received = _received, None
    if received is None:
        return
    message = (
        f"stopped by {received.name} after global step {global_step}, which is saved: a retry "
        "of this step resumes there"
    )
    if received == signal.SIGINT:
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
    if flag.item():  # every rank takes the same signal, so every rank raises alike
        _received = signal.Signals(int(flag.item()))
    return bool(flag.item())
