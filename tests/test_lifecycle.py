"""The conversation's lifecycle (bot/services/lifecycle.py): regression tests through the
dispatcher for what used to be spread over eight modules (P2, P24)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import build_app, build_dispatcher
from bot.clock import FixedClock
from storage.models import Conversation, Event
from tests.fakes.recording_session import RecordingSession
from tests.test_agent_console import ALICE, MORNING, SHOPPER, H, console_settings, queued


@pytest.fixture
async def desk(db_url: str) -> AsyncIterator[H]:
    """The agents' console harness (tests/test_agent_console.py): Alice on duty."""
    session, clock = RecordingSession(), FixedClock(MORNING)
    app = await build_app(console_settings(db_url), session=session, clock=clock)
    harness = H(app, build_dispatcher(app), session, clock)
    await harness.duty(owner=False, bob=False)
    yield harness
    await app.close()


async def events(h: H, kind: str) -> list[Event]:
    async with h.app.sessions() as db:
        return list(await db.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


async def test_an_agent_who_answers_every_time_a_little_late_is_never_reassigned_P2(
    desk: H,
) -> None:
    """An agent's message in the topic is a human reply: it ends the wait, resets the misses
    and is recorded. Five late answers in a row (each after one holding reply) used to add up
    to three misses and a reassignment; the first-reply time stayed empty."""
    h = desk
    assert h.app.sla is not None
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    start = MORNING
    for n in range(5):
        h.clock.at = start
        await h.shopper(f"第{n + 1}个问题：这件衬衫能机洗吗？")
        h.clock.at = start + timedelta(seconds=25)  # the SLA (20 s) passed: a holding reply
        assert (await h.app.sla.tick()).holding == 1
        h.clock.at = start + timedelta(seconds=30)
        await h.agent(ALICE, f"可以机洗，第{n + 1}次回复", thread)
        start += timedelta(minutes=5)
    conversation: Conversation = await h.conversation()
    assert conversation.agent_id == ALICE and conversation.sla_misses == 0
    assert await events(h, "reassigned") == []
    replies = await events(h, "human_reply")
    assert [(e.agent_id, e.data["first"]) for e in replies] == [(ALICE, True)] + [
        (ALICE, False)] * 4
    assert [e.data["seconds"] for e in replies] == [30.0] * 5
    assert conversation.first_human_reply_at is not None
    assert conversation.reply_due_at is None and conversation.waiting_since is None
    assert SHOPPER in {r.chat_id for r in h.session.requests_of("copyMessage")}
