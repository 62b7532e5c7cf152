"""An owner's first day in Chinese, through the dispatcher (the same routers and services as
production, the recording Bot session instead of Telegram): /owner, a shift, the greeting, an
FAQ import with its preview, /report 上周, and an agent taking a chat in the agents' group.

The test checks that every staff screen of the day is Chinese and names people; with
``OWNER_DAY_TRANSCRIPT=<file>`` it also writes the day as a transcript (helper note).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_app, build_dispatcher
from bot.clock import FixedClock
from tests.fakes.updates import callback_update, message_update
from tests.owner_support import FileSession
from tests.test_agent_console import ALICE, GROUP, MORNING, OWNER, SHOPPER, H, console_settings

NAMES = {OWNER: "店主 Olga", ALICE: "客服 小美", SHOPPER: "顾客 李雷", GROUP: "客服群"}
FAQ_CSV = ("id,question,answer,alt\n"
           "发货时间,什么时候发货？,付款后48小时内发货，节假日顺延。,多久发货|几天发货\n"
           "开发票,可以开发票吗？,可以的，下单时备注抬头和税号即可。,能开票吗\n")
LATIN_WORDS = re.compile(r"\b(?!P\d|SKU|CSV|JSON|YAML|FAQ|id\b)[A-Za-z]{4,}\b")
# Not words a person has to read: commands and their literal arguments (a|b, 30,60,dismiss),
# keys (shipping_time), placeholders, the shop's own name and time zone.
NOT_WORDS = re.compile(r"/\w+(?: [a-z]\w*)?|\w*(?:\.\w+)+|\{\w+\}|<[^>]*>|@\w+|\w+(?:\|\w+)+"
                       r"|\w+(?:_\w+)+|[\d,]+dismiss|Pine & Thread|Asia/Shanghai|Olga")
SHOWN_LINES = 2  # the note's transcript shows a long message's first lines (the test reads all)


def shorten(text: str) -> str:
    """A bot message for the transcript: its first lines, and how many more there were."""
    lines = [line for line in text.split("\n") if line.strip()]
    shown = lines[:SHOWN_LINES] + ([f"…（另有 {len(lines) - SHOWN_LINES} 行）"]
                                   if len(lines) > SHOWN_LINES else [])
    return "\n      ".join(shown)


class Day:
    """Feeds updates and keeps the day's transcript: what each person did, what the bot sent."""

    def __init__(self, h: H, session: FileSession) -> None:
        self.h, self.session, self.lines = h, session, []  # type: ignore[var-annotated]
        self.ids = itertools.count(5000)
        self.staff_texts: list[str] = []

    async def send(self, user: int, text: str | None, *, thread: int | None = None,
                   **kw: Any) -> list[Any]:
        where = f"（话题 {thread}）" if thread else ""
        shown = text if text is not None else f"[文件 {kw['document']['file_name']}] " + kw.get(
            "caption", "")
        self.lines.append(f"{NAMES.get(user, user)}{where}：{shown}")
        if thread is not None or kw.pop("in_group", False):
            extra = {"message_thread_id": thread, "is_topic_message": True} if thread else {}
            update = message_update(next(self.ids), user, text, chat_type="supergroup",
                                    chat_id=GROUP, first_name="小美", **extra, **kw)
        else:
            name = {SHOPPER: "李雷", OWNER: "Olga"}.get(user, "小美")
            update = message_update(next(self.ids), user, text, first_name=name, **kw)
        return await self._feed(update)

    async def tap(self, user: int, data: str, label: str) -> list[Any]:
        self.lines.append(f"{NAMES.get(user, user)}：[点按钮「{label}」]")
        name = {SHOPPER: "李雷", OWNER: "Olga"}.get(user, "小美")  # as on their messages
        return await self._feed(callback_update(next(self.ids), user, data, first_name=name))

    async def _feed(self, update: Any) -> list[Any]:
        self.session.requests.clear()
        await self.h.feed(update)
        calls = list(self.session.requests)
        for call in calls:
            self._show(call)
        return calls

    def _show(self, call: Any) -> None:
        method = type(call).__name__
        chat = getattr(call, "chat_id", None)
        who = NAMES.get(chat, chat)
        if method == "SendMessage":
            text = html.unescape(call.text)
            if chat != SHOPPER:
                self.staff_texts.append(text)
            thread = f"（话题 {call.message_thread_id}）" if call.message_thread_id else ""
            self.lines.append(f"  → {who}{thread}：" + shorten(text))
            markup = call.reply_markup
            if markup is not None and getattr(markup, "inline_keyboard", None):
                labels = [b.text for row in markup.inline_keyboard for b in row]
                self.lines.append("      [按钮] " + " | ".join(labels))
        elif method == "EditMessageText":
            text = html.unescape(call.text)
            self.staff_texts.append(text)
            self.lines.append(f"  → {who}（改写上一条）：" + shorten(text))
        elif method == "CreateForumTopic":
            self.staff_texts.append(call.name)
            self.lines.append(f"  → 客服群：新建话题「{call.name}」")
        elif method == "EditForumTopic":
            self.staff_texts.append(call.name or "")
            self.lines.append(f"  → 客服群：话题改名「{call.name}」")
        elif method == "CopyMessage":
            self.lines.append(f"  → {who}：（转发一条消息）")
        elif method == "AnswerCallbackQuery" and call.text:
            self.lines.append(f"  → 按钮提示：{call.text}")
        elif method in ("SendPhoto", "SendMediaGroup"):
            self.lines.append(f"  → {who}：（图表）")

    def buttons(self, calls: list[Any]) -> list[tuple[str, str]]:
        out = []
        for call in calls:
            markup = getattr(call, "reply_markup", None)
            if markup is not None and getattr(markup, "inline_keyboard", None):
                out += [(b.text, b.callback_data) for row in markup.inline_keyboard for b in row]
        return out

    def heading(self, text: str) -> None:
        self.lines.append(f"## {text}")  # a part of the day


@pytest.fixture
async def day(db_url: str) -> AsyncIterator[Day]:
    session = FileSession()
    app = await build_app(console_settings(db_url), session=session, clock=FixedClock(MORNING))
    h = H(app, build_dispatcher(app), session, app.clock)  # type: ignore[arg-type]
    await h.duty(owner=False, bob=False)
    yield Day(h, session)
    await app.close()


async def test_an_owners_first_day_in_chinese(day: Day) -> None:
    day.heading("上午：熟悉后台，改问候语（全天一条），导入常见问题（先预览，再确认）")
    await day.send(OWNER, "/owner")
    await day.send(OWNER, "/setshift 周一 19:00-23:00")
    await day.send(OWNER, "/settings")
    preview = await day.send(OWNER, "/greeting zh\n{time_of_day}，{customer_name}！欢迎来到"
                                    "{shop_name}～新品上架，随便看看吧")
    save = [(label, data) for label, data in day.buttons(preview) if data.endswith("save")]
    if save:
        await day.tap(OWNER, save[0][1], save[0][0])

    day.session.files["faq.csv"] = FAQ_CSV.encode()
    for _ in range(2):  # the preview reads the file, the confirmation reads it again
        day.session.add_result("getFile", {"file_id": "d9", "file_unique_id": "d9u",
                                           "file_path": "faq.csv"})
    shown = await day.send(OWNER, None, document={
        "file_id": "d9", "file_unique_id": "d9u", "file_name": "faq.csv"},
        caption="/faqimport zh")
    choices = day.buttons(shown)
    merge = [c for c in choices if "merge" in c[1] or "合并" in c[0]] or choices[:1]
    if merge:
        await day.tap(OWNER, merge[0][1], merge[0][0])

    day.heading("同一天（机器人的钟停在 09:30）：顾客找人工，客服接手；收工前看修改记录和报表")
    await day.h.duty(alice=False)
    await day.send(SHOPPER, "我的订单还没到，转人工")
    await day.h.duty(alice=True)
    thread = await day.h.thread()
    await day.send(ALICE, "/take", thread=thread)
    await day.send(ALICE, "您好，我是小美，马上帮您查一下物流～", thread=thread)
    await day.send(ALICE, "/close", thread=thread)
    await day.send(SHOPPER, "好的谢谢")

    await day.send(OWNER, "/changes")
    await day.send(OWNER, "/report 上周")

    transcript = "\n".join(day.lines).strip()
    target = os.environ.get("OWNER_DAY_TRANSCRIPT")
    if target:
        await asyncio.to_thread(Path(target).write_text, transcript + "\n", "utf-8")
    # What staff read that day: Chinese, people by name (the agent's id never shown).
    assert day.staff_texts
    keys = set(day.h.app.knowledge._entries.get("zh", {}))  # FAQ keys are data
    english = [t for t in day.staff_texts
               if set(LATIN_WORDS.findall(NOT_WORDS.sub("", t))) - keys]
    assert english == [], [LATIN_WORDS.findall(NOT_WORDS.sub("", t)) for t in english]
    assert "店主指令" in transcript and "班次已更新：周一 19:00-23:00" in transcript
    assert "李雷 · ⏳ 等待中" in transcript and "📌 小美接手了这位顾客" in transcript
    assert "客服报表" in transcript
    group = [line for line in day.lines if line.startswith("  → 客服群")]
    assert group and not any(str(ALICE) in line for line in group)

