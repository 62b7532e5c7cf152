"""P11/P24: the shift calendar is on by default as soon as agents exist — the rota decides who
is on duty and the hours the shopper is told. ``SHIFT_CALENDAR=off`` and the owner's
``/shifts off`` keep the other mode (every present agent on duty within SERVICE_HOURS); a shop
that ran before and never chose gets the calendar, one whose owner turned it off keeps it off.
Owner 900; agents 901 (Mei) and 902 (Ken); the agents' group -100999."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.services import shifts as sh
from bot.services.staff import CALENDAR_KEY, calendar_enabled
from bot.settings import load_settings
from storage.models import Conversation, ConversationState
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.harness import ChatHarness
from tests.test_rota_discipline import GROUP, KEN, MEI, MONDAY, OWNER, at

SHOPPER = 5301


@dataclass
class H(ChatHarness):
    async def say(self, user: int, text: str, **kw: Any) -> list[str]:
        """What the bot sent back to ``user`` only."""
        await super().say(user, text, **kw)
        return self.sent(user)

    async def conversation(self) -> Conversation:
        return (await self.rows(Conversation))[-1]


async def start(db_url: str, when: datetime, **env: str) -> H:
    settings = load_settings({"DATABASE_URL": db_url, "OWNER_IDS": str(OWNER),
                              "AGENT_IDS": f"{MEI},{KEN}", "AGENT_CHAT_ID": str(GROUP), **env})
    return await H.start(settings, when, RecordingSession(), ids=itertools.count(100))


@pytest.fixture
async def noon(db_url: str) -> AsyncIterator[H]:
    """Monday 12:00 in Shanghai: outside the policy's evening shift (18:30–24:00)."""
    h = await start(db_url, at(MONDAY, 12))
    yield h
    await h.app.close()


async def test_out_of_the_box_the_rota_decides_and_the_shopper_hears_its_hours_P11_P24(
    noon: H,
) -> None:
    said = await noon.say(SHOPPER, "转人工")
    assert any("18:30" in text for text in said), said  # the running day's shift start
    conversation = await noon.conversation()
    assert conversation.state == ConversationState.QUEUED and conversation.agent_id is None
    async with noon.app.sessions() as db:
        assert await calendar_enabled(Repo(db))
    said = await noon.say(OWNER, "/shifts")
    assert any("on" in text for text in said), said


async def test_in_the_evening_the_shifts_agent_gets_the_chat_P11(db_url: str) -> None:
    # The evening whose group is Ken's (the second on the roster): without the calendar
    # the first present agent, Mei, would get the chat.
    day = next(d for d in (MONDAY, MONDAY + timedelta(days=1))
               if sh.rotation(d, [MEI, KEN]) == (KEN,))
    h = await start(db_url, at(day, 20))
    try:
        await h.say(SHOPPER, "转人工")
        async with h.app.sessions() as db:
            [shift] = await sh.shifts_between(Repo(db), day, day)
        assert shift.agents == (KEN,)  # two agents: one group each evening
        assert (await h.conversation()).agent_id == KEN
    finally:
        await h.app.close()


async def test_shift_calendar_off_keeps_every_present_agent_on_duty_P24(db_url: str) -> None:
    h = await start(db_url, at(MONDAY, 12), SHIFT_CALENDAR="off", SERVICE_HOURS="always")
    try:
        await h.say(SHOPPER, "转人工")
        assert (await h.conversation()).agent_id in (MEI, KEN)
    finally:
        await h.app.close()


async def test_the_owners_shifts_off_is_kept_and_wins_over_the_default_P11(
    noon: H, db_url: str
) -> None:
    await noon.say(OWNER, "/shifts off")
    await noon.app.close()
    again = await start(db_url, at(MONDAY, 12), SERVICE_HOURS="always")  # a restart
    try:
        async with again.app.sessions() as db:
            assert not await calendar_enabled(Repo(db))
        await again.say(SHOPPER, "转人工")
        assert (await again.conversation()).agent_id in (MEI, KEN)
    finally:
        await again.app.close()


async def test_a_running_shop_that_never_chose_gets_the_calendar_P11(
    noon: H, db_url: str
) -> None:
    async with noon.app.sessions() as db:
        repo = Repo(db)
        assert await repo.faq.setting(CALENDAR_KEY) is None  # the owner never said
        assert await calendar_enabled(repo)


async def test_without_agents_there_is_no_calendar_P24(db_url: str) -> None:
    settings = load_settings({"DATABASE_URL": db_url, "OWNER_IDS": str(OWNER)})
    h = await H.start(settings, at(MONDAY, 12), RecordingSession(), ids=itertools.count(1))
    try:
        async with h.app.sessions() as db:
            assert not await calendar_enabled(Repo(db))
    finally:
        await h.app.close()
