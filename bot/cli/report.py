"""``python -m bot report --from YYYY-MM-DD --to YYYY-MM-DD [--csv DIR] [--png DIR]`` (P23)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path

from bot.services.reports import build_report
from bot.services.reports.charts import render_charts
from bot.services.reports.export import format_table, tables, write_csv
from bot.services.reports.period import local_days
from bot.services.reports.text import render_text
from bot.services.staff import agent_names
from bot.settings import ConfigError, Settings, load_settings
from storage.engine import create_engine, create_session_factory
from storage.migrate import migrate
from storage.repositories import Repo


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot report", description="Print the report of a period (shop time)."
    )
    parser.add_argument("--from", dest="first", type=date.fromisoformat, required=True,
                        help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, required=True,
                        help="last day (inclusive), YYYY-MM-DD")
    parser.add_argument("--csv", type=Path, help="folder for CSV files, one per table")
    parser.add_argument("--png", type=Path, help="folder for the chart images")
    parser.add_argument("--lang", choices=("zh", "en"), default=None,
                        help="labels (default: the shop's first language)")
    return parser.parse_args(argv)


async def run_report(settings: Settings, args: argparse.Namespace) -> str:
    """Build, print-ready text plus tables; writes CSV/PNG when asked."""
    lang = args.lang or settings.default_language
    start, end = local_days(args.first, args.last, settings.tz)
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)  # a brand-new database (the bot never ran) gets its tables first
        async with create_session_factory(engine)() as session:
            report = await build_report(
                session, start, end, settings.tz, agent_ids=settings.agent_ids,
                greeting_seconds=settings.sla_greeting_seconds,
                agent_names=await agent_names(Repo(session)),
            )
    finally:
        await engine.dispose()
    out = [render_text(report, lang), ""]
    for name, rows in tables(report).items():
        if name != "by_hour":
            out += [f"== {name}", format_table(rows), ""]
    if args.csv:
        out.append(f"CSV: {', '.join(str(p) for p in write_csv(report, args.csv))}")
    if args.png:
        args.png.mkdir(parents=True, exist_ok=True)
        for name, png in render_charts(report, lang).items():
            path = args.png / f"{name}.png"
            path.write_bytes(png)
            out.append(f"PNG: {path}")
    return "\n".join(out).rstrip()


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(run_report(settings, args)))
    except ValueError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    return 0
