"""Webhook mode: several identical processes behind one public URL (design.md, "Scale").

Why ``handle_in_background=False``. With aiogram's default (True) the request handler answers
Telegram 200 *before* the update is handled; a crash right after that loses the update, since
Telegram never sends it again and nothing stored it. Here the answer waits until the handler
has run: the shopper's message is committed before anything is sent (ConversationService
stores first), and Telegram gets 200 only afterwards. A crash or a stop at any point before
that makes Telegram (or the fake server's load balancer) deliver the update again, to this or
another process; ``store_inbound`` is idempotent per ``update_id``, so it is stored once.
The cost is one open request per update in flight, which Telegram allows (``max_connections``).

What answers a message that was stored but never answered (a process killed between storing
and answering)? A redelivery of its update answers it (the intake finds it stored but
unanswered), and the ``Resumer`` (``bot.resume``, the same one long polling runs) looks for
such messages at start and every few seconds, each under the shopper's event-isolation lock.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.app import App, dispatching
from bot.resume import Resumer, UpdateTracker
from storage.repositories import Repo

log = logging.getLogger(__name__)

DEFAULT_PATH = "/webhook"


def webhook_path(url: str | None) -> str:
    """The path Telegram posts to: the path of WEBHOOK_URL (a proxy forwards it unchanged)."""
    path = urlsplit(url or "").path
    return path if path not in ("", "/") else DEFAULT_PATH


def listen_address(listen: str) -> tuple[str, int]:
    """'host:port' → (host, port); an empty host means every interface."""
    host, _, port = listen.rpartition(":")
    return host or "0.0.0.0", int(port)


class StoreFirstRequestHandler(SimpleRequestHandler):
    """Answers 200 only once the update is handled, or at least its message stored.

    A shopper's message whose handling failed before it was stored gets 500: Telegram (or the
    load balancer) delivers it again, to this or another process.
    """

    def __init__(self, app: App, dp: Dispatcher, tracker: UpdateTracker, secret: str) -> None:
        if not secret:
            raise ValueError("webhook mode needs a secret (see shared_secret)")
        super().__init__(dispatcher=dp, bot=app.bot, handle_in_background=False,
                         secret_token=secret)
        self.app, self.tracker = app, tracker
        self._secret = secret.encode()

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        """Always required (aiogram's check passes everything when no secret is set); compared
        as bytes in constant time, so a non-ASCII header is a 401, not a 500."""
        given = telegram_secret_token.encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, self._secret)

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            raw = await request.json(loads=bot.session.json_loads)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
            return web.Response(status=400, text="body is not a JSON update")
        if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
            return web.Response(status=400, text="an update is a JSON object with update_id")
        result = await self.dispatcher.feed_webhook_update(bot, raw, **self.data)
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if update_id in self.tracker.failed:
            self.tracker.failed.discard(update_id)
            if _is_shopper_message(raw) and not await self._stored(update_id):
                log.warning("update %s failed before it was stored: asking for it again",
                            update_id)
                return web.Response(status=500, text="not stored")
        return web.Response(body=self._build_response_writer(bot=bot, result=result))

    async def _stored(self, update_id: int) -> bool:
        try:
            async with self.app.sessions() as db:
                return await Repo(db).conversations.by_update_id(update_id) is not None
        except Exception:  # the database is away: certainly not stored by us
            return False


def _is_shopper_message(raw: dict[str, Any]) -> bool:
    """A private-chat message, edit or button press from a person: the updates that are stored
    (handlers.intake) and so must not be answered 200 before they are."""
    query = raw.get("callback_query")
    if isinstance(query, dict):
        message, sender = query.get("message"), query.get("from")
    else:
        message = raw.get("message") or raw.get("edited_message")
        sender = message.get("from") if isinstance(message, dict) else None
    return (isinstance(message, dict) and isinstance(message.get("chat"), dict)
            and message["chat"].get("type") == "private" and sender is not None)


SECRET_KEY = "webhook_secret"  # ShopSetting row: the generated secret every process shares


async def shared_secret(app: App) -> str:
    """The webhook secret: WEBHOOK_SECRET when configured, else one generated once and kept in
    the database, so every process behind the URL checks the same one as setWebhook got.

    Without it anyone who reaches the port could post updates "from" the owner.
    """
    if app.settings.webhook_secret:
        return app.settings.webhook_secret
    async with app.sessions() as db:
        # 43 characters of [A-Za-z0-9_-], which Telegram accepts (1–256 of those).
        secret = await Repo(db).faq.setting_once(SECRET_KEY, secrets.token_urlsafe(32))
        await db.commit()
    return secret


async def register_webhook(app: App, dp: Dispatcher, secret: str) -> None:
    """setWebhook with the secret: Telegram then sends it in every request's header."""
    await app.bot.set_webhook(
        app.settings.webhook_url or "", secret_token=secret,
        allowed_updates=dp.resolve_used_update_types(), drop_pending_updates=False,
    )


def build_webhook_app(
    app: App, dp: Dispatcher, tracker: UpdateTracker, secret: str
) -> web.Application:
    """The aiohttp application: POST {path} → dispatcher (secret checked), GET /healthz.

    Not aiogram's ``setup_application``: its shutdown hook closes the bot session and the FSM
    storage *before* aiohttp waits for requests in flight, which cuts those off. ``run_webhook``
    emits the dispatcher's start-up and shut-down itself, in the right order.
    """
    aio = web.Application()
    dp.update.outer_middleware(tracker)
    handler = StoreFirstRequestHandler(app, dp, tracker, secret)
    aio.router.add_post(webhook_path(app.settings.webhook_url), handler.handle)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    aio.router.add_get("/healthz", healthz)
    return aio


async def run_webhook(app: App, dp: Dispatcher) -> None:
    """Serve the webhook until SIGINT/SIGTERM; in-flight updates get time to finish."""
    settings = app.settings
    tracker = UpdateTracker()
    resumer = Resumer(app, dp, tracker=tracker)  # installed with the app: build_webhook_app
    secret = await shared_secret(app)
    runner = web.AppRunner(build_webhook_app(app, dp, tracker, secret), access_log=None,
                           shutdown_timeout=10.0)
    await runner.setup()
    async with dispatching(app, dp) as stop:
        try:
            host, port = listen_address(settings.webhook_listen)
            await web.TCPSite(runner, host, port).start()
            log.info("webhook listening on %s:%s%s", host, port,
                     webhook_path(settings.webhook_url))
            if settings.webhook_url:
                await register_webhook(app, dp, secret)
            async with resumer.running():  # what a previous run left, then every few seconds
                await stop.wait()
        finally:
            await runner.cleanup()  # stops listening, waits for in-flight updates
