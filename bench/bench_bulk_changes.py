"""Safe bulk changes: how long the owner waits for a preview, an import and an undo.

    python bench/bench_bulk_changes.py [--entries 27,500,2000] [--runs 3] [--db URL]

For FAQs of several sizes (the demo shop's, then synthetic ones made of the demo entries with
product words added, so texts differ), in a fresh database (SQLite file by default):
  preview    faq_changes.preview_inbox: a copy of the matcher with the change, the similar
             known questions tried on both (the cost is building that copy)
  plan       the import's diff against the live FAQ (a file changing 10 % of the entries)
  replace    applying that file as a replace, with the undo snapshot and the change log row
  undo       /faqundo of that replace (the whole language written back)
  lag        the longest an event-loop ticker (every 10 ms) waited during the preview: how
             long shoppers' updates wait behind it (the matcher copy is built in a thread)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services import faq_changes as fc
from bot.services.knowledge import KnowledgeBase
from bot.settings import load_settings
from phrases.faq_file import FaqEntry, load_faq_file
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.models import Conversation, Customer, Message, Sender
from storage.repositories import Repo

DEMO_FAQ = Path(__file__).resolve().parents[1] / "bot/demo/faq.zh.yaml"
WORDS = ("亚麻衬衫", "纯棉T恤", "床单四件套", "毛巾", "靠垫套", "连衣裙", "阔腿裤", "围巾",
         "睡衣", "浴袍", "枕套", "桌布", "窗帘", "帆布包", "袜子", "帽子")


def synthetic(base: list[FaqEntry], count: int) -> list[FaqEntry]:
    out = list(base)
    n = 0
    while len(out) < count:
        e = base[n % len(base)]
        word = WORDS[(n // len(base)) % len(WORDS)]
        out.append(FaqEntry(f"{e.id}_{n}", f"{word}{e.question}", f"{word}：{e.answer}",
                            tuple(f"{word}{a}" for a in e.alt)))
        n += 1
    return out[:count]


async def ticker(lag: list[float]) -> None:
    while True:
        start = time.perf_counter()
        await asyncio.sleep(0.01)
        lag[0] = max(lag[0], time.perf_counter() - start - 0.01)


async def one_size(url: str, base: list[FaqEntry], count: int, runs: int) -> dict[str, float]:
    settings = load_settings({"DATABASE_URL": url})
    engine = create_engine(url)
    await migrate(engine)
    sessions = create_session_factory(engine)
    entries = synthetic(base, count)
    times: dict[str, list[float]] = {k: [] for k in ("preview", "plan", "replace", "undo",
                                                      "lag")}
    async with sessions() as db:
        repo = Repo(db)
        await fc.apply_import(repo, KnowledgeBase(settings), None, "zh", entries, fc.REPLACE)
        knowledge = KnowledgeBase(settings)
        await knowledge.reload(repo)
        customer = Customer(telegram_user_id=1, chat_id=1)
        db.add(customer)
        await db.flush()
        conversation = Conversation(customer_id=customer.id, language="zh")
        db.add(conversation)
        await db.flush()
        asked = Message(conversation_id=conversation.id, sender=Sender.SHOPPER,
                        text="可以寄到南极吗", meaning={"decision": "none", "language": "zh"})
        db.add(asked)
        await repo.commit()
        since = asked.created_at - timedelta(days=30)
        changed = [FaqEntry(e.id, e.question, e.answer + "（更新）", e.alt) if i % 10 == 0 else e
                   for i, e in enumerate(entries)]
        for _ in range(runs):
            lag = [0.0]
            ticking = asyncio.create_task(ticker(lag))
            await asyncio.sleep(0.02)  # the ticker is running
            start = time.perf_counter()
            await fc.preview_inbox(repo, knowledge, asked.id, since, key=entries[0].id)
            times["preview"].append(time.perf_counter() - start)
            await asyncio.sleep(0.02)  # the ticker wakes and records the last wait
            ticking.cancel()
            times["lag"].append(lag[0])
            start = time.perf_counter()
            await fc.plan_import(repo, knowledge, "zh", "bench.csv", changed)
            times["plan"].append(time.perf_counter() - start)
            start = time.perf_counter()
            await fc.apply_import(repo, knowledge, None, "zh", changed, fc.REPLACE)
            times["replace"].append(time.perf_counter() - start)
            start = time.perf_counter()
            await fc.undo_last(repo, knowledge, 0, asked.created_at)
            times["undo"].append(time.perf_counter() - start)
    await engine.dispose()
    return {k: statistics.median(v) for k, v in times.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", default="27,500,2000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", default=None)
    parser.add_argument("--inline", action="store_true",
                        help="build the preview's matcher in the event loop (for comparison)")
    args = parser.parse_args()
    if args.inline:
        async def inline(function: Any, *a: Any) -> Any:
            return function(*a)
        fc.asyncio.to_thread = inline  # type: ignore[assignment]
    base = load_faq_file(DEMO_FAQ).entries
    print(f"{'entries':>8} {'preview s':>10} {'lag s':>7} {'plan s':>8} {'replace s':>10} "
          f"{'undo s':>8}")
    for count in (int(x) for x in args.entries.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            url = args.db or f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
            t = await one_size(url, base, count, args.runs)
        print(f"{count:>8} {t['preview']:>10.3f} {t['lag']:>7.3f} {t['plan']:>8.3f} "
              f"{t['replace']:>10.3f} {t['undo']:>8.3f}")


if __name__ == "__main__":
    asyncio.run(main())
