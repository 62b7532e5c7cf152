"""``build_report``: each section from its own module, then the change against the period before."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.reports import (
    aftersales,
    botside,
    duty,
    meeting,
    quality,
    sales,
    volumes,
    waiting,
)
from bot.services.reports.model import AgentSection, Change, Report
from bot.services.reports.scope import Scope, discover
from storage.repositories import Repo
from storage.sqlite_driver import on_worker

Section = Callable[[Scope, Report, dict[int, AgentSection]], Awaitable[None]]
# Order matters only in that waiting reads volumes' shopper message count.
SECTIONS: tuple[Section, ...] = (
    volumes.collect, botside.collect, waiting.collect, quality.collect, aftersales.collect,
    duty.collect, sales.collect, meeting.collect,
)

# Headline figures compared with the previous period: key → how to read it from a report.
HEADLINES: dict[str, Callable[[Report], float | None]] = {
    "conversations": lambda r: r.volumes.conversations,
    "shopper_messages": lambda r: r.volumes.shopper_messages,
    "resolved_share": lambda r: r.bot.resolved_share,
    "faq_hit_rate": lambda r: r.bot.faq_hit_rate,
    "wait_p95": lambda r: r.waiting.shopper_wait.p95,
    "greeted_share": lambda r: r.waiting.greeted_share,
    "first_reply_p50": lambda r: r.waiting.human_first_reply.p50,
    "sla_breaches": lambda r: r.waiting.sla_breaches,
    "complaints": lambda r: r.quality.complaints,
    "satisfaction_avg": lambda r: r.quality.satisfaction_avg,
    "handling_rate": lambda r: r.aftersales.handling_rate,
}


async def build_report(
    repo_or_session: Repo | AsyncSession,
    start: datetime,
    end: datetime,
    tz: ZoneInfo | str,
    *,
    agent_ids: Iterable[int] = (),
    agent_names: Mapping[int, str] | None = None,
    greeting_seconds: int = 15,
    compare: bool = True,
) -> Report:
    """The report for [start, end) (aware datetimes); agents listed in ``agent_ids`` appear
    even with no conversations. With ``compare`` the previous period of equal length is
    built too and its headline figures are set against this one's."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if end < start:
        raise ValueError("the period ends before it starts")
    session = repo_or_session.session if isinstance(repo_or_session, Repo) else repo_or_session
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    with on_worker():  # SQLite: these reads scan the period; shoppers are answered meanwhile
        tables, kinds = await discover(session)
        ids = tuple(dict.fromkeys(int(a) for a in agent_ids))
        scope = Scope(session, start, end, zone, ids, greeting_seconds, tables, kinds)
        report = await _build(scope, agent_names or {})
        if compare:
            before = Scope(session, start - (end - start), start, zone, ids, greeting_seconds,
                           tables, kinds, headline_only=True)
            previous = await _build(before, agent_names or {})
            report.changes = [Change(key, read(report), read(previous))
                              for key, read in HEADLINES.items()]
        return report


async def _build(scope: Scope, names: Mapping[int, str]) -> Report:
    report = Report(scope.start, scope.end, scope.tz.key)
    agents = {agent_id: AgentSection(agent_id) for agent_id in scope.agent_ids}
    for section in SECTIONS:
        await section(scope, report, agents)
    for agent in agents.values():
        agent.name = names.get(agent.agent_id, agent.name)
    listed = [agents[a] for a in scope.agent_ids]
    others = sorted((a for a in agents.values() if a.agent_id not in scope.agent_ids),
                    key=lambda a: a.agent_id)
    report.agents = listed + others
    report.not_recorded = list(dict.fromkeys(scope.not_recorded))
    return report
