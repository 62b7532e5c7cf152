"""The duty rules around the rota (P11, P12), as the seed's 工作纪律 writes them. No aiogram.

- The owner sees a month of the rota as a table (who works which evening / Sunday).
- "上班不得迟到": lateness is an agent's first activity (a message to a shopper, a note, a
  release/transfer/close, a tone-guard decision) after their shift's start plus the owner's
  ``late_grace_minutes`` (default 5). A shift without any is listed only after a swap.
- "如需请假，需在当班前一天提出": a leave request is recorded with whether it came at least the
  day before the shift; when the owner approves it the rota is re-planned
  (:func:`approve_leave`): someone of the other group covers the shift, or the owner is told
  it is empty when nobody can.
- "换班双方必须交待清楚，若交待不清造成误班、空班的扣罚20元": a shift that came from a swap and
  saw no activity of its agents is listed; the owner records the fine (``swap_fine``, 20 元)
  for both sides of the swap.
All of it goes to the weekly report. Records are events (kinds below), so nothing is lost.
"""

from __future__ import annotations

import asyncio
import calendar as month_calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from bot.services import audit
from bot.services import shifts as sh
from bot.services.staff import agent_ids, owner_setting
from storage.models import Event, Message, Sender
from storage.models.shifts import ShiftSwap, SwapState
from storage.repositories import Repo

if TYPE_CHECKING:
    from bot.services.reports.labels import Words
    from phrases.staff import StaffWords

LEAVE = "leave_request"
LEAVE_APPROVED = sh.LEAVE_APPROVED
SWAP_FINE = "swap_fine"
EARLY_WINDOW = timedelta(hours=1)  # activity this long before the start counts as on time
# Events an agent causes by acting (not those the bot records about them, e.g. "assigned").
AGENT_ACTIONS = ("tone_guard", "released", "transferred", "closed_by_agent", "agent_note")


async def month_table(repo: Repo, year: int, month: int, names: dict[int, str],
                      w: StaffWords) -> str:
    """P11: the month's rota, one line per shift (day, weekday, hours, agents by name)."""
    first = date(year, month, 1)
    last = date(year, month, month_calendar.monthrange(year, month)[1])
    tz = await sh.shop_tz(repo)
    shifts = await sh.shifts_between(repo, first, last)
    on = await sh.calendar_enabled(repo)
    header = [w("rota.title", month=f"{year}-{month:02d}", tz=tz.key,
                state=w("rota.calendar_on" if on else "rota.calendar_off")),
              w("rota.columns")]
    return "\n".join(header + sh.schedule_text(shifts, tz, names, w).splitlines())


async def month_image(repo: Repo, year: int, month: int, names: dict[int, str],
                      w: StaffWords) -> bytes:
    """P11: the month's rota as a PNG table (the owner's /rota), names as the roster has
    them, labels in the reader's language with the charts' CJK font. Rendering runs on a
    worker thread: it must not stall the event loop."""
    from bot.services.reports.charts import render_table

    first = date(year, month, 1)
    last = date(year, month, month_calendar.monthrange(year, month)[1])
    tz = await sh.shop_tz(repo)
    on = await sh.calendar_enabled(repo)
    title = w("rota.title", month=f"{year}-{month:02d}", tz=tz.key,
              state=w("rota.calendar_on" if on else "rota.calendar_off"))
    rows = [line.split(maxsplit=3) for line in
            sh.schedule_text(await sh.shifts_between(repo, first, last), tz, names,
                             w).splitlines()]
    rows = [row + [""] * (4 - len(row)) for row in rows]
    return await asyncio.to_thread(render_table, title, w("rota.columns").split(), rows,
                                   "zh" if w.zh else "en")


@dataclass(frozen=True)
class Leave:
    agent_id: int
    day: date
    reason: str
    on_time: bool  # asked at least the day before the shift (local dates)
    event_id: int | None = None  # the recorded request, which the owner approves


async def request_leave(repo: Repo, agent: int, day: date, reason: str,
                        now: datetime) -> Leave:
    """Record an agent's leave request; on time if made before the day of the shift."""
    tz = await sh.shop_tz(repo)
    on_time = sh.local_day(now, tz) < day
    event = await repo.events.add(LEAVE, agent_id=agent, at=now, day=day.isoformat(),
                                  reason=reason[:200], on_time=on_time)
    return Leave(agent, day, reason[:200], on_time, event.id)


@dataclass(frozen=True)
class LeavePlan:
    """What approving a leave did to the rota (P11)."""

    agent_id: int
    day: date
    shift: sh.Shift | None  # the shift after the re-plan (None: no shift that day)
    replacement: int | None = None  # who covers, from the other group
    on_shift: bool = True  # False: the agent was not on that day's shift, nothing changed
    empty: bool = False  # nobody could cover: the shift has no agent left
    already: bool = False  # approved before: nothing done twice


async def approve_leave(repo: Repo, leave_event_id: int, owner: int,
                        now: datetime) -> LeavePlan | None:
    """P11: the owner approves a leave request; the rota is re-planned for that day.

    The agent leaves the day's shift; if that leaves it short, the agent of the other group
    (not working that day, not on leave themselves) with the fewest shifts in the month
    covers it, stored as the day's assignment, so /schedule, /rota, who is on duty and the
    handover records all follow. When nobody can, the shift is empty (approved leave takes the
    agent off any plan, ``shifts.approved_leave``) and the caller tells the owner. The caller
    commits."""
    event = await repo.events.get(leave_event_id)
    if event is None or event.kind != LEAVE or event.agent_id is None:
        return None
    agent, day = event.agent_id, date.fromisoformat(str(event.data["day"]))
    if event.data.get("approved"):
        return LeavePlan(agent, day, await _shift(repo, day), already=True)
    event.data = {**event.data, "approved": True, "approved_by": owner}
    shift = await _shift(repo, day)
    if shift is None or shift.closed is not None or agent not in shift.agents:
        await repo.events.add(LEAVE_APPROVED, agent_id=agent, at=now, day=day.isoformat(),
                              by=owner, on_shift=False)
        return LeavePlan(agent, day, shift, on_shift=False)
    staying = [a for a in shift.agents if a != agent]
    on_leave = (await sh.approved_leave(repo, day, day)).get(day, set())
    replacement = await _cover(repo, day, shift, away={agent, *on_leave})
    agents = [*staying, *([replacement] if replacement is not None else [])]
    if agents:
        await repo.shifts.assign(day, agents, source="leave")
    await repo.events.add(LEAVE_APPROVED, agent_id=agent, at=now, day=day.isoformat(),
                          by=owner, replacement=replacement, empty=not agents)
    await audit.record(repo, owner, "leave_approved", at=now, agent=agent, day=day.isoformat())
    return LeavePlan(agent, day, await _shift(repo, day), replacement, empty=not agents)


async def _shift(repo: Repo, day: date) -> sh.Shift | None:
    found = await sh.shifts_between(repo, day, day)
    return found[0] if found else None


async def _cover(repo: Repo, day: date, shift: sh.Shift, away: set[int]) -> int | None:
    """P11 "上一天休一天": the day's resting group covers; of them, whoever has the fewest
    shifts in the month (roster order on a tie). None when nobody can."""
    roster = await agent_ids(repo)
    candidates = [a for a in roster if a not in shift.agents and a not in away]
    if not candidates:
        return None
    first = day.replace(day=1)
    last = day.replace(day=month_calendar.monthrange(day.year, day.month)[1])
    load = {a: 0 for a in candidates}
    for other in await sh.shifts_between(repo, first, last):
        for a in other.agents:
            if a in load and other.closed is None:
                load[a] += 1
    return min(candidates, key=lambda a: (load[a], roster.index(a)))


@dataclass(frozen=True)
class ShiftCheck:
    """One agent of one past shift: when they first did something, how late, from a swap?"""

    day: date
    agent_id: int
    first_activity: datetime | None
    late_minutes: int  # 0 when on time
    swap_id: int | None = None

    @property
    def empty(self) -> bool:
        return self.first_activity is None


async def _first_activity(repo: Repo, agent: int, start: datetime,
                          end: datetime) -> datetime | None:
    since = start - EARLY_WINDOW
    message = await repo.session.scalar(
        select(func.min(Message.created_at)).where(
            Message.sender == Sender.AGENT, Message.agent_id == agent,
            Message.created_at >= since, Message.created_at < end))
    event = await repo.session.scalar(
        select(func.min(Event.at)).where(Event.agent_id == agent, Event.at >= since,
                                         Event.at < end, Event.kind.in_(AGENT_ACTIONS)))
    found = [t for t in (message, event) if t is not None]
    return min(found) if found else None


async def check_shifts(repo: Repo, start: datetime, end: datetime,
                       now: datetime) -> list[ShiftCheck]:
    """P11/P12: each agent of each shift that began and ended in [start, min(end, now))."""
    tz = await sh.shop_tz(repo)
    grace = timedelta(minutes=int(await owner_setting(repo, "late_grace_minutes") or 5))
    first, last = sh.local_day(start, tz), sh.local_day(end, tz)
    swap_of: dict[tuple[date, int], int] = {}
    for swap in await repo.shifts.approved_swaps(first, last):
        swap_of[(swap.requester_day, swap.colleague_id)] = swap.id
        if swap.colleague_day is not None:
            swap_of[(swap.colleague_day, swap.requester_id)] = swap.id
    out = []
    for shift in await sh.shifts_between(repo, first, last):
        if shift.closed is not None or shift.start < start or shift.end > min(end, now):
            continue
        for agent in shift.agents:
            seen = await _first_activity(repo, agent, shift.start, shift.end)
            late = 0
            if seen is not None and seen > shift.start + grace:
                late = int((seen - shift.start).total_seconds() // 60)
            out.append(ShiftCheck(shift.day, agent, seen, late, swap_of.get((shift.day, agent))))
    return out


async def record_swap_fine(repo: Repo, owner: int, swap_id: int, now: datetime) -> list[int]:
    """P12 "若交待不清造成误班、空班的扣罚20元": the owner fines both sides of a swap."""
    swap = await repo.session.get(ShiftSwap, swap_id)
    if swap is None or swap.state != SwapState.APPROVED:
        return []
    amount = float(await owner_setting(repo, "swap_fine") or 20)
    fined = [swap.requester_id, swap.colleague_id]
    for agent in fined:
        await repo.events.add(SWAP_FINE, agent_id=agent, at=now, swap=swap_id, amount=amount,
                              by=owner)
    await audit.record(repo, owner, "swap_fine", at=now, swap=swap_id)
    return fined


@dataclass
class DutySummary:
    """What the weekly report says about duty in the period."""

    checked: list[ShiftCheck]
    leaves: list[tuple[int, str, bool]]  # agent, day, on time
    fines: list[tuple[int, int, float]]  # agent, swap id, amount

    @property
    def late(self) -> list[ShiftCheck]:
        return [c for c in self.checked if c.late_minutes > 0]

    @property
    def empty_after_swap(self) -> list[ShiftCheck]:
        return [c for c in self.checked if c.empty and c.swap_id is not None]


async def duty_summary(repo: Repo, start: datetime, end: datetime, now: datetime) -> DutySummary:
    events = list(await repo.session.scalars(
        select(Event).where(Event.kind.in_((LEAVE, SWAP_FINE)), Event.at >= start,
                            Event.at < end).order_by(Event.id)))
    leaves = [(e.agent_id or 0, str(e.data.get("day")), bool(e.data.get("on_time")))
              for e in events if e.kind == LEAVE]
    fines = [(e.agent_id or 0, int(e.data.get("swap") or 0), float(e.data.get("amount") or 0))
             for e in events if e.kind == SWAP_FINE]
    checked = await check_shifts(repo, start, end, now) if await sh.calendar_enabled(repo) else []
    return DutySummary(checked, leaves, fines)


def duty_text(summary: DutySummary, names: dict[int, str], words: Words = "zh") -> list[str]:
    """Report lines (P11/P12): lateness, leave (on time or not), empty swap shifts, fines."""
    def who(agent: int) -> str:
        return names.get(agent, str(agent))

    from bot.services.reports.labels import label, words_of  # the report's words (phrases)

    w = words_of(words)

    lines = [label("duty_checked", w, n=len({c.day for c in summary.checked}))]
    lines += ["  " + label("duty_late", w, day=f"{c.day:%m-%d}", agent=who(c.agent_id),
                           minutes=c.late_minutes) for c in summary.late]
    lines += ["  " + label("duty_leave_on_time" if on_time else "duty_leave_late", w,
                           day=day, agent=who(agent))
              for agent, day, on_time in summary.leaves]
    lines += ["  " + label("duty_empty_after_swap", w, swap=c.swap_id, day=f"{c.day:%m-%d}",
                           agent=who(c.agent_id)) for c in summary.empty_after_swap]
    lines += ["  " + label("duty_swap_fine", w, swap=swap, agent=who(agent),
                           amount=f"{amount:g}") for agent, swap, amount in summary.fines]
    return lines
