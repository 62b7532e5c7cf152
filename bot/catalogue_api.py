"""The shop system's catalogue endpoints, beside ``POST /orders`` and behind the same token (P5).

``POST /catalogue``: products as in the JSON import (upsert by code and SKU).
``POST /catalogue/stock``: ``[{"sku", "stock", "price", "promo_price", "promo_ends",
"restock_at"}]``, any subset per SKU; ``null`` clears a promotion or restock date.
Bad input → 422 with every problem by item number, nothing written; good input → one
transaction. Shoppers' answers read stock and price from the database, so they are current at
once; the name index is rebuilt through ``on_change``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services.products import importer
from bot.settings import Settings
from storage.repositories import Repo


def add_catalogue_routes(
    app: web.Application, authorised: Callable[[web.Request], bool], settings: Settings,
    sessions: async_sessionmaker[AsyncSession], clock: Clock,
    on_change: Callable[[], Awaitable[None]] | None = None,
) -> None:
    async def body(request: web.Request) -> Any:
        try:
            return await asyncio.to_thread(json.loads, await request.text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise web.HTTPBadRequest(
                text=json.dumps({"errors": ["body is not valid JSON"]}),
                content_type="application/json") from error

    async def write(result: importer.CatalogueImport, kind: str) -> web.Response:
        if not result.ok:
            return web.json_response({"errors": importer.errors_text(result)}, status=422)
        async with sessions() as db:
            repo = Repo(db)
            if kind == "stock":
                await importer.apply_updates(repo, result, clock.now())
            else:
                await importer.apply(repo, result, clock.now())
            if not result.ok:
                await db.rollback()
                return web.json_response({"errors": importer.errors_text(result)},
                                         status=422)
            await repo.events.add(f"catalogue_{kind}_posted", variants=result.variants)
            await repo.commit()
        if on_change is not None:
            await on_change()
        return web.json_response({"created": result.created, "updated": result.updated,
                                  "variants": result.variants})

    async def post_catalogue(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"error": "unauthorised"}, status=401)
        return await write(await asyncio.to_thread(importer.parse_json, await body(request),
                                                   settings.tz), "products")

    async def post_stock(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.json_response({"error": "unauthorised"}, status=401)
        return await write(await asyncio.to_thread(importer.parse_updates, await body(request),
                                                   settings.tz), "stock")

    app.router.add_post("/catalogue", post_catalogue)
    app.router.add_post("/catalogue/stock", post_stock)
