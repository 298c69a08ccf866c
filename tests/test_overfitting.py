"""Overfitting detection through the real pipeline, on a run trained well past its few items: 8
real products, six epochs at a high learning rate. What a user sees must agree with what the
epochs recorded: best_checkpoint's verdict is the project's rule applied to the validation errors
and training losses in the epochs' metadata, and the lineage graph marks exactly the epochs the
verdict calls overfitted.

Whether this run flags an onset is not asserted, because it rests on noise: after two or three
epochs its validation error is flat, and an adapter that has memorised its items validates no
worse (docs/real_data/overfitting.md). On the 2-core EPYC it flags one, so the red marks are seen
in a browser; a CPU whose bf16 kernels put the lowest point at the last epoch sees none and checks
that nothing is marked. The marks' own rule, failing at ERROR from the onset on, is tested on
arranged scores in test_overfitting_marks.py, on every machine."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browsing import (
    chromium,
    click_graph_node,
    failed_in_training,
    materialization_page,
    row_value,
    scores_colours,
    text_on_page,
)
from conftest import TrainedRun, materialized_run, serving_dagster_dev

from pipelines.launch import latest_metadata, stored_value
from pricer.evaluation.selection import best_epoch, overfitting_onset, validation_loss_rising
from pricer.training.settings import TrainingSettings

# Few items with short texts: cheap epochs. Validation and test items are held out from them by
# the split.
OVERFIT_DATASET = {
    "max_text_tokens": 24,
    "train_size": 8,
    "validation_size": 40,
    "test_size": 4,
}
# Many steps over those items at a learning rate far above the recipe's.
OVERFIT_TRAINING = {
    "epochs": 6,
    "batch_size": 2,
    "learning_rate": 3e-3,
    "lora_r": 16,
    "lora_alpha": 32,
    "max_length": 64,
    "seed": 42,
}


@dataclass(frozen=True)
class RecordedEpoch:
    """An epoch as its scores' materialization shows it in the UI."""

    epoch: int
    train_loss: float
    validation_error: float  # the weighted price's, which chooses
    validation_loss: float


@pytest.fixture(scope="module")
def overfit_run(tmp_path_factory, pricer_home, model_path, shared_data) -> Iterator[TrainedRun]:
    dataset = {**OVERFIT_DATASET, "source": str(shared_data / "pricer_train_250.jsonl")}
    dagster_home: Path = tmp_path_factory.mktemp("overfit_dagster_home")
    with materialized_run(dagster_home, pricer_home, dataset, OVERFIT_TRAINING) as run:
        yield run


def test_the_verdict_is_the_rule_applied_to_what_the_epochs_recorded(overfit_run):
    instance, run_key, epochs = overfit_run.instance, overfit_run.run_key, overfit_run.epochs
    verdict = latest_metadata(instance, "best_checkpoint", run_key)
    scored = {
        e: latest_metadata(instance, f"scores_epoch_{e}", run_key) for e in range(1, epochs + 1)
    }
    recorded = [
        RecordedEpoch(
            e,
            float(m["train_loss"]),
            float(m["weighted_validation_error"]),
            float(m["validation_loss"]),
        )
        for e, m in scored.items()
    ]
    tolerance = TrainingSettings().overfit_tolerance
    onset = overfitting_onset(recorded, tolerance)
    warning = validation_loss_rising(recorded, tolerance)
    expected = (
        best_epoch(recorded),
        onset if onset is not None else "none seen",
        warning if warning is not None else "not rising",
    )

    found = (
        verdict["chosen_epoch"],
        verdict["overfitting_onset"],
        verdict["validation_loss_rising_since"],
    )
    assert found == expected, f"recorded: {recorded}"


def test_the_lineage_graph_marks_the_overfitted_epochs_and_names_the_winner(overfit_run, tmp_path):
    best = stored_value(overfit_run.instance, "best_checkpoint", overfit_run.run_key)
    onset, epochs = best.selection.onset, range(1, overfit_run.epochs + 1)
    overfitted = [epoch for epoch in epochs if best.selection.overfitted(epoch)]
    with (
        chromium(tmp_path / "chromium_profile") as browser,
        serving_dagster_dev(overfit_run.instance.root_directory) as url,
    ):
        # Collapsed, the training group counts its failed assets: the epochs from the onset on,
        # whose overfitting checks failed at ERROR. Shown alone, its chain draws their scores red.
        assert failed_in_training(browser, url) == len(overfitted)
        colours = scores_colours(browser, url, overfit_run.epochs)
        assert colours == {epoch: "red" if epoch in overfitted else "green" for epoch in epochs}

        # The winner is one click away: best_checkpoint, in release, shows the chosen epoch beside
        # the graph, and its materialization names it.
        browser.get(f"{url}/asset-groups")
        click_graph_node(browser, "release")
        click_graph_node(browser, "best_checkpoint")
        text_on_page(browser, "chosen_epoch")
        text_on_page(browser, "beats_median_baseline")
        browser.get(materialization_page(url, "best_checkpoint", overfit_run.run_key))
        assert row_value(browser, "chosen_epoch") == str(best.selection.chosen)
        assert row_value(browser, "overfitting_onset") == str(onset or "none seen")
