"""A fair gate per group (P2 for every shopper): one shopper's relays flooding the agents'
group cannot hold back another shopper's topic, and nothing is lost or reordered.

Telegram is the recording session with the group's limit switched on (20 posts a minute,
then HTTP 429 with ``retry_after``), on virtual time so minutes pass at once.
"""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.methods import SendMessage

from bot.transport.fair_gate import GroupGate
from bot.transport.outgoing import OutgoingGuard, install_outgoing_guard
from tests.fakes.recording_session import RecordingSession
from tests.fakes.virtual_time import VirtualTime

GROUP, SHOPPER_CHAT = -100500, 5
A_TOPIC, B_TOPIC = 11, 22


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def session(vt: VirtualTime) -> RecordingSession:
    session = RecordingSession()
    session.limit_chat(GROUP, 20, vt)
    return session


def guarded(session: RecordingSession, vt: VirtualTime) -> Bot:
    bot = session.make_bot()
    gate = GroupGate(clock=vt, sleep=vt.sleep)
    install_outgoing_guard(bot, OutgoingGuard(sleep=vt.sleep, gate=gate))
    return bot


def posts(session: RecordingSession) -> list[str]:
    return [m.text for m in session.delivered if isinstance(m, SendMessage)]


async def test_p2_another_shoppers_post_goes_before_the_rest_of_a_flood(session, vt) -> None:
    bot = guarded(session, vt)

    async def scenario() -> None:
        for i in range(20):  # shopper A's burst fills the group's minute
            await bot.send_message(GROUP, f"A{i}", message_thread_id=A_TOPIC)
        rest = [asyncio.create_task(bot.send_message(GROUP, f"A{i}", message_thread_id=A_TOPIC))
                for i in range(20, 30)]
        await asyncio.sleep(0)
        b = asyncio.create_task(bot.send_message(GROUP, "B0", message_thread_id=B_TOPIC))
        # The shopper's own chat is not held behind the group.
        await bot.send_message(SHOPPER_CHAT, "to the shopper")
        assert "A20" not in posts(session)
        await asyncio.gather(*rest, b)

    await vt.run(scenario())
    shown = posts(session)
    assert shown.index("to the shopper") < shown.index("A20")
    group = [t for t in shown if t != "to the shopper"]
    # B's single message first once the group opens again, then the rest of A's burst, in order.
    assert group == [f"A{i}" for i in range(20)] + ["B0"] + [f"A{i}" for i in range(20, 30)]


async def test_p2_group_posts_are_paced_after_a_429_and_none_is_given_up(session, vt) -> None:
    """Sixty posts from one topic at 20 a minute: every one arrives, in order, and after the
    first refusal Telegram is not hammered (retry_after respected, posts spaced)."""
    bot = guarded(session, vt)
    start = vt.now

    async def scenario() -> None:
        await asyncio.gather(*(bot.send_message(GROUP, f"A{i}", message_thread_id=A_TOPIC)
                               for i in range(60)))

    await vt.run(scenario())
    assert posts(session) == [f"A{i}" for i in range(60)]
    refused = len(session.requests) - len(session.delivered)
    assert refused <= 41  # the first wave only (40 sent at once beyond the minute), then paced
    assert vt.now - start >= 120  # three minutes' worth at 20 a minute: Telegram's pace


async def test_the_gate_leaves_private_chats_and_edits_alone() -> None:
    from aiogram.methods import CopyMessage, EditMessageText, SendChatAction
    assert GroupGate.covers(SendMessage(chat_id=GROUP, text="x"))
    assert GroupGate.covers(CopyMessage(chat_id=GROUP, from_chat_id=5, message_id=1))
    assert not GroupGate.covers(SendMessage(chat_id=SHOPPER_CHAT, text="x"))
    assert not GroupGate.covers(EditMessageText(chat_id=GROUP, message_id=1, text="x"))
    assert not GroupGate.covers(SendChatAction(chat_id=GROUP, action="typing"))
