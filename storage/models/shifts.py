"""The people side of the policy: shift calendar changes, swaps, handovers, complaints.

P11 the weekly rota itself is computed (bot/services/shifts.py); only what departs from it is
stored here: closed days, explicit assignments (owner or approved swap). P12 swaps, P13
handover notes and records, P14 complaints against agents.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class ShiftAssignment(Base):
    """An explicit agent of one day's shift; any row for a day replaces the rotation (P11/P12)."""

    __tablename__ = "shift_assignments"
    __table_args__ = (UniqueConstraint("day", "agent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    agent_id: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16), default="owner")


class ClosedDay(Base):
    """A day without a shift (holiday); nobody is on duty (P11)."""

    __tablename__ = "closed_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(200), default="")


class SwapState(StrEnum):
    ASKED = "asked"  # waiting for the colleague
    ACCEPTED = "accepted"  # waiting for the owner
    APPROVED = "approved"
    REFUSED = "refused"


class ShiftSwap(Base):
    """P12: an agent gives their shift (and takes the colleague's, if named) — owner approves."""

    __tablename__ = "shift_swaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(BigInteger, index=True)
    requester_day: Mapped[date] = mapped_column(Date)
    colleague_id: Mapped[int] = mapped_column(BigInteger, index=True)
    colleague_day: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default=SwapState.ASKED)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]


class HandoverNote(Base):
    """Free text an agent leaves for the next shift with /handover (P13)."""

    __tablename__ = "handover_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    record_id: Mapped[int | None] = mapped_column(
        ForeignKey("handover_records.id", ondelete="SET NULL")
    )


class HandoverRecord(Base):
    """What one shift leaves to the next (P13); written at shift end, shown at next start."""

    __tablename__ = "handover_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_day: Mapped[date] = mapped_column(Date)
    shift_start: Mapped[datetime] = mapped_column(unique=True)
    shift_end: Mapped[datetime]
    agents: Mapped[list[int]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    shown_to: Mapped[list[int]] = mapped_column(JSON, default=list)


class ComplaintStatus(StrEnum):
    """P14: only a service complaint the owner confirmed counts against an agent."""

    PENDING = "pending"  # about service, an agent served: waiting for the owner's decision
    CHARGED = "charged"  # the owner confirmed: a step of the agent's ladder
    RECORDED = "recorded"  # product, courier, price, other, or nobody served: charged to nobody
    DISMISSED = "dismissed"  # the owner found it unfounded


class Complaint(Base):
    """P14: one complaint per conversation, however many messages it took, with its cause and
    the agent who served the shopper before it (if any)."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), unique=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    agent_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    period: Mapped[str] = mapped_column(String(16))  # e.g. "2026-05" (the owner's period)
    step: Mapped[int] = mapped_column(default=0)  # 1st, 2nd, 3rd… charged complaint in period
    cause: Mapped[str] = mapped_column(String(16), default="other", server_default="other")
    status: Mapped[str] = mapped_column(String(16), default=ComplaintStatus.RECORDED,
                                        server_default="recorded")
    # The last complaining message folded into this complaint (later ones of the same chat).
    last_message_id: Mapped[int | None]
    charged_at: Mapped[datetime | None]
    charged_by: Mapped[int | None] = mapped_column(BigInteger)
    unfounded_at: Mapped[datetime | None]
    unfounded_by: Mapped[int | None] = mapped_column(BigInteger)
