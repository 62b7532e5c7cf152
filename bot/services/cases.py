"""The shopper's own case before the FAQ (P18, P19): "我的退款到哪了" gets where *theirs* stands.

A shopper with an open after-sales ticket who asks after it ("亲 我刚才问的换货的事 有人处理吗",
"my refund") hears that ticket's status; one who asks where their order is and has recent
orders hears their status (the order desk's own status text). Without such a case the message
goes on to the FAQ as before, so "退货怎么退" or a refund question from someone with no return
open still gets the general answer. What the message is about is read by phrases/context.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.services.knowledge import KnowledgeBase
from bot.services.orders import OrderDesk
from bot.services.replies import Reply
from bot.services.tickets import ticket_words
from bot.settings import Settings
from phrases.catalogue import say
from phrases.context import ORDER, about_own_case
from storage.models import Customer
from storage.models.orders import Order, OrderStatus, Ticket, TicketStatus
from storage.repositories import Repo

RECENT_ORDER_DAYS = 30  # "where is my order" means one of these
MAX_ORDERS_SHOWN = 3
# A case still being handled; a resolved one counts for a few days after ("my refund" the day
# after it was resolved is about it), a closed one no longer.
ACTIVE = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.REOPENED)
RESOLVED_RECENTLY = timedelta(days=7)
# Orders whose whereabouts nobody asks after any more.
FINISHED_ORDERS = (OrderStatus.CANCELLED, OrderStatus.RETURNED)


class CaseDesk:
    """Answers "where is mine" from the shopper's own tickets and orders; long-lived."""

    def __init__(self, settings: Settings, knowledge: KnowledgeBase, orders: OrderDesk) -> None:
        self.settings = settings
        self.knowledge = knowledge
        self.orders = orders

    async def answer(
        self, repo: Repo, customer: Customer, lang: str, text: str, now: datetime,
    ) -> list[Reply] | None:
        """The status of the case the message asks after, or None (the FAQ answers).

        Reads without autoflush: the conversation's pending changes must not take SQLite's
        write lock before the reply is sent (see ``ConversationService._deliver``).
        """
        about = about_own_case(text)
        if about is None or customer.id is None:
            return None
        with repo.session.no_autoflush:
            if about.subject != ORDER:
                ticket = await self._ticket(repo, customer, about.subject, now)
                if ticket is not None:
                    return [self._ticket_reply(ticket, lang)]
                return None
            orders = await self._recent_orders(repo, customer, now)
            return [await self.orders.status_reply(repo, order, lang)
                    for order in orders[:MAX_ORDERS_SHOWN]] or None

    async def _ticket(
        self, repo: Repo, customer: Customer, kind: str | None, now: datetime
    ) -> Ticket | None:
        """The newest case of that kind still being handled (or just resolved); with no kind
        named ("有人处理吗"), the newest such case of any kind."""
        for ticket in await repo.tickets.for_customer(customer.id):
            if kind is not None and ticket.kind != kind:
                continue
            if ticket.status in ACTIVE or (
                    ticket.status == TicketStatus.RESOLVED and ticket.resolved_at is not None
                    and now - ticket.resolved_at <= RESOLVED_RECENTLY):
                return ticket
        return None

    async def _recent_orders(self, repo: Repo, customer: Customer, now: datetime) -> list[Order]:
        """The shopper's own orders of the last RECENT_ORDER_DAYS still on their way (the
        orders linked to their account, P19 privacy), newest first."""
        since = now - timedelta(days=RECENT_ORDER_DAYS)
        return [o for o in await repo.orders.for_user(customer.telegram_user_id)
                if o.status not in FINISHED_ORDERS and o.created_at >= since]

    def _ticket_reply(self, ticket: Ticket, lang: str) -> Reply:
        due = ticket.due_at.astimezone(self.settings.tz)
        text, key = say(
            self.knowledge.catalogue, "case_status", lang,
            "resolved" if ticket.status == TicketStatus.RESOLVED else "open",
            values={**ticket_words(self.knowledge.catalogue, ticket, lang),
                    "due": due.strftime("%m-%d %H:%M")},
        )
        return Reply(text, phrase_key=key)

