"""Orders, shipments, after-sales tickets, surveys, follow-ups and notices (P16–P22).

Everything that must happen later (a survey, a 回访, a notice copy, a shipping notice) is a row
with a status; a periodic job claims due rows with compare-and-set, so a restart loses nothing
and two workers never send the same row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


# P19: statuses the shopper hears about before they have to ask.
NOTIFY_STATUSES = (OrderStatus.SHIPPED, OrderStatus.DELAYED, OrderStatus.DELIVERED)
IN_TRANSIT = (OrderStatus.SHIPPED, OrderStatus.DELAYED)


class Order(Base):
    """One order as the shop's system reported it; ``order_ref`` is the shop's own number."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_ref: Mapped[str] = mapped_column(String(64), unique=True)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(40))
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(8), default="CNY")
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.PENDING)
    carrier: Mapped[str | None] = mapped_column(String(60))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
    # The status the shopper was last told about (P19); differs from ``status`` → tell them.
    notified_status: Mapped[str | None] = mapped_column(String(16))
    stale_flagged_at: Mapped[datetime | None]


class ShipmentEvent(Base):
    """One tracking event; re-importing the same event is a no-op (unique)."""

    __tablename__ = "shipment_events"
    __table_args__ = (UniqueConstraint("order_id", "at", "description"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(String(500), default="")


class OrderLookup(Base):
    """A pending "last 4 digits of your phone" check (P19 privacy), and its failed attempts."""

    __tablename__ = "order_lookups"
    __table_args__ = (Index("ix_order_lookups_customer_asked", "customer_id", "asked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    order_ref: Mapped[str] = mapped_column(String(64))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(16))  # verified / failed / None=pending


class TicketKind(StrEnum):
    RETURN = "return"
    EXCHANGE = "exchange"
    REPAIR = "repair"  # repair or quality problem
    COMPLAINT = "complaint"


class TicketStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


#: The tickets the complaint tracker opens for complaints made in chat.
CHAT_COMPLAINT = "kind = 'complaint' AND opened_by = 'system'"


class Ticket(Base):
    """An after-sales case tracked to the end (P18, P20)."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_customer_status", "customer_id", "status"),
        # P20: a complaint made in chat becomes one ticket, whichever process tracks it first
        # (every process runs the tracking job).
        Index("uq_tickets_chat_complaint", "conversation_id", unique=True,
              sqlite_where=text(CHAT_COMPLAINT), postgresql_where=text(CHAT_COMPLAINT)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.OPEN)
    reason: Mapped[str] = mapped_column(Text, default="")
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)  # Telegram file ids
    opened_by: Mapped[str] = mapped_column(String(16), default="shopper")
    owner_id: Mapped[int | None] = mapped_column(BigInteger)  # the agent responsible
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    due_at: Mapped[datetime]
    first_resolved_at: Mapped[datetime | None]  # handling rate: on time = first resolution ≤ due
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)


class TicketHistory(Base):
    """Every status change and note on a ticket, with who did it."""

    __tablename__ = "ticket_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(40))  # "shopper", "agent:901", "system"
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class JobStatus(StrEnum):
    """Life of a scheduled outgoing row: due → sending (claimed) → sent → answered."""

    DUE = "due"
    SENDING = "sending"
    SENT = "sent"
    ANSWERED = "answered"
    FAILED = "failed"
    BLOCKED = "blocked"  # a notice copy for a shopper who blocked the bot: skipped, counted
    TASK = "task"  # for agents only: nothing is sent to the shopper
    SKIPPED = "skipped"  # P21 a bot-only conversation not drawn in the sample: nothing sent


class Survey(Base):
    """P21: one satisfaction survey per conversation an agent handled (unique)."""

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.DUE)
    due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    score: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]


class FollowUp(Base):
    """P17 回访: after delivery, after a resolved ticket, or an agents' task after a low score."""

    __tablename__ = "follow_ups"
    __table_args__ = (Index("ix_follow_ups_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "delivery:<order id>", "ticket:<id>:<resolution n>", "survey:<id>": scheduling is idempotent.
    source: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # delivery / ticket / low_score
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.DUE)
    due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # ok / problem
    answered_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")
    # P17 the year-end report's 回访 questions, 1–5 each: attitude / time / handling.
    scores: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class Notice(Base):
    """P22: one broadcast by the owner; texts per language, counts kept up to date."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    segment: Mapped[str] = mapped_column(String(32))
    texts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class NoticeDelivery(Base):
    """One copy of a notice for one customer: claimed before sending, so none goes out twice."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "customer_id"),
        Index("ix_notice_deliveries_notice_status", "notice_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.DUE)  # due/sending/sent/…
    at: Mapped[datetime | None]


class NoticeOptOut(Base):
    """A shopper who asked for no more notices (one command, P22)."""

    __tablename__ = "notice_opt_outs"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
