"""Dispatcher tests for seams the handoff end-to-end test found (P8).

- A photo sent while an agent has the chat got the bot's "I read only text, reply 人工 for a
  colleague" — the colleague was already there; now it only goes to the agent's topic.
- What the bot answered a waiting shopper (a FAQ answer, the queue place) was not shown in the
  agents' topic: the agent taking over did not know what the shopper had been told.
- The zh queue phrase said "您前面还有1位顾客" to the only waiting shopper: ``queue_position``
  is the shopper's own place (1 = next), not the number of people ahead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import build_app, build_dispatcher
from bot.clock import FixedClock
from phrases.catalogue import say
from storage.models import Message, Sender
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import PHOTO
from tests.test_agent_console import GROUP, MORNING, SHOPPER, H, console_settings


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    session = RecordingSession()
    app = await build_app(console_settings(db_url), session=session, clock=FixedClock(MORNING))
    harness = H(app, build_dispatcher(app), session, FixedClock(MORNING))
    await harness.duty(owner=False, bob=False)  # Alice alone is on duty
    yield harness
    await app.close()


async def test_a_photo_to_an_assigned_chat_goes_to_the_agent_without_a_bot_reply(h: H) -> None:
    await h.shopper("转人工")  # Alice is free: assigned at once
    before = len(h.texts_to(SHOPPER))
    await h.shopper(None, **PHOTO)
    assert h.texts_to(SHOPPER)[before:] == []
    assert h.to(GROUP, "copyMessage")[-1].from_chat_id == SHOPPER


async def test_a_photo_while_queued_is_not_told_to_ask_for_a_person(h: H) -> None:
    await h.duty(alice=False)
    await h.shopper("转人工")
    await h.shopper(None, **PHOTO)
    last_bot = [m for m in await h.rows(Message) if m.sender == Sender.BOT][-1]
    assert not last_bot.meaning["phrase"].startswith("explanation.media")
    assert "回复“人工”" not in h.texts_to(SHOPPER)[-1]
    assert h.to(GROUP, "copyMessage")[-1].from_chat_id == SHOPPER


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_only_waiting_shopper_is_not_told_someone_is_ahead(h: H, lang: str) -> None:
    catalogue = h.app.knowledge.catalogue
    text, key = say(catalogue, "queued", lang, "position", values={"queue_position": 1})
    assert key == "explanation.queued_position" and "1" in text
    assert "前面还有1" not in text and "1 ahead" not in text
    assert {"zh": "第1位", "en": "number 1"}[lang] in text


async def test_what_the_bot_tells_a_waiting_shopper_is_shown_to_the_agents(h: H) -> None:
    """Handoff seam (P8): the bot still answers a FAQ question while the shopper waits for (or talks
    to) a person; the agent taking over must see that answer, not only the shopper's message."""
    await h.duty(alice=False)
    await h.shopper("转人工")
    queued_line = h.texts_to(SHOPPER)[-1]
    assert any(queued_line in text for text in h.texts_to(GROUP))  # the queue place, too
    await h.shopper("How long does delivery take?")
    answer = h.texts_to(SHOPPER)[-1]
    topic_posts = h.to(GROUP)
    assert topic_posts[-1].text == f"🤖 → 顾客：{answer}"  # both HTML-escaped once
    assert topic_posts[-1].message_thread_id == await h.thread()
    assert h.to(GROUP, "copyMessage")[-1].from_chat_id == SHOPPER  # the question before it
