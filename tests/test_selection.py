"""Choosing the best epoch and marking overfitting, from epoch records alone; and the run's ledger
of records that every decision reads."""

import pytest
from records import epoch_record, scores

from pricer.evaluation.baselines import MEAN, MEDIAN, RIDGE, UNTRAINED, WEIGHTED_UNTRAINED
from pricer.evaluation.epoch_record import EpochRecord, read_records, record_path, write_record
from pricer.evaluation.selection import (
    Selection,
    best_epoch,
    choose_best,
    overfitting_onset,
    select,
    should_stop_early,
    validation_loss_rising,
)


def records(errors, losses=None, tolerance=0.02):
    losses = losses or [1.0 - 0.1 * i for i in range(len(errors))]
    pairs = zip(losses, errors, strict=True)
    return [
        epoch_record(i + 1, loss, err, tolerance=tolerance) for i, (loss, err) in enumerate(pairs)
    ]


def test_best_epoch_is_lowest_validation_error_earliest_on_ties():
    assert best_epoch(records([90.0, 80.0, 80.0, 85.0])) == 2


def test_the_choice_reads_full_precision_not_the_rounded_display():
    # 80.00004 and 80.00001 both show as 80.0000 in metadata; the record still tells them apart.
    assert best_epoch(records([90.0, 80.00004, 80.00001])) == 3


def test_onset_is_first_epoch_worse_than_best_so_far_beyond_tolerance():
    assert overfitting_onset(records([90.0, 75.0, 76.0, 80.0, 85.0]), tolerance=0.02) == 4


def test_a_rise_that_later_epochs_recover_from_is_noise():
    assert overfitting_onset(records([90.0, 75.0, 120.0, 70.0]), 0.02) is None
    assert overfitting_onset(records([90.0, 75.0, 120.0, 70.0, 80.0]), 0.02) == 5


def test_noise_inside_tolerance_is_not_overfitting():
    assert overfitting_onset(records([90.0, 75.0, 76.4, 75.5]), tolerance=0.02) is None


def test_rising_error_while_training_loss_rises_too_is_not_overfitting():
    rising_loss = [1.0, 0.8, 0.9, 1.0]
    assert overfitting_onset(records([90.0, 75.0, 85.0, 95.0], rising_loss), 0.02) is None


def test_the_weighted_price_chooses_and_greedy_is_only_shown():
    # Greedy is best at epoch 3 and rises at 4; the weighted price is best at epoch 2 and rises
    # past the tolerance at 3: the weighted price's curve decides both.
    greedy = [90.0, 80.0, 70.0, 75.0]
    weighted = [85.0, 60.0, 66.0, 68.0]
    run = [
        epoch_record(e, 1.0 - 0.1 * e, g, weighted=(scores(w), scores(w + 5)))
        for e, (g, w) in enumerate(zip(greedy, weighted, strict=True), start=1)
    ]
    assert select(run) == Selection(2, 3)
    assert [r.greedy_validation_error for r in run] == greedy


def test_validation_loss_warns_from_its_first_rise_past_the_lowest_while_training_loss_falls():
    def run(validation_losses, train_losses=None):
        train_losses = train_losses or [1.0 - 0.1 * i for i in range(len(validation_losses))]
        return [
            epoch_record(e, t, 100.0 - e, validation_loss=v)
            for e, (t, v) in enumerate(zip(train_losses, validation_losses, strict=True), start=1)
        ]

    assert validation_loss_rising(run([1.0, 0.80, 0.81, 0.85, 0.9]), tolerance=0.02) == 4
    assert select(run([1.0, 0.80, 0.81, 0.85, 0.9])) == Selection(5, None, 4)
    # Within the tolerance, or recovered from, or while training loss rises too: no warning.
    assert validation_loss_rising(run([1.0, 0.80, 0.81, 0.805]), tolerance=0.02) is None
    assert validation_loss_rising(run([1.0, 0.80, 0.9, 0.7]), tolerance=0.02) is None
    assert validation_loss_rising(run([1.0, 0.8, 0.9], [1.0, 0.8, 0.9]), tolerance=0.02) is None
    # Records written before validation loss was kept read back as NaN and never warn.
    assert validation_loss_rising(run([float("nan")] * 3), tolerance=0.02) is None


def test_early_stopping_waits_for_patience():
    run = records([90.0, 75.0, 80.0])
    assert should_stop_early(run, patience=1, tolerance=0.02)
    assert not should_stop_early(run, patience=2, tolerance=0.02)
    assert should_stop_early(records([90.0, 75.0, 80.0, 81.0]), patience=2, tolerance=0.02)


def test_the_run_is_judged_at_its_own_tolerance():
    # 75 -> 80 is 6.7% worse: overfitting at 2%, noise at 10%, the tolerance the run trained with.
    assert select(records([90.0, 75.0, 80.0], tolerance=0.02)) == Selection(2, 3)
    assert select(records([90.0, 75.0, 80.0], tolerance=0.10)) == Selection(2, None)


def test_the_best_checkpoint_carries_every_epoch_and_the_baselines():
    baselines = {
        name: {"validation": scores(error), "test": scores(error)}
        for name, error in (
            (MEDIAN, 100.0),
            (MEAN, 110.0),
            (RIDGE, 60.0),
            (UNTRAINED, 300.0),
            (WEIGHTED_UNTRAINED, 280.0),
        )
    }
    best = choose_best(list(reversed(records([90.0, 75.0, 80.0]))), baselines)
    assert [r.epoch for r in best.epochs] == [1, 2, 3]
    assert best.chosen.epoch == 2 and best.overfitting_onset == 3
    assert best.revision == best.chosen.revision
    assert best.baseline_validation_errors == {MEDIAN: 100.0, RIDGE: 60.0, UNTRAINED: 300.0}
    with pytest.raises(LookupError, match="no scored epoch 7"):
        best.record(7)


def test_the_epoch_record_fields_are_pinned():
    # Everything downstream reads these: a renamed or dropped field must be a deliberate change.
    assert list(EpochRecord.__dataclass_fields__) == [
        "run_key",
        "epoch",
        "train_loss",
        "validation_loss",
        "validation",
        "test",
        "weighted_validation",
        "weighted_test",
        "revision",
        "settings",
        "predictions",
        "history",
        "precision",
    ]


def test_the_ledger_gives_back_every_record_exactly_and_in_order(tmp_path):
    written = records([90.123456789, 75.000001, 80.5])
    for record in reversed(written):
        write_record(tmp_path, record)
    assert read_records(tmp_path) == written
    assert read_records(tmp_path, through_epoch=2) == written[:2]
    assert read_records(tmp_path / "a run with no scored epoch") == []


def test_a_record_written_before_validation_loss_was_kept_reads_back_with_nan(tmp_path):
    path = write_record(tmp_path, records([90.0])[0])
    older = path.read_text().replace('"validation_loss": 0.9, ', "")
    assert "validation_loss" not in older
    path.write_text(older)
    (record,) = read_records(tmp_path)
    assert record.validation_loss != record.validation_loss


def test_a_damaged_record_is_named_with_what_to_do(tmp_path):
    write_record(tmp_path, records([90.0])[0])
    record_path(tmp_path, 1).write_text('{"run_key": "cut off')
    with pytest.raises(
        ValueError, match=r"epoch_1\.json is not a readable epoch record.*scores_epoch_1"
    ):
        read_records(tmp_path)
