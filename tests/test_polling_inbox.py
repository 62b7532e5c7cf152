"""Durable long polling in-process (bot/polling.py), over HTTP to the fake Bot API server.

A batch is in the update inbox before the getUpdates that confirms it; what a crash left in
the inbox is handled at the next start, once; a shopper message whose handling failed before
it was stored is tried again. The crash test of the real process is test_polling_crash.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Update
from sqlalchemy import func, select

import bot.polling
from bot.app import App, build_app, build_dispatcher
from bot.polling import DurablePolling
from bot.settings import load_settings
from handlers.errors import SORRY
from storage.models import Event, InboxUpdate, Message, Sender
from storage.repositories.inbox import InboxRepo
from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.updates import message_json, user_json

FAQ_EN = "How long does delivery take?"


@dataclass
class WatchingServer(FakeTelegramServer):
    """Notes, at each getUpdates that confirms something, which updates are in the inbox."""

    inbox_at_confirm: list[tuple[int, set[int]]] = field(default_factory=list)
    sessions: Any = None

    async def _api_getupdates(self, p: dict[str, Any], call: Any) -> Any:
        offset = int(p.get("offset") or 0)
        if offset > 0 and self.sessions is not None:
            async with self.sessions() as db:
                ids = set(await db.scalars(select(InboxUpdate.update_id)))
            self.inbox_at_confirm.append((offset, ids))
        return await super()._api_getupdates(p, call)


@dataclass
class Rig:
    server: WatchingServer
    app: App
    dp: Dispatcher

    async def run(self, until: Callable[[], bool], timeout: float = 20) -> DurablePolling:
        """Replay, then poll until ``until()``; then stop as on SIGTERM."""
        polling = DurablePolling(self.app, self.dp, polling_timeout=1)
        forgetter = asyncio.create_task(polling.forget_handled())
        await polling.replay()
        poller = asyncio.create_task(polling.poll_forever())
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while not until():
                assert asyncio.get_running_loop().time() < deadline, self.server.calls[-5:]
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # anything handled twice would show up here
        finally:
            poller.cancel()
            await asyncio.gather(poller, return_exceptions=True)
            await polling.drain(forgetter)
        return polling

    def sent(self, chat: int, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [c.params for c in self.server.calls if c.ok and c.method == method
                and str(c.params.get("chat_id", chat)) == str(chat)]

    async def shopper_updates(self) -> list[int]:
        async with self.app.sessions() as db:
            query = select(Message.update_id).where(Message.sender == Sender.SHOPPER)
            return list(await db.scalars(query.order_by(Message.id)))

    async def count(self, model: type, *where: Any) -> int:
        async with self.app.sessions() as db:
            return int(await db.scalar(select(func.count()).select_from(model).where(*where))
                       or 0)


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[Rig]:
    async with WatchingServer() as server:
        settings = load_settings({
            "DATABASE_URL": db_url, "BOT_TOKEN": "4343:INBOX", "TELEGRAM_API_URL": server.base_url,
        })
        session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
        app = await build_app(settings, session=session)
        server.sessions = app.sessions
        yield Rig(server, app, build_dispatcher(app))
        await app.close()


def user(chat: int) -> dict[str, Any]:
    return user_json(chat, "Ann", "en")


async def test_a_batch_is_in_the_inbox_before_the_poll_that_confirms_it(rig: Rig) -> None:
    chats = range(501, 511)
    rig.server.delay_next("sendMessage", 1.0)  # the first answer is slow: the batch is in flight
    pushed = [rig.server.push_message(chat, FAQ_EN, user=user(chat)) for chat in chats]
    await rig.run(lambda: all(len(rig.sent(chat)) >= 2 for chat in chats))
    first_confirm = next((ids, offset) for offset, ids in rig.server.inbox_at_confirm
                         if offset > pushed[0])
    ids, offset = first_confirm
    assert offset == pushed[-1] + 1
    assert set(pushed) <= ids, "confirmed before stored"
    assert sorted(await rig.shopper_updates()) == pushed
    assert await rig.count(InboxUpdate) == 0, "handled updates are forgotten"
    for chat in chats:
        assert len(rig.sent(chat)) == 2  # greeting + answer, once


async def test_a_restart_handles_what_the_inbox_kept_once(rig: Rig) -> None:
    """As after a kill: three updates stored in the inbox, Telegram never told (they are
    still pending there). One message was stored and answered before the kill."""
    answered = rig.server.push_message(601, FAQ_EN, user=user(601))
    fresh = rig.server.push_message(602, FAQ_EN, user=user(602))
    bot_message = {**message_json(603, "…"), "from": {"id": 4343, "is_bot": True,
                                                     "first_name": "Shop"}}
    press = rig.server.push_callback_query(603, "fb:up:delivery", bot_message, user=user(603))
    raw = list(rig.server._pending)
    async with rig.app.sessions() as db:
        await InboxRepo(db).store_batch(
            [(u["update_id"], Update.model_validate(u).model_dump_json(
                exclude_unset=True, by_alias=True)) for u in raw],
            press + 1, rig.app.clock.now())
        await db.commit()
    await rig.dp.feed_update(rig.app.bot, Update.model_validate(raw[0]))  # before the kill
    before = len(rig.sent(601))

    await rig.run(lambda: len(rig.sent(602)) >= 2 and rig.sent(603, "answerCallbackQuery"))
    assert sorted(await rig.shopper_updates()) == [answered, fresh, press]  # a press is input
    assert len(rig.sent(601)) == before, "a stored message is not answered again"
    assert len(rig.sent(602)) == 2
    assert len(rig.sent(603, "answerCallbackQuery")) == 1
    assert await rig.count(Event, Event.kind == "faq_feedback") == 1
    assert await rig.count(InboxUpdate) == 0
    polls = [c.params for c in rig.server.calls if c.method == "getUpdates"]
    assert int(polls[0]["offset"]) == press + 1, "the stored offset: not taken twice"


async def test_a_message_that_failed_before_it_was_stored_is_tried_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.polling, "RETRY_DELAYS", (0.2, 0.2))
    intake = rig.app.conversations.intake
    failures = []

    async def flaky(repo: Any, inbound: Any) -> Any:
        if not failures:
            failures.append(inbound.update_id)
            raise ConnectionError("database away")
        return await intake(repo, inbound)

    monkeypatch.setattr(rig.app.conversations, "intake", flaky)
    update_id = rig.server.push_message(701, FAQ_EN, user=user(701))
    await rig.run(lambda: len(rig.sent(701)) >= 2)  # greeting + answer, on the second try
    assert failures == [update_id]
    assert SORRY not in rig.sent(701)  # not stored at the failure: no "your message is saved"
    assert await rig.shopper_updates() == [update_id]
    assert await rig.count(InboxUpdate) == 0
