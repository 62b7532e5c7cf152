"""Events worth counting for the reports (P23)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import group_commit
from storage.base import utcnow
from storage.models import Event

# An event added without a flush (nobody needs its id: bot/services/products/desk.py) is
# written in the group writer's batch with the reply, not by a commit of its own.
group_commit.INSERTED_CLASSES.add(Event)


class EventRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        kind: str,
        *,
        conversation_id: int | None = None,
        agent_id: int | None = None,
        at: datetime | None = None,
        **data: Any,
    ) -> Event:
        """Record an event; pass ``at`` from the bot's clock so reports and tests agree on time."""
        event = Event(kind=kind, conversation_id=conversation_id, agent_id=agent_id, data=data,
                      at=at or utcnow())
        self.session.add(event)
        await self.session.flush()
        return event

    async def get(self, event_id: int) -> Event | None:
        return await self.session.get(Event, event_id)

    async def latest(self, kind: str, conversation_id: int) -> Event | None:
        """The newest event of ``kind`` for a conversation (e.g. what the shopper was told)."""
        return await self.session.scalar(
            select(Event).where(Event.kind == kind, Event.conversation_id == conversation_id)
            .order_by(Event.id.desc()).limit(1)
        )

    async def latest_of(self, kind: str) -> Event | None:
        """The newest event of ``kind`` shop-wide."""
        return await self.session.scalar(
            select(Event).where(Event.kind == kind).order_by(Event.id.desc()).limit(1)
        )

    async def count(self, kind: str, conversation_id: int | None = None) -> int:
        query = select(func.count()).select_from(Event).where(Event.kind == kind)
        if conversation_id is not None:
            query = query.where(Event.conversation_id == conversation_id)
        return int(await self.session.scalar(query) or 0)
