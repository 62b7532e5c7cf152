"""One resume path for polling and webhooks (bot.resume): under the shopper's lock, through the
handler a message was meant for, commands parsed like live ones (``/Start@shop_bot``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import event

from bot.fsm import user_lock
from bot.resume import Resumer, install_resumer
from bot.settings import Settings
from storage.models import Conversation, Customer, Message, Sender
from storage.repositories import Repo
from tests.aftersales_support import MORNING, SHOPPER, Harness
from tests.fakes.updates import PHOTO, message_update


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, MORNING)
    yield h
    await h.app.close()


async def stored_unanswered(h: Harness, text: str, kind: str, update_id: int = 77) -> int:
    """A message stored by a process that died before answering it (a first contact)."""
    async with h.app.sessions() as db:
        customer = Customer(telegram_user_id=SHOPPER, chat_id=SHOPPER, name="林",
                            language_code="zh", first_seen_at=MORNING, last_seen_at=MORNING)
        db.add(customer)
        await db.flush()
        conversation = Conversation(customer_id=customer.id, opened_at=MORNING,
                                    last_activity_at=MORNING, language="zh")
        db.add(conversation)
        await db.flush()
        message = Message(conversation_id=conversation.id, sender=Sender.SHOPPER, kind=kind,
                          text=text, update_id=update_id, telegram_message_id=5,
                          created_at=MORNING)
        db.add(message)
        await db.commit()
        h.clock.at = MORNING + timedelta(seconds=5)
        return message.id


async def row(h: Harness, message_id: int) -> Message:
    async with h.app.sessions() as db:
        found = await db.get(Message, message_id)
        assert found is not None
        return found


async def test_a_stored_start_with_the_bots_username_is_a_start_not_an_unknown_command(
    h: Harness,
) -> None:
    message_id = await stored_unanswered(h, "/Start@shop_bot", "command")
    assert await Resumer(h.app, h.dp).run_once(0.0) == 1
    answered = await row(h, message_id)
    assert answered.handled_at is not None
    assert answered.meaning is not None and answered.meaning["command"] == "start"
    assert answered.meaning.get("greeted") is True  # P1: the greeting, late but given
    assert not any("指令" in text for text in h.sent(SHOPPER))
    assert len(await h.rows(Message)) == 2, "the same row answered, nothing stored twice"


async def test_a_command_for_another_bot_is_not_taken_for_ours() -> None:
    from bot.services.inbound import command_of

    assert command_of("/Start@Shop_Bot hi", "shop_bot") == "start"
    assert command_of("/start@OtherBot", "shop_bot") is None
    assert command_of("/help") == "help" and command_of("hello") is None


async def test_a_stored_aftersales_command_reaches_the_ticket_dialogue(h: Harness) -> None:
    await stored_unanswered(h, "/aftersales", "command")
    assert await Resumer(h.app, h.dp).run_once(0.0) == 1
    assert "as:kind:return" in h.buttons()  # its own handler answered, not "unknown command"


async def test_the_resumer_waits_for_the_shoppers_lock(h: Harness) -> None:
    text_id = await stored_unanswered(h, "你好", "text")
    lock = user_lock(h.dp.fsm.events_isolation, h.app.bot.id, SHOPPER, SHOPPER)
    async with lock:  # an update of this shopper is being handled right now
        resuming = asyncio.create_task(Resumer(h.app, h.dp).run_once(0.0))
        await asyncio.sleep(0.2)
        assert not resuming.done() and h.sent(SHOPPER) == []
    assert await resuming == 1
    assert (await row(h, text_id)).handled_at is not None


async def test_media_are_resumed_from_the_row_under_the_lock(h: Harness) -> None:
    photo_id = await stored_unanswered(h, "", "photo")
    lock = user_lock(h.dp.fsm.events_isolation, h.app.bot.id, SHOPPER, SHOPPER)
    async with lock:
        resuming = asyncio.create_task(Resumer(h.app, h.dp).run_once(0.0))
        await asyncio.sleep(0.2)
        assert not resuming.done()
    assert await resuming == 1
    assert (await row(h, photo_id)).handled_at is not None
    assert h.sent(SHOPPER), "the shopper heard back"


async def test_polling_and_webhook_start_the_same_resumer(h: Harness) -> None:
    """bot.runner (polling, terminal) and bot.webhook both enter ``Resumer.running``."""
    message_id = await stored_unanswered(h, "你好", "text")
    resumer = install_resumer(h.app, h.dp)
    async with resumer.running(interval=0.05):
        assert (await row(h, message_id)).handled_at is not None  # the pass at start
        await h.feed(message_update(78, SHOPPER, None, **PHOTO))
        async with h.app.sessions() as db:  # as if handling it had failed half-way
            stored = await Repo(db).conversations.by_update_id(78)
            assert stored is not None
            stored.handled_at = None
            await db.commit()
        h.clock.at += timedelta(seconds=10)
        for _ in range(100):
            if (await stored_row(h, 78)).handled_at is not None:
                break
            await asyncio.sleep(0.05)
    assert (await stored_row(h, 78)).handled_at is not None  # the background passes


async def stored_row(h: Harness, update_id: int) -> Message:
    async with h.app.sessions() as db:
        found = await Repo(db).conversations.by_update_id(update_id)
        assert found is not None
        return found


async def test_an_idle_resumer_does_not_query_between_sweeps(h: Harness) -> None:
    """Nothing handled here since a pass found nothing: no query until the sweep (for what
    another process left), instead of one every interval."""
    resumer = install_resumer(h.app, h.dp)
    resumer.sweep = 3600.0
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    async with resumer.running(interval=0.01):
        event.listen(h.app.engine.sync_engine, "before_cursor_execute", seen)
        try:
            for _ in range(30):
                await asyncio.sleep(0.01)
        finally:
            event.remove(h.app.engine.sync_engine, "before_cursor_execute", seen)
    assert statements == []
    assert resumer.quiet()


async def test_after_an_update_the_resumer_looks_again(h: Harness) -> None:
    """An update handled here may have left its message unanswered (a handler that failed
    half-way): the next pass after it looks, sweep or not."""
    resumer = install_resumer(h.app, h.dp)
    resumer.sweep = 3600.0
    assert await resumer.run_once() == 0 and resumer.quiet()
    await h.feed(message_update(79, SHOPPER, "你好"))
    assert not resumer.quiet()


async def test_a_message_another_process_left_is_answered_by_the_sweep(h: Harness) -> None:
    """Nothing happens in this process, yet a peer died with a stored message: the sweep
    finds it (P1/P2: the sweep comes within half the shortest notice)."""
    resumer = install_resumer(h.app, h.dp)
    assert resumer.sweep == h.app.settings.sla_greeting_seconds / 2
    resumer.sweep = 0.05
    async with resumer.running(interval=0.01):
        message_id = await stored_unanswered(h, "你好", "text")
        for _ in range(200):
            if (await row(h, message_id)).handled_at is not None:
                break
            await asyncio.sleep(0.02)
    assert (await row(h, message_id)).handled_at is not None
