"""Is a person on duty, and if not, when is the next one back (P24)?

One question behind one protocol, so the shift calendar (issue 5) can replace the default that
only looks at the configured agents and a daily shift start.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Protocol

from bot.settings import Settings
from storage.repositories import Repo


class DutyRoster(Protocol):
    async def next_human_at(self, repo: Repo, now: datetime) -> datetime | None:
        """None while someone is on duty; otherwise when the next shift starts (aware UTC)."""
        ...


class ConfiguredRoster:
    """Someone is on duty whenever the roster (agents table) has agents; else people return at
    ``shift_start``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def next_human_at(self, repo: Repo, now: datetime) -> datetime | None:
        if await repo.agents.roster_ids():
            return None
        return next_daily(now, self.settings.shift_start, self.settings)


def next_daily(now: datetime, hh_mm: str, settings: Settings) -> datetime:
    """The next moment (strictly after ``now``) the shop's local clock shows ``hh_mm``."""
    hour, minute = (int(part) for part in hh_mm.split(":"))
    local = now.astimezone(settings.tz)
    candidate = datetime.combine(local.date(), time(hour, minute), tzinfo=settings.tz)
    if candidate <= local:
        candidate = datetime.combine(
            local.date() + timedelta(days=1), time(hour, minute), tzinfo=settings.tz
        )
    return candidate.astimezone(now.tzinfo)


def format_next_open(when: datetime, now: datetime, lang: str, settings: Settings) -> str:
    """ "明天 09:00" / "9:00 tomorrow": the shop's local time, said the shopper's way."""
    local, today = when.astimezone(settings.tz), now.astimezone(settings.tz).date()
    days = (local.date() - today).days
    clock = local.strftime("%H:%M")
    if lang.startswith("zh"):
        day = {0: "今天", 1: "明天", 2: "后天"}.get(days, f"{local.month}月{local.day}日")
        return f"{day} {clock}"
    english_clock = f"{local.hour}:{local.minute:02d}"
    day = {0: "today", 1: "tomorrow"}.get(days, f"on {local.day} {local.strftime('%B')}")
    return f"{english_clock} {day}"
