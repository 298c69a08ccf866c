"""How the model jobs start their step processes: forked from a server that has imported the
ML stack once per run.

Dagster's default start method spawns each step as a fresh interpreter, which then spends many
seconds importing torch, transformers, PEFT and TRL before it can load a model, on a small CPU
about as long as the scoring it is there to do (docs/benchmarks.md). With `forkserver`, each run
starts one server that imports them (`pipelines/preload_ml_stack.py`), and every step process is
forked from it with them already imported.

A forked process inherits the server's environment, not its launcher's. Under `dagster dev` every
run has a run worker of its own, so the server starts and ends with the run. A Python process that
launches several runs (the demo, the tests) launches each inside `fork_server_of_its_own()`
(through `pipelines.launch.launched`), one run at a time, so that each run's steps see the
environment the run was launched with.

The executor's settings are fixed where each job is defined, not in a run's config.
"""

from __future__ import annotations

import multiprocessing.forkserver
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

_FORK_SERVER = {"forkserver": {"preload_modules": ["dagster", "pipelines.preload_ml_stack"]}}


def model_job_executor(**settings: object) -> dg.ExecutorDefinition:
    """Dagster's multiprocess executor, forking each step from a preloaded server, with any other
    of its settings given."""
    return dg.multiprocess_executor.configured({"start_method": _FORK_SERVER, **settings})


@contextmanager
def fork_server_of_its_own() -> Iterator[None]:
    """Around launching one run from Python: its steps fork from a server started for it (at its
    first step, with the environment as it is then), and the server is gone after it, as under
    `dagster dev`. One run at a time: stopping the server waits for every process forked from it."""
    _stop_fork_server()
    try:
        yield
    finally:
        _stop_fork_server()


def _stop_fork_server() -> None:
    # The standard library keeps one server per process, started on first use, and offers no
    # public way to replace it.
    multiprocessing.forkserver._forkserver._stop()
