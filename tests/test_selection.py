from pricer.evaluation.selection import (
    EpochRecord,
    best_epoch,
    overfitting_onset,
    should_stop_early,
)


def records(errors, losses=None):
    losses = losses or [1.0 - 0.1 * i for i in range(len(errors))]
    pairs = zip(losses, errors, strict=True)
    return [EpochRecord(i + 1, loss, err) for i, (loss, err) in enumerate(pairs)]


def test_best_epoch_is_lowest_validation_error_earliest_on_ties():
    assert best_epoch(records([90.0, 80.0, 80.0, 85.0])) == 2


def test_onset_is_first_epoch_worse_than_best_so_far_beyond_tolerance():
    assert overfitting_onset(records([90.0, 75.0, 76.0, 80.0, 85.0]), tolerance=0.02) == 4


def test_a_rise_that_later_epochs_recover_from_is_noise():
    assert overfitting_onset(records([90.0, 75.0, 120.0, 70.0])) is None
    assert overfitting_onset(records([90.0, 75.0, 120.0, 70.0, 80.0])) == 5


def test_noise_inside_tolerance_is_not_overfitting():
    assert overfitting_onset(records([90.0, 75.0, 76.4, 75.5]), tolerance=0.02) is None


def test_rising_error_while_training_loss_rises_too_is_not_overfitting():
    rising_loss = [1.0, 0.8, 0.9, 1.0]
    assert overfitting_onset(records([90.0, 75.0, 85.0, 95.0], rising_loss)) is None


def test_early_stopping_waits_for_patience():
    run = records([90.0, 75.0, 80.0])
    assert should_stop_early(run, patience=1)
    assert not should_stop_early(run, patience=2)
    assert should_stop_early(records([90.0, 75.0, 80.0, 81.0]), patience=2)
