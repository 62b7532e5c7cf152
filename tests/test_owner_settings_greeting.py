"""Dispatcher tests, in Chinese where the shop is: every setting /settings shows can be changed
from Telegram or says plainly why not (/cap 3, the shop's default cap, used to be a dead end),
and one greeting edit reaches a new shopper at any hour, exactly as previewed (P3)."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.services import owner_admin as oa
from bot.services.knowledge import KnowledgeBase
from bot.settings import Settings
from phrases.staff import StaffWords
from storage.repositories import Repo
from tests.fakes.updates import message_update
from tests.owner_support import FileSession
from tests.owner_support import OwnerHarness as Harness
from tests.test_agent_console import MORNING, _customer_chat, round_the_clock
from tests.test_owner_flow import GROUP, OWNER

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
    assert await h.say(OWNER, "/cap 3") == ["已修改：每位客服同时接待上限 agent_cap = 3"]
    shown = "\n".join(await h.say(OWNER, "/settings"))
    assert "每位客服同时接待上限：3（/cap &lt;数量&gt;" in shown
    refused = "\n".join(await h.say(OWNER, "/cap 0"))
    assert "未修改" in refused and "须在 1 到 100 之间" in refused


async def test_the_owners_default_cap_decides_assignment(repo: Repo) -> None:
    """The queue reads the owner's /cap at each assignment (the shop file's 5 otherwise)."""
    await repo.agents.ensure([ALICE, BOB])
    queue = await round_the_clock(repo, 5)  # not a test of the hours (P24): staffed all day
    await oa.change_setting(repo, OWNER, "agent_cap", "1")
    got = [await queue.assign(repo, await _customer_chat(repo, 7100 + i, MORNING), MORNING)
           for i in range(3)]
    assert got == [ALICE, BOB, None]  # both at the owner's cap of 1: the third waits


async def test_every_setting_shown_is_changeable_or_says_plainly_why(h: Harness) -> None:
    """…in the owner's language (staff phrases set.reason.<name>)."""
    zh = StaffWords(h.app.knowledge.catalogue, "zh")
    for name in oa.SHOP_FILE_SETTINGS:
        reply = html.unescape("\n".join(await h.say(OWNER, f"/set {name} 1")))
        assert reply.startswith("未修改") and "重启" in reply, reply
        assert zh(f"set.reason.{name}") in reply
    shown = html.unescape("\n".join(await h.say(OWNER, "/settings")))
    named: set[str] = set()
    for line in shown.splitlines():  # each line: its name in Chinese and how to change it
        if line.startswith("班次："):
            continue  # /setshift, /shifts
        assert re.search(r"[\u4e00-\u9fff]", line.split("：", 1)[0]), line
        found = re.search(r"/set (\w+)", line)
        named.add(found.group(1) if found else "agent_cap" if "/cap <数量>" in line else line)
    assert named == set(oa.SETTING_RULES) | set(oa.SHOP_FILE_SETTINGS)  # every setting


# ------------------------------------------------------------------ one greeting (P3)
WORDING = "{time_of_day}，{customer_name}！欢迎来到{shop_name}～新品八折，随便看看吧"


async def new_shopper_greeting(h: Harness, user: int, hour: int) -> str:
    """A new shopper named 小林 (the preview's sample name) writes at ``hour`` shop time."""
    h.clock.at = datetime(2026, 5, 5, hour, tzinfo=SH).astimezone(UTC)
    h.session.requests.clear()
    await h.feed(message_update(next(h.ids), user, "在吗", first_name="小林"))
    return h.sent(user)[0]


async def test_one_greeting_edit_is_what_a_new_shopper_gets_at_any_hour_P3(h: Harness) -> None:
    preview = await h.say(OWNER, f"/greeting zh\n{WORDING}")
    heading, _, shown = preview[-1].partition("\n")
    assert "08:00" in heading and shown.startswith("早上好，小林！欢迎来到")
    assert await h.tap(OWNER, "own:tpl:save")
    assert await new_shopper_greeting(h, 7001, 8) == shown, "the preview is the greeting"
    for user, hour, word in ((7002, 14, "下午好"), (7003, 21, "晚上好")):
        greeting = await new_shopper_greeting(h, user, hour)
        assert greeting.startswith(f"{word}，小林！欢迎来到") and "新品八折" in greeting
        h.clock.at = datetime(2026, 5, 5, hour, tzinfo=SH).astimezone(UTC)
        overview = "\n".join(await h.say(OWNER, "/greeting"))
        now_line = next(line for line in overview.splitlines()
                        if line.startswith("  → 现在："))  # the first: zh, a new shopper
        assert now_line == f"  → 现在：{greeting}"


async def test_greeting_refusals_name_the_problem(h: Harness) -> None:
    refused = "\n".join(await h.say(OWNER, "/greeting zh\n{time_of_day}{coupon}，欢迎"))
    assert refused.startswith("未保存：") and "{coupon}" in refused
    usage = html.unescape("\n".join(await h.say(OWNER, "/greeting fr\n你好")))
    assert "/greeting <语言 zh|en>" in usage


async def test_an_edit_of_an_old_greeting_key_in_the_database_carries_over(
    repo: Repo, settings: Settings,
) -> None:
    """A shop upgraded from the 16 greetings: the owner's stored edit of one of them (here the
    morning one) is the greeting at every hour now, its 早上好 become {time_of_day}."""
    await repo.templates.upsert(key="greeting.morning_new_2", lang="zh", category="greeting",
                                text="早上好呀{customer_name}～{shop_name}上新啦",
                                tags=["morning", "new"])
    await repo.commit()
    knowledge = KnowledgeBase(settings)
    await knowledge.reload(repo)
    assert knowledge.catalogue.get("greeting.welcome", "zh").text == (  # type: ignore[union-attr]
        "{time_of_day}呀{customer_name}～{shop_name}上新啦")
    evening = oa.greeting_now(knowledge, "zh", datetime(2026, 5, 5, 20), "松线小铺",
                              returning=False)
    assert evening == "晚上好呀小林～松线小铺上新啦"
