"""Queries about the web chat's pictures (storage/models/web.py): each visitor's own only."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.web import WebImage


class WebImageRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, owner_chat_id: int, message_id: int | None, content_type: str,
                  data: bytes) -> WebImage:
        image = WebImage(owner_chat_id=owner_chat_id, message_id=message_id,
                         content_type=content_type, size=len(data), data=data)
        self.session.add(image)
        await self.session.flush()
        return image

    async def owned(self, image_id: int, owner_chat_id: int) -> WebImage | None:
        """The picture when ``owner_chat_id`` owns it; None for anyone else's (or none)."""
        return await self.session.scalar(select(WebImage).where(
            WebImage.id == image_id, WebImage.owner_chat_id == owner_chat_id))

    async def of_message(self, owner_chat_id: int, message_id: int) -> WebImage | None:
        return await self.session.scalar(select(WebImage).where(
            WebImage.owner_chat_id == owner_chat_id, WebImage.message_id == message_id)
            .order_by(WebImage.id).limit(1))

    async def ids_of_messages(self, owner_chat_id: int,
                              message_ids: Iterable[int]) -> dict[int, int]:
        """message id → picture id, for the messages of one chat that carry a picture."""
        wanted = [m for m in set(message_ids) if m is not None]
        if not wanted:
            return {}
        rows = await self.session.execute(select(WebImage.message_id, WebImage.id).where(
            WebImage.owner_chat_id == owner_chat_id, WebImage.message_id.in_(wanted)))
        return {int(message_id): int(image_id) for message_id, image_id in rows}

    async def forget(self, owner_chat_id: int) -> None:
        """P16 /forget: a visitor's pictures are personal data; they go."""
        await self.session.execute(delete(WebImage).where(
            WebImage.owner_chat_id == owner_chat_id).execution_options(
            synchronize_session=False))
