"""When a new training run is due: a cron tick not yet acted on, or a source whose content changed.

Both decisions start from what was seen last time (a sensor's cursor) and say what to remember
next. The first look only records where things stand: like a schedule that is switched on, it
acts from the next tick or the next change, never on the past.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadDateError, CroniterError, croniter

# Minute, hour, day of month, month, day of week. croniter would also take seconds and years,
# which a sensor that looks once a minute cannot honour.
CRON_FIELDS = 5


class CronError(ValueError):
    """An expression that is not five-field cron, or one that never fires."""


@dataclass(frozen=True)
class Trigger:
    start: bool
    cursor: str  # what to remember for the next look
    reason: str
    tick: datetime | None = None  # the cron tick a started run answers


def on_cron(expression: str, cursor: str | None, now: datetime) -> Trigger:
    """Start once for the latest tick at or before `now`, if it is later than the one remembered.

    Ticks missed while nothing was looking collapse into one run: the latest.
    """
    tick = latest_tick(expression, now)
    if cursor is None:
        return Trigger(False, tick.isoformat(), f"'{expression}' acts from the tick after {tick}")
    last = datetime.fromisoformat(cursor)
    if tick <= last:
        return Trigger(False, cursor, f"no tick of '{expression}' since {last}")
    return Trigger(True, tick.isoformat(), f"tick {tick} of '{expression}'", tick)


def on_data(fingerprint: str, cursor: str | None) -> Trigger:
    """Start when the source's content hash differs from the one remembered."""
    if cursor is None:
        return Trigger(False, fingerprint, f"first look: content {fingerprint} is the baseline")
    if cursor == fingerprint:
        return Trigger(False, cursor, f"content unchanged ({fingerprint})")
    return Trigger(True, fingerprint, f"content changed: {cursor} -> {fingerprint}")


def latest_tick(expression: str, now: datetime) -> datetime:
    """The last moment at or before `now` that the expression fires, in UTC: five fields or a
    shorthand such as @weekly; as in cron, when both days are restricted either one matches."""
    found = len(expression.split())
    if not expression.strip().startswith("@") and found != CRON_FIELDS:
        raise CronError(
            f"{expression!r}: cron has {CRON_FIELDS} fields (minute hour day month weekday), "
            f"found {found}"
        )
    # croniter steps back from its start and never returns the start itself: begin a minute on.
    after = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    try:
        return croniter(expression, after).get_prev(datetime)
    except CroniterBadDateError:
        raise CronError(f"{expression!r} never fires") from None
    except CroniterError as error:
        raise CronError(f"{expression!r} is not a cron expression: {error}") from None
