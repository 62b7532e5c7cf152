"""Benchmark: a month of a busy shop (~200,000 messages) in SQLite, then the monthly report.

Target (P23's reports): the report over the month in under 5 s. Run by hand:
    .venv/bin/python bench/bench_report.py [--messages 200000] [--db PATH]
Prints the generation time, the report time (with and without the previous-period
comparison), the chart time and the report's headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services.reports import build_report
from bot.services.reports.charts import render_charts
from bot.services.reports.period import local_days
from bot.services.reports.text import render_text
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.models import Conversation, Customer, Event, Message

TZ = ZoneInfo("Asia/Shanghai")
AGENTS = (901, 902, 903, 904, 905, 906)
REASONS = ("asked", "complaint", "rejected_answer", "not_understood", "media")
QUESTIONS = ("do you ship to mars", "紫色袜子有吗", "can I pay in cash", "发票怎么开",
             "is the shop open at night", "可以刻字吗", "do you sell gift cards")


def _month() -> tuple[datetime, datetime]:
    return local_days(datetime(2026, 3, 1).date(), datetime(2026, 3, 31).date(), TZ)


def generate(messages: int, start: datetime, end: datetime, first_ids: dict[str, int],
             seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Rows for customers, conversations, messages, events (ids given, insertion order)."""
    rng = random.Random(seed)
    span = (end - start).total_seconds() - 3600
    per_conversation = 10
    n_conv = messages // per_conversation
    base = first_ids["customers"]
    customers = [
        {"id": base + i, "telegram_user_id": 10_000 + base + i, "chat_id": 10_000 + base + i,
         "name": f"c{i}",
         "first_seen_at": start - timedelta(days=rng.randint(-25, 200))}
        for i in range(1, n_conv // 3 + 1)
    ]
    first_customer = base + 1
    rows: dict[str, list[dict[str, Any]]] = {"customers": customers, "conversations": [],
                                             "messages": [], "events": []}
    message_id, event_id = first_ids["messages"], first_ids["events"]
    for conv_id in range(first_ids["conversations"] + 1, first_ids["conversations"] + n_conv + 1):
        # busier in the local afternoon: pick a day, then an hour weighted to 10:00–22:00
        opened = start + timedelta(seconds=rng.random() * span)
        escalated = rng.random() < 0.3
        agent = rng.choice(AGENTS) if escalated else None
        greeted = opened + timedelta(seconds=rng.choice((1, 1, 2, 3, 5, 18)))
        t = opened
        customer = rng.randint(first_customer, base + len(customers))
        conv = {"id": conv_id, "customer_id": customer, "state": "closed", "opened_at": opened,
                "last_activity_at": opened, "greeted_at": greeted,
                "agent_id": agent}
        agent_spoke = False
        for turn in range(per_conversation // 2):
            decision = rng.choice(("answer", "answer", "answer", "clarify", "none", "intent"))
            text = rng.choice(QUESTIONS) if decision == "none" else f"question {turn}"
            message_id += 1
            rows["messages"].append({
                "id": message_id, "conversation_id": conv_id, "sender": "shopper",
                "kind": "text", "text": text, "created_at": t, "handled_at": t,
                "meaning": {"kind": "text", "decision": decision},
            })
            human = escalated and turn >= 1
            if escalated and turn == 1:
                conv["queued_at"] = t
                conv["escalation_reason"] = rng.choice(REASONS)
                event_id += 1
                rows["events"].append({"id": event_id, "kind": "escalated", "at": t,
                                       "conversation_id": conv_id, "agent_id": None,
                                       "data": {"reason": conv["escalation_reason"]}})
            wait = rng.expovariate(1 / 25) if human else rng.choice((0.2, 0.5, 1, 2, 3))
            t = t + timedelta(seconds=wait)
            message_id += 1
            rows["messages"].append({
                "id": message_id, "conversation_id": conv_id,
                "sender": "agent" if human else "bot", "kind": "text", "text": "reply",
                "created_at": t, "agent_id": agent if human else None, "meaning": None,
            })
            if human and wait > 20:
                event_id += 1
                rows["events"].append({"id": event_id, "kind": "sla_breach", "at": t,
                                       "conversation_id": conv_id, "agent_id": agent,
                                       "data": {}})
            agent_spoke = agent_spoke or human
            t = t + timedelta(seconds=rng.uniform(5, 120))
        if agent_spoke and rng.random() < 0.02:
            event_id += 1
            rows["events"].append({"id": event_id, "kind": "tone_guard", "at": t,
                                   "conversation_id": conv_id, "agent_id": agent, "data": {}})
        rows["conversations"].append(conv)
    for conv in rows["conversations"]:
        conv.setdefault("queued_at", None)
        conv.setdefault("escalation_reason", None)
    return rows


TABLES = {"customers": Customer, "conversations": Conversation, "messages": Message,
          "events": Event}


def _ids(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {name: db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {name}").fetchone()[0]
                for name in TABLES}


def _cell(value: Any) -> Any:
    """As SQLAlchemy stores it on SQLite: naive UTC text for datetimes, JSON text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _defaults(model: Any, given: list[str]) -> dict[str, Any]:
    """The model's scalar column defaults (whatever other features added) for absent columns."""
    extra: dict[str, Any] = {}
    for column in model.__table__.columns:
        if column.name in given or column.default is None:
            continue
        arg = column.default.arg
        extra[column.name] = _cell(datetime.now(UTC)) if callable(arg) else _cell(arg)
    return extra


def insert_rows(path: Path, rows: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        for name in TABLES:
            columns = sorted({key for row in rows[name] for key in row})
            extra = _defaults(TABLES[name], columns)
            names = columns + list(extra)
            db.executemany(
                f"INSERT INTO {name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                ([_cell(row.get(c)) for c in columns] + list(extra.values())
                 for row in rows[name]),
            )
    return {name: len(rows[name]) for name in TABLES}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--png", type=Path, default=None, help="write the charts here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_report_"))
    path = args.db or folder / "month.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await engine.dispose()  # bulk insert with the sqlite3 module: 20x faster than the ORM
    clock = time.perf_counter()
    start, end = _month()
    previous = local_days(datetime(2026, 2, 1).date(), datetime(2026, 2, 28).date(), TZ)
    counts = insert_rows(path, generate(int(args.messages * 0.8), *previous, _ids(path), 3))
    counts = insert_rows(path, generate(args.messages, start, end, _ids(path)))
    print(f"generated March: {counts} (and February at 80 %) in "
          f"{time.perf_counter() - clock:.1f} s → {path} ({path.stat().st_size / 1e6:.0f} MB)")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    start, end = _month()
    async with create_session_factory(engine)() as session:
        for compare in (False, True):
            clock = time.perf_counter()
            report = await build_report(session, start, end, TZ, agent_ids=AGENTS,
                                        compare=compare)
            took = time.perf_counter() - clock
            print(f"report over the month (compare={compare}): {took:.2f} s "
                  f"{'OK' if took < 5 else 'OVER 5 s'}")
        day_start, day_end = local_days(datetime(2026, 3, 16).date(),
                                        datetime(2026, 3, 16).date(), TZ)
        clock = time.perf_counter()
        await build_report(session, day_start, day_end, TZ, agent_ids=AGENTS)
        print(f"report over one day: {time.perf_counter() - clock:.2f} s")
    clock = time.perf_counter()
    charts = render_charts(report, "en")
    print(f"4 charts: {time.perf_counter() - clock:.2f} s, "
          f"{sum(len(p) for p in charts.values()) / 1e3:.0f} kB")
    if args.png:
        args.png.mkdir(parents=True, exist_ok=True)
        for name, png in charts.items():
            (args.png / f"{name}.png").write_bytes(png)
    print()
    print(render_text(report, "en"))
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
