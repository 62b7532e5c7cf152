"""The web chat in a real browser (headless chromium), against the real bot process.

``./run.sh bot`` long-polls the fake Bot API server (tests/fakes) with WEB_CHAT_LISTEN set; a
small "shop site" on another port embeds the widget with one script tag, its origin allowed
by WEB_CHAT_ORIGINS. The agents' forum is on (fake) Telegram: the test plays the agent there.
One browser and one bot for the module.
"""

from __future__ import annotations

import asyncio
import html
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiohttp import web

from tests.backends import (
    REDIS_URL,
    create_database,
    drop_database,
    require_postgres,
    require_redis,
)
from tests.fakes.bot_processes import (
    WEBHOOK_SECRET,
    BotProcess,
    bot_env,
    free_port,
    polling_bot,
    stop_all,
)
from tests.fakes.telegram_server import FakeTelegramServer
from tests.web_browser import Browser, browser_problem, tiny_png

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(browser_problem() is not None,
                       reason=f"browser tests: {browser_problem()}"),
]

GROUP = -1009990021
AGENT = 921
HOSTILE = '<img src=x onerror="window.__xss=1">'
SHOP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>A shop</h1>
<script src="{widget}" data-name="{name}" data-open defer></script></body></html>"""


@dataclass
class World:
    server: FakeTelegramServer
    browser: Browser
    shop_url: str
    chat_url: str


async def _shop_site(widget: str, name: str) -> tuple[web.AppRunner, str]:
    """The shop's own site: one page embedding the widget (the name attribute is hostile)."""
    body = SHOP_PAGE.format(widget=widget, name=html.escape(name, quote=True))

    polling = body.replace(" data-open", " data-open data-long-poll")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=polling if request.path == "/lp" else body,
                            content_type="text/html")

    aio = web.Application()
    aio.router.add_get("/", page)
    aio.router.add_get("/lp", page)  # the same widget, long polling instead of the socket
    runner = web.AppRunner(aio, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    """The module's one browser."""
    started = await Browser.start("en")
    try:
        yield started
    finally:
        await started.quit()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory,
                browser: Browser) -> AsyncIterator[World]:
    data = tmp_path_factory.mktemp("webchat")
    chat_port = free_port()
    chat_url = f"http://127.0.0.1:{chat_port}"
    site, shop_url = await _shop_site(f"{chat_url}/chat/widget.js", HOSTILE + "Mallory")
    async with FakeTelegramServer() as server:
        try:
            # A loaded machine starts the bot slowly; its first poll waits for updates.
            async with polling_bot(server, data,
                                   WEB_CHAT_LISTEN=f"127.0.0.1:{chat_port}",
                                   WEB_CHAT_ORIGINS=shop_url, AGENT_CHAT_ID=str(GROUP),
                                   AGENT_IDS=str(AGENT)):
                yield World(server, browser, shop_url, chat_url)
        finally:
            await site.cleanup()


async def test_ask_answer_escalate_agent_reply_reload_and_xss(world: World) -> None:
    """One shopper's whole visit: ask → FAQ answer; a hostile name and text stay text (no
    element made, no script run) in the widget and escaped in the agents' topic; escalate →
    the agent's reply in the Telegram topic appears live; reload keeps the history."""
    browser, server = world.browser, world.server
    await browser.open(world.shop_url)
    await browser.send("How long does shipping take?")
    answer = await browser.wait_shop_message(lambda t: "days" in t)
    assert "Suzhou" in answer
    shown = [text for who, text in await browser.messages() if who == "shop"]
    assert any(HOSTILE + "Mallory" in text for text in shown)  # the name, shown as text

    await browser.send(HOSTILE + " I want a human")
    await browser.wait_shop_message(lambda t: "colleague" in t or "team" in t)
    assert await browser.script("return window.__xss === undefined")
    assert await browser.script("return document.querySelectorAll('.scw-root img').length") == 0
    mine = [text for who, text in await browser.messages() if who == "me"]
    assert HOSTILE + " I want a human" in mine

    topic = await server.wait_for(lambda c: c.method == "createForumTopic" and c.ok, timeout=20)
    assert topic.params["name"].startswith("🌐 网页 · ")
    relayed = await server.wait_for(
        lambda c: c.method == "sendMessage" and str(c.params.get("chat_id")) == str(GROUP)
        and "I want a human" in (c.params.get("text") or ""), timeout=20)
    assert html.escape(HOSTILE, quote=False) in relayed.params["text"]  # HTML parse mode
    assert HOSTILE not in relayed.params["text"]

    thread = topic.result["message_thread_id"]
    server.push_message(GROUP, "Hello Mallory, Ann here <b>not bold</b>",
                        user={"id": AGENT, "is_bot": False, "first_name": "Ann"},
                        chat_type="supergroup", message_thread_id=thread)
    reply = await browser.wait_shop_message(lambda t: "Ann here" in t)
    assert reply == "Hello Mallory, Ann here <b>not bold</b>"
    assert await browser.script("return document.querySelectorAll('.scw-root b').length") == 0

    before = await browser.messages()
    await browser.open(world.shop_url)  # reload: the token in local storage resumes it
    await browser.until(lambda d: len(d.execute_script(
        "return document.querySelectorAll('.scw-msg')")) >= len(before))
    after = await browser.messages()
    assert ("me", "How long does shipping take?") in after
    assert ("shop", "Hello Mallory, Ann here <b>not bold</b>") in after
    assert await browser.script("return window.__xss === undefined")


async def test_a_second_visitor_sees_nothing_of_the_first(world: World) -> None:
    """Another visitor (fresh local storage), and one who plants a forged token, start empty."""
    browser = world.browser
    await browser.open(world.shop_url)
    assert await browser.messages()  # the first visitor's history (previous test or this)
    key = f"shopchat-token:{world.chat_url}"
    token = await browser.script(f"return localStorage.getItem({key!r})")
    prefix, number, signature = token.split(".")
    forged = f"{prefix}.{int(number, 16) ^ 1:x}.{signature}"
    for planted in (None, forged):
        if planted is None:
            await browser.script("localStorage.clear()")
        else:
            await browser.script(f"localStorage.setItem({key!r}, {planted!r})")
        await browser.open(world.shop_url)
        assert await browser.messages() == []
        new_token = await browser.script(f"return localStorage.getItem({key!r})")
        assert new_token not in (token, forged)
    await browser.send("hello")
    await browser.wait_shop_message(lambda t: "Mallory" in t)
    texts = [text for _, text in await browser.messages()]
    assert "How long does shipping take?" not in texts


async def test_long_poll_fallback_in_the_browser(world: World) -> None:
    """The widget told to long-poll (as it does when no socket gets through) still talks."""
    browser = world.browser
    await browser.script("localStorage.clear()")
    await browser.open(f"{world.shop_url}/lp")
    await browser.send("Can I return an item?")
    answer = await browser.wait_shop_message(lambda t: "return" in t.lower() and "Mallory"
                                             not in t)
    assert answer
    assert await browser.script("return window.__xss === undefined")


async def test_a_photo_upload_is_shown_and_sent_into_the_topic(
        world: World, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A waiting shopper picks a picture with the widget's photo button: it shows in the
    widget at once, the agents' topic gets it as a photo (sendPhoto with the caption), and
    after a reload the widget shows it again (fetched with the visitor's own token)."""
    browser, server = world.browser, world.server
    await browser.open(world.shop_url)
    await browser.script("localStorage.clear()")  # a new visitor
    await browser.open(world.shop_url)
    since = len(server.calls)
    await browser.send("I want a human please")
    topic = await server.wait_for(lambda c: c.method == "createForumTopic" and c.ok,
                                  timeout=30, since=since)
    thread = topic.result["message_thread_id"]
    picture = tmp_path_factory.mktemp("upload") / "seam.png"
    picture.write_bytes(tiny_png(40, 30))
    await browser.type_only("the torn seam")
    await browser.choose_file(".scw-file", str(picture))
    shown = "return Array.from(document.querySelectorAll('.scw-me img')).filter(i => " \
            "i.complete && i.naturalWidth === 40).length"
    await browser.until(lambda d: d.execute_script(shown) >= 1)
    sent = await server.wait_for(
        lambda c: c.method == "sendPhoto" and str(c.params.get("chat_id")) == str(GROUP)
        and c.params.get("message_thread_id") == thread, timeout=30, since=since)
    assert sent.ok and sent.params["caption"] == "🌐 the torn seam"
    await browser.open(world.shop_url)  # reload: the picture comes back from the history
    await browser.until(lambda d: d.execute_script(shown) >= 1)
    assert ("me", "the torn seam") in await browser.messages()


async def test_a_bot_page_serves_with_csp_and_the_widget_works_there(world: World) -> None:
    """The bot's own demo page (CSP: scripts from the bot only) runs the widget."""
    browser = world.browser
    await browser.open(f"{world.chat_url}/chat/")
    await browser.send("退货怎么办？")
    answer = await browser.wait_shop_message(lambda t: "退" in t)
    assert answer



async def test_two_processes_behind_one_redis(tmp_path_factory: pytest.TempPathFactory,
                                              browser: Browser) -> None:
    """The browser is connected to process A; the agent's reply (a webhook update) is handled
    by process B only; Redis pub/sub carries it to A and so to the browser."""
    require_postgres()
    require_redis()
    database_url = create_database()
    logs = tmp_path_factory.mktemp("webscale")
    server = FakeTelegramServer()
    await server.start()
    token = f"{random.randint(10**8, 10**9)}:WEB-SCALE"  # its own Redis keys and channel
    env = {**bot_env(server.base_url, database_url, REDIS_URL, token),
           "AGENT_CHAT_ID": str(GROUP), "AGENT_IDS": str(AGENT)}
    ports = [free_port(), free_port()]
    site, shop_url = await _shop_site(f"http://127.0.0.1:{ports[0]}/chat/widget.js", "Wen")
    bots = [BotProcess({**env, "WEB_CHAT_LISTEN": f"127.0.0.1:{port}",
                        "WEB_CHAT_ORIGINS": shop_url}, logs / f"bot{i}.log")
            for i, port in enumerate(ports)]
    failed = True
    try:
        await asyncio.gather(*(b.start() for b in bots))
        await asyncio.gather(*(b.wait_ready(timeout=240) for b in bots))  # a loaded machine
        server.deliver_webhooks([bots[1].url], secret_token=WEBHOOK_SECRET)  # B only
        await browser.open(shop_url)
        await browser.send("I want a human please")
        await browser.wait_shop_message(lambda t: "colleague" in t or "team" in t)
        topic = await server.wait_for(lambda c: c.method == "createForumTopic" and c.ok,
                                      timeout=20)
        server.push_message(GROUP, "Hi Wen, this is Bo from process B",
                            user={"id": AGENT, "is_bot": False, "first_name": "Bo"},
                            chat_type="supergroup",
                            message_thread_id=topic.result["message_thread_id"])
        reply = await browser.wait_shop_message(lambda t: "process B" in t)
        assert reply == "Hi Wen, this is Bo from process B"
        await server.drain_webhooks()  # recorded once B answered the webhook
        assert {url for url, _, _ in server.webhook_deliveries} == {bots[1].url}
        failed = False
    finally:
        await stop_all(bots, server, failed=failed)
        await site.cleanup()
        drop_database(database_url)
