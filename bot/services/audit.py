"""The one log of the owner's changes (``/changes``): who changed what, and when.

Every service that changes what shoppers get or how the shop is staffed — templates, FAQ,
imports, inbox actions, notices, settings, the P9 term list, agents, shifts, complaints —
records it here, never as a report event. A change that can be taken back carries ``undo``
(see ``bot.services.faq_changes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from storage.base import utcnow
from storage.models import Customer
from storage.models.agents import Agent
from storage.models.audit import AuditEntry
from storage.repositories import Repo

NAME_LIMIT = 128


async def _known_name(repo: Repo, user_id: int) -> str | None:
    """The name the shop knows this person by: the agents roster, else the customer card."""
    agent = await repo.session.scalar(select(Agent).where(Agent.telegram_user_id == user_id))
    if agent is not None and (agent.name or agent.username):
        return agent.name or f"@{agent.username}"
    customer = await repo.session.scalar(
        select(Customer).where(Customer.telegram_user_id == user_id))
    if customer is not None and (customer.name or customer.username):
        return customer.name or f"@{customer.username}"
    return None


async def record(
    repo: Repo, actor_id: int | None, action: str, *, actor_name: str | None = None,
    undo: dict[str, Any] | None = None, at: datetime | None = None, **details: Any,
) -> AuditEntry:
    """One change, in the caller's transaction (the caller commits with the change itself)."""
    if actor_name is None and actor_id is not None:
        actor_name = await _known_name(repo, actor_id)
    return await repo.audit.add(AuditEntry(
        at=at or utcnow(), actor_id=actor_id,
        actor_name=(actor_name or None) and actor_name[:NAME_LIMIT],
        action=action[:40], details=details, undo=undo,
    ))


@dataclass(frozen=True)
class Change:
    """One line of ``/changes``: the texts are the caller's (phrase data)."""

    id: int
    at: datetime
    actor_id: int | None
    who: str | None  # a name, or None when only the id is known
    action: str
    details: dict[str, Any]
    undone: bool


async def recent(repo: Repo, limit: int = 20) -> list[Change]:
    """The newest changes first, each with the best name known for who made it."""
    rows = await repo.audit.recent(limit)
    names: dict[int, str | None] = {}
    for row in rows:
        if row.actor_id is not None and row.actor_id not in names:
            names[row.actor_id] = await _known_name(repo, row.actor_id)
    return [Change(row.id, row.at, row.actor_id,
                   (names.get(row.actor_id) if row.actor_id is not None else None)
                   or row.actor_name,
                   row.action, dict(row.details or {}), row.undone_at is not None)
            for row in rows]
