"""Cron expressions (minute hour day-of-month month day-of-week, in UTC) and their latest tick.

Five fields of numbers, `*`, ranges `a-b`, steps `/n` and comma lists, plus the @hourly, @daily,
@weekly and @monthly shorthands. As in cron, a day matches when either the day of month or the
day of week matches if both are restricted; day of week 0 and 7 are both Sunday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SHORTHANDS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
# (lowest, highest) of minute, hour, day of month, month, day of week.
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_MINUTE = timedelta(minutes=1)
# The rarest day an expression can name, February 29, comes round at least every 8 years.
_SEARCH_YEARS = 9


class CronError(ValueError):
    """An expression that is not cron, or one that never fires."""


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def matches_day(self, moment: datetime) -> bool:
        day = moment.day in self.days
        weekday = (moment.weekday() + 1) % 7 in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day or weekday
        return day and weekday


def parse_cron(expression: str) -> Cron:
    fields = SHORTHANDS.get(expression.strip(), expression).split()
    if len(fields) != len(_BOUNDS):
        raise CronError(f"{expression!r}: a cron expression has 5 fields, found {len(fields)}")
    minutes, hours, days, months, weekdays = (
        _field(expression, text, low, high)
        for text, (low, high) in zip(fields, _BOUNDS, strict=True)
    )
    return Cron(
        expression,
        minutes,
        hours,
        days,
        months,
        frozenset(day % 7 for day in weekdays),
        fields[2] != "*",
        fields[4] != "*",
    )


def _field(expression: str, text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span == "*":
                first, last = low, high
            else:
                first_text, _, last_text = span.partition("-")
                first = int(first_text)
                last = int(last_text) if last_text else (high if step_text else first)
        except ValueError:
            raise CronError(f"{expression!r}: {part!r} is not a number, range or step") from None
        if step < 1 or not low <= first <= last <= high:
            raise CronError(f"{expression!r}: {part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def latest_tick(cron: Cron, now: datetime) -> datetime:
    """The last moment at or before `now` (UTC) that the expression fires."""
    moment = now.astimezone(UTC).replace(second=0, microsecond=0)
    earliest = moment - timedelta(days=366 * _SEARCH_YEARS)
    while moment >= earliest:
        # Each miss jumps back to the last minute of the month, day or hour before it.
        if moment.month not in cron.months:
            moment = moment.replace(day=1, hour=0, minute=0) - _MINUTE
        elif not cron.matches_day(moment):
            moment = moment.replace(hour=0, minute=0) - _MINUTE
        elif moment.hour not in cron.hours:
            moment = moment.replace(minute=0) - _MINUTE
        elif moment.minute not in cron.minutes:
            moment -= _MINUTE
        else:
            return moment
    raise CronError(f"{cron.expression!r} never fires")
