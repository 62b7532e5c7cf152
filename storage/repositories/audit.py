"""Queries of the owner's change log (``audit_log``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.audit import AuditEntry


class AuditRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, entry: AuditEntry) -> AuditEntry:
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def recent(self, limit: int = 20, actions: Iterable[str] | None = None
                     ) -> list[AuditEntry]:
        """Newest first."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if actions is not None:
            query = query.where(AuditEntry.action.in_(list(actions)))
        return list(await self.session.scalars(query))

    async def last_undoable(self, actions: Iterable[str]) -> AuditEntry | None:
        """The newest change of these kinds that carries an undo and was not undone yet."""
        return await self.session.scalar(
            select(AuditEntry)
            .where(AuditEntry.action.in_(list(actions)), AuditEntry.undo.is_not(None),
                   AuditEntry.undone_at.is_(None))
            .order_by(AuditEntry.id.desc()).limit(1)
        )

    async def newest_since(self, entry_id: int, actions: Iterable[str]) -> list[AuditEntry]:
        """Changes of these kinds made after ``entry_id`` and still in force."""
        return list(await self.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id > entry_id, AuditEntry.action.in_(list(actions)),
                   AuditEntry.undone_at.is_(None))
            .order_by(AuditEntry.id)
        ))

    @staticmethod
    def mark_undone(entry: AuditEntry, by: int | None, at: datetime) -> None:
        entry.undone_at, entry.undone_by = at, by

    @staticmethod
    def details(entry: AuditEntry) -> dict[str, Any]:
        return dict(entry.details or {})
