"""End to end: the bot process started as README starts it, over HTTP to a fake Bot API server.

One process start for the whole module (aiogram is slow to import); shoppers are told apart by
their chat ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from phrases.faq_file import load_faq_file
from tests.fakes.bot_processes import polling_bot
from tests.fakes.telegram_server import FakeTelegramServer

ROOT = Path(__file__).resolve().parents[1]
DEMO_FAQ = ROOT / "bot" / "demo"
AGENT_CHAT, AGENT = -1009990001, 901  # the agents' forum supergroup, its agent
SLA_REPLY_SECONDS = 2


pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running_bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[
    FakeTelegramServer
]:
    server = FakeTelegramServer()
    await server.start()
    data = tmp_path_factory.mktemp("e2e")
    try:
        async with polling_bot(
            server, data,
            AGENT_IDS="901",  # someone is on duty: the SLA clock sends holding replies (P2)
            AGENT_CHAT_ID=str(AGENT_CHAT),  # the agents' forum group (P8)
            SLA_REPLY_SECONDS=str(SLA_REPLY_SECONDS),  # short deadlines, real clock
            # P2 back-off between holding replies, shortened like the deadline (default 2, 10 min)
            SLA_HOLDING_BACKOFF=f"{SLA_REPLY_SECONDS},{SLA_REPLY_SECONDS}",
        ):
            yield server
    finally:
        await server.stop()


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_shopper_asks_and_the_bot_answers_from_the_faq(
    running_bot: FakeTelegramServer, lang: str
) -> None:
    chat = 7000 + (lang == "en")
    entry = load_faq_file(DEMO_FAQ / f"faq.{lang}.yaml").entries[3]
    user = {"id": chat, "is_bot": False, "first_name": "Ada", "language_code": lang}
    running_bot.push_message(chat, entry.question, user=user)
    sent = await running_bot.wait_for_messages(chat, count=2, timeout=20)
    greeting, answer = sent[0].text, "".join(call.text for call in sent[1:])
    assert "Ada" in greeting
    assert entry.answer.split("\n")[0][:20] in answer


async def test_request_for_a_person_and_redelivery(running_bot: FakeTelegramServer) -> None:
    chat = 7100
    user = {"id": chat, "is_bot": False, "first_name": "林", "language_code": "zh"}
    running_bot.push_message(chat, "转人工", user=user)
    sent = await running_bot.wait_for_messages(chat, count=2, timeout=20)
    assert len(sent) == 2
    running_bot.push_message(chat, None, user=user, extra={
        "sticker": {"file_id": "s", "file_unique_id": "su", "type": "regular", "width": 1,
                    "height": 1, "is_animated": False, "is_video": False},
    })
    await running_bot.wait_for_messages(chat, count=3, timeout=20)


async def test_holding_reply_within_a_second_of_its_deadline_P2(
    running_bot: FakeTelegramServer,
) -> None:
    """A queued shopper hears from the SLA clock when no person answered in time."""
    chat = 7200
    user = {"id": chat, "is_bot": False, "first_name": "周", "language_code": "zh"}
    running_bot.push_message(chat, "转人工", user=user)
    queued = (await running_bot.wait_for_messages(chat, count=2, timeout=20))[1]
    sent = await running_bot.wait_for_messages(chat, count=4, timeout=3 * SLA_REPLY_SECONDS + 5)
    first, second = sent[2], sent[3]
    assert first.text.startswith(("抱歉", "不好意思", "非常抱歉"))  # apology + inquiry
    late = first.at - queued.at - SLA_REPLY_SECONDS
    print(f"holding reply {late:+.3f} s from its deadline")  # shown with -s
    assert -0.5 < late <= 1.0, f"holding reply {late:+.2f} s from its deadline"
    assert second.at - first.at >= SLA_REPLY_SECONDS - 0.5  # never more often than promised
    assert second.text != first.text


async def test_shopper_agent_shopper_round_trip_through_a_forum_topic(
    running_bot: FakeTelegramServer,
) -> None:
    chat = 7300
    user = {"id": chat, "is_bot": False, "first_name": "Mei", "language_code": "zh"}
    running_bot.push_message(chat, "我要人工客服", user=user)
    copied = await running_bot.wait_for(
        lambda c: c.method == "copyMessage" and c.params.get("chat_id") == AGENT_CHAT
        and c.text == "我要人工客服", timeout=20)
    thread = copied.params["message_thread_id"]
    card = next(c for c in running_bot.sent_to(AGENT_CHAT)
                if "客户档案" in (c.text or "") and "👤 Mei" in (c.text or ""))
    assert card.params["message_thread_id"] == thread
    agent = {"id": AGENT, "is_bot": False, "first_name": "Ann", "language_code": "zh"}
    running_bot.push_message(AGENT_CHAT, "您好，我是Ann，马上帮您看", user=agent,
                             chat_type="supergroup", message_thread_id=thread)
    await running_bot.wait_for(
        lambda c: c.method == "copyMessage" and c.params.get("chat_id") == chat
        and c.text == "您好，我是Ann，马上帮您看", timeout=20)
    running_bot.push_message(chat, "好的，谢谢", user=user)
    await running_bot.wait_for(
        lambda c: c.method == "copyMessage" and c.params.get("chat_id") == AGENT_CHAT
        and c.text == "好的，谢谢", timeout=20)
