"""The shift calendar (P11), who is on duty now, and shift swaps (P12). No aiogram here.

The rota is computed from a weekly pattern in the shop's time zone: by default Monday–Saturday
18:30–24:00 with the agents in two groups taking turns evening by evening, Sunday 09:30–24:00
with one agent per week in turn (a lone agent works every shift). A shift may end after
midnight ("20:00-02:00"); it belongs to the day it starts. Only departures from the rota are
stored: closed days and explicit assignments (the owner's, or those of an approved swap).

Contract used by assignment (P9) and the SLA clock (P1/P2):
``await on_duty(repo, now) -> list[int]`` and ``await next_shift_start(repo, now)``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.services.staff import (
    agent_ids,
    calendar_enabled,
    console_switched_off,
    duty_switches,
    forced_on,
    owner_setting,
)
from phrases.when import DAYS as WEEKDAYS
from phrases.when import day_line
from storage.models import Event
from storage.models.shifts import ShiftSwap, SwapState
from storage.repositories import Repo

if TYPE_CHECKING:
    from phrases.staff import StaffWords

DAYS = WEEKDAYS  # "mon" … "sun"
PATTERN_KEY = "shift_pattern"
SCHEDULE_DAYS = 14  # P12: agents and owner see the coming two weeks
EPOCH_MONDAY = date(2024, 1, 1)  # rotation counts from here (a Monday)
LEAVE_APPROVED = "leave_approved"  # event kind: an agent's leave for data["day"] (P11)

# P11: weekday → (start, end) as "HH:MM"; end "24:00" is midnight; end <= start is next day.
DEFAULT_PATTERN: dict[int, tuple[str, str] | None] = {
    **{d: ("18:30", "24:00") for d in range(6)},
    6: ("09:30", "24:00"),
}

Pattern = dict[int, tuple[str, str] | None]


@dataclass(frozen=True)
class Shift:
    """One shift: the local day it starts on, its UTC bounds and its agents."""

    day: date
    start: datetime
    end: datetime
    agents: tuple[int, ...]
    closed: str | None = None  # the reason, when the day is closed

    def contains(self, now: datetime) -> bool:
        return self.closed is None and self.start <= now < self.end


@dataclass
class Calendar:
    """Everything needed to compute shifts for a range of days."""

    tz: ZoneInfo
    pattern: Pattern
    roster: list[int]
    assignments: dict[date, list[int]] = field(default_factory=dict)
    closed: dict[date, str] = field(default_factory=dict)
    on_leave: dict[date, set[int]] = field(default_factory=dict)  # approved leave (P11)


# ----------------------------------------------------------------------------- pure rules
class ShiftLineError(ValueError):
    """A /setshift line the bot cannot read; ``key`` names the staff text that explains it
    (``shift.<key>``), ``str()`` is the English sentence (SERVICE_HOURS at start-up)."""

    def __init__(self, key: str, message: str, **values: str) -> None:
        super().__init__(message)
        self.key, self.values = key, values


def _hhmm(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match:
        raise ShiftLineError("err_time", f"{text!r} is not a time like 18:30", time=text)
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ShiftLineError("err_time", f"{text!r} is not a time of day", time=text)
    return hours, minutes


def parse_pattern_line(line: str, pattern: Pattern | None = None) -> Pattern:
    """'mon-sat 18:30-24:00', 'sun 09:30-24:00', 'fri 20:00-02:00', 'sat off' → a new pattern;
    the same in Chinese ('周一至周六 18:30-24:00', '周日 休息', phrases/when.py)."""
    result: Pattern = dict(DEFAULT_PATTERN if pattern is None else pattern)
    match = re.fullmatch(r"\s*([a-z]{3})(?:-([a-z]{3}))?\s+(off|\S+-\S+)\s*", day_line(line))
    if not match or match.group(1) not in DAYS or (match.group(2) or "mon") not in DAYS:
        raise ShiftLineError(
            "err_format", "write e.g. 'mon-sat 18:30-24:00', 'sun 09:30-24:00' or 'sat off'")
    first = DAYS.index(match.group(1))
    last = DAYS.index(match.group(2)) if match.group(2) else first
    if last < first:
        raise ShiftLineError("err_order", "days run mon…sun, e.g. 'mon-sat'")
    hours: tuple[str, str] | None = None
    if match.group(3) != "off":
        start, _, end = match.group(3).partition("-")
        _hhmm(start), _hhmm(end)
        if _hhmm(start) == (24, 0):
            raise ShiftLineError("err_midnight", "a shift cannot start at 24:00")
        if _hhmm(start) == _hhmm(end):
            raise ShiftLineError("err_length", "a shift needs a length")
        hours = (start, end)
    for day in range(first, last + 1):
        result[day] = hours
    return result


def pattern_text(pattern: Pattern, w: StaffWords | None = None) -> str:
    """The week's hours, 'mon 18:30-24:00; …' or, with the reader's words, '周一 18:30-24:00；…'."""
    def day(d: int) -> str:
        return w(f"day.{d}") if w is not None else DAYS[d]

    def hours(d: int) -> str:
        if pattern.get(d) is None:
            return w("shift.off") if w is not None else "off"
        return "-".join(pattern[d])  # type: ignore[arg-type]

    sep = "；" if w is not None and w.zh else "; "
    return sep.join(f"{day(d)} {hours(d)}" for d in range(7))


def window(day: date, hours: tuple[str, str], tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start and end of a shift starting on local ``day``; may run past midnight."""
    sh, sm = _hhmm(hours[0])
    eh, em = _hhmm(hours[1])
    start = datetime.combine(day, time(sh, sm), tzinfo=tz)
    end_day = day + timedelta(days=1) if (eh, em) == (24, 0) or (eh, em) <= (sh, sm) else day
    end = datetime.combine(end_day, time(eh % 24, em), tzinfo=tz)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def groups(roster: list[int]) -> tuple[list[int], list[int]]:
    """P11 "上一天休一天": the agents in two groups that alternate evenings (every other agent of
    the roster in each); a lone agent is in both, so they work every shift."""
    if len(roster) <= 1:
        return list(roster), list(roster)
    return roster[0::2], roster[1::2]


def rotation(day: date, roster: list[int]) -> tuple[int, ...]:
    """P11 "周一至周六：晚班，上一天休一天；周天：全天班，轮流值班": Mon–Sat the two groups take
    turns evening by evening (work a day, rest a day); Sundays go round everyone, one a week."""
    if not roster:
        return ()
    days = (day - EPOCH_MONDAY).days
    weeks, weekday = divmod(days, 7)
    if weekday == 6:
        return (roster[weeks % len(roster)],)
    first, second = groups(roster)
    return tuple(first if (weeks * 6 + weekday) % 2 == 0 else second)


def shift_of(day: date, calendar: Calendar) -> Shift | None:
    """The shift starting on local ``day``, or None when the pattern has no shift that day."""
    hours = calendar.pattern.get(day.weekday())
    if hours is None:
        return None
    start, end = window(day, hours, calendar.tz)
    planned = calendar.assignments.get(day) or rotation(day, calendar.roster)
    away = calendar.on_leave.get(day, set())
    agents = tuple(a for a in planned if a not in away)  # approved leave always wins (P11)
    return Shift(day, start, end, agents, calendar.closed.get(day))


def shifts_in(first: date, last: date, calendar: Calendar) -> list[Shift]:
    out = []
    day = first
    while day <= last:
        shift = shift_of(day, calendar)
        if shift is not None:
            out.append(shift)
        day += timedelta(days=1)
    return out


def local_day(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


# ----------------------------------------------------------------------------- database side
async def load_pattern(repo: Repo) -> Pattern:
    raw = await repo.faq.setting(PATTERN_KEY)
    if not raw:
        return dict(DEFAULT_PATTERN)
    data = json.loads(raw)
    return {int(k): (tuple(v) if v else None) for k, v in data.items()}  # type: ignore[misc]


async def save_pattern(repo: Repo, pattern: Pattern) -> None:
    await repo.faq.set_setting(
        PATTERN_KEY, json.dumps({str(k): list(v) if v else None for k, v in pattern.items()})
    )


async def shop_tz(repo: Repo) -> ZoneInfo:
    return ZoneInfo(await repo.faq.setting("timezone") or "Asia/Shanghai")


async def load_calendar(repo: Repo, first: date, last: date) -> Calendar:
    return Calendar(
        tz=await shop_tz(repo),
        pattern=await load_pattern(repo),
        roster=await agent_ids(repo),
        assignments=await repo.shifts.assignments(first, last),
        closed=await repo.shifts.closed_days(first, last),
        on_leave=await approved_leave(repo, first, last),
    )


async def approved_leave(repo: Repo, first: date, last: date) -> dict[date, set[int]]:
    """Agents whose leave the owner approved, per day between ``first`` and ``last``."""
    events = await repo.session.scalars(select(Event).where(Event.kind == LEAVE_APPROVED))
    out: dict[date, set[int]] = {}
    for event in events:
        day = date.fromisoformat(str(event.data.get("day")))
        if event.agent_id is not None and first <= day <= last:
            out.setdefault(day, set()).add(event.agent_id)
    return out


async def shifts_between(repo: Repo, first: date, last: date) -> list[Shift]:
    return shifts_in(first, last, await load_calendar(repo, first, last))


async def shifts_around(repo: Repo, now: datetime, before: int = 1, after: int = 1) -> list[Shift]:
    """Shifts starting from ``before`` days before today to ``after`` days after (local)."""
    tz = await shop_tz(repo)
    today = local_day(now, tz)
    return await shifts_between(repo, today - timedelta(days=before), today + timedelta(days=after))


async def current_shifts(repo: Repo, now: datetime) -> list[Shift]:
    """Shifts running at ``now`` (yesterday's may still run past midnight)."""
    return [s for s in await shifts_around(repo, now, 1, 0) if s.contains(now)]


async def on_duty(repo: Repo, now: datetime) -> list[int]:
    """Agent ids on duty at ``now``: the calendar, corrected by each agent's on/off switch.

    /duty on puts anyone on duty; /duty off (or the console's switch) takes them off. With the
    calendar off (the owner has not turned it on) every agent on the roster counts.
    """
    roster = await agent_ids(repo)
    forced = await forced_on(repo)
    switches = await duty_switches(repo, roster)
    off = await console_switched_off(repo)
    if await calendar_enabled(repo):
        scheduled = {a for s in await current_shifts(repo, now) for a in s.agents}
    else:
        scheduled = set(roster)
    by_calendar = [a for a in roster
                   if switches[a] == "auto" and a in scheduled and a not in off]
    return list(dict.fromkeys([*by_calendar, *forced]))


async def next_shift_start(repo: Repo, now: datetime) -> datetime | None:
    """When the next staffed shift starts after ``now`` (P24: "a person is back at …");
    None when the calendar is off or has no staffed shift in the coming two weeks."""
    if not await calendar_enabled(repo):
        return None
    for shift in await shifts_around(repo, now, 0, SCHEDULE_DAYS):
        if shift.start > now and shift.agents and shift.closed is None:
            return shift.start
    return None


async def coming_schedule(repo: Repo, now: datetime, days: int = SCHEDULE_DAYS) -> list[Shift]:
    """P12: the shifts of the coming ``days`` days, today first (closed days included)."""
    return await shifts_around(repo, now, 0, days - 1)


def schedule_text(shifts: list[Shift], tz: ZoneInfo, names: dict[int, str],
                  w: StaffWords) -> str:
    """One line per shift: date, weekday, hours, agents by name (or why the day is closed),
    in the reader's words."""
    lines = []
    for s in shifts:
        start, end = s.start.astimezone(tz), s.end.astimezone(tz)
        end_text = "24:00" if end.time() == time(0) and end.date() > start.date() else (
            end.strftime("%H:%M"))
        who = ", ".join(names.get(a, str(a)) for a in s.agents) or "—"
        if s.closed is not None:
            who = w("shift.closed_day", reason=s.closed)
        day = w(f"day.{s.day.weekday()}")
        lines.append(f"{s.day:%m-%d} {day} {start:%H:%M}-{end_text}  {who}")
    return "\n".join(lines) or w("shift.none")


# ----------------------------------------------------------------------------- swaps (P12)
@dataclass(frozen=True)
class SwapOutcome:
    ok: bool
    reason: str = ""  # a code and its arguments (:func:`swap_reason_text` puts it in words)
    swap: ShiftSwap | None = None


# Why a swap was refused, as stored (``ShiftSwap.reason``, events): a code, then arguments.
SWAP_REASON_ARGS: dict[str, tuple[str, ...]] = {
    "no_colleague": (), "not_agent": ("agent",), "over": (), "not_waiting": (),
    "declined": (), "no_shift": ("agent", "day"), "closed_day": ("day",),
    "uncovered": ("day",), "limit": ("agent", "limit", "month"),
}


def _why(code: str, *args: object) -> str:
    return " ".join([code, *map(str, args)])


def swap_reason_text(reason: str, w: StaffWords, names: dict[int, str] | None = None) -> str:
    """A stored refusal reason in the reader's words (staff phrase ``swap.why.<code>``),
    people by name; a reason stored before the codes stays as it was written."""
    code, *args = reason.split()
    fields = SWAP_REASON_ARGS.get(code)
    if fields is None or len(args) != len(fields):
        return reason
    values: dict[str, object] = dict(zip(fields, args, strict=True))
    if "agent" in values and str(values["agent"]).isdigit():
        values["agent"] = (names or {}).get(int(str(values["agent"])), values["agent"])
    return w(f"swap.why.{code}", **values)


def _month(day: date) -> tuple[int, int]:
    return day.year, day.month


async def _used_swaps(repo: Repo, agent: int, month: tuple[int, int], states: list[str],
                      skip: int | None = None) -> int:
    swaps = await repo.shifts.swaps_of(agent, states)
    return sum(1 for s in swaps if _month(s.requester_day) == month and s.id != skip)


async def _limit_problem(repo: Repo, swap: ShiftSwap, states: list[str]) -> str:
    limit = int(await owner_setting(repo, "swap_limit"))
    for agent in (swap.requester_id, swap.colleague_id):
        if await _used_swaps(repo, agent, _month(swap.requester_day), states, swap.id) >= limit:
            return _why("limit", agent, limit, f"{swap.requester_day:%Y-%m}")
    return ""


async def _coverage_problem(repo: Repo, swap: ShiftSwap) -> tuple[str, dict[date, list[int]]]:
    """The new agents per day after the swap, or why it would leave a shift uncovered."""
    days = [swap.requester_day] + ([swap.colleague_day] if swap.colleague_day else [])
    calendar = await load_calendar(repo, min(days), max(days))
    active = set(calendar.roster)
    result: dict[date, list[int]] = {}
    mine = shift_of(swap.requester_day, calendar)
    if mine is None or swap.requester_id not in mine.agents:
        return _why("no_shift", swap.requester_id, swap.requester_day), {}
    result[swap.requester_day] = [a for a in mine.agents if a != swap.requester_id] + [
        swap.colleague_id]
    if swap.colleague_day is not None:
        theirs = shift_of(swap.colleague_day, calendar)
        if theirs is None or swap.colleague_id not in theirs.agents:
            return _why("no_shift", swap.colleague_id, swap.colleague_day), {}
        result[swap.colleague_day] = [a for a in theirs.agents if a != swap.colleague_id] + [
            swap.requester_id]
    for day, agents in result.items():
        if calendar.closed.get(day) is not None:
            return _why("closed_day", day), {}
        staffed = [a for a in dict.fromkeys(agents) if a in active]
        if not staffed:
            return _why("uncovered", day), {}
        result[day] = staffed
    return "", result


async def request_swap(
    repo: Repo, requester: int, day: date, colleague: int, colleague_day: date | None,
    now: datetime,
) -> SwapOutcome:
    """An agent asks a colleague to take their shift on ``day`` (and give theirs, if named)."""
    tz = await shop_tz(repo)
    if colleague == requester:
        return SwapOutcome(False, _why("no_colleague"))
    if colleague not in await agent_ids(repo):
        return SwapOutcome(False, _why("not_agent", colleague))
    if min(day, colleague_day or day) < local_day(now, tz):
        return SwapOutcome(False, _why("over"))
    swap = ShiftSwap(requester_id=requester, requester_day=day, colleague_id=colleague,
                     colleague_day=colleague_day, created_at=now)
    problem, _ = await _coverage_problem(repo, swap)
    if not problem:
        problem = await _limit_problem(
            repo, swap, [SwapState.ASKED, SwapState.ACCEPTED, SwapState.APPROVED])
    if problem:
        await repo.events.add("swap_refused", agent_id=requester, reason=problem)
        return SwapOutcome(False, problem)
    return SwapOutcome(True, "", await repo.shifts.add_swap(swap))


async def accept_swap(repo: Repo, swap_id: int, by: int, now: datetime) -> SwapOutcome:
    """The colleague agrees; the owner still has to approve."""
    swap = await repo.shifts.swap(swap_id)
    if swap is None or swap.colleague_id != by or swap.state != SwapState.ASKED:
        return SwapOutcome(False, _why("not_waiting"))
    swap.state = SwapState.ACCEPTED
    return SwapOutcome(True, "", swap)


async def decide_swap(
    repo: Repo, swap_id: int, owner: int, approve: bool, now: datetime, by_colleague: bool = False
) -> SwapOutcome:
    """Owner approves (the calendar changes) or refuses; a colleague may decline an asked one."""
    swap = await repo.shifts.swap(swap_id)
    wanted = SwapState.ASKED if by_colleague else SwapState.ACCEPTED
    if swap is None or swap.state != wanted or (by_colleague and swap.colleague_id != owner):
        return SwapOutcome(False, _why("not_waiting"))
    reason = _why("declined") if not approve else ""
    new_days: dict[date, list[int]] = {}
    if approve:
        reason, new_days = await _coverage_problem(repo, swap)
        if not reason:
            reason = await _limit_problem(repo, swap, [SwapState.APPROVED])
    swap.decided_at = now
    if reason:
        swap.state, swap.reason = SwapState.REFUSED, reason
        if approve:
            await repo.events.add("swap_refused", agent_id=swap.requester_id, reason=reason,
                                  swap=swap.id)
        return SwapOutcome(False, reason, swap)
    for day, agents in new_days.items():
        await repo.shifts.assign(day, agents, source="swap")
    swap.state = SwapState.APPROVED
    await repo.events.add("swap_approved", agent_id=swap.requester_id, swap=swap.id, by=owner)
    return SwapOutcome(True, "", swap)


def swap_text(swap: ShiftSwap, names: dict[int, str], w: StaffWords) -> str:
    """'换班 #3：王芳把 05-04 的班给李雷（换 05-06）— 已同意', people by name, in the
    reader's words."""
    asker = names.get(swap.requester_id, str(swap.requester_id))
    colleague = names.get(swap.colleague_id, str(swap.colleague_id))
    theirs = w("swap.theirs", day=swap.colleague_day) if swap.colleague_day else ""
    reason = (w("swap.reason", reason=swap_reason_text(swap.reason, w, names))
              if swap.reason else "")
    return w("swap.text", swap=swap.id, asker=asker, day=swap.requester_day,
             colleague=colleague, theirs=theirs, state=w.label("swap.state", swap.state),
             reason=reason)
