"""End to end, the owner's controls (P10): the owner tunes the bot in Telegram.

One real bot process (``./run.sh bot``) polls the fake Bot API server for the whole module;
the tests play the owner, an agent, a stranger and several shoppers in private chats and
check what the bot sent, polling the SQLite file for what it stored. Covered: a greeting
template edit with a preview for a sample customer, refusal of ``{x.__class__}`` and unknown
placeholders, the P9 tone warning with its buttons, the new wording greeting a new shopper;
an FAQ entry added with /faqset answered without a restart (P4); the unanswered-questions
inbox turning a question into a phrasing by one tap; a non-owner's /settemplate refused.
"""

from __future__ import annotations

import asyncio
import html
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.fakes.bot_processes import polling_bot
from tests.fakes.telegram_server import FakeTelegramServer, RecordedCall

ROOT = Path(__file__).resolve().parents[1]
OWNER, AGENT, STRANGER = 9500, 9501, 9502
GROUP = -1009990005  # the agents' group (required by the handoff, unused here)
WAIT = 15.0
# The greetings a new shopper can get, whatever the time of day of the run (P1, P3).
NEW_GREETINGS = ("greeting.welcome",)  # the one greeting a new shopper gets, at any hour (P3)
NEW_WORDING = "{customer_name}您好！这里是{shop_name}，本周新品月光围巾已上架，想看看吗？"
SOCKS = ("/faqset moon_socks en\nQ: Do you sell socks for astronauts?\n"
         "A: Yes — our moon socks, in three sizes.")

pytestmark = pytest.mark.asyncio(loop_scope="module")


def shown(call: RecordedCall) -> str:
    """The text as the chat shows it (the bot sends HTML-escaped plain text)."""
    return html.unescape(call.text or "")


@dataclass
class OwnerBot:
    """The running bot, the fake server and the SQLite file the bot writes."""

    server: FakeTelegramServer
    db_path: Path

    def mark(self) -> int:
        return len(self.server.calls)

    def say(self, user_id: int, text: str, lang: str = "zh", name: str = "") -> int:
        user = {"id": user_id, "is_bot": False, "first_name": name or f"U{user_id}",
                "language_code": lang}
        mark = self.mark()
        self.server.push_message(user_id, text, user=user)
        return mark

    def press(self, user_id: int, data: str, message: dict[str, Any]) -> int:
        mark = self.mark()
        self.server.push_callback_query(user_id, data, message,
                                        user={"id": user_id, "is_bot": False, "first_name": "O"})
        return mark

    async def sent(self, chat: int, since: int,
                   where: Callable[[str], bool] = lambda text: True) -> RecordedCall:
        """The first message the bot sent to ``chat`` after ``since`` whose text matches."""
        return await self.server.wait_for(
            lambda c: bool(c.ok) and c.method == "sendMessage"
            and str(c.params.get("chat_id")) == str(chat) and where(shown(c)),
            timeout=WAIT, since=since)

    def texts_to(self, chat: int, since: int) -> list[str]:
        return [shown(c) for c in self.server.calls[since:] if c.ok
                and c.method == "sendMessage" and str(c.params.get("chat_id")) == str(chat)]

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db_path) as db:
            return db.execute(sql, args).fetchall()

    async def stored(self, sql: str, *args: object) -> tuple[Any, ...]:
        """The bot answers before it commits: wait until ``sql`` finds a row."""
        deadline = time.monotonic() + WAIT
        while not (rows := self.query(sql, *args)):
            assert time.monotonic() < deadline, f"never stored: {sql} {args}"
            await asyncio.sleep(0.05)
        return rows[0]

    async def settemplate(self, key: str, text: str) -> RecordedCall:
        """The owner's edit; returns the bot's answer (preview with buttons, or refusal)."""
        mark = self.say(OWNER, f"/settemplate {key} zh\n{text}")
        return await self.sent(OWNER, mark, lambda t: "示例顾客看到的效果" in t or "未保存" in t)

    async def save(self, preview: RecordedCall, data: str = "own:tpl:save") -> None:
        assert preview.message is not None
        buttons = [b["callback_data"] for row in preview.message["reply_markup"][
            "inline_keyboard"] for b in row]
        assert data in buttons, buttons
        mark = self.press(OWNER, data, preview.message)
        await self.server.wait_for(lambda c: c.method == "answerCallbackQuery", WAIT, since=mark)
        if data != "own:tpl:cancel":
            await self.sent(OWNER, mark, lambda t: "已保存，机器人现在就用这段文字。" in t)

    async def faqset(self, command: str = SOCKS) -> None:
        mark = self.say(OWNER, command)
        await self.sent(OWNER, mark, lambda t: t.startswith("已保存问答 moon_socks（en）"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def owner_bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OwnerBot]:
    server = FakeTelegramServer()
    await server.start()
    data = tmp_path_factory.mktemp("e2e_owner")
    db_path = data / "shop.sqlite3"
    try:
        async with polling_bot(
            server, data,
            OWNER_IDS=str(OWNER), AGENT_IDS=str(AGENT), AGENT_CHAT_ID=str(GROUP),
            SLA_REPLY_SECONDS="60",  # no holding replies during the run
        ):
            yield OwnerBot(server, db_path)
    finally:
        await server.stop()


async def test_non_owner_settemplate_is_refused_and_changes_nothing_P10(
    owner_bot: OwnerBot,
) -> None:
    b = owner_bot
    for user in (STRANGER, AGENT):
        mark = b.say(user, f"/settemplate {NEW_GREETINGS[0]} zh\n滚开")
        # The shopper flow answers: the command is unknown to a shopper.
        await b.sent(user, mark, lambda t: "指令" in t or "command" in t)
        await asyncio.sleep(0.2)
        replies = [c for c in b.server.calls[mark:] if c.ok and c.method == "sendMessage"
                   and c.params.get("chat_id") == user]
        assert replies and not [c for c in replies if "示例顾客" in shown(c) or "已保存" in shown(c)
                                or (c.message or {}).get("reply_markup")]  # no Save button
    await asyncio.sleep(0.3)  # anything the bot would still send or store has landed
    assert b.query("SELECT key FROM phrase_templates") == []
    assert b.query("SELECT 1 FROM audit_log") == []
    assert not [t for t in b.texts_to(STRANGER, 0) + b.texts_to(AGENT, 0) if "已保存" in t]


async def test_template_edit_preview_refusals_tone_warning_then_new_greeting_P3_P9_P10(
    owner_bot: OwnerBot,
) -> None:
    b = owner_bot
    key = NEW_GREETINGS[0]
    # Bad placeholders are refused with a message that names the problem; nothing is pending.
    refused = await b.settemplate(key, "您好{x.__class__}，欢迎光临")
    assert shown(refused).startswith("未保存：") and "{x.__class__}" in shown(refused)
    assert "里有“.”或“[]”，请只写占位符的名字" in shown(refused)
    assert not (refused.message or {}).get("reply_markup")
    refused = await b.settemplate(key, "您好{coupon_code}，欢迎光临")
    assert "占位符 {coupon_code} 机器人填不了；可以用：" in shown(refused)
    assert "customer_name" in shown(refused)  # the message lists the known names

    # 我不能 (P9): the preview warns and offers Save suggested / Keep my wording (an explicit,
    # recorded confirmation) / Cancel; Cancel saves nothing.
    warned = await b.settemplate(key, "{customer_name}您好，我不能马上回复您，请稍等")
    text = shown(warned)
    assert "示例顾客看到的效果：\n小林您好" in text
    assert "负面用语（P9）：我不能" in text and "建议改为：" in text
    assert [b_["callback_data"] for b_ in warned.message["reply_markup"]["inline_keyboard"][0]] \
        == ["own:tpl:rewrite", "own:tpl:confirm", "own:tpl:cancel"]
    await b.save(warned, "own:tpl:cancel")
    assert b.query("SELECT key FROM phrase_templates") == []

    # A good edit: the preview is rendered for the sample customer and the shop, then saved.
    preview = await b.settemplate(key, NEW_WORDING)
    text = shown(preview)
    assert "小林您好！这里是Pine & Thread / 松线小铺，本周新品月光围巾" in text
    assert "负面用语" not in text
    assert b.query("SELECT key FROM phrase_templates") == []  # nothing before the owner saves
    await b.save(preview)
    rows = b.query("SELECT key, text FROM phrase_templates WHERE lang = 'zh'")
    assert sorted(rows) == sorted((k, NEW_WORDING) for k in NEW_GREETINGS)
    who = b.query("SELECT actor_id FROM audit_log")
    assert len(who) == len(NEW_GREETINGS) and {w for (w,) in who} == {OWNER}

    # A new shopper is greeted with the new wording, without a restart.
    mark = b.say(7601, "你好", name="阿梅")
    greeting = await b.sent(7601, mark, lambda t: "月光围巾" in t)
    assert "阿梅您好！这里是Pine & Thread / 松线小铺" in shown(greeting)  # after any festival wish


async def test_faqset_is_answered_at_once_without_restart_P4_P10(owner_bot: OwnerBot) -> None:
    b = owner_bot
    question = "do you sell socks for astronauts"
    await b.faqset()
    await b.stored("SELECT 1 FROM faq_entries WHERE key = 'moon_socks' AND lang = 'en'")
    mark = b.say(7602, question, lang="en")
    answer = await b.sent(7602, mark, lambda t: "moon socks" in t)
    assert "three sizes" in shown(answer)


async def test_inbox_one_tap_makes_a_question_a_phrasing_the_bot_then_answers_P4_P10(
    owner_bot: OwnerBot,
) -> None:
    b = owner_bot
    await b.faqset()  # the entry the question belongs to (idempotent: same text again)
    question = "will astronaut socks keep my toes warm on mars"
    mark = b.say(7603, question, lang="en")
    (message_id,) = await b.stored(
        "SELECT id FROM messages WHERE text = ? AND meaning IS NOT NULL", question)
    await b.sent(7603, mark)
    assert not [t for t in b.texts_to(7603, mark) if "moon socks" in t]  # not answered yet

    mark = b.say(OWNER, "/inbox")
    await b.sent(OWNER, mark, lambda t: "组未回答的问题" in t)
    item = await b.sent(OWNER, mark, lambda t: question in t)
    assert shown(item).startswith(f"#{message_id} ×1（en）{question}")
    assert item.message is not None
    buttons = {btn["text"]: btn["callback_data"]
               for row in item.message["reply_markup"]["inline_keyboard"] for btn in row}
    assert buttons["+ 作为「moon_socks」的问法"] == f"own:inb:alt:{message_id}:moon_socks"
    assert {"新建问答", "忽略"} <= set(buttons)
    mark = b.press(OWNER, buttons["+ 作为「moon_socks」的问法"], item.message)
    preview = await b.sent(OWNER, mark, lambda t: "预览" in t)  # the result first
    assert "之后：按「moon_socks」回答" in shown(preview) and preview.message is not None
    (alt,) = b.query("SELECT alt FROM faq_entries WHERE key = 'moon_socks' AND lang = 'en'")
    assert question not in (alt[0] or "")  # nothing changed before the owner confirms
    [confirm] = [btn["callback_data"] for row in preview.message["reply_markup"]["inline_keyboard"]
                 for btn in row if btn["text"] == "确认修改"]
    mark = b.press(OWNER, confirm, preview.message)
    done = await b.sent(OWNER, mark, lambda t: "已生效" in t)
    assert "moon_socks" in shown(done)
    (alt,) = b.query("SELECT alt FROM faq_entries WHERE key = 'moon_socks' AND lang = 'en'")
    assert question in alt[0]

    # Another shopper asks the same: answered from the entry, no restart.
    mark = b.say(7604, question, lang="en")
    answer = await b.sent(7604, mark, lambda t: "moon socks" in t)
    assert "three sizes" in shown(answer)
    # The question left the inbox.
    mark = b.say(OWNER, "/inbox")
    await b.sent(OWNER, mark, lambda t: "未回答的问题" in t)
    await asyncio.sleep(0.3)
    assert not [t for t in b.texts_to(OWNER, mark) if question in t]
