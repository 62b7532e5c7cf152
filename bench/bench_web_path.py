"""The web chat's own cost per message, against Telegram's, in the same process and run.

One app (demo shop, fresh SQLite, recording Bot session): the same question fed to the
Dispatcher N times as a Telegram user's update and as a web visitor's (whose replies go
through ``WebOutbox`` and the hub instead of the Bot API). Known shoppers (greeted first),
alternating rounds, so machine noise hits both alike: the ratio is the figure to read.

    python bench/bench_web_path.py --messages 100 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram.types import Update

from bot.app import build_app, build_dispatcher
from bot.services.channels import WEB_ID_BASE
from bot.settings import load_settings
from bot.web.hub import Hub
from bot.web.outbox import WebOutbox
from bot.web.updates import visitor_text
from tests.fakes.recording_session import RecordingSession

SHOPPERS = 50
QUESTION = "how long does shipping take?"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-web-path-")
    settings = load_settings({"DATABASE_URL": f"sqlite+aiosqlite:///{folder}/shop.sqlite3",
                              "SERVICE_HOURS": "always"})
    session = RecordingSession()
    app = await build_app(settings, session=session)
    dp = build_dispatcher(app)
    app.bot.session.middleware(WebOutbox(Hub()))
    update_ids = iter(range(10**6, 10**9))

    async def run(channel: str, count: int) -> list[float]:
        took = []
        for n in range(count):
            user = 5000 + n % SHOPPERS + (WEB_ID_BASE if channel == "web" else 0)
            raw = visitor_text(next(update_ids), user, "Bench", "en", QUESTION)
            update = Update.model_validate(raw, context={"bot": app.bot})
            start = time.perf_counter()
            await dp.feed_update(app.bot, update)
            took.append((time.perf_counter() - start) * 1000)
            session.requests.clear()
        return took

    await run("telegram", SHOPPERS)
    await run("web", SHOPPERS)  # everyone greeted: the rounds measure answers
    for round_no in range(1, args.rounds + 1):
        medians = {}
        for channel in ("telegram", "web"):
            took = await run(channel, args.messages)
            medians[channel] = statistics.median(took)
            print(f"round {round_no} {channel:8}: median {medians[channel]:.1f} ms, "
                  f"p90 {sorted(took)[int(0.9 * (len(took) - 1))]:.1f} ms")
        print(f"round {round_no} web / telegram: {medians['web'] / medians['telegram']:.2f}")
    await app.close()


if __name__ == "__main__":
    asyncio.run(main())
