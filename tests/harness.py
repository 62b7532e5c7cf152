"""The dispatcher harness flow tests share: the real app and routers, a recording Bot session
(FIFO answers, see fakes/recording_session.py) and a clock the test moves."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import Dispatcher
from aiogram.types import Update
from sqlalchemy import select

from bot.app import App, build_app, build_dispatcher
from bot.clock import FixedClock
from bot.settings import Settings
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import message_update


@dataclass
class BotHarness:
    app: App
    dp: Dispatcher
    session: RecordingSession
    clock: FixedClock

    @classmethod
    async def start(
        cls, settings: Settings, at: datetime, session: RecordingSession | None = None,
        **extra: Any,
    ) -> Any:
        """Build the app as production does, on ``session`` and a clock fixed at ``at``."""
        session = session or RecordingSession()
        clock = FixedClock(at)
        app = await build_app(settings, session=session, clock=clock)
        return cls(app, build_dispatcher(app), session, clock, **extra)

    async def feed(self, update: Update) -> None:
        await self.dp.feed_update(self.app.bot, update)

    def sent(self, to: int | None = None) -> list[str]:
        """Texts sent so far (to one chat when ``to`` is given)."""
        return [r.text for r in self.session.requests_of("sendMessage")
                if to is None or r.chat_id == to]

    def take_sent(self, to: int | None = None) -> list[str]:
        texts = self.sent(to)
        self.session.requests.clear()
        return texts

    def buttons(self) -> list[str]:
        """Callback data of the last message's inline buttons."""
        last = self.session.requests_of("sendMessage")[-1]
        markup = last.reply_markup
        return [b.callback_data for row in markup.inline_keyboard for b in row] if markup else []

    async def rows(self, model: type) -> list[Any]:
        async with self.app.sessions() as db:
            return list(await db.scalars(select(model)))


@dataclass
class ChatHarness(BotHarness):
    """A harness whose people type: each message gets the next update id."""

    ids: itertools.count[int]

    async def say(self, user: int, text: str, **kw: Any) -> list[str]:
        """``user`` sends ``text``; returns what the bot sent in answer (to anyone)."""
        self.session.requests.clear()
        await self.feed(message_update(next(self.ids), user, text, **kw))
        return self.sent()
