"""What one report is about: the period, the shop's time zone, the agents, what is recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Event

# Event kinds the bot is known to record (so zero means zero, not "not recorded yet").
# A kind also counts as recorded once any event of it exists in the database, so figures
# appear by themselves as the SLA clock, agents and shifts features land.
KNOWN_EVENT_KINDS: frozenset[str] = frozenset({
    "escalated", "faq_feedback",  # conversation and escalation services
    "sla_breach", "holding_reply", "reassigned",  # the SLA clock (P2)
})


@dataclass
class Scope:
    session: AsyncSession
    start: datetime
    end: datetime
    tz: ZoneInfo
    agent_ids: tuple[int, ...] = ()
    greeting_seconds: int = 15
    tables: frozenset[str] = frozenset()
    event_kinds: frozenset[str] = frozenset()
    not_recorded: list[str] = field(default_factory=list)
    # The previous period only feeds the headline changes: skip what they do not read.
    headline_only: bool = False

    def has_table(self, name: str) -> bool:
        return name in self.tables

    def records(self, kind: str) -> bool:
        return kind in self.event_kinds


async def discover(session: AsyncSession) -> tuple[frozenset[str], frozenset[str]]:
    """Tables that exist and event kinds ever recorded (DISTINCT over the kind index)."""

    def table_names(sync_session: object) -> list[str]:
        return inspect(sync_session.connection()).get_table_names()  # type: ignore[attr-defined]

    tables = frozenset(await session.run_sync(table_names))
    kinds = frozenset((await session.scalars(select(Event.kind).distinct())).all())
    return tables, kinds | KNOWN_EVENT_KINDS
