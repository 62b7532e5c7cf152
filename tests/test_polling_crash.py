"""Long polling survives ``kill -9`` mid-burst: every update stored once and answered once.

The real bot process long-polls the fake Bot API server (as a one-process shop runs it with a
token), 100 shoppers send a burst of 300 updates (messages, edits and button presses), the
process is killed with SIGKILL while it works through them, then started again. Telegram never
sends an update again once the bot asked for a later offset, so whatever the killed process
had confirmed but not stored would be gone for good. On both back ends.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from storage.engine import create_engine, create_session_factory
from storage.models import Event, InboxUpdate, Sender
from tests.fakes.bot_processes import PollingBotProcess, messages_of, polling_env
from tests.fakes.telegram_server import FakeTelegramServer

SHOPPERS = 100
FAQ_EN = ["How long does delivery take?", "Do you ship abroad?", "What payment methods?"]
BUTTON = "fb:up:delivery"  # "this answer helped": one faq_feedback event per press


def user(chat: int) -> dict:
    return {"id": chat, "is_bot": False, "first_name": f"S{chat}", "language_code": "en"}


def bot_message(chat: int) -> dict:
    """A bot message in the shopper's chat, under which a button is pressed."""
    return {"message_id": 10**6 + chat, "date": 1_780_000_000, "text": "…",
            "chat": {"id": chat, "type": "private", "first_name": f"S{chat}"},
            "from": {"id": 123456, "is_bot": True, "first_name": "Shop Bot"}}


def burst(server: FakeTelegramServer, chats: list[int]) -> tuple[set[int], dict[int, str]]:
    """Three updates per shopper: a question, another or an edit of the first, and a third
    message or a button press. Returns the message update ids and, per button press update
    id, its callback query id."""
    messages: set[int] = set()
    firsts: dict[int, int] = {}
    for chat in chats:
        messages.add(server.push_message(chat, random.choice(FAQ_EN), user=user(chat)))
        firsts[chat] = max(k[1] for k in server._messages if k[0] == chat)
    for chat in chats:
        if chat % 10 == 0:  # an edit is a message update of its own (stored, answered)
            messages.add(server.push_edited_message(chat, firsts[chat], "Do you ship abroad?",
                                                    user=user(chat)))
        else:
            messages.add(server.push_message(chat, random.choice(FAQ_EN), user=user(chat)))
    presses: dict[int, str] = {}
    for chat in chats:
        if chat % 10 == 5:
            update_id = server.push_callback_query(chat, BUTTON, bot_message(chat),
                                                   user=user(chat))
            [query] = [u["callback_query"] for u in server._pending
                       if u["update_id"] == update_id]  # not fetched yet: no await since
            presses[update_id] = query["id"]
        else:
            messages.add(server.push_message(chat, "thanks", user=user(chat)))
    return messages, presses


def sends(server: FakeTelegramServer, method: str = "sendMessage") -> list[dict]:
    """Parameters of the successful calls of ``method`` so far."""
    return [c.params for c in server.calls if c.ok and c.method == method]


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.01)


async def feedback_events(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as db:
            query = select(func.count()).select_from(Event).where(Event.kind == "faq_feedback")
            return int(await db.scalar(query) or 0)
    finally:
        await engine.dispose()


async def inbox_rows(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as db:
            return int(await db.scalar(select(func.count()).select_from(InboxUpdate)) or 0)
    finally:
        await engine.dispose()


async def wait_until_all_handled(bot: PollingBotProcess, database_url: str, chats: list[int],
                                 expected: set[int], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        shopper = [m for m, _ in await messages_of(database_url, chats)
                   if m.sender == Sender.SHOPPER]
        stored = {m.update_id for m in shopper}
        if expected <= stored and all(m.handled_at for m in shopper):
            return
        if asyncio.get_running_loop().time() > deadline:
            unhandled = sum(1 for m in shopper if m.handled_at is None)
            raise AssertionError(f"after the restart {len(expected - stored)} of {len(expected)} "
                                 f"messages were never stored, {unhandled} stored unanswered\n"
                                 f"{bot.log_tail()}")
        await asyncio.sleep(0.25)


async def test_kill_9_during_a_polling_burst_loses_nothing_and_answers_once(
    db_url: str, tmp_path: Path
) -> None:
    chats = list(range(91000, 91000 + SHOPPERS))
    server = FakeTelegramServer()
    await server.start()
    bot = PollingBotProcess(polling_env(server.base_url, db_url, "123456:POLL-CRASH"),
                            tmp_path / "bot.log", server=server)
    try:
        await bot.start()
        await bot.wait_ready()
        messages, presses = burst(server, chats)
        inputs = messages | set(presses)  # a button press is stored like a message (intake)
        assert len(inputs) == 3 * SHOPPERS
        # Mid-burst: some updates answered, the rest fetched or still waiting at Telegram.
        await until(lambda: len(sends(server)) >= SHOPPERS // 2, 60, "first answers")
        await bot.kill()
        at_kill = [m for m, _ in await messages_of(db_url, chats) if m.sender == Sender.SHOPPER]
        in_flight = sum(1 for m in at_kill if m.handled_at is None)
        unconfirmed = sum(1 for u in server._pending if u["update_id"] in inputs)
        print(f"\nkilled with {len(at_kill)} of {len(inputs)} inputs stored "
              f"({in_flight} unanswered), {unconfirmed} not yet confirmed to Telegram")

        await bot.start()  # the same database: what the killed process took must be there
        await bot.wait_ready()
        await wait_until_all_handled(bot, db_url, chats, inputs)
        await asyncio.sleep(0.5)  # a second answer to anything would show up here

        stored = await messages_of(db_url, chats)
        shopper = [(m, chat) for m, chat in stored if m.sender == Sender.SHOPPER]
        assert sorted(m.update_id for m, _ in shopper) == sorted(inputs), "each stored once"
        for chat in chats:  # per shopper, stored in the order sent
            sent_order = [m.update_id for m, c in shopper if c == chat]
            assert sent_order == sorted(sent_order), (chat, sent_order)
        # Answered once: each reply Telegram accepted is a recorded bot message, except the
        # unavoidable few a killed process sent just before it could record them — only for
        # inputs it was answering at the kill (stored, not yet marked answered).
        sent = Counter(str(p.get("chat_id")) for p in sends(server))
        recorded = Counter(str(chat) for m, chat in stored if m.sender == Sender.BOT)
        unrecorded = sum(sent[str(chat)] - recorded[str(chat)] for chat in chats)
        assert all(sent[str(chat)] >= recorded[str(chat)] for chat in chats)
        assert unrecorded <= 3 * in_flight, (unrecorded, in_flight)
        # Each press answered once, or (stored, unanswered at the kill) recorded as expired.
        answers = Counter(p.get("callback_query_id")
                          for p in sends(server, "answerCallbackQuery"))
        expired = {m.update_id for m, _ in shopper
                   if (m.meaning or {}).get("decision") == "button_expired"}
        assert {u for u, query in presses.items() if answers[query] == 1} | expired \
            == set(presses), (answers, expired)
        assert await feedback_events(db_url) == len(presses) - len(expired & set(presses))
        print(f"after the restart: all {len(inputs)} inputs stored once and answered, "
              f"{unrecorded} replies sent twice (answered as the kill came), "
              f"{len(expired)} presses recorded as expired")
        await bot.stop()  # SIGTERM: a clean stop, every handled update forgotten
        assert bot.process is not None and bot.process.returncode == 0, bot.log_tail()
        assert await inbox_rows(db_url) == 0
    finally:
        failed = sys.exc_info()[0] is not None
        await bot.stop()
        await server.stop()
        if failed:
            print(bot.log_tail(60))
