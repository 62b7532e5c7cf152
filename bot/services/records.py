"""The customer record 客户档案 (P16): one card per customer, the agents' notes, and /forget.

The card gathers contacts, language, orders, tickets, conversations, survey scores and the
agents' notes. It is rendered here only: the private /card and the card in a customer's topic
(agent console) show the same record; ``add_note`` is the one way a note is written, whether
from a topic (/note <text>) or a private chat (/note <customer> <text>).
/forget removes personal data (names, phone numbers, message texts, notes,
ticket reasons and photos) but keeps the rows, so counts and rates stay right (P23).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update

from storage.models import Conversation, Customer, Event, Message
from storage.models.orders import Order, ShipmentEvent, Survey, Ticket, TicketHistory
from storage.models.shifts import Complaint
from storage.repositories import Repo

if TYPE_CHECKING:
    from phrases.staff import StaffWords

NOTES_LIMIT = 4000  # characters kept on the record, the newest notes
NOTES_SHOWN = 1500  # of which the card shows the newest (a card stays under Telegram's 4,096)
RECENT_SHOWN = 5


@dataclass(frozen=True)
class CustomerRecord:
    customer: Customer
    orders: list[Order]
    tickets: list[Ticket]
    conversations: int
    scores: list[int]
    opted_out: bool
    recent: list[Conversation] = field(default_factory=list)  # newest first
    # Orders the shopper named in this conversation (P19): the agent sees their status even
    # when they are not linked to this account (the order desk stays out while a person has
    # the chat).
    asked: list[Order] = field(default_factory=list)

    def render(self, words: StaffWords, tz: tzinfo | None = None) -> str:
        """The card as plain text (the transport escapes it) in the reader's language, at most
        ~3,000 characters. The customer by name; the Telegram id only beside the @username
        lines staff act on (/note, /tag take an id, @username or order number)."""
        w, c = words, self.customer
        recent = "; ".join(
            w("card.recent", date=f"{v.opened_at.astimezone(tz):%m-%d}",
              state=w.label("state", v.state)) for v in self.recent
        ) or "—"
        handle = f"@{c.username}" if c.username else f"id {c.telegram_user_id}"
        lines = [
            w("card.who", customer=c.name or w("shopper"), handle=handle),
            w("card.contact", phone=c.phone or "—", language=c.language_code or "—"),
            w("card.seen", first=f"{c.first_seen_at:%Y-%m-%d}", last=f"{c.last_seen_at:%Y-%m-%d}",
              count=self.conversations, recent=recent),
        ]
        if c.blocked_at:
            lines.append(w("card.blocked"))
        if self.opted_out:
            lines.append(w("card.opted_out"))
        lines.append(w("card.orders", count=len(self.orders)))
        lines += [w("card.order", order=o.order_ref, status=w.label("order", o.status),
                    amount=f"{o.amount_cents / 100:.2f}", currency=o.currency)
                  for o in self.orders[:10]]
        own = {o.order_ref for o in self.orders}
        asked = [o for o in self.asked if o.order_ref not in own]
        if asked:  # P19: named in this chat, not linked to this account
            lines.append(w("card.asked"))
            lines += [w("card.asked_order", order=o.order_ref, status=w.label("order", o.status),
                        amount=f"{o.amount_cents / 100:.2f}", currency=o.currency)
                      for o in asked[:5]]
        lines.append(w("card.tickets", count=len(self.tickets)))
        lines += [w("card.ticket", ticket=t.id, kind=w.label("ticket", t.kind),
                    status=w.label("ticket", t.status),
                    due=f"{t.due_at:%m-%d %H:%M}") for t in self.tickets[:10]]
        if self.scores:
            average = sum(self.scores) / len(self.scores)
            lines.append(w("card.scores", scores=", ".join(map(str, self.scores)),
                           average=f"{average:.1f}"))
        if c.tags:
            lines.append(w("card.tags", tags=" ".join(f"#{tag}" for tag in c.tags)))
        if c.notes:
            shown = c.notes if len(c.notes) <= NOTES_SHOWN else "…" + c.notes[-NOTES_SHOWN:]
            lines.append(w("card.notes", notes=shown))
        return "\n".join(lines)


async def asked_orders(repo: Repo, conversation_id: int) -> list[Order]:
    """Orders named in the conversation's recent messages (the understanding's order ids)."""
    refs: list[str] = []
    for message in await repo.conversations.messages(conversation_id, limit=50):
        for ref in (message.meaning or {}).get("order_ids") or ():
            if isinstance(ref, str) and ref not in refs:
                refs.append(ref)
    found = await repo.orders.by_refs(refs[:20])
    return [found[ref] for ref in refs if ref in found]


async def customer_record(
    repo: Repo, customer: Customer, conversation_id: int | None = None
) -> CustomerRecord:
    """The card; with ``conversation_id`` it also shows the orders named in that chat."""
    conversations = await repo.session.scalar(
        select(func.count()).select_from(Conversation)
        .where(Conversation.customer_id == customer.id)
    )
    surveys = await repo.aftercare.surveys_for_customer(customer.id)
    return CustomerRecord(
        customer=customer,
        orders=await repo.orders.for_user(customer.telegram_user_id),
        tickets=await repo.tickets.for_customer(customer.id),
        conversations=int(conversations or 0),
        scores=[s.score for s in surveys if s.score is not None],
        opted_out=await repo.aftercare.opted_out(customer.id),
        recent=await repo.agents.recent_conversations(customer.id, limit=RECENT_SHOWN),
        asked=await asked_orders(repo, conversation_id) if conversation_id else [],
    )


async def add_note(
    repo: Repo, customer: Customer, author: str, text: str, now: datetime, tz: tzinfo, *,
    agent_id: int | None = None, conversation_id: int | None = None,
) -> str:
    """P16: an agent's internal note on the record, never sent to the shopper; the caller
    commits. One line "[YYYY-MM-DD HH:MM author] text", the newest NOTES_LIMIT characters
    kept. The event records that a note was written, not its words (/forget clears those)."""
    line = f"[{now.astimezone(tz):%Y-%m-%d %H:%M} {author}] {text.strip()}"
    customer.notes = f"{customer.notes}\n{line}".strip()[-NOTES_LIMIT:]
    await repo.events.add("agent_note", conversation_id=conversation_id, agent_id=agent_id,
                          customer=customer.id)
    return line


async def find_customer(repo: Repo, key: str) -> Customer | None:
    """By Telegram user id, @username or one of their order numbers."""
    key = key.strip()
    if key.startswith("@"):
        return await repo.session.scalar(
            select(Customer).where(Customer.username == key[1:]).limit(1))
    order = await repo.orders.by_ref(key)
    if order is not None and order.telegram_user_id:
        return await repo.customers.by_telegram_id(order.telegram_user_id)
    if key.isdigit():
        return await repo.customers.by_telegram_id(int(key))
    return None


def retag(customer: Customer, changes: list[str]) -> list[str]:
    """Apply "+vip -wholesale" style changes (a bare word adds); returns the new tag list.

    Tags are short labels agents use to group customers (P16 customer record).
    """
    tags = list(customer.tags or [])
    for change in changes:
        word = change.lstrip("+-#").strip().lower()[:32]
        if not word:
            continue
        if change.startswith("-"):
            tags = [tag for tag in tags if tag != word]
        elif word not in tags:
            tags.append(word)
    customer.tags = tags[:20]
    return customer.tags


async def forget(repo: Repo, customer: Customer, now: datetime) -> None:
    """P16 /forget: personal data removed, statistics kept; the caller commits."""
    customer.name = ""
    customer.username = None
    customer.phone = None
    customer.notes = ""
    conversation_ids = select(Conversation.id).where(Conversation.customer_id == customer.id)
    await repo.session.execute(
        update(Message).where(Message.conversation_id.in_(conversation_ids))
        .values(text="", meaning=None).execution_options(synchronize_session=False)
    )
    await repo.session.execute(
        update(Order).where(Order.telegram_user_id == customer.telegram_user_id)
        .values(customer_name="", phone=None).execution_options(synchronize_session=False)
    )
    await repo.session.execute(
        update(Ticket).where(Ticket.customer_id == customer.id)
        .values(reason="", photos=[]).execution_options(synchronize_session=False)
    )
    ticket_ids = select(Ticket.id).where(Ticket.customer_id == customer.id)
    await repo.session.execute(
        update(TicketHistory).where(TicketHistory.ticket_id.in_(ticket_ids))
        .values(note="").execution_options(synchronize_session=False)
    )
    await repo.session.execute(
        update(Survey).where(Survey.customer_id == customer.id)
        .values(comment=None).execution_options(synchronize_session=False)
    )
    # P14 complaints keep their cause, agent and step (the ladder and the report's counts);
    # the shopper's words go.
    await repo.session.execute(
        update(Complaint).where(Complaint.conversation_id.in_(conversation_ids))
        .values(text="").execution_options(synchronize_session=False)
    )
    await repo.web_images.forget(customer.chat_id)  # a web visitor's pictures
    await _forget_traces(repo, customer, conversation_ids)
    await repo.events.add("customer_forgotten", customer=customer.id, at=now)


# Event data keys that can hold what a person wrote or who they are (P16 /forget).
PERSONAL_EVENT_KEYS = ("original", "rewrite", "text", "note", "comment", "name", "address",
                       "phone", "reason")


async def _forget_traces(repo: Repo, customer: Customer, conversation_ids: Any) -> None:
    """What /forget used to leave: tags, the agents' note and tone-guard events (their text
    quotes the chat), shipment events (addresses, courier phones) and the orders' link to the
    Telegram account. Counts stay: events keep their kind, time and agent; orders their
    status and amount. Add a step here for any new place that keeps personal data."""
    customer.tags = []
    events = await repo.session.scalars(
        select(Event).where(Event.conversation_id.in_(conversation_ids))
    )
    for event in events:
        if any(key in (event.data or {}) for key in PERSONAL_EVENT_KEYS):
            event.data = {k: v for k, v in event.data.items() if k not in PERSONAL_EVENT_KEYS}
    order_ids = select(Order.id).where(Order.telegram_user_id == customer.telegram_user_id)
    await repo.session.execute(
        delete(ShipmentEvent).where(ShipmentEvent.order_id.in_(order_ids))
        .execution_options(synchronize_session=False)
    )
    await repo.session.execute(
        update(Order).where(Order.telegram_user_id == customer.telegram_user_id)
        .values(telegram_user_id=None).execution_options(synchronize_session=False)
    )
