"""The web chat (bot/web) in one process, without a browser: WebSocket in, events out.

One app per back end for the module (start-up is the expensive part); every test is a new
visitor. The agents' forum stays on Telegram: its calls are recorded by the recording session.
What a browser does (rendering, reload, XSS in the DOM) is in tests/test_web_browser.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiogram.types import Update
from sqlalchemy import select

from bot.app import build_app, build_dispatcher
from bot.services.channels import WEB, WEB_ID_BASE, channel_of
from bot.settings import load_settings
from bot.web.hub import Hub
from bot.web.identity import VisitorTokens, update_id_for
from bot.web.server import RateLimit, WebChat, serving
from storage.models import Conversation, Customer, Message
from tests.backends import postgres_db_url, redis_problem, selected_backends
from tests.fakes.bot_processes import free_port
from tests.fakes.recording_session import RecordingSession

pytestmark = pytest.mark.asyncio(loop_scope="module")

GROUP = -1009990020  # the agents' forum supergroup
AGENT = 920
SHOP_SITE = "https://shop.example"
WAIT = 10.0


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def web_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    if request.param not in selected_backends(request.config):
        pytest.skip(f"back end {request.param} not selected")
    if request.param == "postgres":
        yield from postgres_db_url()
    else:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('web') / 'shop.sqlite3'}"


class Chat:
    """The running web chat and a recording of what reached Telegram (the agents' group)."""

    def __init__(self, port: int, session: RecordingSession, app: Any, dp: Any,
                 web: WebChat) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.session, self.app, self.dp, self.web = session, app, dp, web
        self.client = aiohttp.ClientSession()

    async def visitor(self, token: str | None = None, *, origin: str | None = None,
                      name: str = "小林", lang: str = "zh") -> Visitor:
        ws = await self.client.ws_connect(f"{self.url}/chat/ws",
                                          headers={"Origin": origin or self.url})
        await ws.send_json({"t": "hello", "token": token, "lang": lang, "name": name})
        hello = await asyncio.wait_for(ws.receive_json(), WAIT)
        assert hello["t"] == "hello"
        return Visitor(ws, hello)


class Visitor:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, hello: dict[str, Any]) -> None:
        self.ws, self.hello, self.token = ws, hello, hello["token"]
        self.n = 0

    async def say(self, text: str) -> str:
        self.n += 1
        cid = f"c{self.n}"
        await self.ws.send_json({"t": "text", "text": text, "cid": cid})
        return cid

    async def next(self, kind: str = "msg", where: Any = lambda e: True) -> dict[str, Any]:
        """The next event of ``kind`` that matches (others are skipped)."""
        async def find() -> dict[str, Any]:
            while True:
                event = await self.ws.receive_json()
                if event.get("t") == kind and where(event):
                    return event
        return await asyncio.wait_for(find(), WAIT)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def chat(web_db_url: str) -> AsyncIterator[Chat]:
    settings = load_settings({
        "DATABASE_URL": web_db_url, "AGENT_IDS": str(AGENT), "AGENT_CHAT_ID": str(GROUP),
        "SERVICE_HOURS": "always", "WEB_CHAT_ORIGINS": SHOP_SITE,
        "WEB_CHAT_VISITOR_PER_MINUTE": "12", "WEB_CHAT_IP_PER_MINUTE": "100000",
    })
    session = RecordingSession()
    app = await build_app(settings, session=session)
    dp = build_dispatcher(app)
    port = free_port()
    async with serving(app, dp, listen=f"127.0.0.1:{port}") as web:
        chat = Chat(port, session, app, dp, web)
        try:
            yield chat
        finally:
            await chat.client.close()
    await app.close()


async def test_ask_and_answer_stored_first_as_a_web_customer(chat: Chat) -> None:
    """The FAQ answers a web visitor in their language; the message is stored (with its
    update id) and the customer and conversation say channel "web"."""
    visitor = await chat.visitor(lang="en", name="Eve")
    await visitor.say("how long does shipping take?")
    greeting = await visitor.next()
    assert "Eve" in greeting["text"]
    answer = await visitor.next(where=lambda e: "days" in e["text"])
    assert "Suzhou" in answer["text"]
    # The "handled" mark is committed after the answer went out: a socket's frames are
    # handled one after another, so the next frame's ack means the first is done.
    cid = await visitor.say("thanks")
    await visitor.next("ack", where=lambda e: e["cid"] == cid)
    async with chat.app.sessions() as db:
        customer = await db.scalar(select(Customer).where(Customer.name == "Eve"))
        assert customer is not None and customer.channel == WEB
        assert channel_of(customer.telegram_user_id) == WEB
        conversation = await db.scalar(select(Conversation).where(
            Conversation.customer_id == customer.id))
        assert conversation is not None and conversation.channel == WEB
        stored = await db.scalar(select(Message).where(
            Message.conversation_id == conversation.id, Message.sender == "shopper",
            Message.update_id == update_id_for(customer.telegram_user_id, "c1")))
        assert stored is not None and stored.handled_at is not None
    await visitor.ws.close()


async def test_history_on_reconnect_and_no_history_for_a_forged_token(chat: Chat) -> None:
    """The signed token resumes the conversation; a token for another number (or unsigned)
    is a new visitor who sees nothing of the first one's."""
    first = await chat.visitor(name="阿明")
    await first.say("你们发什么快递？")
    await first.next()  # the greeting
    await first.next()  # the answer
    await first.ws.close()
    again = await chat.visitor(first.token)
    assert again.token == first.token
    texts = [m["text"] for m in again.hello["history"]]
    assert "你们发什么快递？" in texts and len(texts) >= 3
    await again.ws.close()
    prefix, number, signature = first.token.split(".")
    neighbour = f"{int(number, 16) + 1:x}"
    for forged in (f"{prefix}.{neighbour}.{signature}", f"{prefix}.{number}.{'0' * 32}",
                   f"{prefix}.{number}", "v1..", "x" * 500):
        stranger = await chat.visitor(forged)
        assert stranger.token != first.token
        assert stranger.hello["history"] == []
        await stranger.ws.close()


async def test_origins_checked_on_the_websocket(chat: Chat) -> None:
    """The bot's own pages and WEB_CHAT_ORIGINS may open the socket; other sites and clients
    without an Origin get 403."""
    shop = await chat.visitor(origin=SHOP_SITE)
    await shop.ws.close()
    for headers in ({"Origin": "https://evil.example"}, {}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await chat.client.ws_connect(f"{chat.url}/chat/ws", headers=headers)
        assert refused.value.status == 403


async def test_pages_carry_a_content_security_policy(chat: Chat) -> None:
    async with chat.client.get(f"{chat.url}/chat/") as page:
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert 'src="/chat/widget.js"' in await page.text()
    async with chat.client.get(f"{chat.url}/chat/widget.js") as script:
        body = await script.text()
        assert script.headers["Content-Type"].startswith("text/javascript")
        assert "innerHTML" not in body.replace("never innerHTML", "")


async def test_too_long_is_refused_with_the_shops_words_and_not_stored(chat: Chat) -> None:
    visitor = await chat.visitor(lang="en")
    cid = await visitor.say("x" * 4097)
    error = await visitor.next("error")
    assert error["code"] == "too_long" and error["cid"] == cid
    assert "4096" in error["text"]
    async with chat.app.sessions() as db:
        assert await db.scalar(select(Message).where(Message.text == "x" * 4097)) is None
    # A frame over the size limit closes the socket (aiohttp refuses to read it).
    await visitor.ws.send_str(json.dumps({"t": "text", "text": "y" * 20000}))
    closed = await asyncio.wait_for(visitor.ws.receive(), WAIT)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                           aiohttp.WSMsgType.CLOSING)


async def test_rate_limit_per_visitor(chat: Chat) -> None:
    """12 a minute on average (the test's setting), bursts of 3: the fourth at once is
    refused with the shop's words, and is not stored."""
    visitor = await chat.visitor(lang="en")
    for n in range(4):
        await visitor.ws.send_json({"t": "text", "text": f"ok {n}", "cid": f"r{n}"})
    error = await visitor.next("error")
    assert error["code"] == "slow_down" and error["cid"] == "r3"
    await visitor.ws.close()


async def test_rate_limit_bucket_refills() -> None:
    limit = RateLimit(60)  # one a second, bursts of 15
    assert all(limit.allow("ip", now=0.0) for _ in range(15))
    assert not limit.allow("ip", now=0.0)
    assert limit.allow("ip", now=1.01)
    assert limit.allow("other", now=0.0)


async def test_tokens_are_signed_and_ids_are_web_ids() -> None:
    tokens = VisitorTokens("s" * 32)
    token, user_id = tokens.issue()
    assert tokens.verify(token) == user_id and user_id >= WEB_ID_BASE
    assert VisitorTokens("t" * 32).verify(token) is None  # another shop's secret
    assert channel_of(user_id) == WEB and channel_of(7_000_000_000) == "telegram"
    assert update_id_for(user_id, "a") == update_id_for(user_id, "a") != update_id_for(
        user_id, "b")


async def test_escalation_reaches_the_agents_topic_and_the_agents_reply_the_browser(
        chat: Chat) -> None:
    """A hostile name is escaped in the topic's name and card (HTML parse mode); the topic
    says "web"; an agent's reply in the topic arrives live, as plain text."""
    name = '<img src=x onerror="alert(1)">Eve'
    visitor = await chat.visitor(lang="en", name=name)
    await visitor.say("I want to talk to a human")
    await visitor.next(where=lambda e: "colleague" in e["text"] or "team" in e["text"])
    # The relay to the topic runs after the shopper's answer went out: wait for its card.
    card = await _recorded(chat, lambda r: r.__api_method__ == "sendMessage"
                           and r.chat_id == GROUP and "客户档案" in r.text
                           and "onerror" in r.text)
    topic = next(t for t in chat.session.requests_of("createForumTopic") if "onerror" in t.name)
    assert topic.name.startswith("🌐 网页 · ")
    assert html.escape(name, quote=False) in card.text and name not in card.text
    thread = (await _topic_thread(chat, name))
    reply = "Hi <b>Eve</b>, Ann here & happy to help"
    update = Update.model_validate({"update_id": 777001, "message": {
        "message_id": 55, "date": 1, "text": reply, "message_thread_id": thread,
        "is_topic_message": True,
        "chat": {"id": GROUP, "type": "supergroup", "title": "Agents", "is_forum": True},
        "from": {"id": AGENT, "is_bot": False, "first_name": "Ann"}}},
        context={"bot": chat.app.bot})
    await chat.dp.feed_update(chat.app.bot, update)
    shown = await visitor.next(where=lambda e: "Ann here" in e["text"])
    assert shown["text"] == reply  # plain text: the widget renders it with textContent
    await visitor.ws.close()


async def _recorded(chat: Chat, match: Any) -> Any:
    for _ in range(int(WAIT / 0.02)):
        found = [r for r in chat.session.requests if match(r)]
        if found:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError("not sent to Telegram in time")


async def _topic_thread(chat: Chat, name: str) -> int:
    from storage.models.agents import CustomerTopic

    async with chat.app.sessions() as db:
        customer = await db.scalar(select(Customer).where(Customer.name == name))
        assert customer is not None
        topic = await db.scalar(select(CustomerTopic).where(
            CustomerTopic.customer_id == customer.id))
        assert topic is not None
        return topic.thread_id


async def test_redis_hub_reaches_another_process() -> None:
    """Two hubs on one Redis: an event published by one reaches a listener on the other."""
    if problem := redis_problem():
        pytest.skip(f"Redis: {problem}")
    from tests.backends import REDIS_URL

    here, there = Hub(REDIS_URL, "t1"), Hub(REDIS_URL, "t1")
    await here.start()
    await there.start()
    got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    class Listener:
        def deliver(self, event: dict[str, Any]) -> None:
            got.put_nowait(event)

    listener = Listener()
    key = WEB_ID_BASE + 12345
    there.attach(key, listener)
    try:
        await here.publish(key, {"t": "msg", "text": "from the other process"})
        assert (await asyncio.wait_for(got.get(), WAIT))["text"] == "from the other process"
        await here.publish(key + 1, {"t": "msg", "text": "someone else's"})
        await here.publish(key, {"t": "msg", "text": "second"})
        assert (await asyncio.wait_for(got.get(), WAIT))["text"] == "second"
    finally:
        there.detach(key, listener)
        await here.stop()
        await there.stop()



async def test_reports_count_conversations_per_channel(chat: Chat) -> None:
    """The period report splits conversations by channel once the web chat is used."""
    from datetime import UTC, datetime, timedelta

    from bot.services.reports.build import build_report
    from bot.services.reports.export import tables
    from bot.services.reports.text import render_text

    now = datetime.now(UTC)
    async with chat.app.sessions() as db:
        report = await build_report(db, now - timedelta(days=1), now + timedelta(minutes=1),
                                    "Asia/Shanghai", compare=False)
    assert report.volumes.by_channel.get("web", 0) >= 1
    assert "网页" in render_text(report, "zh") and "web" in render_text(report, "en")
    summary = dict((row[0], row[1]) for row in tables(report)["summary"])
    assert summary["conversations_web"] == str(report.volumes.by_channel["web"])


async def test_delete_my_data_from_the_widget(chat: Chat) -> None:
    """The widget's "delete my data" sends /forget: the same confirmation button as on
    Telegram; once pressed, the history a reload shows has none of the shopper's words."""
    visitor = await chat.visitor(lang="en", name="Dora")
    await visitor.say("my address is 12 Secret Lane")
    await visitor.next()
    await visitor.say("/forget")
    ask = await visitor.next(where=lambda e: any(
        b["data"] == "forget:yes" for row in e["buttons"] for b in row))
    label = next(b["text"] for row in ask["buttons"] for b in row if b["data"] == "forget:yes")
    await visitor.ws.send_json({"t": "button", "data": "forget:yes", "label": label,
                                "mid": ask["id"], "cid": "f1"})
    await visitor.next(where=lambda e: e["id"] != ask["id"])  # the confirmation
    await visitor.ws.close()
    again = await chat.visitor(visitor.token, lang="en", name="Dora")
    assert not any("Secret Lane" in m["text"] for m in again.hello["history"])
    await again.ws.close()


async def test_long_poll_fallback(chat: Chat) -> None:
    """Without a WebSocket: hello, send and poll over HTTP carry the same frames and events;
    other origins get no CORS answer, a forged token is refused."""
    lp = f"{chat.url}/chat/lp"
    headers = {"Origin": SHOP_SITE}
    async with chat.client.options(f"{lp}/send", headers={
            **headers, "Access-Control-Request-Method": "POST"}) as preflight:
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == SHOP_SITE
    async with chat.client.post(f"{lp}/hello", json={"lang": "en", "name": "Lou"},
                                headers={"Origin": "https://evil.example"}) as refused:
        assert refused.status == 403
    async with chat.client.post(f"{lp}/hello", json={"lang": "en", "name": "Lou"},
                                headers=headers) as hello:
        welcome = await hello.json()
    token, cursor = welcome["token"], welcome["cursor"]
    async with chat.client.post(f"{lp}/send", headers=headers, json={
            "token": token, "lang": "en", "name": "Lou",
            "frame": {"t": "text", "text": "can I return an item?", "cid": "lp1"}}) as sent:
        assert sent.status == 200
        assert (await sent.json())["events"] == [{"t": "ack", "cid": "lp1"}]
    texts: list[str] = []
    for _ in range(5):
        async with chat.client.post(f"{lp}/poll", json={"token": token, "cursor": cursor},
                                    headers=headers) as polled:
            answer = await polled.json()
        cursor = answer["cursor"]
        texts += [e["text"] for e in answer["events"] if e["t"] == "msg"]
        if len(texts) >= 2:
            break
    assert len(texts) >= 2 and "Lou" in texts[0]  # the greeting, then the answer
    prefix, number, signature = token.split(".")
    async with chat.client.post(f"{lp}/poll", headers=headers, json={
            "token": f"{prefix}.{int(number, 16) ^ 1:x}.{signature}", "cursor": ""}) as forged:
        assert forged.status == 401


async def test_a_photo_to_a_web_visitor_leaves_no_file_id(chat: Chat) -> None:
    """The sender gets a result without a file_id (nothing went to Telegram), so the
    catalogue's photo cache never keeps one that Telegram does not know."""
    user_id = WEB_ID_BASE + 4242
    sent = await chat.app.bot.send_photo(user_id, "https://example.com/tea.jpg",
                                         caption="Linen shirt")
    assert not sent.photo
    album = await chat.app.bot.send_media_group(user_id, [
        {"type": "photo", "media": "https://example.com/a.jpg", "caption": "A"},
        {"type": "photo", "media": "https://example.com/b.jpg", "caption": "B"}])
    assert len(album) == 2 and all(not message.photo for message in album)


# ------------------------------------------------------------------ pictures
async def _upload(chat: Chat, token: str | None, data: bytes, *, caption: str = "",
                  cid: str = "p1", origin: str = SHOP_SITE,
                  content_type: str = "image/jpeg", name: str = "Pia") -> tuple[int, Any]:
    form = aiohttp.FormData()
    for field, value in (("cid", cid), ("caption", caption), ("lang", "en"), ("name", name)):
        form.add_field(field, value)
    form.add_field("file", data, filename="cat.jpg", content_type=content_type)
    headers = {"Origin": origin, **({"X-Chat-Token": token} if token else {})}
    async with chat.client.post(f"{chat.url}/chat/upload?lang=en", data=form,
                                headers=headers) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


async def _image(chat: Chat, image_id: int, token: str | None) -> tuple[int, bytes, str]:
    headers = {"Origin": SHOP_SITE, **({"X-Chat-Token": token} if token else {})}
    async with chat.client.get(f"{chat.url}/chat/img/{image_id}", headers=headers) as got:
        return got.status, await got.read(), got.headers.get("Content-Type", "")


async def _escalated(chat: Chat, visitor: Visitor, name: str) -> int:
    """The visitor asks for a person; their topic's thread once it exists (queued, or
    taken at once by the agent on duty)."""
    from storage.models.agents import CustomerTopic

    await visitor.say("I want to talk to a human")
    for _ in range(int(WAIT / 0.05)):
        async with chat.app.sessions() as db:
            thread = await db.scalar(select(CustomerTopic.thread_id).join(
                Customer, Customer.id == CustomerTopic.customer_id).where(
                Customer.name == name))
        if thread is not None:
            return thread
        await asyncio.sleep(0.05)
    raise AssertionError(f"no topic for {name}")


async def _images_of(chat: Chat, token: str) -> list[Any]:
    """The pictures kept for the visitor the token names."""
    from storage.models.web import WebImage

    user_id = chat.web.tokens.verify(token)
    assert user_id is not None
    async with chat.app.sessions() as db:
        return list(await db.scalars(select(WebImage).where(
            WebImage.owner_chat_id == user_id)))


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200  # the magic bytes are what count


async def test_upload_limits_size_type_token_origin_and_rate(chat: Chat) -> None:
    """A picture is checked before anything is kept: over 5 MB → 413 with the shop's words;
    a page renamed .jpg (and claimed image/jpeg) → 415; an unsigned token → 401; another
    site → 403; a visitor over the rate limit (bursts of 3 in this test) → 429. None of
    these is stored."""
    from bot.web.images import IMAGE_LIMIT

    visitor = await chat.visitor(lang="en", name="Pat")
    status, body = await _upload(chat, visitor.token, JPEG + b"\x00" * IMAGE_LIMIT)
    assert status == 413 and body["code"] == "too_big" and "5 MB" in body["text"]
    status, body = await _upload(chat, visitor.token, b"<html><script>alert(1)</script>",
                                 cid="p2")
    assert status == 415 and body["code"] == "bad_type" and body["cid"] == "p2"
    assert "JPEG, PNG or WebP" in body["text"]
    prefix, number, signature = visitor.token.split(".")
    forged = f"{prefix}.{int(number, 16) ^ 1:x}.{signature}"
    assert (await _upload(chat, forged, JPEG))[0] == 401
    assert (await _upload(chat, None, JPEG))[0] == 401
    assert (await _upload(chat, visitor.token, JPEG, origin="https://evil.example"))[0] == 403
    assert await _images_of(chat, visitor.token) == []
    await visitor.ws.close()
    # Rate: checked before the body is read; a refused upload counts as a message too.
    other = await chat.visitor(lang="en", name="Pat")
    statuses = [(await _upload(chat, other.token, JPEG, cid=f"r{n}", name="Pat"))[0]
                for n in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429
    assert len(await _images_of(chat, other.token)) == 3
    await other.ws.close()


async def test_photo_stored_first_relayed_as_a_photo_and_served_to_its_owner_only(
        chat: Chat) -> None:
    """A waiting web shopper's photo: kept, stored as a photo message through the intake,
    sent into their topic as a photo with the caption (escaped, marked 🌐); the picture is
    served to its owner's token only (anyone else: 404, no token: 401) and comes back in
    the history after a reload."""
    from tests.web_browser import tiny_png

    visitor = await chat.visitor(lang="en", name="Pia")
    thread = await _escalated(chat, visitor, "Pia")
    png = tiny_png()
    status, body = await _upload(chat, visitor.token, png, caption="the <b>torn</b> seam",
                                 cid="ph1", content_type="application/octet-stream")
    assert status == 200 and body["t"] == "ack" and body["cid"] == "ph1"
    image_id = body["image"]
    [kept] = await _images_of(chat, visitor.token)
    assert kept.id == image_id and kept.content_type == "image/png" and kept.data == png
    async with chat.app.sessions() as db:
        stored = await db.scalar(select(Message).where(
            Message.update_id == update_id_for(kept.owner_chat_id, "ph1")))
    assert stored is not None and stored.kind == "photo" and stored.handled_at is not None
    assert stored.text == "the <b>torn</b> seam"
    assert stored.telegram_message_id == kept.message_id
    sent = await _recorded(chat, lambda r: r.__api_method__ == "sendPhoto"
                           and r.chat_id == GROUP and "torn" in (r.caption or ""))
    assert sent.message_thread_id == thread
    assert sent.caption == "🌐 the &lt;b&gt;torn&lt;/b&gt; seam"
    assert sent.photo.data == png  # the picture itself, uploaded to Telegram

    assert await _image(chat, image_id, visitor.token) == (200, png, "image/png")
    stranger = await chat.visitor(lang="en", name="Sly")
    assert (await _image(chat, image_id, stranger.token))[0] == 404
    assert (await _image(chat, image_id, None))[0] == 401
    assert (await _image(chat, image_id + 10**6, visitor.token))[0] == 404
    await stranger.ws.close()
    await visitor.ws.close()
    again = await chat.visitor(visitor.token, lang="en", name="Pia")
    shown = [m for m in again.hello["history"] if m.get("image") == image_id]
    assert shown and shown[0]["from"] == "me" and shown[0]["text"] == "the <b>torn</b> seam"
    await again.ws.close()


async def test_an_agents_photo_reply_reaches_the_browser(chat: Chat) -> None:
    """An agent answers in the topic with a photo: the web chat fetches it from Telegram
    once, keeps it for the visitor, and the browser gets the caption with the picture (its
    owner can load it)."""
    visitor = await chat.visitor(lang="en", name="Quin")
    thread = await _escalated(chat, visitor, "Quin")
    await _upload(chat, visitor.token, JPEG, cid="q1", name="Quin")
    chat.session.files["photos/file_7.jpg"] = JPEG + b"agent"
    chat.session.add_result("getFile", {"file_id": "AgADagent", "file_unique_id": "agent1",
                                        "file_size": len(JPEG) + 5,
                                        "file_path": "photos/file_7.jpg"})
    update = Update.model_validate({"update_id": 777101, "message": {
        "message_id": 56, "date": 1, "caption": "This is the right colour",
        "photo": [{"file_id": "AgADsmall", "file_unique_id": "s1", "width": 90, "height": 90},
                  {"file_id": "AgADagent", "file_unique_id": "agent1", "width": 800,
                   "height": 800}],
        "message_thread_id": thread, "is_topic_message": True,
        "chat": {"id": GROUP, "type": "supergroup", "title": "Agents", "is_forum": True},
        "from": {"id": AGENT, "is_bot": False, "first_name": "Ann"}}},
        context={"bot": chat.app.bot})
    await chat.dp.feed_update(chat.app.bot, update)
    shown = await visitor.next(where=lambda e: "right colour" in e["text"])
    assert shown["image"] and shown["media"] == ["photo"]
    assert await _image(chat, shown["image"], visitor.token) == (200, JPEG + b"agent",
                                                                 "image/jpeg")
    assert [r.file_id for r in chat.session.requests_of("getFile")] == ["AgADagent"]
    assert len(await _images_of(chat, visitor.token)) == 2  # theirs and the agent's
    await visitor.ws.close()


async def test_delete_my_data_removes_the_visitors_pictures(chat: Chat) -> None:
    """P16: "delete my data" in the widget removes the pictures the visitor sent."""
    visitor = await chat.visitor(lang="en", name="Ros")
    status, body = await _upload(chat, visitor.token, JPEG, cid="f0", name="Ros")
    assert status == 200
    await visitor.say("/forget")
    ask = await visitor.next(where=lambda e: any(
        b["data"] == "forget:yes" for row in e["buttons"] for b in row))
    await visitor.ws.send_json({"t": "button", "data": "forget:yes", "label": "yes",
                                "mid": ask["id"], "cid": "qf"})
    await visitor.next(where=lambda e: e["id"] != ask["id"])
    assert await _images_of(chat, visitor.token) == []
    assert (await _image(chat, body["image"], visitor.token))[0] == 404
    await visitor.ws.close()


async def test_long_poll_resumes_across_two_processes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two app instances on one database and one Redis: a long-polling visitor's polls go
    to either, and replies are produced by either while no poll is open. Resuming from the
    cursor, every event arrives once, in order (a poll on the other process, or a gap
    between polls, loses nothing)."""
    if problem := redis_problem():
        pytest.skip(f"Redis: {problem}")
    from tests.backends import REDIS_URL, create_database, drop_database, require_postgres

    require_postgres()
    import bot.web.server as server

    monkeypatch.setattr(server, "POLL_WAIT", 1.5)  # an empty poll (the bug) answers soon
    database_url = create_database()
    apps, stack = [], contextlib.AsyncExitStack()
    try:
        urls = []
        for _ in range(2):
            settings = load_settings({
                "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
                "SERVICE_HOURS": "always", "WEB_CHAT_ORIGINS": SHOP_SITE,
                "WEB_CHAT_SECRET": "two-processes-one-secret"})
            app = await build_app(settings, session=RecordingSession())
            apps.append(app)
            port = free_port()
            await stack.enter_async_context(serving(app, build_dispatcher(app),
                                                    listen=f"127.0.0.1:{port}"))
            urls.append(f"http://127.0.0.1:{port}/chat/lp")
        headers = {"Origin": SHOP_SITE}
        async with aiohttp.ClientSession() as client:
            async with client.post(f"{urls[0]}/hello", json={"lang": "en", "name": "Lin"},
                                   headers=headers) as hello:
                welcome = await hello.json()
            token, cursor = welcome["token"], welcome["cursor"]
            user_id = VisitorTokens("two-processes-one-secret").verify(token)
            assert user_id is not None
            got: list[str] = []
            for n in range(6):
                # Produced by one process while no poll is open …
                await apps[n % 2].bot.send_message(user_id, f"note {n}")
                # … polled on the other one (or, every third time, on the same one).
                url = urls[(n + 1) % 2] if n % 3 else urls[n % 2]
                async with client.post(f"{url}/poll", headers=headers, json={
                        "token": token, "lang": "en", "name": "Lin",
                        "cursor": cursor}) as polled:
                    answer = await polled.json()
                cursor = answer["cursor"]
                got += [e["text"] for e in answer["events"] if e["t"] == "msg"]
            assert got == [f"note {n}" for n in range(6)]
    finally:
        await stack.aclose()
        for app in apps:
            await app.close()
        drop_database(database_url)
