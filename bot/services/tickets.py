"""After-sales tickets (P18) and complaints (P20): opened, moved through their life, measured.

Statuses: open → in_progress → resolved → closed; a resolved or closed ticket can be re-opened
(→ reopened → in_progress → resolved …). Every change is written to the ticket's history.
A complaint is always handed to a person: its conversation is queued via the escalation service.
The P18 rates (处理率, 及时率, 返修率) are defined once, in bot/services/rates.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.services.escalation import EscalationService
from bot.services.rates import TicketRates, ticket_rates
from bot.settings import Settings
from phrases.catalogue import PhraseCatalogue, say
from storage.models import Customer, Sender
from storage.models.orders import Ticket, TicketKind, TicketStatus
from storage.repositories import Repo

S = TicketStatus
ALLOWED: dict[str, tuple[str, ...]] = {
    S.OPEN: (S.IN_PROGRESS, S.RESOLVED, S.CLOSED),
    S.IN_PROGRESS: (S.RESOLVED, S.CLOSED),
    S.RESOLVED: (S.CLOSED, S.REOPENED),
    S.CLOSED: (S.REOPENED,),
    S.REOPENED: (S.IN_PROGRESS, S.RESOLVED, S.CLOSED),
}
def ticket_words(catalogue: PhraseCatalogue, ticket: Ticket, lang: str) -> dict[str, object]:
    """The ticket's number, kind and status as the shopper reads them (phrase data:
    ticket_kind_name, ticket_status_label), for the phrases that name a ticket."""
    return {"ticket_id": ticket.id,
            "ticket_kind": say(catalogue, "ticket_kind_name", lang, ticket.kind)[0],
            "status": say(catalogue, "ticket_status_label", lang, ticket.status)[0]}


class TicketError(Exception):
    """A change the ticket's life does not allow (e.g. closed → in progress)."""


class TicketService:
    def __init__(self, settings: Settings, escalation: EscalationService) -> None:
        self.settings = settings
        self.escalation = escalation

    async def open(
        self, repo: Repo, customer: Customer, kind: str, reason: str, now: datetime, *,
        order_ref: str | None = None, photos: list[str] | None = None, actor: str = "shopper",
        owner_id: int | None = None,
    ) -> Ticket:
        """Opens a ticket; a complaint also queues the shopper's conversation for a person."""
        TicketKind(kind)  # unknown kinds fail loudly
        order = await repo.orders.by_ref(order_ref) if order_ref else None
        if order is not None and order.telegram_user_id not in (None, customer.telegram_user_id):
            order = None  # someone else's order is never attached (P19 privacy)
        conversation = await repo.conversations.open_for_customer(customer.id)
        ticket = Ticket(
            customer_id=customer.id, order_id=order.id if order else None, kind=kind,
            status=TicketStatus.OPEN, reason=reason, photos=list(photos or []),
            opened_by="agent" if actor.startswith("agent") else "shopper", owner_id=owner_id,
            created_at=now, due_at=now + timedelta(hours=self.settings.ticket_due_hours),
            conversation_id=conversation.id if conversation else None,
        )
        await repo.tickets.add(ticket, actor, reason)
        await repo.events.add("ticket_opened", ticket=ticket.id, ticket_kind=kind)
        if kind == TicketKind.COMPLAINT:
            # P20: every complaint reaches a person, whatever else happens.
            if conversation is None:
                conversation = await repo.conversations.start(customer.id, "zh", now,
                                                                channel=customer.channel)
                ticket.conversation_id = conversation.id
            await self.escalation.escalate(repo, conversation, "complaint", now)
        return ticket

    async def track_complaints(self, repo: Repo, now: datetime) -> int:
        """P20: a complaint made in chat (already with a person) also becomes a ticket, so
        every complaint is counted and followed to the end."""
        count = 0
        for conversation in await repo.tickets.untracked_complaints(now - timedelta(days=7)):
            messages = await repo.conversations.messages(conversation.id, limit=20)
            said = [m.text for m in messages if m.sender == Sender.SHOPPER and m.text]
            opened = conversation.queued_at or now
            ticket = Ticket(
                customer_id=conversation.customer_id, conversation_id=conversation.id,
                kind=TicketKind.COMPLAINT, status=TicketStatus.OPEN,
                reason=(said[-1] if said else "")[:2000], opened_by="system",
                owner_id=conversation.agent_id, created_at=opened,
                due_at=opened + timedelta(hours=self.settings.ticket_due_hours),
            )
            if not await repo.tickets.add_once(ticket, "system", "complaint in chat"):
                continue  # another process tracked this complaint a moment ago (several processes)
            await repo.events.add("ticket_opened", ticket=ticket.id, ticket_kind="complaint")
            count += 1
        return count

    async def move(
        self, repo: Repo, ticket: Ticket, to: str, actor: str, now: datetime, note: str = "",
    ) -> Ticket:
        """One step in the ticket's life, checked against ALLOWED and logged."""
        to = TicketStatus(to)
        if to not in ALLOWED[ticket.status]:
            raise TicketError(f"ticket {ticket.id}: {ticket.status} → {to} is not allowed")
        before = ticket.status
        ticket.status = to
        if to == S.RESOLVED:
            ticket.resolved_at = now
            if ticket.first_resolved_at is None:
                ticket.first_resolved_at = now
            # P17: one 回访 per resolution, N days later.
            await repo.aftercare.add_follow_up(
                source=f"ticket:{ticket.id}:{ticket.reopen_count}", kind="ticket",
                customer_id=ticket.customer_id, ticket_id=ticket.id, order_id=ticket.order_id,
                due_at=now + timedelta(days=self.settings.follow_up_days_after_ticket),
            )
        elif to == S.CLOSED:
            ticket.closed_at = now
        elif to == S.REOPENED:
            ticket.reopen_count += 1
            ticket.resolved_at = ticket.closed_at = None
        await repo.tickets.log(ticket, actor, before, to, note, now)
        await repo.events.add(f"ticket_{to}", ticket=ticket.id)
        return ticket

    async def assign(self, repo: Repo, ticket: Ticket, owner_id: int, actor: str,
                     now: datetime) -> None:
        ticket.owner_id = owner_id
        await repo.tickets.log(ticket, actor, None, None, f"owner → {owner_id}", now)

    async def rates(self, repo: Repo, start: datetime, end: datetime) -> TicketRates:
        """P18 figures of the tickets opened in [start, end) (the report's own function)."""
        return await ticket_rates(repo.session, start, end)

    @staticmethod
    def describe(ticket: Ticket, lang: str, catalogue: PhraseCatalogue) -> str:
        """"#12 退货：处理中" for the shopper's /tickets (phrase ticket_line)."""
        values = ticket_words(catalogue, ticket, lang)
        return say(catalogue, "ticket_line", lang, values=values)[0]
