"""SLA clock benchmark (P1, P2): 100,000 open conversations in a SQLite file.

    .venv/bin/python bench/bench_sla.py [--open 100000] [--due 1000]

Measures one tick with nothing due (target ≤ 10 ms), then 1,000 conversations due at once:
time until every holding reply was handed to the transport (target ≤ 2 s; the transport is a
fake that records), and the process memory (RSS).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, update

from bot.clock import FixedClock
from bot.services.replies import Reply
from bot.services.sla import SlaClock
from bot.settings import load_settings
from phrases.catalogue import PhraseCatalogue
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.models import Conversation, ConversationState, Customer

NOW = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


@dataclass
class RecordingTransport:
    """Stands in for Telegram: records each hand-over and its time."""

    sent: list[tuple[int, str]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    async def send(self, chat_id: int, reply: Reply) -> int | None:
        self.sent.append((chat_id, reply.text))
        self.times.append(time.perf_counter())
        return len(self.sent)


@dataclass
class Knowledge:
    catalogue: PhraseCatalogue


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB."""
    current = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def fill(sessions, count: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` queued conversations, deadlines spread over the next hour (none due)."""
    chunk = 10_000
    async with sessions() as db:
        for start in range(0, count, chunk):
            ids = range(start + 1, min(count, start + chunk) + 1)
            await db.execute(insert(Customer), [
                {"id": i, "telegram_user_id": 10_000_000 + i, "chat_id": 10_000_000 + i,
                 "name": f"shopper {i}", "notes": "", "first_seen_at": NOW, "last_seen_at": NOW}
                for i in ids])
            await db.execute(insert(Conversation), [
                {"id": i, "customer_id": i, "state": ConversationState.QUEUED, "language":
                 "zh" if i % 2 else "en", "opened_at": NOW, "last_activity_at": NOW,
                 "queued_at": NOW, "waiting_since": NOW, "misunderstood_in_row": 0,
                 "sla_misses": 0, "longest_wait_seconds": 0,
                 "reply_due_at": NOW + timedelta(seconds=5 + (i % 3600))}
                for i in ids])
        await db.commit()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--ticks", type=int, default=200)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        settings = load_settings({"DATABASE_URL": url, "AGENT_IDS": "901"})
        engine = create_engine(url)
        await migrate(engine)
        sessions = create_session_factory(engine)
        started = time.perf_counter()
        await fill(sessions, args.open)
        rows.append((f"fill {args.open:,} open conversations", "",
                     f"{time.perf_counter() - started:.1f} s"))
        transport = RecordingTransport()
        clock = SlaClock(settings, sessions, Knowledge(PhraseCatalogue.builtin()), transport,
                         FixedClock(NOW))
        await clock.tick()  # warm up the connection pool and statement cache
        idle = []
        for _ in range(args.ticks):
            t0 = time.perf_counter()
            report = await clock.tick()
            idle.append((time.perf_counter() - t0) * 1000)
            assert report.due == 0
        rows.append(("tick, nothing due (median)", "≤ 10 ms", f"{statistics.median(idle):.2f} ms"))
        rows.append(("tick, nothing due (p99)", "", f"{sorted(idle)[int(len(idle) * .99)]:.2f} ms"))
        t0 = time.perf_counter()
        await clock._until_next_due(1.0)
        lookup = (time.perf_counter() - t0) * 1000
        rows.append(("next-deadline lookup (MIN)", "", f"{lookup:.2f} ms"))

        async with sessions() as db:
            await db.execute(update(Conversation).where(Conversation.id <= args.due)
                             .values(reply_due_at=NOW - timedelta(seconds=1)))
            await db.commit()
        t0 = time.perf_counter()
        report = await clock.tick()
        done = time.perf_counter()
        assert len(transport.sent) == args.due == report.holding, (len(transport.sent), report)
        handed = (max(transport.times) - t0) * 1000
        rows.append((f"{args.due:,} due: all handed to transport", "≤ 2000 ms", f"{handed:.0f} ms"))
        whole = (done - t0) * 1000
        rows.append((f"{args.due:,} due: whole tick incl. records", "", f"{whole:.0f} ms"))
        again = await clock.tick()
        rows.append(("same instant again: claimed", "0", str(again.claimed)))
        current, peak = rss_mb()
        rows.append(("process RSS now / peak", "", f"{current:.0f} / {peak:.0f} MB"))
        await engine.dispose()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'target':>10}  {'result':>14}")
    print("-" * (width + 28))
    for name, target, result in rows:
        print(f"{name:<{width}}  {target:>10}  {result:>14}")


if __name__ == "__main__":
    asyncio.run(main())
