"""Where one message's CPU goes, call by call: the in-process pipeline, one message at a time.

Feeds ``--shoppers`` first messages (not measured), then ``--rounds`` more messages per shopper,
one after another, and reports the CPU (this thread's) spent inside chosen calls per message,
inclusive. One at a time, a call's CPU is its own: nothing else runs meanwhile (the group
writer's batch holds one message, so commits cost more than under load; see bench_pipeline.py
for the loaded figure). ``--first`` measures first messages instead.

    .venv/bin/python bench/bench_breakdown.py --shoppers 200 --rounds 3 [--first]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_load import QUESTIONS  # noqa: E402
from bot import heap  # noqa: E402
from bot.app import build_app, build_dispatcher  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from tests.fakes.recording_session import RecordingSession  # noqa: E402
from tests.fakes.updates import message_update  # noqa: E402

CALLS = """
bot.middlewares RepoMiddleware.__call__
handlers.intake ShopperIntake.__call__
bot.services.conversation ConversationService.intake
bot.services.conversation ConversationService._open
storage.repositories.conversations ConversationRepo.of_user
storage.repositories.customers CustomerRepo.create
storage.repositories.conversations ConversationRepo.start
storage.repositories.conversations ConversationRepo.store_first
storage.group_commit commit
storage.group_commit GroupWriter._commit
bot.services.conversation ConversationService.answer
bot.services.conversation ConversationService._respond
bot.services.knowledge KnowledgeBase.understand
bot.services.products.desk CatalogueDesk.answer
bot.services.cases CaseDesk.answer
bot.services.conversation ConversationService._deliver
bot.transport.replier BotReplier.send
storage.repositories Repo.commit
sqlalchemy.ext.asyncio.session AsyncSession.commit
""".split("\n")

Stats = defaultdict[str, list[float]]


def measure(module_name: str, qualname: str, stats: Stats) -> None:
    """Wrap ``module.qualname`` so each call adds its thread CPU time to ``stats``."""
    owner: Any = importlib.import_module(module_name)
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)

    def record(started: float) -> None:
        entry = stats[qualname]
        entry[0] += 1
        entry[1] += time.thread_time() - started

    if asyncio.iscoroutinefunction(original):
        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return await original(*args, **kwargs)
            finally:
                record(started)
    else:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                record(started)
    setattr(owner, name, timed)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shoppers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="at most 7 (the flood rule)")
    parser.add_argument("--first", action="store_true", help="measure first messages")
    args = parser.parse_args()
    stats: Stats = defaultdict(lambda: [0, 0.0])
    ids = iter(range(1, 10**9))
    with tempfile.TemporaryDirectory() as tmp:
        app = await build_app(load_settings({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/b.db"}),
                              session=RecordingSession())
        dp = build_dispatcher(app)

        async def round_() -> int:
            for user in range(args.shoppers):
                text = random.choice(QUESTIONS)
                await dp.feed_update(app.bot, message_update(next(ids), 100_000 + user, text,
                                                             language_code="en"))
            return args.shoppers

        if not args.first:
            await round_()
        for line in CALLS:
            if line.strip():
                measure(*line.split(), stats)
        heap.settle()
        started, count = time.thread_time(), 0
        for _ in range(1 if args.first else args.rounds):
            count += await round_()
        total = time.thread_time() - started
        await app.close()
    kind = "first messages" if args.first else "messages after the first"
    print(f"{count} {kind}, one at a time: {total / count * 1e6:.0f} µs CPU per message")
    for name, (calls, seconds) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:42} {calls / count:5.2f} calls  {seconds / count * 1e6:7.0f} µs/msg")


if __name__ == "__main__":
    asyncio.run(main())
