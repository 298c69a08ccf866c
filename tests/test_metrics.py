import math

import pytest

from pricer.evaluation.metrics import is_hit, score


def test_hit_is_under_forty_dollars_or_twenty_percent():
    assert is_hit(100.0, 139.0)
    assert not is_hit(100.0, 141.0)
    assert is_hit(500.0, 590.0)  # $90 off but under 20%
    assert not is_hit(500.0, 610.0)


def test_scores_by_hand():
    scores = score([100.0, 10.0], [150.0, 10.0])
    assert scores.mean_abs_error == pytest.approx(25.0)
    assert scores.rmsle == pytest.approx(math.sqrt((math.log(151 / 101) ** 2) / 2))
    assert scores.hit_rate == pytest.approx(0.5)
    assert scores.no_number == 0


def test_missing_guess_counts_as_zero_and_is_reported():
    scores = score([20.0, 30.0], [None, 30.0])
    assert scores.no_number == 1
    assert scores.mean_abs_error == pytest.approx(10.0)


def test_score_refuses_mismatched_lengths():
    with pytest.raises(ValueError):
        score([1.0], [])
