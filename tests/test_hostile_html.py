"""Everything user-made is escaped on the agents' and the owner's screens (P10, P16).

The bot sends with ``parse_mode=HTML`` and uses no markup of its own, so every message it
sends to staff must parse as HTML with no tags at all and only the entities Telegram knows:
a shopper named ``<a href=…>店长-退款请点此</a>`` must show agents text, not a link, and a
``<b>`` in a note must not make Telegram refuse the whole card.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.fakes.updates import callback_update, message_update
from tests.test_agent_console import ALICE, BOB, GROUP, OWNER, SHOPPER, H
from tests.test_security import start

LINK_NAME = '<a href="https://evil.example/refund">店长-退款请点此</a>'
AGENT_NAME = "<b>Eve & <i>"
NOTE = "<script>alert(1)</script> & <b 老顾客"
REASON = "</pre><b>退款</b> &amp; <tg-spoiler>x"
TAG = "<b>vip"
ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tags: list[str] = []
        self.entities: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)

    def handle_entityref(self, name: str) -> None:
        self.entities.append(name)


def html_problems(text: str) -> list[str]:
    """Why Telegram would read this text as markup (or refuse it); empty when it is plain."""
    parser = _Tags()
    parser.feed(text)
    parser.close()
    problems = [f"tag {t}" for t in parser.tags]
    problems += [f"entity &{e};" for e in parser.entities if e not in ("lt", "gt", "amp", "quot")]
    problems += ["raw < or >"] if "<" in text or ">" in text else []
    problems += [f"bare & at {m.start()}" for m in re.finditer("&", text)
                 if not ENTITY.match(text, m.start())]
    return problems


def test_the_checker_catches_what_telegram_would_misread() -> None:
    assert html_problems(LINK_NAME) and html_problems("a & b") and html_problems("<b")
    assert html_problems(html.escape(LINK_NAME, quote=False)) == []


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    harness = await start(db_url)
    await harness.duty(bob=True)
    yield harness
    await harness.app.close()


async def staff_screens(h: H) -> list[tuple[int, str]]:
    """(chat, text as Telegram parses it) of everything sent to anyone but the shopper."""
    out = []
    for request in h.session.requests:
        text = getattr(request, "text", None) or getattr(request, "caption", None)
        chat = getattr(request, "chat_id", None)
        if not isinstance(text, str) or chat == SHOPPER:
            continue
        assert getattr(request, "parse_mode", "HTML") != "MarkdownV2"
        out.append((chat, text))
    return out


async def test_every_staff_message_is_plain_text_with_hostile_names_notes_and_reasons(
    h: H, caplog: pytest.LogCaptureFixture,
) -> None:
    async def shopper(text: str | None, **kw: Any) -> None:
        await h.feed(message_update(h.uid(), SHOPPER, text, first_name=LINK_NAME, **kw))

    async def in_group(user: int, text: str, thread: int | None = None,
                       name: str = "Alice") -> None:
        extra: dict[str, Any] = {}
        if thread is not None:
            extra = {"message_thread_id": thread, "is_topic_message": True}
        await h.feed(message_update(h.uid(), user, text, chat_type="supergroup",
                                    chat_id=GROUP, first_name=name, **extra))

    async def private(user: int, text: str) -> None:
        await h.feed(message_update(h.uid(), user, text, first_name="Alice"))

    # A complaint ticket with a hostile reason, then a chat with an agent.
    await h.feed(message_update(h.uid(), SHOPPER, "/aftersales", first_name=LINK_NAME))
    await h.feed(callback_update(h.uid(), SHOPPER, "as:kind:complaint"))
    await h.feed(callback_update(h.uid(), SHOPPER, "as:order:-"))
    await shopper(REASON)
    await shopper("/done")
    await shopper("转人工 <b>")
    thread = await h.thread()
    await in_group(BOB, "/queue", name=AGENT_NAME)  # Bob's hostile name becomes known
    await in_group(ALICE, "/take", thread)
    await in_group(ALICE, f"/note {NOTE}", thread)
    await in_group(ALICE, "/card", thread)
    await in_group(ALICE, "/queue")
    await in_group(ALICE, "我不能 <b>帮您</b>", thread)  # the tone guard quotes it (P9)
    await in_group(ALICE, f"/transfer {BOB}", thread)
    await in_group(BOB, "/take", thread, name=AGENT_NAME)
    for command in (f"/card {SHOPPER}", f"/tag {SHOPPER} +{TAG}", f"/note {SHOPPER} {NOTE}",
                    "/ticket 1", f"/ticket 1 in_progress {NOTE}",
                    f"/ticket_open {SHOPPER} complaint {REASON}", "/tag", "/note", "/ticket",
                    "/ticket_open", "/card nobody"):
        await private(ALICE, command)
    for command in ("/agents", "/inbox", "/queue"):
        await h.feed(message_update(h.uid(), OWNER, command, first_name="Olga"))

    assert [r.getMessage() for r in caplog.records if r.name == "handlers.errors"] == []
    screens = await staff_screens(h)
    bad = [(chat, text, html_problems(text)) for chat, text in screens if html_problems(text)]
    assert bad == []
    shown = "\n".join(html.unescape(text) for _, text in screens)
    for hostile in (LINK_NAME, NOTE, REASON, AGENT_NAME, TAG):
        assert hostile in shown, hostile  # shown as the text it is, not dropped
    assert {chat for chat, _ in screens} >= {GROUP, ALICE, OWNER}
