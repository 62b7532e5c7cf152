"""When can a person reply to this shopper? One answer for everything the bot promises (P24).

The escalation reply, the queue estimate, holding replies, the off-hours notice and the FAQ's
service-hours answer all ask :meth:`Staffing.at`, so they can never disagree. The answer comes
from the shift calendar (P11) when the owner turned it on (``/shifts on``), else from the shop's
service hours (``SERVICE_HOURS``, default the policy's ``mon-sat 18:30-24:00; sun
09:30-24:00``, or ``always``), and from which agents are actually present (``/on`` ``/off``,
``/duty``): nobody present, nobody can answer soon, whatever the hours say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.services import shifts as sh
from bot.services.shifts import on_duty as calendar_on_duty
from bot.services.staff import calendar_enabled
from bot.settings import Settings
from phrases.catalogue import PhraseCatalogue, say
from storage.models.agents import Agent
from storage.repositories import Repo

ALWAYS = "always"
# The policy's hours (P11), the default of SERVICE_HOURS.
POLICY_HOURS = "mon-sat 18:30-24:00; sun 09:30-24:00"


def parse_service_hours(text: str) -> sh.Pattern | None:
    """``'mon-sat 18:30-24:00; sun 09:30-24:00'`` → a weekly pattern; ``'always'`` → None.

    Days not named are closed. Raises ValueError with what to write instead.
    """
    text = text.strip().lower()
    if text == ALWAYS:
        return None
    pattern: sh.Pattern = dict.fromkeys(range(7))
    parts = [part for part in text.split(";") if part.strip()]
    if not parts:
        raise ValueError(f"write e.g. {POLICY_HOURS!r} or {ALWAYS!r}")
    for part in parts:
        pattern = sh.parse_pattern_line(part, pattern)
    if all(hours is None for hours in pattern.values()):
        raise ValueError(f"no day has hours; write e.g. {POLICY_HOURS!r} or {ALWAYS!r}")
    return pattern


@dataclass(frozen=True)
class ServiceHours:
    """A weekly pattern in the shop's time zone; ``pattern`` None means round the clock."""

    pattern: sh.Pattern | None
    tz: ZoneInfo

    @property
    def always(self) -> bool:
        return self.pattern is None

    def windows(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        assert self.pattern is not None
        out, day = [], first
        while day <= last:
            hours = self.pattern.get(day.weekday())
            if hours is not None:
                out.append(sh.window(day, hours, self.tz))
            day += timedelta(days=1)
        return out

    def is_open(self, now: datetime) -> bool:
        if self.pattern is None:
            return True
        today = now.astimezone(self.tz).date()
        return any(start <= now < end
                   for start, end in self.windows(today - timedelta(days=1), today))

    def next_opening(self, now: datetime) -> datetime | None:
        """The next start of service hours strictly after ``now`` (None: always open)."""
        if self.pattern is None:
            return None
        today = now.astimezone(self.tz).date()
        starts = [start for start, _ in self.windows(today, today + timedelta(days=7))
                  if start > now]
        return min(starts) if starts else None

    def text(self, lang: str) -> str:
        """``'周一至周六 18:30–24:00，周日 09:30–24:00'`` / ``'Mon–Sat 18:30–24:00, Sun
        09:30–24:00'``: consecutive days with the same hours grouped."""
        zh = lang.startswith("zh")
        if self.pattern is None:
            return "全天24小时" if zh else "around the clock"
        names = ZH_DAYS if zh else EN_DAYS
        groups: list[tuple[int, int, tuple[str, str]]] = []
        for day in range(7):
            hours = self.pattern.get(day)
            if hours is None:
                continue
            if groups and groups[-1][1] == day - 1 and groups[-1][2] == hours:
                groups[-1] = (groups[-1][0], day, hours)
            else:
                groups.append((day, day, hours))
        parts = []
        for first, last, (start, end) in groups:
            days = names[first] if first == last else (
                f"{names[first]}至{names[last]}" if zh else f"{names[first]}–{names[last]}")
            parts.append(f"{days} {start}–{end}")
        return ("，" if zh else ", ").join(parts)


# Weekday names for the hours as text; everything the shopper reads around them is phrase data.
ZH_DAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
EN_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Availability:
    """The answer at one moment: who can reply now, else when people are back."""

    now: datetime
    present: tuple[int, ...]  # agents (Telegram ids) who can reply now, in service hours
    next_open: datetime | None  # not soon: when people are back (None: not known)
    hours: ServiceHours

    @property
    def soon(self) -> bool:
        """Someone can answer within the SLA: "please wait" is true."""
        return bool(self.present)


async def on_duty_agents(repo: Repo, now: datetime) -> list[Agent]:
    """Agents whose switch is on: ``/on`` ``/off``, or, once the owner turned the shift
    calendar on (``/shifts on``), those of the running shift (P11) and those who switched
    themselves on (``/duty on``). Whatever the service hours say: who can *take a chat* is
    :meth:`Staffing.present_agents`, which also asks the hours."""
    if not await calendar_enabled(repo):
        return await repo.agents.on_duty()
    ids = set(await calendar_on_duty(repo, now))
    return [agent for agent in await repo.agents.all() if agent.telegram_user_id in ids]


class Staffing:
    """Answers :meth:`at`; long-lived, holds the shop's service hours from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hours = ServiceHours(parse_service_hours(settings.service_hours), settings.tz)

    async def at(self, repo: Repo, now: datetime) -> Availability:
        """Who can reply now, else when people are back (P11 calendar, else service hours)."""
        calendar = await calendar_enabled(repo)
        agents = await self._present(repo, now, calendar)
        if calendar:
            hours = ServiceHours(await sh.load_pattern(repo), await sh.shop_tz(repo))
            if agents:
                return Availability(now, _ids(agents), None, hours)
            return Availability(now, (), await sh.next_shift_start(repo, now), hours)
        if agents:
            return Availability(now, _ids(agents), None, self.hours)
        return Availability(now, (), self.hours.next_opening(now), self.hours)

    async def present_agents(self, repo: Repo, now: datetime) -> list[Agent]:
        """Who can take a chat now: the agents :meth:`at` calls present (the queue assigns
        only to them, so it never hands over a chat the shopper was told waits for the next
        opening, P24)."""
        return await self._present(repo, now, await calendar_enabled(repo))

    async def _present(self, repo: Repo, now: datetime, calendar: bool) -> list[Agent]:
        # With the calendar the running shift is the hours; without it, the service hours.
        if not calendar and not self.hours.is_open(now):
            return []
        return await on_duty_agents(repo, now)

    async def next_human_at(self, repo: Repo, now: datetime) -> datetime | None:
        """None while someone can answer soon; else when people are back."""
        return (await self.at(repo, now)).next_open


def said_values(
    available: Availability, lang: str, settings: Settings, catalogue: PhraseCatalogue
) -> dict[str, object]:
    """The placeholders every sentence about people uses, in the shopper's words:
    ``next_open`` (None unless people are away and their return is known), ``service_hours``
    and ``next_opening`` (a phrase: online now / back at … / back later)."""
    next_open = (format_next_open(available.next_open, available.now, lang, settings)
                 if available.next_open is not None else None)
    values: dict[str, object] = {"next_open": next_open,
                                 "service_hours": available.hours.text(lang)}
    tag = "now" if available.soon else "later" if next_open else "unknown"
    values["next_opening"], _ = say(catalogue, "next_opening", lang, tag, values=values)
    return values


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


def _ids(agents: list[Agent]) -> tuple[int, ...]:
    return tuple(agent.telegram_user_id for agent in agents)
