"""Events worth counting for the reports (P23)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Event


class EventRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        kind: str,
        *,
        conversation_id: int | None = None,
        agent_id: int | None = None,
        **data: Any,
    ) -> Event:
        event = Event(kind=kind, conversation_id=conversation_id, agent_id=agent_id, data=data)
        self.session.add(event)
        await self.session.flush()
        return event

    async def count(self, kind: str, conversation_id: int | None = None) -> int:
        query = select(func.count()).select_from(Event).where(Event.kind == kind)
        if conversation_id is not None:
            query = query.where(Event.conversation_id == conversation_id)
        return int(await self.session.scalar(query) or 0)
