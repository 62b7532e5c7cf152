"""End to end (P8, P9): one shopper and two agents through the human handoff.

The real bot process (``./run.sh bot``) polls the fake Bot API server; the test plays the
shopper in a private chat and two agents in the agents' forum supergroup, and checks what the
bot sent (method, chat, topic thread, text). Steps: escalate → queue position → topic with the
customer card → claim race (both /take at once) → relay both ways with a photo and a reply →
tone guard (P9) blocks 我不能 and sends the rewrite on a button press → /transfer → /close (P8).

The run also prints a transcript (``pytest -s``); with ``HANDOFF_TRANSCRIPT=<path>`` it is
written to that file too.
"""

from __future__ import annotations

import asyncio
import copy
import html
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.fakes.bot_processes import polling_bot
from tests.fakes.telegram_server import FakeTelegramServer, RecordedCall

ROOT = Path(__file__).resolve().parents[1]
GROUP = -1009990003  # the agents' forum supergroup
ANN, BO = 911, 912
SHOPPER = 7500
NAMES = {ANN: "Ann", BO: "Bo"}
PHOTO = {"photo": [{"file_id": "ph1", "file_unique_id": "ph1u", "width": 640, "height": 480}],
         "caption": "收到的杯子是裂的"}
WAIT = 20.0

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Handoff:
    """The running bot, the fake server, and what the test did (for the transcript)."""

    server: FakeTelegramServer
    db_path: Path
    pushed: list[tuple[float, str]] = field(default_factory=list)

    def shopper(self, text: str | None = None, **kw: Any) -> None:
        user = {"id": SHOPPER, "is_bot": False, "first_name": "小林", "language_code": "zh"}
        self.pushed.append((time.monotonic(), f"shopper 小林: {_shown(text, kw.get('extra'))}"))
        self.server.push_message(SHOPPER, text, user=user, **kw)

    def agent(self, agent_id: int, text: str, thread: int | None = None, **kw: Any) -> None:
        user = {"id": agent_id, "is_bot": False, "first_name": NAMES[agent_id],
                "language_code": "zh"}
        where = f"topic {thread}" if thread else "group"
        reply = f" (reply to #{kw['reply_to']})" if kw.get("reply_to") else ""
        self.pushed.append((time.monotonic(), f"agent {NAMES[agent_id]} in {where}{reply}: {text}"))
        self.server.push_message(GROUP, text, user=user, chat_type="supergroup",
                                 message_thread_id=thread, **kw)

    def press(self, agent_id: int, data: str, message: dict[str, Any], label: str) -> None:
        self.pushed.append((time.monotonic(), f"agent {NAMES[agent_id]} presses [{label}]"))
        user = {"id": agent_id, "is_bot": False, "first_name": NAMES[agent_id]}
        self.server.push_callback_query(agent_id, data, message, user=user)

    def mark(self) -> int:
        return len(self.server.calls)

    async def sent(self, chat: int, since: int, where: Callable[[RecordedCall], bool] = (
            lambda c: True), method: str | None = None) -> RecordedCall:
        """The first successful send-like call to ``chat`` after ``since`` that matches."""
        return await self.server.wait_for(
            lambda c: bool(c.ok) and c.method in (
                (method,) if method else ("sendMessage", "copyMessage", "sendPhoto"))
            and str(c.params.get("chat_id")) == str(chat) and where(c),
            timeout=WAIT, since=since)

    def conversation_state(self) -> tuple[str, int | None]:
        with sqlite3.connect(self.db_path) as db:
            row = db.execute("SELECT state, agent_id FROM conversations ORDER BY id DESC "
                             "LIMIT 1").fetchone()
        return str(row[0]), row[1]

    async def stored(self, sql: str, *args: object) -> None:
        """The bot answers before it commits: wait until ``sql`` finds a row."""
        deadline = time.monotonic() + WAIT
        while True:
            with sqlite3.connect(self.db_path) as db:
                if db.execute(sql, args).fetchone() is not None:
                    return
            assert time.monotonic() < deadline, f"never stored: {sql} {args}"
            await asyncio.sleep(0.05)

    async def duty_becomes(self, agent_id: int, on: bool) -> None:
        await self.stored("SELECT 1 FROM agents WHERE telegram_user_id = ? AND on_duty = ?",
                          agent_id, on)

    async def state_becomes(self, state: str, agent_id: int | None = None) -> None:
        """The bot answers before it commits: poll the database until the state lands."""
        deadline = time.monotonic() + WAIT
        while (now := self.conversation_state()) != (state, agent_id):
            assert time.monotonic() < deadline, f"conversation is {now}, not {state}/{agent_id}"
            await asyncio.sleep(0.05)

    def transcript(self) -> str:
        lines = [(at, text) for at, text in self.pushed]
        lines += [(c.at, line) for c in self.server.calls if (line := _call_line(c))]
        return "\n".join(text for _, text in sorted(lines, key=lambda item: item[0]))


def _shown(text: str | None, extra: dict[str, Any] | None = None) -> str:
    extra = extra or {}
    media = next((k for k in ("photo", "document", "sticker", "voice", "video") if k in extra), "")
    body = text or extra.get("caption") or ""
    return f"[{media}] {body}".strip() if media else body


def _call_line(call: RecordedCall) -> str | None:
    if not call.ok:
        return None
    p = call.params
    chat = str(p.get("chat_id"))
    full = html.unescape(p["text"]) if p.get("text") else call.text or ""
    shown = full.split("\n")[0][:90]
    if "建议改写：\n" in full:
        shown += " · rewrite: " + full.split("建议改写：\n", 1)[1]
    if call.method == "copyMessage":
        kind = next((k for k in ("photo", "document", "sticker", "voice", "video")
                     if call.message and k in call.message), "")
        shown = _shown(call.text, {kind: 1} if kind else None).split("\n")[0][:90]
    reply = p.get("reply_parameters") or {}
    reply_note = f" (reply to #{reply['message_id']})" if isinstance(reply, dict) and reply else ""
    if call.method == "createForumTopic":
        return f"  bot creates topic {call.result['message_thread_id']}: {p.get('name')}"
    if call.method == "editForumTopic":
        return f"  bot renames topic {p.get('message_thread_id')}: {p.get('name')}"
    if call.method == "answerCallbackQuery":
        return f"  bot answers the press: {p.get('text', '')}"
    if call.method == "editMessageText" and chat == str(GROUP):
        return f"  bot edits its warning: {shown}"
    if call.method not in ("sendMessage", "copyMessage", "sendPhoto"):
        return None
    if chat == str(SHOPPER):
        who = "agent's message copied" if call.method == "copyMessage" else "bot"
        return f"  → shopper ({who}){reply_note}: {shown}"
    if chat == str(GROUP):
        where = f"topic {p['message_thread_id']}" if p.get("message_thread_id") else "group"
        who = "shopper's message copied" if call.method == "copyMessage" else "bot"
        return f"  → {where} ({who}){reply_note}: {shown}"
    return None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def handoff(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Handoff]:
    server = FakeTelegramServer()
    await server.start()
    data = tmp_path_factory.mktemp("e2e_handoff")
    db_path = data / "shop.sqlite3"
    try:
        async with polling_bot(
            server, data,
            AGENT_IDS=f"{ANN},{BO}", AGENT_CHAT_ID=str(GROUP),
            SLA_REPLY_SECONDS="60",  # no holding replies during the run
        ):
            yield Handoff(server, db_path)
    finally:
        await server.stop()


async def test_one_shopper_two_agents_escalate_claim_relay_tone_transfer_close_P8_P9(
    handoff: Handoff,
) -> None:
    h = handoff
    try:
        await _run(h)
    finally:
        transcript = h.transcript()
        print("\n--- handoff transcript ---\n" + transcript)
        if target := os.environ.get("HANDOFF_TRANSCRIPT"):
            await asyncio.to_thread(Path(target).write_text, transcript + "\n", "utf-8")


async def _run(h: Handoff) -> None:
    # Both agents are busy (off duty), so the shopper's chat waits in the queue for a claim.
    for agent in (ANN, BO):
        mark = h.mark()
        h.agent(agent, "/off")
        await h.sent(GROUP, mark, lambda c: "你已下班" in (c.text or ""))
        await h.duty_becomes(agent, on=False)

    # 1. Escalate: the shopper asks for a person; with nobody on duty they are told so, not
    # "please wait" (P24), and the chat waits in the queue.
    mark = h.mark()
    h.shopper("转人工")
    told = await h.sent(SHOPPER, mark, lambda c: "客服同事" in (c.text or ""))
    assert "稍候" not in told.text and "排在" not in told.text, told.text
    await h.state_becomes("queued")

    # 2. A topic in the agents' group, opened with the customer card, holds the request.
    topic = await h.server.wait_for(lambda c: c.method == "createForumTopic", WAIT, since=mark)
    thread = int(topic.result["message_thread_id"])
    assert topic.params["chat_id"] == GROUP and "小林" in topic.params["name"]
    assert "⏳" in topic.params["name"]
    card = await h.sent(GROUP, mark, lambda c: "客户档案" in (c.text or ""))
    assert card.params["message_thread_id"] == thread
    assert "小林" in card.text and "本次对话语言：zh" in card.text
    assert "原因：顾客要求人工" in card.text
    request = await h.sent(GROUP, mark, lambda c: c.text == "转人工", method="copyMessage")
    assert request.params["message_thread_id"] == thread
    assert request.params["from_chat_id"] == SHOPPER
    assert request.at > card.at  # the card comes first

    # 3. Claim race: both agents /take in the same poll; exactly one wins.
    mark = h.mark()
    h.agent(ANN, "/take", thread)
    h.agent(BO, "/take", thread)
    won = await h.sent(GROUP, mark, lambda c: "📌" in (c.text or ""))
    winner = ANN if "Ann接手" in won.text else BO
    loser = BO if winner == ANN else ANN
    lost = await h.sent(GROUP, mark, lambda c: "先接手了这位顾客" in (c.text or "")
                        or "已由" in (c.text or ""))
    assert NAMES[winner] in lost.text and lost.params["message_thread_id"] == thread
    joined = await h.sent(SHOPPER, mark, lambda c: NAMES[winner] in (c.text or ""))
    await h.state_becomes("assigned", winner)
    await asyncio.sleep(0.5)  # nothing more arrives: exactly one winner announced
    since_race = h.server.calls[mark:]
    assert sum("📌" in (c.text or "") for c in since_race) == 1
    assert [c for c in since_race if c.method == "sendMessage"
            and c.params.get("chat_id") == SHOPPER] == [joined]

    # 4. Relay both ways with media: the shopper's photo is copied into the topic ...
    mark = photo_mark = h.mark()
    h.shopper(extra=PHOTO)
    photo = await h.sent(GROUP, mark, lambda c: bool(c.message and "photo" in c.message),
                         method="copyMessage")
    assert photo.params["message_thread_id"] == thread and photo.text == PHOTO["caption"]
    shopper_photo_id, topic_photo_id = photo.params["message_id"], photo.result["message_id"]
    await h.stored("SELECT 1 FROM message_links WHERE topic_message_id = ?", topic_photo_id)
    # ... and the winner's reply to it in the topic reaches the shopper as a reply to the photo.
    mark = h.mark()
    answer = "非常抱歉！我们马上给您补发一个新杯子"
    h.agent(winner, answer, thread, reply_to=topic_photo_id)
    copied = await h.sent(SHOPPER, mark, lambda c: c.text == answer, method="copyMessage")
    assert copied.params["from_chat_id"] == GROUP
    assert copied.params["reply_parameters"]["message_id"] == shopper_photo_id
    # An agent has the chat: the bot did not answer the photo itself (no seam for the shopper).
    assert not [c for c in h.server.calls[photo_mark:] if c.method == "sendMessage"
                and c.params.get("chat_id") == SHOPPER]

    # 5. Tone guard (P9): 我不能 is not sent; the topic gets the problem, a rewrite, buttons.
    mark = h.mark()
    h.agent(winner, "我不能给您退款", thread)
    warning = await h.sent(GROUP, mark, lambda c: "P9" in (c.text or ""))
    assert warning.message is not None
    shown = copy.deepcopy(warning.message)  # as the agent saw it (the bot edits it later)
    assert warning.params["message_thread_id"] == thread and "我不能" in shown["text"]
    assert "建议改写" in shown["text"]
    rows = shown["reply_markup"]["inline_keyboard"]
    rewrite_button, original_button = rows[0][0], rows[0][1]
    await h.stored("SELECT 1 FROM events WHERE kind = 'tone_guard'")
    assert rewrite_button["callback_data"].startswith("tg:rw:")
    assert original_button["callback_data"].startswith("tg:og:")
    assert not [c for c in h.server.sent_to(SHOPPER) if c.at > warning.at - 5
                and "我不能" in (c.text or "")]
    mark = h.mark()
    h.press(winner, rewrite_button["callback_data"], shown, rewrite_button["text"])
    rewritten = await h.sent(SHOPPER, mark, method="sendMessage")
    assert "我不能" not in rewritten.text and rewritten.text.strip()
    assert rewritten.text in shown["text"]  # what was suggested is what was sent
    await h.server.wait_for(lambda c: c.method == "answerCallbackQuery", WAIT, since=mark)
    assert not [c for c in h.server.sent_to(SHOPPER) if "我不能" in (c.text or "")]

    # 6. Transfer: the other agent comes on duty; the winner hands the chat over by name.
    mark = h.mark()
    h.agent(loser, "/on")
    await h.sent(GROUP, mark, lambda c: "你已上班" in (c.text or ""))
    await h.duty_becomes(loser, on=True)
    mark = h.mark()
    h.agent(winner, f"/transfer {NAMES[loser]}", thread)
    moved = await h.sent(GROUP, mark, lambda c: "接手了这位顾客" in (c.text or ""))
    assert moved.text.startswith(f"🤖 📌 {NAMES[loser]}接手")
    assert moved.params["message_thread_id"] == thread
    await h.sent(SHOPPER, mark, lambda c: NAMES[loser] in (c.text or ""))
    await h.state_becomes("assigned", loser)

    # 7. Close (P8): the farewell goes to the shopper, then the conversation is closed.
    mark = h.mark()
    h.agent(loser, "/close", thread)
    closed = await h.sent(GROUP, mark, lambda c: "已结束，顾客收到了告别语" in (
        c.text or ""))
    assert closed.params["message_thread_id"] == thread
    farewell = [c for c in h.server.calls[mark:] if c.ok and c.method == "sendMessage"
                and c.params.get("chat_id") == SHOPPER]
    assert len(farewell) == 1 and farewell[0].at < closed.at
    renamed = [c for c in h.server.calls[mark:] if c.method == "editForumTopic"]
    assert renamed and renamed[-1].params["name"] == "小林 · ✅ 已结束"
    assert renamed[-1].params["message_thread_id"] == thread
    await h.state_becomes("closed", loser)
    # Nothing of the agents' group ever went anywhere but the group and the shopper.
    chats = {str(c.params.get("chat_id")) for c in h.server.calls
             if c.ok and c.method in ("sendMessage", "copyMessage", "sendPhoto")}
    assert chats <= {str(GROUP), str(SHOPPER)}
