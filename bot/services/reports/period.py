"""Periods in the shop's time zone → aware UTC bounds [start, end) for ``build_report``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_days(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """From the shop's midnight starting ``first`` to the midnight after ``last`` (inclusive)."""
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    start = datetime.combine(first, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return start, end


def previous_week(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday–Sunday of the week before ``now`` (P15: Monday's meeting looks at last week)."""
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday() + 7)
    return local_days(monday, monday + timedelta(days=6), tz)


def today_until(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The shop's day so far: the daily summary at the end of the last shift."""
    start, _ = local_days(now.astimezone(tz).date(), now.astimezone(tz).date(), tz)
    return start, now.astimezone(UTC)
