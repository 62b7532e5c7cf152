"""The Monday meeting (P15): "每周一午时14:30开部门例会…每位客服都需要汇报一下自我上一周的完成目标
情景，工作中遇到的问题及接下需要改善的地方".

Before the meeting each agent is asked (once a week, Monday from ``ASK_AT`` in shop time) for a
short self-report of last week — goals met, problems, what to improve — and answers with
``/weekly`` in private chat. The weekly report (delivered before the meeting, REPORT_WEEKLY,
default mon 14:00) carries each agent's self-report next to the week's figures. Records are
events, keyed by the Monday of the week reported on, so a repeated run asks nobody twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from bot.services.shifts import shop_tz
from bot.services.staff import agent_ids
from storage.models import Event
from storage.repositories import Repo

SELF_REPORT = "self_report"
ASKED = "self_report_asked"
ASK_AT = time(9, 0)  # Monday morning, well before the 14:30 meeting
TEXT_LIMIT = 1500

ASK_KEY = "weekly.ask"  # the staff phrase asking for the self-report (values: week)


def week_reported(now: datetime, tz: object) -> date:
    """The Monday of the last full Monday–Sunday week before ``now`` (the meeting's week)."""
    today = now.astimezone(tz).date()  # type: ignore[arg-type]
    return today - timedelta(days=today.weekday() + 7)


@dataclass(frozen=True)
class SelfReport:
    agent_id: int
    week: date
    text: str


async def save_self_report(repo: Repo, agent: int, text: str, now: datetime) -> SelfReport:
    """An agent's self-report of last week; a later one replaces it in the report."""
    week = week_reported(now, await shop_tz(repo))
    text = text.strip()[:TEXT_LIMIT]
    await repo.events.add(SELF_REPORT, agent_id=agent, at=now, week=week.isoformat(), text=text)
    return SelfReport(agent, week, text)


async def self_reports(repo: Repo, first: date, last: date) -> dict[int, str]:
    """Agent → their latest self-report for a week starting in [first, last]."""
    since = datetime.combine(first, time(0), tzinfo=UTC) - timedelta(days=1)
    rows = await repo.session.scalars(
        select(Event).where(Event.kind == SELF_REPORT, Event.at >= since).order_by(Event.id))
    out: dict[int, str] = {}
    for event in rows:
        week = str(event.data.get("week") or "")
        if event.agent_id is not None and first.isoformat() <= week <= last.isoformat():
            out[event.agent_id] = str(event.data.get("text") or "")
    return out


async def agents_to_ask(repo: Repo, now: datetime) -> tuple[date, list[int]]:
    """Monday from ASK_AT: the agents not yet asked for this week's self-report (recorded)."""
    tz = await shop_tz(repo)
    local = now.astimezone(tz)
    week = week_reported(now, tz)
    if local.weekday() != 0 or local.time() < ASK_AT:
        return week, []
    asked = await repo.session.scalars(
        select(Event.data).where(Event.kind == ASKED, Event.at >= now - timedelta(days=1)))
    if any(data.get("week") == week.isoformat() for data in asked):
        return week, []
    await repo.events.add(ASKED, at=now, week=week.isoformat())
    return week, await agent_ids(repo)
