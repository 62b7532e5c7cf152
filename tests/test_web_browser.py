"""The web chat in a real browser (headless chromium), against the real bot process.

``./run.sh bot`` long-polls the fake Bot API server (tests/fakes) with WEB_CHAT_LISTEN set; a
small "shop site" on another port embeds the widget with one script tag, its origin allowed
by WEB_CHAT_ORIGINS. The agents' forum is on (fake) Telegram: the test plays the agent there.
One browser and one bot for the module.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from aiohttp import web

from tests.fakes.bot_processes import free_port, polling_bot
from tests.fakes.telegram_server import FakeTelegramServer
from tests.web_browser import Browser, browser_problem

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

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=body, content_type="text/html")

    aio = web.Application()
    aio.router.add_get("/", page)
    runner = web.AppRunner(aio, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    data = tmp_path_factory.mktemp("webchat")
    chat_port = free_port()
    chat_url = f"http://127.0.0.1:{chat_port}"
    site, shop_url = await _shop_site(f"{chat_url}/chat/widget.js", HOSTILE + "Mallory")
    async with FakeTelegramServer() as server:
        try:
            # A loaded machine starts the bot slowly; its first poll waits for updates.
            async with polling_bot(server, data, ready_timeout=150,
                                   WEB_CHAT_LISTEN=f"127.0.0.1:{chat_port}",
                                   WEB_CHAT_ORIGINS=shop_url, AGENT_CHAT_ID=str(GROUP),
                                   AGENT_IDS=str(AGENT)):
                browser = await Browser.start("en")
                try:
                    yield World(server, browser, shop_url, chat_url)
                finally:
                    await browser.quit()
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
    assert topic.params["name"].startswith("🌐 web · ")
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


async def test_a_bot_page_serves_with_csp_and_the_widget_works_there(world: World) -> None:
    """The bot's own demo page (CSP: scripts from the bot only) runs the widget."""
    browser = world.browser
    await browser.open(f"{world.chat_url}/chat/")
    await browser.send("退货怎么办？")
    answer = await browser.wait_shop_message(lambda t: "退" in t)
    assert answer

