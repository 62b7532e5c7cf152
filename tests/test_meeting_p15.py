"""P15 "每周一午时14:30开部门例会…每位客服都需要汇报一下自我上一周的完成目标情景，工作中遇到的
问题及接下需要改善的地方": agents are asked on Monday morning, answer with /weekly, and the
meeting report (delivered before 14:30) carries each one's words next to their figures."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.jobs.people import people_tick
from bot.services.reports import build_report
from bot.services.reports.period import previous_week
from bot.services.reports.text import render_agent
from bot.settings import Settings, load_settings
from tests.fakes.updates import message_update
from tests.harness import BotHarness

OWNER, MEI, KEN = 900, 901, 902
SH = ZoneInfo("Asia/Shanghai")
MONDAY_MORNING = datetime(2026, 5, 11, 9, 5, tzinfo=SH).astimezone(UTC)


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[BotHarness]:
    settings = load_settings({"DATABASE_URL": db_url, "OWNER_IDS": str(OWNER),
                              "AGENT_IDS": f"{MEI},{KEN}"})
    harness = await BotHarness.start(settings, datetime(2026, 5, 10, 20, tzinfo=UTC))
    yield harness
    await harness.app.close()


def test_meeting_report_is_delivered_before_the_meeting_by_default_P15(
    settings: Settings,
) -> None:
    assert settings.report_weekly == "mon 14:00"


async def test_agents_self_reports_reach_the_meeting_report_P15(h: BotHarness) -> None:
    await people_tick(h.app)  # Sunday evening: nobody is asked yet
    assert h.sent(MEI) == []
    h.clock.at = MONDAY_MORNING
    await people_tick(h.app)
    await people_tick(h.app)  # a second run asks nobody twice
    for agent in (MEI, KEN):
        [asked] = h.sent(agent)
        assert asked.startswith("今天 14:30 开周例会（P15）") and "（2026-05-04）" in asked
    ids = itertools.count(100)
    await h.feed(message_update(next(ids), MEI, "/weekly 完成目标：回复都在20秒内\n"
                                                 "问题：退货咨询多\n改进：整理退货FAQ"))
    assert "已保存" in h.sent(MEI)[-1]
    async with h.app.sessions() as db:
        report = await build_report(db, *previous_week(MONDAY_MORNING, SH), SH,
                                    agent_ids=[MEI, KEN], agent_names={MEI: "Mei", KEN: "Ken"})
    mei, ken = report.agent(MEI), report.agent(KEN)
    assert mei is not None and ken is not None
    assert "整理退货FAQ" in mei.self_report and ken.self_report == ""
    section = render_agent(mei, "zh")
    assert "自我汇报: 完成目标：回复都在20秒内" in section
    assert report.start.astimezone(SH).date() == date(2026, 5, 4)
