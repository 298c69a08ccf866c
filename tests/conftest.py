"""Shared fixtures: the real embedded model converted once, and the real data beside the repo."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pricer.model_source import EMBEDDED, resolve_base_model
from pricer.quantization import load_tokenizer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    # Real-data tests must fail, not skip, when the data is missing: a skip would hide it.
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real data expected at {SHARED_DATA} (the shared/ folder beside the checkout)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def pricer_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pricer_home")


@pytest.fixture(scope="session")
def model_path(pricer_home) -> str:
    """The embedded SmolLM2 GGUF, converted once per test session."""
    return resolve_base_model(EMBEDDED, pricer_home / "models")


@pytest.fixture(scope="session")
def tokenizer(model_path):
    return load_tokenizer(model_path)


# A tiny configuration of the real pipeline: the real embedded model, two epochs of a small slice
# of the embedded catalogue. Trained once per test session; end-to-end tests share it.
TINY_DATASET = {
    "catalogue_size": 140,
    "max_text_tokens": 24,
    "validation_size": 12,
    "test_size": 12,
}
TINY_TRAINING = {
    "epochs": 2,
    "batch_size": 8,
    "learning_rate": 1e-3,
    "lora_r": 8,
    "lora_alpha": 16,
    "max_length": 64,
}


@dataclass
class TrainedRun:
    instance: object  # dagster.DagsterInstance
    run_key: str
    epochs: int


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, pricer_home, model_path) -> Iterator[TrainedRun]:
    """The whole graph, materialized into a temporary DAGSTER_HOME."""
    import dagster as dg

    from pipelines.launch import prepare, train_new_run

    dagster_home = tmp_path_factory.mktemp("dagster_home")
    patch = pytest.MonkeyPatch()
    # Step processes inherit these: the instance and every working file stay in the temp dirs.
    patch.setenv("DAGSTER_HOME", str(dagster_home))
    patch.setenv("PRICER_HOME", str(pricer_home))
    patch.setenv("WANDB_MODE", "offline")
    try:
        with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
            prepare(instance, TINY_DATASET)
            run_key = train_new_run(instance, TINY_TRAINING)
            yield TrainedRun(instance, run_key, TINY_TRAINING["epochs"])
    finally:
        patch.undo()
