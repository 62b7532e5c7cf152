"""A small HTTP endpoint the shop's system posts orders and shipment events to (P19).

``POST /orders`` with ``Authorization: Bearer <ORDERS_API_TOKEN>`` (or ``X-Orders-Token``) and
the same JSON as the import file. Bad input → 422 with every problem by item number, nothing
written; good input → one transaction, then shoppers are told about shipped/delayed/delivered
orders at once (before they ask). Started only when ORDERS_API_TOKEN is set.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.catalogue_api import add_catalogue_routes
from bot.clock import Clock
from bot.services import order_import
from bot.services.orders import OrderDesk
from bot.settings import Settings
from storage.repositories import Repo

log = logging.getLogger(__name__)
MAX_BODY = 5 * 1024 * 1024


def build_orders_api(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], desk: OrderDesk, clock: Clock,
    on_catalogue_change: Callable[[], Awaitable[None]] | None = None,
) -> web.Application:
    if settings.orders_api_token is None:
        raise ValueError("ORDERS_API_TOKEN is not set")
    token = settings.orders_api_token.get_secret_value().encode()

    def authorised(request: web.Request) -> bool:
        given = request.headers.get("X-Orders-Token", "")
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), token)

    async def post_orders(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"error": "unauthorised"}, status=401)
        # Parsing a large post is CPU work: on a worker thread, so shoppers' updates on the
        # event loop are not held up by it.
        try:
            data: Any = await asyncio.to_thread(json.loads, await request.text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"errors": ["body is not valid JSON"]}, status=400)
        except RecursionError:
            return web.json_response({"errors": ["JSON nested too deeply"]}, status=400)
        result = await asyncio.to_thread(order_import.parse_json, data, settings.tz)
        if not result.ok:
            return web.json_response({"errors": result.errors}, status=422)
        async with sessions() as db:
            repo = Repo(db)
            await order_import.apply(repo, result, clock.now())
            await repo.events.add("orders_posted", orders=len(result.orders))
            await repo.commit()
            try:
                notified = await desk.notify_due(repo, clock.now())
            except Exception:  # the data is stored; the periodic job will tell them
                log.exception("notifying shoppers after an order post failed")
                notified = 0
        return web.json_response({"created": result.created, "updated": result.updated,
                                  "events": result.events, "notified": notified})

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/orders", post_orders)
    # The catalogue's stock/price updates, same token (P5; bot/catalogue_api.py).
    add_catalogue_routes(app, authorised, settings, sessions, clock, on_catalogue_change)
    return app


async def start_orders_api(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], desk: OrderDesk, clock: Clock,
    host: str | None = None, on_catalogue_change: Callable[[], Awaitable[None]] | None = None,
) -> web.AppRunner:
    """Starts the endpoint on ORDERS_API_HOST:ORDERS_API_PORT (127.0.0.1 unless configured:
    the shop's system usually runs beside the bot); the caller cleans the runner up."""
    runner = web.AppRunner(build_orders_api(settings, sessions, desk, clock, on_catalogue_change))
    await runner.setup()
    host = host or settings.orders_api_host
    await web.TCPSite(runner, host, settings.orders_api_port).start()
    log.info("orders endpoint listening on %s:%d", host, settings.orders_api_port)
    return runner
