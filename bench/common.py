"""What every benchmark shares: real items, the model under test, and how results are printed."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from pricer.data.curation import CurationRules, curate
from pricer.data.items import Item
from pricer.data.sources import read_source
from pricer.model.source import EMBEDDED, resolve_base_model

# ../shared/data beside the checkout, or wherever PRICER_SHARED_DATA points (a GPU machine's copy).
SHARED_DATA = Path(
    os.environ.get("PRICER_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
REAL_FILE = "pricer_test_tail_1750.jsonl"
# With SmolLM2's tokenizer (one digit a token) the recipe's 182-token examples hold 158 of text.
TEXT_TOKENS = 158
LLAMA_8B_SHAPE = "llama-8b-shape"


# The real-data runs' pool, split and seed, fixed so that every run is judged on the same items.
REAL_POOL = ("pricer_train_250.jsonl", "pricer_6cat_2000.jsonl", "pricer_test_tail_1750.jsonl")
REAL_VALIDATION_ITEMS = 200
REAL_TEST_ITEMS = 250
REAL_SPLIT_SEED = 42


def real_pool_source() -> str:
    """The pool as a dataset source: its files, comma-separated."""
    paths = [SHARED_DATA / name for name in REAL_POOL]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"the real-data runs read {missing}; put ../shared beside the checkout")
    return ",".join(str(path) for path in paths)


def pricer_home() -> Path:
    return Path(os.environ.get("PRICER_HOME", ".pricer")).resolve()


def real_items(
    count: int, tokenizer, file: str = REAL_FILE, max_text_tokens: int = TEXT_TOKENS
) -> list[Item]:
    """The first `count` items of a real file, curated by the recipe's rules."""
    path = SHARED_DATA / file
    if not path.is_file():
        raise SystemExit(
            f"benchmarks read real data from {path}; put ../shared beside the checkout"
        )
    rules = CurationRules(max_text_tokens=max_text_tokens)
    items = curate(read_source(str(path)), tokenizer, rules).items
    if len(items) < count:
        raise SystemExit(f"{path.name} holds {len(items)} usable items, fewer than {count}")
    return items[:count]


def model_path(model: str) -> str:
    """A local folder for `model`: the embedded SmolLM2, an 8B-shaped random model, or a path."""
    if model == LLAMA_8B_SHAPE:
        from bench.random_llama import random_llama_8b

        return random_llama_8b(pricer_home() / "bench" / LLAMA_8B_SHAPE, model_path(EMBEDDED))
    return resolve_base_model(model, pricer_home() / "models")


def median(values: list[float]) -> float:
    return statistics.median(values)


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).rjust(w) for cell, w in zip(row, widths, strict=True)))


@dataclass(frozen=True)
class StepTiming:
    run_id: str
    step_key: str
    launch_to_start: float  # the step's process starting and importing, before the step begins
    launch_to_end: float


def step_timings(instance) -> list[StepTiming]:
    """Every successful step of every run on `instance`, timed from its event log."""
    import dagster as dg

    launched, begun, finished = {}, {}, {}
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or event.step_key is None:
                continue
            key = (run.run_id, event.step_key)
            if event.event_type == dg.DagsterEventType.STEP_WORKER_STARTING:
                launched[key] = entry.timestamp
            elif event.event_type == dg.DagsterEventType.STEP_START:
                begun[key] = entry.timestamp
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                finished[key] = entry.timestamp
    return [
        StepTiming(*key, start - launched[key], finished[key] - launched[key])
        for key, start in sorted(begun.items(), key=lambda item: item[1])
        if key in launched and key in finished
    ]


def use_scratch_homes(home: Path, instance_settings: str = "") -> None:
    """Point Dagster, pricer and W&B at folders under `home`. Step processes inherit the
    variables, so everything a run writes lands there."""
    os.environ.update(
        DAGSTER_HOME=str(home / "dagster"), PRICER_HOME=str(home / "pricer"), WANDB_MODE="offline"
    )
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").write_text(instance_settings)
