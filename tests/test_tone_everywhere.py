"""P9 everywhere (seed §七.11 "避免使用负面语言：我不能、我不会、我不愿意、我不能够、可是等"):
owner templates, /notice texts, the owner's own term list, and agents' replies. Dispatcher
tests through the real routers; owner 900, agent 901 (Mei)."""

from __future__ import annotations

import asyncio
import html
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.settings import load_settings
from handlers.aftersales import NoticeAction
from storage.models import PhraseTemplate
from storage.models.agents import CustomerTopic
from storage.models.audit import AuditEntry
from storage.models.orders import NoticeDelivery
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import callback_update, message_update
from tests.harness import ChatHarness

OWNER, MEI, SHOPPER = 900, 901, 5001
GROUP = -100888
NOON = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)
TEMPLATE = "不好意思，这个我们不能退，没办法。"


@dataclass
class H(ChatHarness):
    async def tap(self, user: int, data: str) -> list[str]:
        self.session.requests.clear()
        await self.feed(callback_update(next(self.ids), user, data))
        return self.sent()

    def answered(self) -> list[str]:
        return [r.text or "" for r in self.session.requests_of("answerCallbackQuery")]

    async def owner_changes(self) -> list[dict[str, Any]]:
        return [{"action": c.action, **c.details} for c in await self.rows(AuditEntry)]


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    settings = load_settings({"DATABASE_URL": db_url, "OWNER_IDS": str(OWNER),
                              "AGENT_IDS": str(MEI), "AGENT_CHAT_ID": str(GROUP)})
    harness = await H.start(settings, NOON, RecordingSession(), ids=itertools.count(7000))
    yield harness
    await harness.app.close()


def template_key(h: H) -> str:
    return h.app.knowledge.catalogue.categories("zh")["explanation"][0].key


async def test_negative_template_is_refused_without_explicit_confirmation_P9(h: H) -> None:
    """An owner's template "不好意思，这个我们不能退，没办法。" went through before."""
    key = template_key(h)
    preview = await h.say(OWNER, f"/settemplate {key} zh\n{TEMPLATE}")
    assert "我们不能" in preview[0] and "没办法" in preview[0] and "确认后才会保存" in preview[0]
    assert h.buttons() == ["own:tpl:rewrite", "own:tpl:confirm", "own:tpl:cancel"]
    refused = await h.tap(OWNER, "own:tpl:save")  # a plain save (an old button) is refused
    assert "未保存" in refused[0] and await h.rows(PhraseTemplate) == []
    await h.tap(OWNER, "own:tpl:confirm")
    [row] = await h.rows(PhraseTemplate)
    assert row.text == TEMPLATE
    assert any(c.get("tone_confirmed") == ["我们不能", "没办法"] for c in await h.owner_changes())


async def test_suggested_template_says_what_can_be_done_P9(h: H) -> None:
    key = template_key(h)
    await h.say(OWNER, f"/settemplate {key} zh\n{TEMPLATE}")
    await h.tap(OWNER, "own:tpl:rewrite")
    [row] = await h.rows(PhraseTemplate)
    assert "不能" not in row.text and "没办法" not in row.text and "无法" not in row.text
    assert "这边可以先为您" in row.text
    assert not any("tone_confirmed" in c for c in await h.owner_changes())


async def test_notice_is_previewed_and_checked_before_sending_P9_P22(h: H) -> None:
    await h.say(SHOPPER, "你好")
    preview = await h.say(OWNER, "/notice all\nzh: 五一不发货，没办法\nen: No shipping on May 1")
    assert "共 1 人" in preview[0] and "没办法" in preview[0]
    assert await h.rows(NoticeDelivery) == []  # nothing sent before the owner decides
    await h.tap(OWNER, NoticeAction(action="send").pack())
    assert await h.rows(NoticeDelivery) == [] and "确认" in h.answered()[-1]
    await h.tap(OWNER, NoticeAction(action="rewrite").pack())
    [task] = [t for t in asyncio.all_tasks()
              if getattr(t.get_coro(), "__qualname__", "") == "NoticeService.send"]
    await task
    [to_shopper] = h.sent(SHOPPER)
    assert "没办法" not in to_shopper and "这边帮您想想其他办法" in to_shopper


async def test_clean_notice_is_sent_after_the_preview_P22(h: H) -> None:
    await h.say(SHOPPER, "你好")
    await h.say(OWNER, "/notice all\n明天店休，后天照常发货")
    assert h.buttons() == [NoticeAction(action="send").pack(),
                           NoticeAction(action="cancel").pack()]
    await h.tap(OWNER, NoticeAction(action="send").pack())
    [task] = [t for t in asyncio.all_tasks()
              if getattr(t.get_coro(), "__qualname__", "") == "NoticeService.send"]
    await task
    assert "明天店休，后天照常发货" in h.sent(SHOPPER)


async def test_owner_lists_adds_and_removes_terms_in_telegram_P9(h: H) -> None:
    listing = await h.say(OWNER, "/tone")
    assert "我不能" in listing[0] and "爱买不买" in listing[0] and "not my problem" in listing[0]
    lines = html.unescape(listing[0]).split("\n")  # the owner's words, not English
    assert lines[0] == "语气检查会提醒的负面用语（P9）——词 → 建议的说法："
    assert "【中文】" in lines and "【英文】" in lines
    assert lines[-1] == "/toneadd <词> = <建议的说法> · /tonedel <词>"
    assert html.unescape((await h.say(OWNER, "/toneadd 找快递去"))[0]) == (
        "未添加：请这样写：/toneadd <词> = <建议的说法>")
    added = await h.say(OWNER, "/toneadd 找快递去 = 这边马上帮您联系快递")
    assert added[0].startswith("从现在起会提醒“找快递去”")
    key = template_key(h)
    preview = await h.say(OWNER, f"/settemplate {key} zh\n这个找快递去")
    assert "找快递去" in preview[0] and "这边马上帮您联系快递" in preview[0]
    refused = await h.say(OWNER, "/toneadd 太慢了 = 没办法")  # a suggestion must be positive
    assert refused[0] == "未添加：建议的说法「没办法」本身也含负面用语"
    assert "【您添加的】" in (await h.say(OWNER, "/tone"))[0]
    await h.say(OWNER, "/tonedel 可是")
    preview = await h.say(OWNER, f"/settemplate {key} zh\n好的，可是要等两天")
    assert "负面用语" not in preview[0]
    assert h.buttons() == ["own:tpl:save", "own:tpl:cancel"]
    changes = [c.get("action") for c in await h.owner_changes()]
    assert "tone_term_add" in changes and "tone_term_remove" in changes


async def test_agents_everyday_refusal_is_caught_in_the_topic_P9(h: H) -> None:
    """An agent's "这个没办法换，不行" went through before."""
    await h.say(SHOPPER, "转人工")
    [topic] = await h.rows(CustomerTopic)
    h.session.requests.clear()
    await h.feed(message_update(next(h.ids), MEI, "这个没办法换，不行", chat_type="supergroup",
                                chat_id=GROUP, message_thread_id=int(topic.thread_id),
                                is_topic_message=True))
    assert h.session.requests_of("copyMessage") == []  # not relayed to the shopper
    warning = h.sent(GROUP)[-1]
    assert "P9" in warning and "没办法" in warning and "这边帮您想想其他办法" in warning
