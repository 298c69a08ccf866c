"""A model job's step processes fork from a server that imported the ML stack before the step
began, and each run launched from Python gets a server of its own, started in the environment the
run was launched in (a server kept from an earlier run would hand its steps that run's)."""

import json
import os
import sys
from pathlib import Path

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob

from pipelines.launch import launched
from pipelines.step_processes import model_job_executor

ML_STACK = ("torch", "transformers", "peft", "trl")


@dg.op
def report_step_process() -> None:
    report = {
        "imported_before_the_step": [name for name in ML_STACK if name in sys.modules],
        "marker": os.environ["PROBE_MARKER"],
    }
    Path(os.environ["PROBE_REPORT"]).write_text(json.dumps(report))


@dg.job(executor_def=model_job_executor())
def probe_job() -> None:
    report_step_process()


def test_steps_start_with_the_ml_stack_imported_and_their_own_runs_environment(
    tmp_path, monkeypatch
):
    import torch

    # A CUDA or ROCm build of torch preloads torch alone (pipelines/preload_ml_stack.py).
    cpu_build = torch.version.cuda is None and torch.version.hip is None
    preloaded = list(ML_STACK) if cpu_build else ["torch"]
    # By file: the step processes cannot import this module by name.
    job = ReconstructableJob.for_file(__file__, "probe_job")
    reports = []
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        for marker in ("first run", "second run"):
            report = tmp_path / f"{marker}.json"
            monkeypatch.setenv("PROBE_MARKER", marker)
            monkeypatch.setenv("PROBE_REPORT", str(report))
            with launched(job, instance) as result:
                assert result.success
            reports.append(json.loads(report.read_text()))

    assert [r["imported_before_the_step"] for r in reports] == [preloaded, preloaded]
    assert [r["marker"] for r in reports] == ["first run", "second run"]
