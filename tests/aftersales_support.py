"""Shared pieces of the after-sales tests: a dispatcher harness and order fixtures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Dispatcher
from aiogram.types import Update
from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.services import order_import
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession

MORNING = datetime(2026, 5, 4, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
OWNER = 900
AGENT = 901
SHOPPER = 5001
STRANGER = 5002


@dataclass
class Harness:
    app: App
    dp: Dispatcher
    session: RecordingSession
    clock: FixedClock

    async def feed(self, update: Update) -> None:
        await self.dp.feed_update(self.app.bot, update)

    def sent(self, chat_id: int | None = None) -> list[str]:
        return [r.text for r in self.session.requests_of("sendMessage")
                if chat_id is None or r.chat_id == chat_id]

    def take_sent(self, chat_id: int | None = None) -> list[str]:
        texts = self.sent(chat_id)
        self.session.requests.clear()
        return texts

    def buttons(self) -> list[str]:
        last = self.session.requests_of("sendMessage")[-1]
        markup = last.reply_markup
        return [b.callback_data for row in markup.inline_keyboard for b in row] if markup else []

    async def rows(self, model: type) -> list[Any]:
        async with self.app.sessions() as db:
            return list(await db.scalars(select(model)))

    async def load(self, records: list[dict[str, Any]]) -> order_import.ImportResult:
        """Orders as the shop's system would post them (JSON), committed."""
        async with self.app.sessions() as db:
            repo = Repo(db)
            result = order_import.parse_json(records, SHANGHAI)
            assert result.ok, result.errors
            await order_import.apply(repo, result, self.clock.now())
            await repo.commit()
            return result
