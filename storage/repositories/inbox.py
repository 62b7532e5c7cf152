"""The update inbox of long polling (bot/polling.py): store a batch, forget what was handled.

Statements are built once (the poll loop runs them for every batch); rows go through Core.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Insert, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import upsert_for
from storage.models import InboxUpdate, Message, ShopSetting

#: shop_settings key: the offset of the next getUpdates, written with each stored batch.
NEXT_OFFSET_KEY = "polling:next_update_id"

_INBOX = InboxUpdate.__table__
_FORGET = delete(_INBOX).where(_INBOX.c.update_id.in_(bindparam("ids", expanding=True)))
_PENDING = select(InboxUpdate.update_id, InboxUpdate.payload).order_by(InboxUpdate.update_id)
_STORED_AS_MESSAGES = select(Message.update_id).where(
    Message.update_id.in_(bindparam("ids", expanding=True)))
_OFFSET = select(ShopSetting.value).where(ShopSetting.key == NEXT_OFFSET_KEY)


@cache
def _statements(upsert: Any) -> tuple[Insert, Insert]:
    """(store one update, set the next offset) in the dialect of ``upsert``; both idempotent."""
    store = upsert(_INBOX).values(
        update_id=bindparam("update_id"), payload=bindparam("payload"),
        received_at=bindparam("at", type_=_INBOX.c.received_at.type),
    ).on_conflict_do_nothing(index_elements=[_INBOX.c.update_id])
    settings = ShopSetting.__table__
    offset = upsert(settings).values(key=NEXT_OFFSET_KEY, value=bindparam("offset"))
    offset = offset.on_conflict_do_update(index_elements=[settings.c.key],
                                          set_={"value": offset.excluded.value})
    return store, offset


class InboxRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def store_batch(
        self, updates: Sequence[tuple[int, str]], next_offset: int, now: datetime
    ) -> None:
        """Every (update id, JSON) of one getUpdates answer, and the offset that confirms them:
        one transaction (the caller commits), so a crash keeps both or neither."""
        store, offset = _statements(upsert_for(self.session))
        connection = await self.session.connection()
        if updates:
            await connection.execute(store, [{"update_id": update_id, "payload": payload,
                                              "at": now} for update_id, payload in updates])
        await connection.execute(offset, {"offset": str(next_offset)})

    async def next_offset(self) -> int | None:
        """The offset to ask Telegram for: past every update ever stored here."""
        value = await self.session.scalar(_OFFSET)
        return int(value) if value else None

    async def pending(self) -> list[tuple[int, str]]:
        """(update id, JSON) of stored updates not known to be handled, oldest first."""
        return [(row[0], row[1]) for row in (await self.session.execute(_PENDING)).all()]

    async def forget(self, update_ids: Collection[int]) -> None:
        """Handled: these updates are not handled again after a restart."""
        if update_ids:
            connection = await self.session.connection()
            await connection.execute(_FORGET, {"ids": list(update_ids)})

    async def stored_as_messages(self, update_ids: Collection[int]) -> set[int]:
        """Which of these updates the conversation already stored as shopper messages."""
        if not update_ids:
            return set()
        rows = await self.session.scalars(_STORED_AS_MESSAGES, {"ids": list(update_ids)})
        return {int(update_id) for update_id in rows}
