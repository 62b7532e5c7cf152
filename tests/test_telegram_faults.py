"""Telegram faults over real HTTP (the fake Bot API server), on both database back ends.

The dispatcher runs in-process with the production session (aiohttp + OutgoingGuard) pointed
at the fake server: 429 flood control waits at least ``retry_after`` (P2: late, never lost),
403 marks the shopper blocked without retries, 5xx and timeouts are retried a bounded number
of times, a malformed answer neither crashes the bot nor loses the message.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiogram import Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError
from aiogram.types import Update
from sqlalchemy import select

from bot.app import App, build_app, build_dispatcher
from bot.resume import Resumer, UpdateTracker
from bot.settings import load_settings
from bot.transport.outgoing import OutgoingGuard
from storage.models import Customer, Message, Sender
from tests.fakes.telegram_server import FakeTelegramServer, RecordedCall
from tests.fakes.updates import message_json

FAQ_EN = "How long does delivery take?"
_updates = itertools.count(10_000)


@dataclass
class Rig:
    server: FakeTelegramServer
    app: App
    dp: Dispatcher

    async def say(self, chat: int, text: str) -> int:
        update_id = next(_updates)
        message = message_json(chat, text, first_name="Ann", language_code="en")
        await self.dp.feed_update(self.app.bot, Update.model_validate(
            {"update_id": update_id, "message": message}))
        return update_id

    def sends(self, chat: int) -> list[RecordedCall]:
        """Every sendMessage attempt to ``chat``, failed ones included."""
        return [c for c in self.server.calls
                if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(chat)]

    async def stored(self, update_id: int) -> Message | None:
        async with self.app.sessions() as db:
            return await db.scalar(select(Message).where(Message.update_id == update_id))

    async def bot_messages(self) -> int:
        async with self.app.sessions() as db:
            return len(list(await db.scalars(select(Message).where(Message.sender == Sender.BOT))))


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[Rig]:
    async with FakeTelegramServer() as server:
        settings = load_settings({
            "DATABASE_URL": db_url, "BOT_TOKEN": "4242:FAULTS", "OWNER_IDS": "900",
            "AGENT_IDS": "901", "TELEGRAM_API_URL": server.base_url,
        })
        session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url), timeout=0.5)
        app = await build_app(settings, session=session)
        for guard in app.bot.session.middleware._middlewares:
            if isinstance(guard, OutgoingGuard):
                guard.base_backoff = 0.05  # keep the test quick; the schedule is the same
        yield Rig(server, app, build_dispatcher(app))
        await app.close()


async def test_flood_control_waits_at_least_retry_after_then_answers(rig: Rig) -> None:
    rig.server.fail_next("sendMessage", status=429, retry_after=1,
                         description="Too Many Requests: retry after 1")
    update_id = await rig.say(5101, FAQ_EN)
    sends = rig.sends(5101)
    assert [c.status for c in sends[:2]] == [429, 200]
    assert sends[1].at - sends[0].at >= 1.0, "never faster than Telegram asked"
    stored = await rig.stored(update_id)
    assert stored is not None and stored.handled_at is not None


async def test_blocked_by_the_shopper_marks_them_and_never_retries(rig: Rig) -> None:
    rig.server.fail_next("sendMessage", status=403, times=5,
                         description="Forbidden: bot was blocked by the user")
    update_id = await rig.say(5102, "hello")
    assert len(rig.sends(5102)) == 1, "a 403 is final"
    assert await rig.stored(update_id) is not None  # kept for the shop (store first)
    async with rig.app.sessions() as db:
        customer = await db.scalar(select(Customer).where(Customer.chat_id == 5102))
    assert customer is not None and customer.blocked_at is not None
    assert await Resumer(rig.app, rig.dp).run_once(0.0) == 0  # and no retry later either
    assert len(rig.sends(5102)) == 1


async def test_server_errors_are_retried_a_bounded_number_of_times(rig: Rig) -> None:
    rig.server.fail_next("sendMessage", status=502, times=2, description="Bad Gateway")
    first = await rig.say(5103, FAQ_EN)
    assert [c.status for c in rig.sends(5103)][:3] == [502, 502, 200]
    assert (await rig.stored(first)).handled_at is not None  # type: ignore[union-attr]

    rig.server.fail_next("sendMessage", status=500, times=50, description="Internal")
    before = len(rig.sends(5104))
    second = await rig.say(5104, FAQ_EN)
    attempts = rig.sends(5104)[before:]
    # 1 try + 3 retries for the answer, the same for the error router's apology: then give up.
    assert 0 < len(attempts) <= 8 and all(c.status == 500 for c in attempts)
    stored = await rig.stored(second)
    assert stored is not None and stored.handled_at is None  # kept, not lost
    rig.server._faults.clear()  # Telegram is back: the resumer answers it, once
    assert await Resumer(rig.app, rig.dp).run_once(0.0) == 1
    assert (await rig.stored(second)).handled_at is not None  # type: ignore[union-attr]
    assert await Resumer(rig.app, rig.dp).run_once(0.0) == 0


async def test_the_resumer_leaves_updates_still_being_handled_here_alone(rig: Rig) -> None:
    """Under load a message waits its turn longer than the resumer's grace."""
    rig.server.fail_next("sendMessage", status=500, times=50, description="Internal")
    update_id = await rig.say(5107, FAQ_EN)
    rig.server._faults.clear()
    tracker = UpdateTracker()
    tracker.in_flight.add(update_id)  # as if this process were still handling it
    resumer = Resumer(rig.app, rig.dp, tracker=tracker)
    assert await resumer.run_once(0.0) == 0
    assert (await rig.stored(update_id)).handled_at is None  # type: ignore[union-attr]
    tracker.in_flight.discard(update_id)  # done here without answering: now it is resumed
    assert await resumer.run_once(0.0) == 1


async def test_timeouts_are_retried_for_safe_calls_and_bounded(rig: Rig) -> None:
    for _ in range(2):
        rig.server.delay_next("getMe", 0.8)  # longer than the session's 0.5 s timeout
    me = await rig.app.bot.get_me()
    assert me.is_bot and len([c for c in rig.server.calls if c.method == "getMe"]) == 3
    for _ in range(4):
        rig.server.delay_next("getMe", 0.8)
    with pytest.raises(TelegramNetworkError):
        await rig.app.bot.get_me()
    assert len([c for c in rig.server.calls if c.method == "getMe"]) == 3 + 4


async def test_a_timed_out_send_is_not_repeated_blindly(rig: Rig) -> None:
    """It may have reached Telegram: repeating could show it twice. Kept, resumed later."""
    rig.server.delay_next("sendMessage", 0.8)
    update_id = await rig.say(5105, "hello")
    assert (await rig.stored(update_id)) is not None
    texts = [c.params.get("text") for c in rig.sends(5105)]
    assert texts and len(set(texts)) == len(texts), "nothing was sent twice"


async def test_a_malformed_answer_neither_crashes_nor_loses_the_message(rig: Rig) -> None:
    rig.server.malformed_next("sendMessage")
    update_id = await rig.say(5106, FAQ_EN)  # returns normally: the error router took it
    stored = await rig.stored(update_id)
    assert stored is not None
    if stored.handled_at is None:
        assert await Resumer(rig.app, rig.dp).run_once(0.0) == 1
    assert (await rig.stored(update_id)).handled_at is not None  # type: ignore[union-attr]
    assert any(c.status == 200 for c in rig.sends(5106))
