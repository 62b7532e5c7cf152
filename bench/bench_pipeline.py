"""In-process pipeline benchmark: where the bot's CPU per message goes, without HTTP.

Feeds updates straight into the dispatcher (a recording Bot session answers every call at
once), ``--shoppers`` closed-loop shoppers writing ``--messages`` each, and reports messages/s
and CPU milliseconds per message, for our bot and for a bare echo dispatcher on the same
session. Used to find and check hot-path work before the HTTP benchmark (bench_load.py).

    .venv/bin/python bench/bench_pipeline.py --shoppers 500 --messages 4 [--database URL]
        [--connections 100]       # updates in flight at once, as Telegram's webhook allows
        [--gc bot|freeze|default] # the collector as the bot sets it (bot/heap.py) or not
        [--statements]            # also SQL statements per message, most frequent first

At most 8 messages per shopper: more within 10 s is a flood (bot/services/flood.py), answered
once per burst, which is not the path to measure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiogram import Dispatcher  # noqa: E402
from aiogram.types import Message  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.bench_load import QUESTIONS  # noqa: E402
from bot import heap  # noqa: E402
from bot.app import build_app, build_dispatcher  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from tests.fakes.recording_session import RecordingSession  # noqa: E402
from tests.fakes.updates import message_update  # noqa: E402


class GcClock:
    """Passes of the cyclic collector and their time, while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.passes = 0
        self.seconds = 0.0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict[str, Any]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.passes += 1
            self.seconds += time.perf_counter() - self._start


async def drive(dp: Dispatcher, bot: object, shoppers: int, messages: int,
                connections: int = 100) -> tuple[float, float]:
    ids = iter(range(1, 10**9))
    in_flight = asyncio.Semaphore(connections)  # as Telegram's webhook max_connections

    async def shopper(user: int) -> None:
        for _ in range(messages):
            update = message_update(next(ids), user, random.choice(QUESTIONS), language_code="en")
            async with in_flight:
                await dp.feed_update(bot, update)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(shopper(100_000 + i) for i in range(shoppers)))
    return time.perf_counter() - wall, time.process_time() - cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--database", default="")
    parser.add_argument("--connections", type=int, default=100,
                        help="updates handled at once (Telegram's webhook max_connections)")
    parser.add_argument("--profile", default="", help="write a cProfile file of our run here")
    parser.add_argument("--gc", choices=("bot", "freeze", "default"), default="bot",
                        help="the collector as the bot sets it (bot/heap.py), only frozen, or "
                             "CPython's defaults")
    parser.add_argument("--statements", action="store_true",
                        help="count the SQL statements our run sends, per message")
    args = parser.parse_args()
    total = args.shoppers * args.messages
    collector = GcClock()
    session = RecordingSession()
    echo = Dispatcher()

    @echo.message()
    async def on_message(message: Message) -> None:
        await message.answer(message.text or "…")

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        app = await build_app(load_settings({"DATABASE_URL": url}), session=session)
        dp = build_dispatcher(app)
        rows = [("echo", *await drive(echo, app.bot, args.shoppers, args.messages,
                                           args.connections))]
        session.requests.clear()
        counts: Counter[str] = Counter()
        if args.statements:
            @event.listens_for(app.engine.sync_engine, "before_cursor_execute")
            def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                counts[" ".join(statement.split())[:100]] += 1

        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        if args.gc == "bot":
            heap.settle()  # as the bot's runner does once started
        elif args.gc == "freeze":
            gc.collect()
            gc.freeze()
        collector.on = True
        rows.append(("ours", *await drive(dp, app.bot, args.shoppers, args.messages,
                                           args.connections)))
        collector.on = False
        if args.profile:
            profiler.disable()
            profiler.dump_stats(args.profile)
        writer = app.writer
        await app.close()
    if writer is not None:
        print(f"group commit: {writer.sets} write sets in {writer.batches} commits, "
              f"{writer.alone} sessions committed on their own")
    print(f"{args.shoppers} shoppers × {args.messages} messages, {url.split(':')[0]}")
    for name, wall, cpu in rows:
        print(f"{name:5} {total / wall:8.0f} msg/s  {cpu / total * 1000:6.2f} ms CPU/msg")
    print(f"garbage collector: {collector.passes} passes, "
          f"{collector.seconds / total * 1000:.2f} ms per message")
    if counts:
        print(f"SQL statements per message: {sum(counts.values()) / total:.2f}")
        for statement, n in counts.most_common(15):
            print(f"  {n / total:5.2f}  {statement}")
    print(f"ours / echo = {rows[0][1] / rows[1][1]:.0%} (wall)")


if __name__ == "__main__":
    asyncio.run(main())
