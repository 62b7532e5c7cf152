"""Safe bulk changes, in Chinese (P4, P9, P10, P22): an FAQ import is previewed, merged or
replaced only on the owner's button and undone with /faqundo; an inbox action shows which
answers it moves before it is made and can be undone; a notice written the natural way asks
for its audience, shows the recipients per language, passes the tone guard and waits for
confirmation; /changes lists all of it with who and when.

Dispatcher tests: real aiogram routing, the FIFO recording session; the owner is 900.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.settings import Settings
from handlers.aftersales import NoticeAction, NoticeAudience
from storage.models import FaqEntryRow, Message
from storage.models.audit import AuditEntry
from storage.models.orders import NoticeDelivery
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import callback_update, message_update
from tests.harness import BotHarness

OWNER, SHOPPER, SHOPPER_EN, OPTED_OUT = 900, 5101, 5102, 5103
NOON = datetime(2026, 12, 3, 12, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
COURIERS = "你们用的是什么快递？"  # the demo FAQ's entry "couriers"
OWN_ENTRY = "gift_card zh\nQ: 有礼品卡吗？\nA: 有的，礼品卡面值100元起，可以在店铺首页购买。"
UPLOAD = ("id,question,answer,alt\n"
          "shipping_time,下单以后什么时候发货？,亲，付款后48小时内发货～,拍完多久能寄出？\n"
          "antarctica,可以寄到南极科考站吗？,南极科考站我们暂时寄不到，抱歉～,\n")


class FileSession(RecordingSession):
    """Also serves file downloads: ``files`` maps a file path to its bytes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.files: dict[str, bytes] = {}

    async def stream_content(  # type: ignore[override]
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield self.files[url.rsplit("/", 1)[-1]]


@dataclass
class Harness(BotHarness):
    session: FileSession
    ids: itertools.count[int]

    async def say(self, user: int, text: str, **kw: Any) -> list[str]:
        self.session.requests.clear()
        await self.feed(message_update(next(self.ids), user, text, **kw))
        return self.sent(user)

    async def tap(self, user: int, data: str) -> list[str]:
        self.session.requests.clear()
        await self.feed(callback_update(next(self.ids), user, data))
        return self.sent(user)

    def answered(self) -> list[str]:
        return [r.text or "" for r in self.session.requests_of("answerCallbackQuery")]

    async def upload(self, name: str, data: str, caption: str) -> list[str]:
        self.session.files[name] = data.encode("utf-8")
        for _ in range(2):  # the preview, and the confirmation reads the file again
            self.session.add_result("getFile", {"file_id": name, "file_unique_id": name,
                                                "file_path": name})
        doc = {"document": {"file_id": name, "file_unique_id": name, "file_name": name},
               "caption": caption}
        self.session.requests.clear()
        await self.feed(message_update(next(self.ids), OWNER, None, **doc))
        return self.sent(OWNER)

    async def faq(self, lang: str = "zh") -> list[tuple[str, str, str, tuple[str, ...], Any]]:
        rows = await self.rows(FaqEntryRow)
        return [(r.key, r.question, r.answer, tuple(r.alt or ()), r.threshold)
                for r in sorted(rows, key=lambda r: r.id) if r.lang == lang]

    async def message_id(self, text: str) -> int:
        async with self.app.sessions() as db:
            return int(await db.scalar(select(Message.id).where(Message.text == text)))


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, NOON, FileSession(), ids=itertools.count(1000))
    yield h
    await h.app.close()


def couriers_answer(h: Harness) -> str:
    return h.app.knowledge.entry("couriers", "zh").answer


async def test_notice_written_naturally_asks_the_audience_then_previews_and_waits_P9_P22(
    h: Harness,
) -> None:
    await h.say(SHOPPER, "你好")
    await h.say(SHOPPER_EN, "hello", language_code="en")
    await h.say(OPTED_OUT, "你好")
    await h.say(OPTED_OUT, "/stop_notices")
    asked = await h.say(OWNER, "/notice 双十二全场满199减30，欢迎选购")
    assert "发给谁" in asked[-1] and "双十二全场满199减30" in asked[-1]
    assert NoticeAudience(segment="all").pack() in h.buttons()
    assert await h.rows(NoticeDelivery) == []

    preview = (await h.tap(OWNER, NoticeAudience(segment="all").pack()))[-1]
    assert "共 2 人" in preview  # the opted-out shopper is not counted
    assert "【中文】1 人" in preview and "【英文】1 人" in preview
    assert h.buttons() == [NoticeAction(action="send").pack(), NoticeAction(action="cancel").pack()]
    assert await h.rows(NoticeDelivery) == []  # waits for the owner's confirmation
    await h.tap(OWNER, NoticeAction(action="send").pack())
    [task] = [t for t in asyncio.all_tasks()
              if getattr(t.get_coro(), "__qualname__", "") == "NoticeService.send"]
    await task
    assert "双十二全场满199减30，欢迎选购" in h.sent(SHOPPER)
    assert not [t for t in h.sent(OPTED_OUT) if "双十二" in t]
    assert len(await h.rows(NoticeDelivery)) == 2


async def test_notice_with_negative_words_needs_the_owners_confirmation_P9_P22(
    h: Harness,
) -> None:
    await h.say(SHOPPER, "你好")
    preview = (await h.say(OWNER, "/notice 全部顾客 双十二特价商品不退不换，没办法"))[-1]
    assert "负面用语" in preview and "没办法" in preview and "建议改为" in preview
    await h.tap(OWNER, NoticeAction(action="send").pack())
    assert await h.rows(NoticeDelivery) == [] and "负面用语" in h.answered()[-1]
    await h.tap(OWNER, NoticeAction(action="confirm").pack())
    [task] = [t for t in asyncio.all_tasks()
              if getattr(t.get_coro(), "__qualname__", "") == "NoticeService.send"]
    await task
    [notice] = [c for c in await h.rows(AuditEntry) if c.action == "notice"]
    assert notice.actor_id == OWNER and notice.details["tone_confirmed"] == ["没办法"]
