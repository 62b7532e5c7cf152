"""Reports rendered: text in zh/en, CSV tables, PNG charts of the expected size, the CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from matplotlib.image import imread

from bot.cli.report import parse_args, run_report
from bot.services.reports import Report, build_report
from bot.services.reports.charts import CHART_SIZE, CHARTS, render_charts
from bot.services.reports.export import tables, write_csv
from bot.services.reports.text import render_text
from bot.settings import Settings
from storage.repositories import Repo
from tests.report_history import WEEK_END, WEEK_START, build_history

TZ = "Asia/Shanghai"


async def week(repo: Repo) -> Report:
    await build_history(repo)
    return await build_report(repo, WEEK_START, WEEK_END, TZ, agent_ids=(901, 902, 903),
                              agent_names={901: "Mei"})


async def test_p23_text_summary_en(repo: Repo) -> None:
    text = render_text(await week(repo), "en")
    assert text.startswith("📊 Customer service report 2026-03-02 – 2026-03-08 (Asia/Shanghai)")
    assert "conversations 3 · shopper messages 7 · agent messages 3 · customers 3 (new 2, " \
           "returning 1)" in text
    assert "resolved without a person 33% (1/3) · FAQ hit rate 25% (1/4)" in text
    assert "shopper wait p50 2s · p95 30s · max 30s (n=6), without reply 1" in text
    assert "greeted within 15 s 67% (2/3)" in text
    assert "SLA breaches 1 · holding replies 1 · reassignments 1" in text
    assert "• Mei: conversations 1" in text and "• #903: conversations 0" in text
    assert "conversations 1 → 3" in text


async def test_text_summary_zh(repo: Repo) -> None:
    text = render_text(await week(repo), "zh")
    assert "客服报表" in text and "满意度" in text and "15 秒内问候 67% (2/3)" in text


async def test_csv_tables(repo: Repo, tmp_path: Path) -> None:
    report = await week(repo)
    paths = write_csv(report, tmp_path)
    assert {p.name for p in paths} >= {"summary.csv", "agents.csv", "by_hour.csv"}
    with (tmp_path / "agents.csv").open(encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:5] == ["agent_id", "name", "conversations", "messages", "first_reply_p50"]
    assert rows[1][:5] == ["901", "Mei", "1", "2", "60"]
    assert rows[3][:5] == ["903", "", "0", "0", ""]
    summary = dict(tables(report)["summary"][1:])
    assert summary["shopper_wait_p95"] == "30" and summary["holding_replies"] == "1"
    assert summary["complaints_handled"] == ""  # not recorded: an empty cell, not 0


async def test_charts_open_with_expected_size(repo: Repo) -> None:
    charts = render_charts(await week(repo), "zh")
    assert set(charts) == set(CHARTS)
    for png in charts.values():
        image = imread(io.BytesIO(png), format="png")
        assert image.shape[:2] == (CHART_SIZE[1], CHART_SIZE[0])


async def test_charts_of_an_empty_period(repo: Repo) -> None:
    report = await build_report(repo, WEEK_START, WEEK_END, TZ)
    for png in render_charts(report, "en").values():
        assert imread(io.BytesIO(png), format="png").shape[:2] == (CHART_SIZE[1], CHART_SIZE[0])


async def test_cli_prints_tables_and_writes_files(
    repo: Repo, settings: Settings, tmp_path: Path
) -> None:
    await build_history(repo)
    args = parse_args(["--from", "2026-03-02", "--to", "2026-03-08", "--csv",
                       str(tmp_path / "csv"), "--png", str(tmp_path / "png"), "--lang", "en"])
    out = await run_report(settings, args)
    assert "conversations 3 · shopper messages 7" in out
    assert "== agents" in out and "== summary" in out
    assert (tmp_path / "csv" / "summary.csv").exists()
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == sorted(
        f"{name}.png" for name in CHARTS)
