"""FAQ entries and the owner's phrase templates."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import FaqEntryRow, PhraseTemplate, ShopSetting


class FaqRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self, lang: str | None = None) -> list[FaqEntryRow]:
        query = select(FaqEntryRow).order_by(FaqEntryRow.lang, FaqEntryRow.id)
        if lang is not None:
            query = query.where(FaqEntryRow.lang == lang)
        return list(await self.session.scalars(query))

    async def get(self, key: str, lang: str) -> FaqEntryRow | None:
        return await self.session.scalar(
            select(FaqEntryRow).where(FaqEntryRow.key == key, FaqEntryRow.lang == lang)
        )

    async def replace_language(self, lang: str, rows: Iterable[FaqEntryRow]) -> None:
        """Swap one language's whole FAQ in the current transaction (an import, or a new file)."""
        await self.session.execute(delete(FaqEntryRow).where(FaqEntryRow.lang == lang))
        self.session.add_all(list(rows))
        await self.session.flush()

    async def setting(self, key: str) -> str | None:
        row = await self.session.get(ShopSetting, key)
        return row.value if row else None

    async def set_setting(self, key: str, value: str) -> None:
        await self.session.merge(ShopSetting(key=key, value=value))

    async def setting_once(self, key: str, value: str) -> str:
        """Store ``value`` unless the key has one; returns the stored value. Two processes
        racing both get the first one written (the key is the primary key)."""
        existing = await self.setting(key)
        if existing is not None:
            return existing
        try:
            async with self.session.begin_nested():
                self.session.add(ShopSetting(key=key, value=value))
        except IntegrityError:
            stored = await self.setting(key)
            if stored is None:
                raise
            return stored
        return value


class TemplateRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> list[PhraseTemplate]:
        return list(await self.session.scalars(select(PhraseTemplate).order_by(PhraseTemplate.id)))

    async def upsert(
        self, *, key: str, lang: str, category: str, text: str, tags: list[str]
    ) -> None:
        row = await self.session.scalar(
            select(PhraseTemplate).where(PhraseTemplate.key == key, PhraseTemplate.lang == lang)
        )
        if row is None:
            self.session.add(
                PhraseTemplate(key=key, lang=lang, category=category, text=text, tags=tags)
            )
        else:
            row.text, row.category, row.tags = text, category, tags
        await self.session.flush()
