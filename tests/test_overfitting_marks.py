"""The overfitting marks on arranged scores: the check select_best runs fails, at ERROR, for the
onset and every epoch after it, and passes for the rest. Run in process on a real (ephemeral)
Dagster instance, over epoch records written to the run's ledger as the scoring step writes them,
so the outcome rests on no training run's numbers."""

import dagster as dg
import pytest
from records import RUN_KEY, epoch_record

from assets.epoch_keys import scores_key
from assets.overfitting_marks import CHECK_NAME, WARNING_NAME, build_overfitting_marks
from assets.partitions import training_runs
from pricer.evaluation.epoch_record import write_record
from resources import ComputeResource

EPOCHS = 5
EPOCH_RANGE = range(1, EPOCHS + 1)


def run_marks(work_dir, records, check=CHECK_NAME) -> dict[int, dg.AssetCheckEvaluation]:
    compute = ComputeResource(work_dir=str(work_dir))
    for record in records:
        write_record(compute.run_dir(RUN_KEY), record)
    marks = build_overfitting_marks(EPOCHS)
    defs = dg.Definitions(
        assets=[dg.AssetSpec(scores_key(e), partitions_def=training_runs) for e in EPOCH_RANGE],
        asset_checks=[marks],
        jobs=[dg.define_asset_job("marks", dg.AssetSelection.checks(marks))],
        resources={"compute": compute},
    )
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(training_runs.name, [RUN_KEY])
    # The partition goes in as a tag: a job of checks alone has no assets to take it from.
    result = defs.resolve_job_def("marks").execute_in_process(
        instance=instance, tags={"dagster/partition": RUN_KEY}
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {CHECK_NAME, WARNING_NAME}
    return {
        int(e.asset_key.path[-1].rsplit("_", 1)[1]): e for e in evaluations if e.check_name == check
    }


def test_the_onset_and_every_later_epoch_fail_at_error(tmp_path):
    # Best at epoch 2; epoch 3 is within the 2% tolerance; epoch 4 rises 10% while training loss
    # still falls: the onset. Epoch 5 is worse still.
    errors = {1: 150.0, 2: 100.0, 3: 101.0, 4: 110.0, 5: 120.0}
    losses = {1: 2.0, 2: 1.5, 3: 1.0, 4: 0.5, 5: 0.2}
    records = [epoch_record(e, losses[e], errors[e]) for e in EPOCH_RANGE]

    marks = run_marks(tmp_path, records)

    assert [e for e, mark in sorted(marks.items()) if not mark.passed] == [4, 5]
    assert sorted(marks) == list(EPOCH_RANGE)
    assert {m.severity for m in marks.values()} == {dg.AssetCheckSeverity.ERROR}
    assert marks[4].metadata["overfitting_onset"].value == 4
    assert marks[2].metadata["chosen_epoch"].value == 2
    assert marks[5].metadata["above_best"].value == "+20.0%"


@pytest.mark.parametrize(
    "errors",
    [
        # A rise at epoch 3 that epoch 4 recovers from was noise; epoch 5 is within the tolerance.
        [150.0, 100.0, 130.0, 95.0, 96.0],
        # A run that stopped after three epochs is judged on them, and nothing is said of the rest.
        [150.0, 100.0, 101.0],
    ],
)
def test_a_run_without_an_onset_passes_every_epoch_it_trained(tmp_path, errors):
    records = [epoch_record(e, 2.0 / e, error) for e, error in enumerate(errors, start=1)]

    marks = run_marks(tmp_path, records)

    assert sorted(marks) == list(range(1, len(errors) + 1))
    assert all(m.passed for m in marks.values())


def test_validation_loss_rising_warns_from_its_first_rise_while_the_error_still_falls(tmp_path):
    # Validation loss is lowest at epoch 2 and past the 2% tolerance from epoch 4, while training
    # loss falls and the $ error goes on falling: a warning at WARN, no onset at ERROR.
    errors = {1: 150.0, 2: 120.0, 3: 110.0, 4: 100.0, 5: 95.0}
    validation_losses = {1: 1.0, 2: 0.8, 3: 0.81, 4: 0.85, 5: 0.9}
    train_losses = {1: 2.0, 2: 1.5, 3: 1.0, 4: 0.5, 5: 0.2}
    records = [
        epoch_record(e, train_losses[e], errors[e], validation_loss=validation_losses[e])
        for e in EPOCH_RANGE
    ]

    warnings = run_marks(tmp_path, records, check=WARNING_NAME)
    onsets = run_marks(tmp_path / "again", records)

    assert [e for e, mark in sorted(warnings.items()) if not mark.passed] == [4, 5]
    assert {m.severity for m in warnings.values()} == {dg.AssetCheckSeverity.WARN}
    assert warnings[4].metadata["validation_loss_rising_since"].value == 4
    assert warnings[5].metadata["above_lowest"].value == "+12.5%"
    assert all(mark.passed for mark in onsets.values())
