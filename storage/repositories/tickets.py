"""After-sales tickets and their history (P18, P20), and the per-period rates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation
from storage.models.orders import Ticket, TicketHistory, TicketKind, TicketStatus

ACTIVE = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.REOPENED)


class TicketRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, ticket_id: int) -> Ticket | None:
        return await self.session.get(Ticket, ticket_id)

    async def add(self, ticket: Ticket, actor: str, note: str = "") -> Ticket:
        self.session.add(ticket)
        await self.session.flush()
        await self.log(ticket, actor, None, ticket.status, note, ticket.created_at)
        return ticket

    async def add_once(self, ticket: Ticket, actor: str, note: str = "") -> bool:
        """Add unless a unique index says it exists already (the chat complaint's ticket,
        tracked by another process a moment ago); the savepoint keeps the session usable."""
        try:
            async with self.session.begin_nested():
                await self.add(ticket, actor, note)
        except IntegrityError:
            return False
        return True

    async def log(
        self, ticket: Ticket, actor: str, from_status: str | None, to_status: str | None,
        note: str, at: datetime,
    ) -> None:
        self.session.add(TicketHistory(ticket_id=ticket.id, at=at, actor=actor,
                                       from_status=from_status, to_status=to_status, note=note))
        await self.session.flush()

    async def history(self, ticket_id: int) -> list[TicketHistory]:
        rows = await self.session.scalars(
            select(TicketHistory).where(TicketHistory.ticket_id == ticket_id)
            .order_by(TicketHistory.id)
        )
        return list(rows)

    async def for_customer(self, customer_id: int, limit: int = 20) -> list[Ticket]:
        rows = await self.session.scalars(
            select(Ticket).where(Ticket.customer_id == customer_id)
            .order_by(Ticket.id.desc()).limit(limit)
        )
        return list(rows)

    async def untracked_complaints(self, since: datetime, limit: int = 100) -> list[Conversation]:
        """Conversations escalated as a complaint that have no complaint ticket yet (P20)."""
        rows = await self.session.scalars(
            select(Conversation).where(
                Conversation.escalation_reason == "complaint",
                Conversation.queued_at >= since,
                ~exists().where(Ticket.conversation_id == Conversation.id,
                                Ticket.kind == TicketKind.COMPLAINT),
            ).order_by(Conversation.id).limit(limit)
        )
        return list(rows)
