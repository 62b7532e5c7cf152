"""Nobody gets in where they don't belong (P10): one roster of agents, the webhook secret.

The roster is the agents table, read per update: a removal by the owner counts at once in
every process, an agent the owner adds can act at once, and the owner is an agent only when
added as one. In webhook mode a secret is always required (generated and shared through the
database when none is configured).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import build_app, build_dispatcher
from bot.clock import FixedClock
from bot.services.flood import FLOOD_BURST
from bot.services.staff import agent_ids
from bot.settings import Settings
from bot.webhook import UpdateTracker, build_webhook_app, register_webhook, shared_secret
from storage.models import ConversationState, Customer, Event, Message, Sender
from storage.models.agents import Agent
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import callback_update, message_json, message_update
from tests.test_agent_console import (
    ALICE,
    BOB,
    GROUP,
    MORNING,
    OWNER,
    SHOPPER,
    H,
    console_settings,
    queued,
)

CAROL = 903
NOT_AN_AGENT = "只有本店客服可以使用"  # staff phrase console.agents_only (the shop's zh)


async def start(db_url: str, **env: str) -> H:
    session = RecordingSession()
    app = await build_app(console_settings(db_url, **env), session=session,
                          clock=FixedClock(MORNING))
    return H(app, build_dispatcher(app), session, app.clock)  # type: ignore[arg-type]


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    harness = await start(db_url)
    await harness.duty(bob=False)  # only Alice is on duty unless a test says so
    yield harness
    await harness.app.close()


async def owner_says(h: H, text: str) -> list[str]:
    before = len(h.texts_to(OWNER))
    await h.feed(message_update(h.uid(), OWNER, text, first_name="Olga"))
    return h.texts_to(OWNER)[before:]


# ------------------------------------------------------------------ one roster (P10)
async def test_a_removed_agent_loses_every_agent_power_at_once_P10(h: H) -> None:
    thread = await queued(h)  # waiting for someone to /take it
    assert await owner_says(h, f"/removeagent {BOB}") == ["好的。"]
    await h.agent(BOB, "/on")
    assert NOT_AN_AGENT in h.texts_to(GROUP)[-1]
    await h.agent(BOB, "/take", thread)
    assert NOT_AN_AGENT in h.texts_to(GROUP)[-1]
    await h.agent(BOB, "/card", thread)
    assert NOT_AN_AGENT in h.texts_to(GROUP)[-1]
    await h.agent(BOB, "hello shopper", thread)
    assert h.to(SHOPPER, "copyMessage") == []
    assert "hello shopper" not in h.texts_to(SHOPPER)
    before = len(h.texts_to(BOB))
    await h.feed(message_update(h.uid(), BOB, f"/card {SHOPPER}", first_name="Bob"))
    assert not any("Customer" in t for t in h.texts_to(BOB)[before:])  # no customer card
    assert BOB not in await roster(h)


async def test_a_removed_agents_chats_go_back_to_the_queue_and_they_get_no_new_ones_P10(
    h: H,
) -> None:
    await h.duty(alice=False, bob=True)
    await h.shopper("转人工")
    assert (await h.conversation()).agent_id == BOB
    await owner_says(h, f"/removeagent {BOB}")
    conversation = await h.conversation()
    assert conversation.state == ConversationState.QUEUED and conversation.agent_id is None
    await h.agent(ALICE, "/on")
    assert (await h.conversation()).agent_id == ALICE


async def test_a_removal_counts_at_once_in_another_process_P10(h: H, db_url: str) -> None:
    other = await start(db_url)  # a second process on the same database
    try:
        thread = await queued(h)
        await owner_says(h, f"/removeagent {BOB}")
        await other.agent(BOB, "/take", thread)
        assert NOT_AN_AGENT in other.texts_to(GROUP)[-1]
        await other.agent(BOB, "/on")
        assert NOT_AN_AGENT in other.texts_to(GROUP)[-1]
    finally:
        await other.app.close()


async def test_an_agent_added_by_the_owner_can_act_at_once_P10(h: H) -> None:
    thread = await queued(h)  # waiting for someone to /take it
    await owner_says(h, f"/addagent {CAROL}")
    await h.agent(CAROL, "/take", thread)
    assert (await h.conversation()).agent_id == CAROL
    await h.agent(CAROL, "您好，我来帮您", thread)
    assert [c.chat_id for c in h.to(SHOPPER, "copyMessage")] == [SHOPPER]


async def test_the_owner_is_not_an_agent_unless_added_P10(h: H) -> None:
    assert OWNER not in await roster(h)
    await h.duty(alice=False, bob=False)  # every agent is off
    await h.shopper("转人工")
    conversation = await h.conversation()
    assert conversation.state == ConversationState.QUEUED and conversation.agent_id is None
    await h.agent(ALICE, "/on")
    assert (await h.conversation()).agent_id == ALICE
    await h.agent(OWNER, "/queue")
    assert NOT_AN_AGENT in h.texts_to(GROUP)[-1]
    await owner_says(h, f"/addagent {OWNER}")
    await h.agent(OWNER, "/queue")
    assert "排队中：" in h.texts_to(GROUP)[-1]


async def test_a_removed_agent_stays_removed_after_a_restart_with_AGENT_IDS(
    h: H, db_url: str,
) -> None:
    await owner_says(h, f"/removeagent {BOB}")
    again = await start(db_url)  # AGENT_IDS still lists Bob
    try:
        assert BOB not in await roster(again)
        assert ALICE in await roster(again)
    finally:
        await again.app.close()


async def roster(h: H) -> list[int]:
    async with h.app.sessions() as db:
        return await agent_ids(Repo(db))


# ------------------------------------------------------------------ the webhook secret
WEBHOOK = {"WEBHOOK_URL": "https://shop.test/tg/webhook"}
HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def test_webhook_mode_without_a_configured_secret_refuses_forged_updates(
    db_url: str,
) -> None:
    """High 1: a forged ``/addagent`` "from" the owner changes nothing without the secret."""
    h = await start(db_url, **WEBHOOK)
    try:
        secret = await shared_secret(h.app)
        assert len(secret) >= 32
        forged = {"update_id": 77, "message": message_json(OWNER, f"/addagent {CAROL}")}
        async with TestClient(TestServer(build_webhook_app(h.app, h.dp, UpdateTracker(),
                                                           secret))) as client:
            for headers in ({}, {HEADER: "wrong"}, {HEADER: "é" * 10},
                            {HEADER: secret[:-1]}):
                response = await client.post("/tg/webhook", json=forged, headers=headers)
                assert response.status == 401, headers
            assert CAROL not in await roster(h)
            assert h.texts_to(OWNER) == []
            response = await client.post("/tg/webhook", json=forged, headers={HEADER: secret})
            assert response.status == 200
            assert CAROL in await roster(h)
    finally:
        await h.app.close()


async def test_the_generated_secret_is_shared_by_every_process_and_registered(
    db_url: str,
) -> None:
    first, second = await start(db_url, **WEBHOOK), await start(db_url, **WEBHOOK)
    try:
        secret = await shared_secret(first.app)
        assert await shared_secret(second.app) == secret  # stable across processes
        await register_webhook(second.app, second.dp, secret)
        [call] = second.session.requests_of("setWebhook")
        assert call.secret_token == secret and call.url == WEBHOOK["WEBHOOK_URL"]
    finally:
        await first.app.close()
        await second.app.close()


async def test_a_configured_secret_is_used_as_is(db_url: str) -> None:
    h = await start(db_url, WEBHOOK_SECRET="my-own_secret", **WEBHOOK)
    try:
        assert await shared_secret(h.app) == "my-own_secret"
    finally:
        await h.app.close()


async def test_roster_rows_are_only_agents(h: H) -> None:
    rows = await h.rows(Agent)
    assert {a.telegram_user_id for a in rows} == {ALICE, BOB}
    assert await h.rows(Customer) == []


# ------------------------------------------------------------------ floods (P2 for everyone)
async def test_a_flood_is_answered_once_and_shown_to_agents_as_one_post(h: H) -> None:
    await h.shopper("转人工")  # assigned to Alice: the agents see this chat
    h.session.requests.clear()
    assert h.app.console is not None
    h.app.console.digest_delay = 60
    for i in range(60):
        await h.shopper(f"在吗 {i}")
    await h.app.console.flush_bursts()  # the window ends: the rest of the burst in one post
    async with h.app.sessions() as db:
        stored = await db.scalar(select(func.count()).select_from(Message)
                                 .where(Message.sender == Sender.SHOPPER))
        floods = list(await db.scalars(select(Event).where(Event.kind == "flood")))
    assert stored == 61  # every message is stored
    assert len(floods) == 1  # recorded for the owner
    # Answered as a burst: the first few one by one, then one "we read them all" reply.
    assert len(h.to(SHOPPER)) <= FLOOD_BURST + 1
    group = h.to(GROUP) + h.to(GROUP, "copyMessage")
    # A copy and a "→ shopper" line for the first few, then one collapsed post per window.
    assert len(group) <= 2 * FLOOD_BURST + 2, [getattr(r, "text", "copy") for r in group]
    shown = "\n".join(r.text for r in h.to(GROUP))
    assert "在吗 59" in shown and "在吗 10" in shown  # nothing the shopper wrote is hidden
    assert "条消息（已合并）：" in shown  # the collapsed post in the agents' words (flood.head)


async def test_a_flood_in_the_bot_state_gets_one_reply_not_sixty(h: H) -> None:
    for i in range(60):
        await h.shopper(f"hello {i}?")
    assert len(h.to(SHOPPER)) <= FLOOD_BURST + 2  # a greeting, a few answers, one notice


# ------------------------------------------------------------------ /forget (P16)
PERSONAL = ("张三丰", "长安街", "13900001111", "13800138000", "vip-张")


async def everything_stored(h: H) -> str:
    """Every row of every table, as text: where personal data could hide."""
    from storage.base import Base

    out = []
    async with h.app.sessions() as db:
        for table in Base.metadata.sorted_tables:
            out += [repr(tuple(row)) for row in await db.execute(select(table))]
    return "\n".join(out)


async def test_forget_leaves_no_personal_data_anywhere_P16(h: H) -> None:
    from bot.services import order_import
    from tests.aftersales_support import SHANGHAI

    async with h.app.sessions() as db:
        repo = Repo(db)
        result = order_import.parse_json([{
            "order_id": "20260501001", "customer_name": "张三丰", "phone": "13800138000",
            "telegram_user_id": SHOPPER, "amount": "199", "status": "shipped",
            "carrier": "顺丰", "tracking_number": "SF1",
            "events": [{"at": "2026-05-03T20:00:00+08:00", "location": "北京长安街1号",
                        "text": "快递员 13900001111 派送中"}]}], SHANGHAI)
        await order_import.apply(repo, result, MORNING)
        await repo.commit()
    await h.feed(message_update(h.uid(), SHOPPER, "转人工", first_name="张三丰"))
    thread = await h.thread()
    await h.agent(ALICE, "/take", thread)
    await h.agent(ALICE, "/note 住在长安街1号", thread)
    await h.agent(ALICE, "张三丰您好，我不能帮您改地址", thread)  # held by the tone guard (P9)
    await h.feed(message_update(h.uid(), ALICE, f"/tag {SHOPPER} +vip-张", first_name="Alice"))
    before = await everything_stored(h)
    assert [p for p in PERSONAL if p not in before] == []  # all of it is there now
    h.session.requests.clear()
    await h.feed(message_update(h.uid(), SHOPPER, "/forget", first_name="张三丰"))
    await h.feed(callback_update(h.uid(), SHOPPER, "forget:yes"))
    stored = await everything_stored(h)
    assert [p for p in PERSONAL if p in stored] == []
    [renamed] = h.session.requests_of("editForumTopic")
    assert "张三丰" not in renamed.name
    assert any("/forget" in t for t in h.texts_to(GROUP))


# ------------------------------------------------------------------ bad values (Low)
async def test_bad_values_get_a_clear_answer_never_an_exception(
    h: H, caplog: pytest.LogCaptureFixture,
) -> None:
    before = len(h.texts_to(OWNER))
    await h.feed(message_update(h.uid(), OWNER, "/report 0001-01-01 9999-12-31",
                                first_name="Olga"))
    assert "一份报表最多 366 天" in "".join(h.texts_to(OWNER)[before:])  # report.too_long
    for data in ("sv:abc", "fu:x", "sv:1", "sv:99999999999999999999999:5", "fu:"):
        await h.feed(callback_update(h.uid(), SHOPPER, data))
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


async def test_webhook_bodies_that_are_not_updates_get_400(db_url: str) -> None:
    h = await start(db_url, **WEBHOOK)
    try:
        secret = await shared_secret(h.app)
        app = build_webhook_app(h.app, h.dp, UpdateTracker(), secret)
        async with TestClient(TestServer(app)) as client:
            for body in ("[1, 2]", '"text"', "{}", "not json", "[" * 100_000 + "]" * 100_000,
                         '{"update_id": "x"}'):
                response = await client.post("/tg/webhook", data=body, headers={
                    HEADER: secret, "Content-Type": "application/json"})
                assert response.status == 400, body[:20]
    finally:
        await h.app.close()


async def test_orders_endpoint_refuses_deep_json_and_huge_amounts(
    settings: Settings, sessions: Any,
) -> None:
    from pydantic import SecretStr

    from bot.orders_api import build_orders_api
    from bot.services.orders import OrderDesk

    assert settings.orders_api_host == "127.0.0.1"  # not every interface unless configured
    settings = settings.model_copy(update={"orders_api_token": SecretStr("s3cret")})
    api = build_orders_api(settings, sessions, OrderDesk(settings, None),  # type: ignore[arg-type]
                           FixedClock(MORNING))
    auth = {"X-Orders-Token": "s3cret", "Content-Type": "application/json"}
    async with TestClient(TestServer(api)) as client:
        deep = await client.post("/orders", data="[" * 100_000 + "]" * 100_000, headers=auth)
        assert deep.status == 400
        huge = await client.post("/orders", json=[{"order_id": "20260501001",
                                                   "amount": "1e999999"}], headers=auth)
        assert huge.status == 422 and "amount" in (await huge.json())["errors"][0]


# ------------------------------------------------------------------ Low: texts people read
async def test_long_staff_messages_are_split_never_refused(h: H) -> None:
    thread = await queued(h)
    await h.agent(ALICE, "/take", thread)
    await h.agent(ALICE, "我不能" + "很长的话。" * 900 + "结尾", thread)  # the tone guard quotes it
    await h.agent(ALICE, "/note " + "备注" * 2100, thread)
    await h.agent(ALICE, "/card", thread)
    texts = [r.text for r in h.session.requests_of("sendMessage")]
    assert texts and max(len(t) for t in texts) <= 4096
    assert any("结尾" in t for t in h.texts_to(GROUP))  # the end of the rewrite is shown


async def test_an_agent_without_a_name_is_never_an_empty_name_to_the_shopper_P3(h: H) -> None:
    await h.feed(message_update(h.uid(), SHOPPER, "I want to talk to a human",
                                first_name="Ann", language_code="en"))
    joined = [t for t in h.texts_to(SHOPPER) if "this is" in t]
    assert joined and not any(re.search(r"this is\s*\.", t) for t in joined)


async def test_control_characters_never_reach_topic_titles_or_cards(h: H) -> None:
    await h.feed(message_update(h.uid(), SHOPPER, "转人工", first_name="\u202eexe.gpj\u200b Li"))
    [created] = h.session.requests_of("createForumTopic")
    assert "\u202e" not in created.name and "\u200b" not in created.name
    assert "exe.gpj Li" in created.name
    assert not any("\u202e" in t for t in h.texts_to(GROUP))
