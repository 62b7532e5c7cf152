"""What shoppers feel while the FAQ matcher is rebuilt after an owner's edit.

    python bench/bench_knowledge_reload.py [--entries 300,1000] [--runs 2] [--db URL]

For FAQs of several sizes (synthetic, as bench_bulk_changes.py makes them), one entry's answer
is changed (an owner's /faqset) and the knowledge base reloaded, two ways, interleaved:
  inline   the matcher built on the event loop (how reload worked before)
  thread   ``KnowledgeBase.reload``: built on a worker thread, swapped in when ready
For each: the reload's wall time and CPU time, the longest an event-loop ticker (every 10 ms)
waited during it (how long a shopper's update waits behind it) and how many turns a
concurrent coroutine got (``asyncio.sleep(0)`` loop).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_bulk_changes import synthetic
from bot.services import faq_changes as fc
from bot.services.knowledge import KnowledgeBase, build_matchers
from bot.settings import load_settings
from phrases.faq_file import load_faq_file
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.repositories import Repo

DEMO_FAQ = Path(__file__).resolve().parents[1] / "bot/demo/faq.zh.yaml"


class InlineKnowledge(KnowledgeBase):
    """The reload as it was: every language's matcher built on the event loop."""

    async def reload(self, repo: Repo) -> None:
        entries: dict = {}
        for row in await repo.faq.all():
            entries.setdefault(row.lang, {})[row.key] = fc.entry_of(row)
        self._understanders = build_matchers(entries)
        self._entries = entries


async def measure(knowledge: KnowledgeBase, repo: Repo) -> dict[str, float]:
    lag, turns, stop = [0.0], [0], asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            lag[0] = max(lag[0], time.perf_counter() - start - 0.01)

    async def spinner() -> None:
        while not stop.is_set():
            await asyncio.sleep(0)
            turns[0] += 1

    tasks = [asyncio.create_task(ticker()), asyncio.create_task(spinner())]
    await asyncio.sleep(0.02)
    turns[0], lag[0] = 0, 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    await knowledge.reload(repo)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stop.set()
    await asyncio.gather(*tasks)
    return {"wall": wall, "cpu": cpu, "lag": lag[0], "turns": turns[0]}


async def one_size(url: str, count: int, runs: int) -> dict[str, dict[str, float]]:
    settings = load_settings({"DATABASE_URL": url})
    engine = create_engine(url)
    await migrate(engine)
    sessions = create_session_factory(engine)
    entries = synthetic(load_faq_file(DEMO_FAQ).entries, count)
    results: dict[str, list[dict[str, float]]] = {"inline": [], "thread": []}
    async with sessions() as db:
        repo = Repo(db)
        await fc.apply_import(repo, KnowledgeBase(settings), None, "zh", entries, fc.REPLACE)
        kinds = {"inline": InlineKnowledge(settings), "thread": KnowledgeBase(settings)}
        for knowledge in kinds.values():
            await knowledge.reload(repo)
        for run in range(runs):
            for name, knowledge in kinds.items():  # interleaved: same load for both
                row = await repo.faq.get(entries[0].id, "zh")
                row.answer = f"{entries[0].answer}（第{run}次修改，{name}）"
                await repo.commit()
                results[name].append(await measure(knowledge, repo))
    await engine.dispose()
    return {name: {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            for name, rows in results.items()}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", default="300,1000")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--db", default="")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'entries':>7} {'mode':>6} {'wall s':>7} {'cpu s':>6} {'max lag s':>9} {'turns':>7}")
    for count in (int(x) for x in args.entries.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.db or f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
            res = await one_size(url, count, args.runs)
        for name, r in res.items():
            print(f"{count:>7} {name:>6} {r['wall']:>7.2f} {r['cpu']:>6.2f} {r['lag']:>9.3f} "
                  f"{int(r['turns']):>7}")
        ratio = res["inline"]["lag"] / max(res["thread"]["lag"], 1e-6)
        print(f"{count:>7} longest loop stall inline/thread: {ratio:.0f}x")


if __name__ == "__main__":
    asyncio.run(main())
