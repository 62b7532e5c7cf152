"""Dispatcher tests, in Chinese where the shop is: every setting /settings shows can be changed
from Telegram or says plainly why not (/cap 3, the shop's default cap, used to be a dead end),
and one greeting edit reaches a new shopper at any hour, exactly as previewed (P3)."""

from __future__ import annotations

import html
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.services import owner_admin as oa
from bot.services.queue import QueueService
from bot.settings import Settings
from storage.repositories import Repo
from tests.test_agent_console import MORNING, _customer_chat
from tests.test_owner_flow import GROUP, OWNER, FileSession, Harness

SH = ZoneInfo("Asia/Shanghai")
ALICE, BOB = 901, 902


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    settings = settings.model_copy(update={"agent_chat_id": GROUP})
    at = datetime(2026, 5, 5, 8, tzinfo=SH).astimezone(UTC)  # a Tuesday, 08:00 shop time
    h = await Harness.start(settings, at, FileSession(), ids=itertools.count(1000))
    yield h
    await h.app.close()


async def test_cap_3_sets_the_shops_default_cap_from_telegram(h: Harness) -> None:
    assert await h.say(OWNER, "/cap 3") == ["agent_cap = 3"]
    shown = "\n".join(await h.say(OWNER, "/settings"))
    assert "agent_cap: 3" in shown
    refused = "\n".join(await h.say(OWNER, "/cap 0"))
    assert "Not changed" in refused and "between 1 and 100" in refused


async def test_the_owners_default_cap_decides_assignment(repo: Repo) -> None:
    """The queue reads the owner's /cap at each assignment (the shop file's 5 otherwise)."""
    await repo.agents.ensure([ALICE, BOB])
    queue = QueueService(default_cap=5)
    await oa.change_setting(repo, OWNER, "agent_cap", "1")
    got = [await queue.assign(repo, await _customer_chat(repo, 7100 + i, MORNING), MORNING)
           for i in range(3)]
    assert got == [ALICE, BOB, None]  # both at the owner's cap of 1: the third waits


@pytest.mark.parametrize("name", list(oa.SHOP_FILE_REASONS))
async def test_settings_kept_in_the_shop_file_say_plainly_why(h: Harness, name: str) -> None:
    reply = html.unescape("\n".join(await h.say(OWNER, f"/set {name} 1")))
    assert reply.startswith("Not changed") and "restart" in reply
    assert oa.SHOP_FILE_REASONS[name] in reply


async def test_every_setting_shown_is_changeable_or_explained(h: Harness) -> None:
    shown = "\n".join(await h.say(OWNER, "/settings"))
    names = [line.split(":", 1)[0] for line in shown.splitlines() if ":" in line]
    for name in names:
        if name == "shifts":
            continue  # /setshift, /shifts
        assert name in oa.SETTING_RULES or name in oa.SHOP_FILE_REASONS, name
