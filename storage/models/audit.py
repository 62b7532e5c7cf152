"""The owner's change log: one row per change made to what shoppers get (templates, FAQ,
imports, inbox actions, notices, settings, the P9 term list, agents, shifts).

Written only through ``bot.services.audit``. ``undo`` holds what restores the state before the
change (the FAQ rows it touched, the inbox questions it closed), so ``/faqundo`` can put back
exactly what was there; ``undone_at`` marks a change that was taken back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)  # None: the command line
    actor_name: Mapped[str | None] = mapped_column(String(128))  # as known when it was done
    action: Mapped[str] = mapped_column(String(40), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    undo: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    undone_at: Mapped[datetime | None] = mapped_column()
    undone_by: Mapped[int | None] = mapped_column(BigInteger)
