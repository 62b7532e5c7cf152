"""Reference bots in webhook mode for bench/bench_load.py: what aiogram + HTTP cost alone.

* plain: a bare aiogram echo bot, the ceiling;
* ``--match``: the same, answering with our FAQ matcher (loaded as the bot loads it), from
  memory, nothing stored: the floor of "understand and reply" without any database.

    python bench/echo_bot.py <api base url> <port> [--match]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def faq_matcher() -> Callable[[str], str]:
    """text → the best FAQ answer (or "…"), with the bot's knowledge and matcher."""
    from bot.app import build_app
    from bot.settings import load_settings
    from phrases.lang import detect_language

    with tempfile.TemporaryDirectory() as tmp:
        app = await build_app(load_settings({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/k.db"}))
        knowledge = app.knowledge
        await app.close()

    def answer(text: str) -> str:
        lang = detect_language(text, default="en")
        best = knowledge.understand(text, lang).best
        entry = knowledge.entry(best.entry_id, lang) if best is not None else None
        return entry.answer if entry is not None else "…"

    return answer


async def main(api: str, port: int, match: bool) -> None:
    reply = await faq_matcher() if match else (lambda text: text)
    bot = Bot("777:ECHO", session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(reply(message.text or "") or "…")

    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False).register(app, path="/tg/webhook")
    app.router.add_get("/healthz", lambda _: web.json_response({"ok": True}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), "--match" in sys.argv[3:]))
