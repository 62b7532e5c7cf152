"""The web chat server: the widget's files, its WebSocket and the pages the bot serves.

A shop embeds the chat with one tag, ``<script src="https://bot.example/chat/widget.js"
defer></script>``; the widget opens ``/chat/ws`` and says hello with the token it kept (none
the first time). The server answers with a token (a new visitor gets a fresh random one,
signed: bot/web/identity.py), the widget's words in the visitor's language (phrase data) and
the history of the conversation. Each message or button press then becomes a Telegram-shaped
update fed to the one Dispatcher (bot/web/updates.py): stored before it is answered, answered
by the same routers as on Telegram; what the bot sends back comes through ``WebOutbox`` and
the hub (bot/web/outbox.py, bot/web/hub.py), from this process or another.

Safety: the Origin of the WebSocket must be the bot's own or one of ``WEB_CHAT_ORIGINS``; a
visitor reaches only the conversation their signed token names; messages over 4,096
characters or frames over 16 KB are refused with a clear error; rate limits per visitor and
per IP address; pages carry a Content-Security-Policy; the widget shows every text with
``textContent``.

Pictures travel over HTTP (``/chat/upload``, ``/chat/img/<id>``): checked (size, type by
content) before they are kept, kept in the database (storage/models/web.py) under the
message they belong to, and served only to the visitor whose signed token owns them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiogram.types import Update
from aiohttp import BodyPartReader, WSMsgType, web
from sqlalchemy import select

from bot.web.hub import Hub, Listener
from bot.web.identity import SECRET_KEY, VisitorTokens, update_id_for
from bot.web.images import CAPTION_LIMIT, IMAGE_LIMIT, image_type
from bot.web.outbox import TEXT_LIMIT
from bot.web.updates import (
    agent_button,
    agent_text,
    next_message_id,
    visitor_button,
    visitor_photo,
    visitor_text,
)
from storage.models import Conversation, Message, Sender
from storage.repositories import Repo

if TYPE_CHECKING:
    from aiogram import Dispatcher

    from bot.app import App

log = logging.getLogger(__name__)

PREFIX = "/chat"
FRAME_LIMIT = 16 * 1024  # bytes of one WebSocket frame; a text is at most 4,096 characters
DATA_LIMIT = 64  # bytes of a button's data, as Telegram's callback_data
NAME_LIMIT = 64
HISTORY = 50
HELLO_TIMEOUT = 15.0
#: Updates one process's web chat hands the Dispatcher at once. Each holds a database
#: connection for its whole handling; a burst of a thousand visitors waits here, in order,
#: rather than in the connection pool, where the last ones timed out and were dropped
#: (bench/bench_web.py burst: 516 of 1,000 failed with "QueuePool limit … reached").
FEED_CONCURRENCY = 10
POLL_WAIT = 25.0  # a long poll answers within this, events or none
WIDGET_WORDS = ("web_title", "web_open", "web_placeholder", "web_send", "web_forget",
                "web_close", "web_typing", "web_reconnecting", "web_photo", "web_attach",
                "web_image_too_big", "web_image_type", "web_image_failed")
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]{1,255}$")
STATIC = resources.files("bot.web").joinpath("static")


class RateLimit:
    """A token bucket per key: ``per_minute`` on average, bursts of a quarter of it (≥ 3)."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(3.0, per_minute / 4)
        self._buckets: dict[Any, tuple[float, float]] = {}

    def allow(self, key: Any, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if len(self._buckets) > 50_000:  # forget full buckets rather than grow without end
            self._buckets = {k: v for k, v in self._buckets.items()
                             if v[0] + (now - v[1]) * self.rate < self.burst}
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True


@dataclass(eq=False)
class Connection:
    """One open WebSocket: events are written in order by one writer task, which runs only
    while there is something to write (an idle visitor costs no task: memory per socket)."""

    ws: web.WebSocketResponse
    pending: deque[dict[str, Any]] = field(default_factory=deque)
    writer: asyncio.Task[None] | None = None
    closed: bool = False

    def deliver(self, event: dict[str, Any]) -> None:
        if self.closed:
            return
        self.pending.append(event)
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        try:
            while self.pending:
                event = self.pending.popleft()
                if self.ws.closed:
                    self.pending.clear()
                    return
                try:
                    await self.ws.send_str(json.dumps(event, ensure_ascii=False))
                except (ConnectionError, RuntimeError):
                    self.pending.clear()
                    return
        finally:
            self.writer = None

    async def close(self) -> None:
        """What was delivered before is still written; nothing after."""
        self.closed = True
        if self.writer is not None:
            with contextlib.suppress(Exception):
                await self.writer


def security_headers(request: web.Request) -> dict[str, str]:
    """A strict policy for the pages the bot serves: its own scripts, styles and socket only."""
    host = request.host if _HOST.match(request.host or "") else "127.0.0.1"
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"connect-src 'self' ws://{host} wss://{host}; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


class WebChat:
    """The web chat of one bot process (see the module docstring)."""

    def __init__(self, app: App, dp: Dispatcher, hub: Hub, tokens: VisitorTokens, *,
                 playground: Playground | None = None) -> None:
        self.app, self.dp, self.hub, self.tokens = app, dp, hub, tokens
        settings = app.settings
        self.origins = frozenset(settings.web_chat_origins)
        self.per_visitor = RateLimit(settings.web_chat_visitor_per_minute)
        self.per_ip = RateLimit(settings.web_chat_ip_per_minute)
        self.playground = playground
        self._feeding = asyncio.Semaphore(FEED_CONCURRENCY)
        self.workflow = {**dp.workflow_data, "dispatcher": dp, "bots": [app.bot]}
        self.workflow.pop("bot", None)

    # ------------------------------------------------------------------ the aiohttp app
    def routes(self, aio: web.Application) -> None:
        aio.router.add_get(f"{PREFIX}/widget.js", self.static("widget.js", "text/javascript"))
        aio.router.add_get(f"{PREFIX}/widget.css", self.static("widget.css", "text/css"))
        aio.router.add_get(f"{PREFIX}/ws", self.websocket)
        # Long-poll fallback (no WebSocket through a proxy or an old browser): the same
        # frames and events over plain HTTP.
        aio.router.add_post(f"{PREFIX}/lp/hello", self.lp_hello)
        aio.router.add_post(f"{PREFIX}/lp/send", self.lp_send)
        aio.router.add_post(f"{PREFIX}/lp/poll", self.lp_poll)
        for name in ("hello", "send", "poll"):
            aio.router.add_route("OPTIONS", f"{PREFIX}/lp/{name}", self.lp_preflight)
        # Pictures: uploaded over HTTP (a photo is no WebSocket frame), served to their owner.
        aio.router.add_post(f"{PREFIX}/upload", self.upload)
        aio.router.add_get(PREFIX + "/img/{image_id:[0-9]{1,18}}", self.image)
        aio.router.add_route("OPTIONS", f"{PREFIX}/upload", self.lp_preflight)
        aio.router.add_route("OPTIONS", PREFIX + "/img/{image_id:[0-9]{1,18}}",
                             self.lp_preflight)
        aio.router.add_get(f"{PREFIX}/", self.page("demo.html"))
        aio.router.add_get("/healthz", self.healthz)
        if self.playground is not None:
            aio.router.add_get("/", self.page("playground.html"))
            aio.router.add_get(f"{PREFIX}/playground.js",
                               self.static("playground.js", "text/javascript"))
            aio.router.add_get(f"{PREFIX}/agents", self.agents_socket)

    @staticmethod
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    @staticmethod
    def static(name: str, content_type: str) -> Any:
        body = STATIC.joinpath(name).read_bytes()

        async def serve(_: web.Request) -> web.Response:
            return web.Response(body=body, content_type=content_type, charset="utf-8",
                                headers={"Cache-Control": "public, max-age=300",
                                         "X-Content-Type-Options": "nosniff"})
        return serve

    @staticmethod
    def page(name: str) -> Any:
        body = STATIC.joinpath(name).read_bytes()

        async def serve(request: web.Request) -> web.Response:
            return web.Response(body=body, content_type="text/html", charset="utf-8",
                                headers=security_headers(request))
        return serve

    def origin_allowed(self, request: web.Request) -> bool:
        """The bot's own pages, or a site the shop named; a browser always sends Origin."""
        origin = request.headers.get("Origin", "").rstrip("/")
        if not origin:
            return False
        own = f"{request.scheme}://{request.host}"
        forwarded = request.headers.get("X-Forwarded-Proto")
        own_forwarded = f"{forwarded}://{request.host}" if forwarded else own
        return origin in self.origins or origin in (own, own_forwarded)

    # ------------------------------------------------------------------ visitors
    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.origin_allowed(request):
            return web.Response(status=403, text="origin not allowed")
        ip = request.remote or "?"
        if not self.per_ip.allow(ip):
            return web.Response(status=429, text="too many connections from this address")
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=FRAME_LIMIT)
        await ws.prepare(request)
        try:
            hello = await ws.receive_json(timeout=HELLO_TIMEOUT)
        except (TypeError, ValueError, TimeoutError, RuntimeError):
            await ws.close(code=4400, message=b"say hello first")
            return ws
        visitor = await self._visitor(hello if isinstance(hello, dict) else {})
        connection = Connection(ws)
        self.hub.attach(visitor.user_id, connection)
        try:
            connection.deliver(await self._welcome(visitor))
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    await self._frame(visitor, ip, connection, frame.data)
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            self.hub.detach(visitor.user_id, connection)
            await connection.close()
        if ws.close_code == 1009:  # the frame was over FRAME_LIMIT: aiohttp closed it
            log.info("web chat: a visitor's frame was over %s bytes", FRAME_LIMIT)
        return ws

    async def _visitor(self, hello: dict[str, Any]) -> Visitor:
        user_id = self.tokens.verify(str(hello.get("token") or ""))
        token = str(hello.get("token"))
        if user_id is None:
            token, user_id = self.tokens.issue()
        lang = self._language(hello.get("lang"))
        name = " ".join(str(hello.get("name") or "").split())[:NAME_LIMIT]
        return Visitor(user_id=user_id, token=token, lang=lang,
                       name=name or self.word("web_visitor_name", lang, fallback="Guest"))

    def _language(self, asked: Any) -> str:
        """The shop's language the visitor's browser asked for (``en-GB`` → en), else the
        shop's default."""
        lang = str(asked or "").lower()[:16]
        return next((code for code in self.app.settings.languages if lang.startswith(code)),
                    self.app.settings.default_language)

    def word(self, key: str, lang: str, fallback: str = "", **values: Any) -> str:
        phrase = self.app.knowledge.catalogue.get(f"courtesy.{key}", lang)
        if phrase is None:
            return fallback
        return phrase.render({"shop_name": self.app.settings.shop_name, **values})

    async def _welcome(self, visitor: Visitor) -> dict[str, Any]:
        words = {key: self.word(key, visitor.lang) for key in WIDGET_WORDS}
        words["web_image_too_big"] = self.word("web_image_too_big", visitor.lang,
                                               max_mb=IMAGE_LIMIT // 2**20)
        return {"t": "hello", "token": visitor.token, "lang": visitor.lang, "words": words,
                "limit": TEXT_LIMIT, "image_limit": IMAGE_LIMIT,
                "history": await self.history(visitor.user_id)}

    async def history(self, user_id: int) -> list[dict[str, Any]]:
        """The visitor's latest messages (theirs and the shop's), oldest first."""
        async with self.app.sessions() as db:
            customer = await Repo(db).customers.by_telegram_id(user_id)
            if customer is None:
                return []
            rows = list(await db.scalars(
                select(Message).join(Conversation, Message.conversation_id == Conversation.id)
                .where(Conversation.customer_id == customer.id)
                .order_by(Message.id.desc()).limit(HISTORY)))
            images = await Repo(db).web_images.ids_of_messages(
                user_id, (m.telegram_message_id for m in rows if m.kind == "photo"))
        shown = []
        for m in reversed(rows):
            image = images.get(m.telegram_message_id) if m.kind == "photo" else None
            if not m.text and image is None:
                continue
            item = {"from": "me" if m.sender == Sender.SHOPPER else "shop", "id": m.id,
                    "text": m.text[:TEXT_LIMIT], "kind": m.kind}
            if image is not None:
                item["image"] = image
            shown.append(item)
        return shown

    async def _frame(self, visitor: Visitor, ip: str, connection: Listener,
                     data: str) -> None:
        try:
            frame = json.loads(data)
        except ValueError:
            return
        if not isinstance(frame, dict) or frame.get("t") not in ("text", "button"):
            return
        client_id = str(frame.get("cid") or "")[:64]
        if frame["t"] == "text":
            text = str(frame.get("text") or "").strip()
            if not text:
                return
            if len(text) > TEXT_LIMIT:
                connection.deliver({"t": "error", "code": "too_long", "cid": client_id,
                                    "text": self.word("web_too_long", visitor.lang,
                                                      max_length=TEXT_LIMIT)})
                return
        if not (self.per_visitor.allow(visitor.user_id) and self.per_ip.allow(ip)):
            connection.deliver({"t": "error", "code": "slow_down", "cid": client_id,
                                "text": self.word("web_slow_down", visitor.lang)})
            return
        update_id = update_id_for(visitor.user_id, client_id or f"{time.time_ns()}")
        if frame["t"] == "text":
            raw = visitor_text(update_id, visitor.user_id, visitor.name, visitor.lang,
                               str(frame["text"]).strip())
        else:
            button = str(frame.get("data") or "")
            message_id = frame.get("mid")
            if not button or len(button.encode()) > DATA_LIMIT or not isinstance(message_id, int):
                return
            raw = visitor_button(update_id, visitor.user_id, visitor.name, visitor.lang, button,
                                 str(frame.get("label") or "")[:NAME_LIMIT], message_id)
        connection.deliver({"t": "ack", "cid": client_id})
        await self.feed(raw)

    async def feed(self, raw: dict[str, Any]) -> None:
        """Into the one Dispatcher, as polling or the webhook would; failures are logged."""
        bot = self.app.bot
        try:
            update = Update.model_validate(raw, context={"bot": bot})
            async with self._feeding:
                await self.dp.feed_update(bot, update, **self.workflow)
        except Exception:
            log.exception("web chat update %s failed", raw.get("update_id"))

    # ------------------------------------------------------------------ pictures
    def _refusal(self, status: int, code: str, text: str, headers: dict[str, str],
                 client_id: str = "") -> web.Response:
        """An upload refused: the widget shows ``text`` (the shop's words) as an error."""
        return web.json_response({"t": "error", "code": code, "cid": client_id, "text": text},
                                 status=status, headers=headers)

    async def upload(self, request: web.Request) -> web.Response:
        """A visitor's picture: a multipart form (cid, caption, name, lang, then file) with
        their token in the ``X-Chat-Token`` header.

        Checked before the body is read: the origin, the signed token and the rate limits
        (per visitor and per IP, as messages), the declared size; then, reading in chunks
        and stopping beyond IMAGE_LIMIT, the real size and the type by its magic bytes.
        Only then is the picture stored, and the photo message goes through the same intake
        as every shopper message (stored before answered, relayed to the agents' topic)."""
        headers = self._cors(request)
        if headers is None:
            return web.Response(status=403, text="origin not allowed")
        user_id = self.tokens.verify(request.headers.get("X-Chat-Token"))
        if user_id is None:
            return web.Response(status=401, text="say hello first", headers=headers)
        lang = self._language(request.query.get("lang"))
        too_big = self.word("web_image_too_big", lang, max_mb=IMAGE_LIMIT // 2**20)
        if not (self.per_visitor.allow(user_id) and self.per_ip.allow(request.remote or "?")):
            return self._refusal(429, "slow_down", self.word("web_slow_down", lang), headers)
        if (request.content_length or 0) > IMAGE_LIMIT + 64 * 1024:
            return self._refusal(413, "too_big", too_big, headers)
        try:
            fields, data = await self._upload_parts(request)
        except ValueError:
            return web.Response(status=400, text="a multipart form", headers=headers)
        visitor = await self._visitor({**fields, "token": request.headers["X-Chat-Token"]})
        client_id = fields.get("cid", "")[:64]
        if data is None:
            return self._refusal(413, "too_big", too_big, headers, client_id)
        caption = fields.get("caption", "").strip()
        if len(caption) > CAPTION_LIMIT:
            return self._refusal(413, "too_long", self.word(
                "web_too_long", visitor.lang, max_length=CAPTION_LIMIT), headers, client_id)
        content_type = image_type(data)
        if content_type is None:
            return self._refusal(415, "bad_type", self.word("web_image_type", visitor.lang),
                                 headers, client_id)
        message_id = next_message_id()
        async with self.app.sessions() as db:
            image = await Repo(db).web_images.add(visitor.user_id, message_id, content_type,
                                                  data)
            image_id = image.id
            await db.commit()
        update_id = update_id_for(visitor.user_id, client_id or f"{time.time_ns()}")
        await self.feed(visitor_photo(update_id, visitor.user_id, visitor.name, visitor.lang,
                                      image_id, caption, message_id))
        return web.json_response({"t": "ack", "cid": client_id, "image": image_id},
                                 headers=headers)

    @staticmethod
    async def _upload_parts(request: web.Request) -> tuple[dict[str, str], bytes | None]:
        """The form's short fields, and the file (None when over IMAGE_LIMIT)."""
        reader = await request.multipart()
        fields: dict[str, str] = {}
        data: bytes | None = b""
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ValueError("nested multipart")
            if part.name == "file":
                chunks, size = [], 0
                while chunk := await part.read_chunk(64 * 1024):
                    size += len(chunk)
                    if size > IMAGE_LIMIT:
                        return fields, None
                    chunks.append(chunk)
                data = b"".join(chunks)
            elif part.name in ("cid", "caption", "name", "lang"):
                fields[part.name] = (await part.read(decode=False))[:8 * 1024].decode(
                    "utf-8", "replace")
        return fields, data

    async def image(self, request: web.Request) -> web.Response:
        """A picture of the chat, to its owner only: the visitor's signed token (header
        ``X-Chat-Token``, so a copied address alone shows nothing) must name the visitor the
        picture belongs to; anyone else gets 404, as for a picture that does not exist.
        A browser sends no Origin on a same-origin GET (the bot's own pages): the token,
        not the origin, is what guards a picture."""
        headers: dict[str, str] = {}
        if "Origin" in request.headers:
            if (cors := self._cors(request)) is None:
                return web.Response(status=403, text="origin not allowed")
            headers = cors
        user_id = self.tokens.verify(request.headers.get("X-Chat-Token"))
        if user_id is None:
            return web.Response(status=401, text="no token", headers=headers)
        async with self.app.sessions() as db:
            image = await Repo(db).web_images.owned(int(request.match_info["image_id"]),
                                                    user_id)
        if image is None:
            return web.Response(status=404, text="not found", headers=headers)
        return web.Response(body=image.data, content_type=image.content_type, headers={
            **headers, "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox"})

    # ------------------------------------------------------------------ long polling
    def _cors(self, request: web.Request) -> dict[str, str] | None:
        """CORS headers for an allowed Origin; None (→ 403) for any other."""
        if not self.origin_allowed(request):
            return None
        return {"Access-Control-Allow-Origin": request.headers["Origin"],
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "Content-Type, X-Chat-Token",
                "Access-Control-Max-Age": "600", "Vary": "Origin"}

    async def lp_preflight(self, request: web.Request) -> web.Response:
        headers = self._cors(request)
        return web.Response(status=204 if headers else 403, headers=headers or {})

    async def _lp_body(self, request: web.Request) -> tuple[dict[str, Any], dict[str, str]]:
        headers = self._cors(request)
        if headers is None:
            raise web.HTTPForbidden(text="origin not allowed")
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="a JSON object", headers=headers) from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="a JSON object", headers=headers)
        return body, headers

    async def lp_hello(self, request: web.Request) -> web.Response:
        body, headers = await self._lp_body(request)
        if not self.per_ip.allow(request.remote or "?"):
            return web.Response(status=429, text="too many requests", headers=headers)
        visitor = await self._visitor(body)
        # The cursor before the history: an event in between comes twice, never not at all.
        cursor = await self.hub.cursor(visitor.user_id)
        welcome = await self._welcome(visitor)
        return web.json_response({**welcome, "cursor": cursor}, headers=headers)

    async def _lp_visitor(self, body: dict[str, Any]) -> Visitor | None:
        """The visitor a long-poll request names (any process: the token says who)."""
        if self.tokens.verify(str(body.get("token") or "")) is None:
            return None
        return await self._visitor(body)

    async def lp_send(self, request: web.Request) -> web.Response:
        """A frame; its ack or error comes back in this answer, the bot's reply by polling."""
        body, headers = await self._lp_body(request)
        visitor = await self._lp_visitor(body)
        if visitor is None:
            return web.Response(status=401, text="say hello first", headers=headers)
        frame = body.get("frame")
        answer = _Collected()
        await self._frame(visitor, request.remote or "?", answer,
                          json.dumps(frame if isinstance(frame, dict) else {})[:FRAME_LIMIT])
        return web.json_response({"ok": True, "events": answer.events}, headers=headers)

    async def lp_poll(self, request: web.Request) -> web.Response:
        """Events after the visitor's ``cursor``: at once when there are some, else within
        POLL_WAIT. The cursor is the hub's (bot/web/hub.py), so the next poll may reach any
        process and loses nothing published meanwhile by any of them."""
        body, headers = await self._lp_body(request)
        visitor = await self._lp_visitor(body)
        if visitor is None:
            return web.Response(status=401, text="say hello first", headers=headers)
        cursor = str(body.get("cursor") or "")[:64]
        events, cursor = await self.hub.after(visitor.user_id, cursor, POLL_WAIT)
        return web.json_response({"events": events, "cursor": cursor}, headers=headers)

    # ------------------------------------------------------------------ the playground
    async def agents_socket(self, request: web.Request) -> web.StreamResponse:
        """The playground's agent panel: the agents' forum group without Telegram."""
        assert self.playground is not None
        if not self.origin_allowed(request):
            return web.Response(status=403, text="origin not allowed")
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=FRAME_LIMIT)
        await ws.prepare(request)
        connection = Connection(ws)
        room = self.playground.group_id
        self.hub.attach(room, connection)
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    await self._agent_frame(json.loads(frame.data))
        finally:
            self.hub.detach(room, connection)
            await connection.close()
        return ws

    async def _agent_frame(self, frame: dict[str, Any]) -> None:
        assert self.playground is not None
        pg = self.playground
        thread = frame.get("thread") if isinstance(frame.get("thread"), int) else None
        update_id = update_id_for(pg.group_id, f"{time.time_ns()}")
        if frame.get("t") == "text" and str(frame.get("text") or "").strip():
            text = str(frame["text"]).strip()[:TEXT_LIMIT]
            await self.feed(agent_text(update_id, pg.group_id, pg.agent_id, pg.agent_name,
                                       text, thread))
        elif frame.get("t") == "button" and isinstance(frame.get("mid"), int):
            await self.feed(agent_button(update_id, pg.group_id, pg.agent_id, pg.agent_name,
                                         str(frame.get("data"))[:DATA_LIMIT], frame["mid"],
                                         thread))


class _Collected:
    """A long-poll send's own answer (ack or error), returned in its HTTP response."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def deliver(self, event: dict[str, Any]) -> None:
        self.events.append(event)


@dataclass(frozen=True)
class Visitor:
    user_id: int
    token: str
    lang: str
    name: str


@dataclass(frozen=True)
class Playground:
    """The offline playground's agents' group and its one agent (no Telegram needed)."""

    group_id: int = -1009000000001
    agent_id: int = 900001
    agent_name: str = "Agent"


async def visitor_tokens(app: App) -> VisitorTokens:
    """WEB_CHAT_SECRET, else one generated once and kept in the database for every process."""
    if app.settings.web_chat_secret:
        return VisitorTokens(app.settings.web_chat_secret)
    import secrets

    async with app.sessions() as db:
        secret = await Repo(db).faq.setting_once(SECRET_KEY, secrets.token_urlsafe(32))
        await db.commit()
    return VisitorTokens(secret)


def listen_address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "0.0.0.0", int(port)


@contextlib.asynccontextmanager
async def serving(app: App, dp: Dispatcher, *, playground: Playground | None = None,
                  listen: str | None = None) -> Any:
    """Run the web chat on ``listen`` (default WEB_CHAT_LISTEN) while the block runs."""
    from bot.web.outbox import WebOutbox

    hub = Hub(app.settings.redis_url, namespace=str(app.bot.id))
    await hub.start()
    rooms = frozenset({playground.group_id}) if playground is not None else frozenset()
    app.bot.session.middleware(WebOutbox(hub, rooms, app.sessions))
    chat = WebChat(app, dp, hub, await visitor_tokens(app), playground=playground)
    aio = web.Application(client_max_size=FRAME_LIMIT)
    chat.routes(aio)
    runner = web.AppRunner(aio, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    host, port = listen_address(listen or app.settings.web_chat_listen or "127.0.0.1:8765")
    await web.TCPSite(runner, host, port).start()
    log.info("web chat listening on %s:%s%s/", host, port, PREFIX)
    try:
        yield chat
    finally:
        await runner.cleanup()
        await hub.stop()
