"""One intake: every shopper input is stored once before it is answered, and so are the answers.

Through the dispatcher (BotHarness), for the inputs that used to bypass the conversation: the
after-sales dialogue (/aftersales, its menu picks, the description, a photo, Done), /tickets,
/stop_notices, /forget and its button, and a button under an FAQ answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods import TelegramMethod
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session as OrmSession

from bot.settings import Settings
from storage.models import Customer, Message, Sender
from tests.aftersales_support import MORNING, SHOPPER, Harness
from tests.fakes.recording_session import RecordingSession, method_key
from tests.fakes.updates import PHOTO, callback_update, message_update


class StoreCheckingSession(RecordingSession):
    """At every sendMessage, notes which shopper updates are committed in ``messages`` (read
    through a separate database session, so only what was committed counts)."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: async_sessionmaker[AsyncSession] | None = None
        self.seen_at_send: list[tuple[str, set[int]]] = []

    async def make_request(self, bot: Bot, method: TelegramMethod[Any],
                           timeout: int | None = None) -> Any:
        if method_key(method) == "sendmessage" and self.sessions is not None:
            async with self.sessions() as db:
                stored = set(await db.scalars(
                    select(Message.update_id).where(Message.sender == Sender.SHOPPER)))
            self.seen_at_send.append((getattr(method, "text", ""), stored))
        return await super().make_request(bot, method, timeout)


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    session = StoreCheckingSession()
    h = await Harness.start(settings, MORNING, session=session)
    session.sessions = h.app.sessions
    yield h
    await h.app.close()


def pick(data: str, label: str) -> dict[str, Any]:
    """The message a button sat under, with that button (its label is what gets stored)."""
    return {"reply_markup": {"inline_keyboard": [[{"text": label, "callback_data": data}]]}}


async def feed_checked(h: Harness, update: Any) -> list[str]:
    """Feed one update; every message sent meanwhile saw its input committed already."""
    session: StoreCheckingSession = h.session  # type: ignore[assignment]
    before = len(session.seen_at_send)
    await h.feed(update)
    sends = session.seen_at_send[before:]
    assert sends, f"update {update.update_id} was not answered"
    for text, stored in sends:
        assert update.update_id in stored, f"{text!r} went out before the input was stored"
    return [text for text, _ in sends]


async def shopper_rows(h: Harness) -> dict[int, Message]:
    rows = await h.rows(Message)
    return {m.update_id: m for m in rows if m.sender == Sender.SHOPPER}


async def bot_texts(h: Harness) -> list[str]:
    return [m.text for m in await h.rows(Message) if m.sender == Sender.BOT]


async def test_the_ticket_dialogue_is_stored_before_it_is_answered_and_so_are_answers(
    h: Harness,
) -> None:
    await h.load([{"order_id": "20260501001", "status": "delivered",
                   "telegram_user_id": SHOPPER}])
    said: list[str] = []
    said += await feed_checked(h, message_update(1, SHOPPER, "/aftersales"))
    said += await feed_checked(h, callback_update(2, SHOPPER, "as:kind:return",
                                                  **pick("as:kind:return", "退货")))
    said += await feed_checked(h, callback_update(
        3, SHOPPER, "as:order:20260501001",
        **pick("as:order:20260501001", "20260501001 · delivered")))
    said += await feed_checked(h, message_update(4, SHOPPER, "袖子有破洞"))
    said += await feed_checked(h, message_update(5, SHOPPER, None, **PHOTO))
    said += await feed_checked(h, callback_update(6, SHOPPER, "as:done",
                                                  **pick("as:done", "完成")))
    said += await feed_checked(h, message_update(7, SHOPPER, "/tickets"))
    said += await feed_checked(h, message_update(8, SHOPPER, "/stop_notices"))

    rows = await shopper_rows(h)
    assert sorted(rows) == list(range(1, 9)), "each input stored, once"
    assert [(rows[i].kind, rows[i].text) for i in range(1, 9)] == [
        ("command", "/aftersales"), ("button", "退货"), ("button", "20260501001 · delivered"),
        ("text", "袖子有破洞"), ("photo", ""), ("button", "完成"), ("command", "/tickets"),
        ("command", "/stop_notices"),
    ]
    assert all(row.handled_at is not None for row in rows.values())
    assert {row.conversation_id for row in rows.values()} == {rows[1].conversation_id}
    assert rows[4].meaning == {"decision": "aftersales", "step": "photos"}
    # The bot's answers are the conversation's messages, in the same conversation.
    stored_answers = await bot_texts(h)
    for text in said:
        assert text in stored_answers
    assert "#1" in said[5] and "#1" in said[6]


async def test_a_redelivered_dialogue_step_is_answered_once(h: Harness) -> None:
    await h.feed(message_update(1, SHOPPER, "/aftersales"))
    await h.feed(callback_update(2, SHOPPER, "as:kind:repair"))
    await h.feed(callback_update(3, SHOPPER, "as:order:-"))
    update = message_update(4, SHOPPER, "拉链坏了")
    await h.feed(update)
    h.take_sent()
    await h.feed(update)  # the webhook delivered it again
    assert h.sent(SHOPPER) == []
    assert len([r for r in (await shopper_rows(h)).values() if r.update_id == 4]) == 1


async def test_forget_is_stored_then_the_deletion_wins_P16(h: Harness) -> None:
    await feed_checked(h, message_update(1, SHOPPER, "我的地址是幸福路 8 号", first_name="林小姐"))
    await feed_checked(h, message_update(2, SHOPPER, "/forget"))
    await feed_checked(h, callback_update(3, SHOPPER, "forget:yes",
                                          **pick("forget:yes", "确认删除")))
    rows = await shopper_rows(h)
    assert sorted(rows) == [1, 2, 3]
    assert all(row.text == "" for row in rows.values()), "nothing they said is kept"
    [customer] = await h.rows(Customer)
    assert customer.name == ""


async def test_a_button_under_an_faq_answer_is_stored_before_its_answer(h: Harness) -> None:
    entry = list(h.app.knowledge._entries["zh"].values())[2]
    await h.feed(message_update(1, SHOPPER, "你好"))
    said = await feed_checked(h, callback_update(2, SHOPPER, f"faq:{entry.id}",
                                                 **pick(f"faq:{entry.id}", entry.question)))
    assert entry.answer[:10] in "".join(said)
    row = (await shopper_rows(h))[2]
    assert (row.kind, row.text) == ("button", entry.question)
    assert row.meaning == {"decision": "button", "button": f"faq:{entry.id}"}
    await h.feed(callback_update(3, SHOPPER, f"fb:up:{entry.id}"))  # only a notice
    row = (await shopper_rows(h))[3]
    assert row.handled_at is not None and row.text == f"fb:up:{entry.id}"


async def test_staff_commands_are_not_shopper_messages(h: Harness) -> None:
    from tests.aftersales_support import AGENT

    await h.feed(message_update(1, AGENT, f"/card {SHOPPER}"))
    assert await shopper_rows(h) == {}




async def test_webhook_answers_200_for_a_button_press_only_once_it_is_stored(
    h: Harness,
) -> None:
    """Store-first holds for button presses too: one whose handling failed before it was
    stored gets 500, so Telegram sends it again; the second delivery is stored, once."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.resume import UpdateTracker
    from bot.webhook import build_webhook_app

    conversations = h.app.conversations
    real_intake = conversations.intake
    failures: Any = iter([])

    async def flaky_intake(repo: Any, inbound: Any) -> Any:
        error = next(failures, None)
        if error is not None:
            raise error
        return await real_intake(repo, inbound)

    conversations.intake = flaky_intake  # type: ignore[method-assign]
    press = callback_update(2, SHOPPER, "as:kind:return").model_dump(
        mode="json", by_alias=True, exclude_none=True)
    app = build_webhook_app(h.app, h.dp, UpdateTracker(), "s3cret-s3cret")
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-s3cret"}
    async with TestClient(TestServer(app)) as client:
        failures = iter([RuntimeError("database away")])
        first = await client.post("/webhook", json=press, headers=headers)
        assert first.status == 500
        again = await client.post("/webhook", json=press, headers=headers)
        assert again.status == 200
        assert (await client.post("/webhook", json=press, headers=headers)).status == 200
    rows = await shopper_rows(h)
    assert rows[2].kind == "button" and rows[2].handled_at is not None
    assert len([r for r in await h.rows(Message) if r.update_id == 2]) == 1


async def test_a_shoppers_first_and_next_questions_are_stored_without_the_orms_flush(
    h: Harness,
) -> None:
    """Stored first and answered as ever (checked by ``feed_checked``), but written the cheap
    way: a first message's customer and conversation with Core, its own commit's changes as
    Core statements, the next messages in the group writer's batches. The ORM's flush (its
    unit of work, several times dearer per row, measured under load) is never reached."""
    flushes = 0

    def flushed(*_: Any) -> None:
        nonlocal flushes
        flushes += 1

    event.listen(OrmSession, "after_flush", flushed)
    try:
        await feed_checked(h, message_update(1, SHOPPER, "How long does delivery take?"))
        await feed_checked(h, message_update(2, SHOPPER, "Do you ship abroad?"))
    finally:
        event.remove(OrmSession, "after_flush", flushed)
    rows = await shopper_rows(h)
    assert sorted(rows) == [1, 2] and all(m.handled_at is not None for m in rows.values())
    assert len(await bot_texts(h)) >= 3  # greeting and two answers
    assert flushes == 0


async def test_a_failure_before_storing_sends_nothing_and_one_after_storing_apologises(
        h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Store first holds on the error path too: the apology says "your message is saved", so a
    message that could not be stored (the database away) gets no word — Telegram delivers it
    again — and one that was stored and then failed gets the apology."""
    from bot.services.conversation import ConversationService
    from handlers.errors import SORRY

    session: StoreCheckingSession = h.session  # type: ignore[assignment]
    stored_intake = ConversationService.intake
    answer = ConversationService.answer

    async def database_away(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("too many clients already")

    monkeypatch.setattr(ConversationService, "intake", database_away)
    await h.feed(message_update(101, SHOPPER, "多久发货"))
    assert session.seen_at_send == []  # not stored, so not answered, not even "sorry"

    monkeypatch.setattr(ConversationService, "intake", stored_intake)
    monkeypatch.setattr(ConversationService, "answer", database_away)
    await h.feed(message_update(102, SHOPPER, "多久发货"))
    assert [(text, 102 in seen) for text, seen in session.seen_at_send] == [(SORRY, True)]

    monkeypatch.setattr(ConversationService, "answer", answer)
    await h.feed(message_update(101, SHOPPER, "多久发货"))  # Telegram's next delivery
    assert session.seen_at_send[-1][0] != SORRY and 101 in session.seen_at_send[-1][1]
