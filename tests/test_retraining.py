"""When retraining is due: cron ticks and content changes, as plain decisions on a cursor."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from pricer.training.retraining import CronError, latest_tick, on_cron, on_data

# A Wednesday evening.
NOW = datetime(2026, 11, 25, 21, 7, 30, tzinfo=UTC)


def tick(expression: str, now: datetime = NOW) -> datetime:
    return latest_tick(expression, now)


def test_a_weekly_tick_is_the_last_sunday_at_that_hour():
    found = tick("0 3 * * 0")
    days_since_sunday = (NOW.weekday() + 1) % 7
    assert found == (NOW - timedelta(days=days_since_sunday)).replace(
        hour=3, minute=0, second=0, microsecond=0
    )
    assert found.weekday() == 6  # Python counts Sunday as 6
    # Day of week 7 is Sunday too, and @weekly is Sunday midnight.
    assert tick("0 3 * * 7") == found
    assert tick("@weekly") == found.replace(hour=0)


def test_steps_ranges_and_lists_and_a_tick_at_now_itself():
    assert tick("*/15 * * * *") == NOW.replace(minute=0, second=0)
    on_the_tick = NOW.replace(minute=15, second=0)
    assert tick("*/15 * * * *", on_the_tick) == on_the_tick
    assert tick("5-20/5 8,21 * * *") == NOW.replace(minute=5, second=0)
    assert tick("30 8,22 * * *") == NOW.replace(hour=8, minute=30, second=0)
    assert tick("@daily") == NOW.replace(hour=0, minute=0, second=0)


def test_months_and_days_of_month_reach_back_across_years():
    assert tick("0 0 1 * *") == datetime(2026, 11, 1, tzinfo=UTC)
    assert tick("0 12 1 1 *") == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert tick("0 0 29 2 *") == datetime(2024, 2, 29, tzinfo=UTC)


def test_day_of_month_or_day_of_week_when_both_are_restricted():
    # The 24th was a Tuesday; the last Friday was the 20th.
    assert tick("0 12 24 * 5") == datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert tick("0 12 18 * 5") == datetime(2026, 11, 20, 12, tzinfo=UTC)
    # With the day of week left open, only the day of month counts.
    assert tick("0 12 18 * *") == datetime(2026, 11, 18, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    ["61 * * * *", "* * *", "a * * * *", "*/0 * * * *", "0 0 0 * *", "", "0 * * * * 30"],
)
def test_malformed_expressions_are_refused(expression):
    with pytest.raises(CronError, match=re.escape(repr(expression))):
        tick(expression)


def test_an_expression_that_never_fires_is_refused():
    with pytest.raises(CronError, match="never fires"):
        tick("0 0 30 2 *")


def test_the_first_look_at_a_cron_only_records_the_latest_tick():
    first = on_cron("0 3 * * 0", None, NOW)
    assert not first.start
    assert datetime.fromisoformat(first.cursor) == tick("0 3 * * 0")


def test_a_tick_later_than_the_cursor_starts_one_run_and_moves_the_cursor():
    latest = tick("0 * * * *")
    # Three hourly ticks were missed: they make one run, for the latest.
    due = on_cron("0 * * * *", (latest - timedelta(hours=3)).isoformat(), NOW)
    assert due.start and due.tick == latest
    assert due.cursor == latest.isoformat()
    again = on_cron("0 * * * *", due.cursor, NOW + timedelta(minutes=30))
    assert not again.start and again.cursor == due.cursor
    next_hour = on_cron("0 * * * *", due.cursor, NOW + timedelta(hours=1))
    assert next_hour.start and next_hour.tick == latest + timedelta(hours=1)


def test_data_starts_a_run_only_when_its_fingerprint_changes():
    baseline = on_data("aaaa", None)
    assert not baseline.start and baseline.cursor == "aaaa"
    assert not on_data("aaaa", "aaaa").start
    changed = on_data("bbbb", "aaaa")
    assert changed.start and changed.cursor == "bbbb"
