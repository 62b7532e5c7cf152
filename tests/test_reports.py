"""Reports (P15, P23): every figure of a known history, checked exactly."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import aiosqlite
import pytest

from bot.services.reports import AgentSection, Report, Stats, aftersales, build_report, quality
from bot.services.reports.scope import Scope
from storage.models import ConversationState
from storage.repositories import Repo
from tests.report_history import WEEK_END, WEEK_START, build_history

TZ = "Asia/Shanghai"
AGENTS = (901, 902, 903)


async def week(repo: Repo, **kw: object):
    await build_history(repo)
    return await build_report(repo, WEEK_START, WEEK_END, TZ, agent_ids=AGENTS, **kw)


async def test_p23_volumes(repo: Repo) -> None:
    report = await week(repo)
    v = report.volumes
    assert (v.conversations, v.shopper_messages, v.agent_messages) == (3, 7, 3)
    assert (v.customers, v.new_customers, v.returning_customers) == (3, 2, 1)
    expected_hours = [0] * 24
    expected_hours[10], expected_hours[11] = 4, 3
    assert report.by_hour == expected_hours
    assert report.by_day == [(date(2026, 3, 3), 2), (date(2026, 3, 5), 1)]


async def test_bot_figures(repo: Repo) -> None:
    b = (await week(repo)).bot
    assert (b.conversations, b.resolved_without_human) == (3, 1)
    assert b.resolved_share == 1 / 3
    assert (b.faq_questions, b.faq_hits, b.faq_hit_rate) == (4, 1, 0.25)
    assert b.unanswered == [("purple socks?", 1), ("where is my parcel xyz", 1)]
    assert b.escalations == {"complaint": 1, "not_understood": 1}
    assert list(b.escalations) == ["complaint", "not_understood"]
    assert (b.feedback_total, b.feedback_helpful) == (2, 1)


async def test_p1_p2_waiting(repo: Repo) -> None:
    w = (await week(repo)).waiting
    assert w.shopper_wait == Stats(count=6, avg=9.5, p50=2.0, p95=30.0, max=30.0)
    assert w.unanswered_messages == 1
    assert w.wait_buckets == [("<5s", 4), ("5-15s", 0), ("15-20s", 0), ("20-60s", 2),
                              ("1-5m", 0), (">5m", 0)]
    assert (w.conversations, w.greeted_on_time, w.greeting_seconds) == (3, 2, 15)
    assert w.greeted_share == 2 / 3
    assert w.sla_breaches == 1
    assert (w.holding_replies, w.reassignments) == (1, 1)
    assert w.human_first_reply == Stats(count=2, avg=90.0, p50=60.0, p95=120.0, max=120.0)
    assert w.human_next_reply == Stats(count=1, avg=30.0, p50=30.0, p95=30.0, max=30.0)


async def test_quality_p14_p20_p21(repo: Repo) -> None:
    report = await week(repo)
    q = report.quality
    assert (q.complaints, q.complaint_steps, q.tone_guard) == (1, 1, 1)  # unfounded one left out
    assert q.complaints_by_cause == {"service": 1}  # P14: by cause, the report's categories
    assert (q.survey_answers, q.satisfied, q.satisfaction_avg) == (2, 1, 3.5)
    assert q.satisfied_share == 0.5
    assert report.satisfaction_by_day == [(date(2026, 3, 3), 5.0), (date(2026, 3, 5), 2.0)]
    assert report.not_recorded == []  # every source of this report has landed


async def test_aftersales_p17_p18_p19(repo: Repo) -> None:
    a = (await week(repo)).aftersales
    assert (a.tickets_opened, a.tickets_resolved, a.tickets_reopened) == (3, 2, 1)
    assert a.handling_rate == 2 / 3 and a.reopen_rate == 0.5
    assert a.follow_ups_done == 2 and a.follow_up_outcomes == {"no_answer": 1, "ok": 1}
    assert a.late_shipments == 1


async def test_sources_without_tables_are_not_recorded_yet(repo: Repo) -> None:
    """A shop whose database has no after-sales tables shows "not recorded yet", not zeros."""
    await build_history(repo)
    scope = Scope(repo.session, WEEK_START, WEEK_END, ZoneInfo(TZ), AGENTS,
                  tables=frozenset(), event_kinds=frozenset({"escalated"}))
    report = Report(WEEK_START, WEEK_END, TZ)
    agents: dict[int, AgentSection] = {}
    await aftersales.collect(scope, report, agents)
    await quality.collect(scope, report, agents)
    a, q = report.aftersales, report.quality
    assert a.tickets_opened is None and a.handling_rate is None and a.reopen_rate is None
    assert a.late_shipments is None and a.follow_ups_done is None
    assert q.satisfaction_avg is None and q.satisfied_share is None and q.tone_guard is None
    assert q.complaints == 1 and q.complaint_steps is None  # from the complaint escalation
    for source in ("tickets", "follow_ups", "shipments", "satisfaction", "tone_guard",
                   "complaint_steps"):
        assert source in scope.not_recorded


async def test_p15_agent_sections_including_one_without_conversations(repo: Repo) -> None:
    report = await week(repo)
    assert [a.agent_id for a in report.agents] == [901, 902, 903]
    mei, ken, idle = report.agents
    assert (mei.conversations, mei.messages, mei.complaints, mei.tone_guard) == (1, 2, 0, 1)
    assert (mei.survey_answers, mei.satisfaction_avg, mei.complaint_steps) == (1, 5.0, 0)
    assert mei.first_reply == Stats(1, 60.0, 60.0, 60.0, 60.0)
    assert mei.next_reply == Stats(1, 30.0, 30.0, 30.0, 30.0)
    assert (mei.sla_breaches, mei.holding_replies, mei.reassignments) == (0, 1, 0)
    assert (ken.conversations, ken.messages, ken.complaints, ken.tone_guard) == (1, 1, 1, 0)
    assert (ken.survey_answers, ken.satisfaction_avg, ken.complaint_steps) == (1, 2.0, 1)
    assert ken.first_reply == Stats(1, 120.0, 120.0, 120.0, 120.0)
    assert ken.next_reply == Stats() and ken.sla_breaches == 1
    assert (idle.conversations, idle.messages, idle.complaints) == (0, 0, 0)
    assert idle.first_reply == Stats() and idle.sla_breaches == 0 and idle.tone_guard == 0
    assert (idle.holding_replies, idle.reassignments) == (0, 1)  # the chat was taken from 903
    assert (idle.survey_answers, idle.satisfaction_avg, idle.complaint_steps) == (0, None, 0)


async def test_changes_against_previous_week(repo: Repo) -> None:
    changes = {c.key: c for c in (await week(repo)).changes}
    assert (changes["conversations"].now, changes["conversations"].before) == (3, 1)
    assert changes["conversations"].delta == 2
    assert (changes["wait_p95"].now, changes["wait_p95"].before) == (30.0, 4.0)
    assert changes["resolved_share"].before == 1.0
    assert changes["first_reply_p50"].before is None and changes["first_reply_p50"].delta is None
    assert changes["sla_breaches"].before == 0
    assert (changes["satisfaction_avg"].now, changes["satisfaction_avg"].before) == (3.5, 4.0)
    assert changes["handling_rate"].before is None  # no ticket the week before


async def test_empty_period(repo: Repo) -> None:
    await build_history(repo)
    start = WEEK_START - timedelta(days=700)
    report = await build_report(repo, start, start + timedelta(days=7), TZ, agent_ids=AGENTS)
    assert report.volumes.conversations == 0 and report.volumes.shopper_messages == 0
    assert report.bot.resolved_share is None and report.bot.faq_hit_rate is None
    assert report.bot.unanswered == [] and report.bot.escalations == {}
    assert report.waiting.shopper_wait == Stats() and report.waiting.greeted_share is None
    assert report.waiting.wait_buckets[0] == ("<5s", 0)
    assert report.by_hour == [0] * 24 and report.by_day == []
    assert [a.conversations for a in report.agents] == [0, 0, 0]
    assert all(c.now in (0, None) for c in report.changes)
    assert report.quality.survey_answers == 0 and report.quality.satisfaction_avg is None
    assert report.aftersales.tickets_opened == 0 and report.aftersales.handling_rate is None
    assert report.satisfaction_by_day == []


async def test_report_reads_run_off_the_event_loop_on_sqlite(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reports scan whole periods: on SQLite their statements go to the worker thread, so
    shoppers are answered while the owner's report is built (storage.sqlite_driver)."""
    if repo.session.bind.dialect.name != "sqlite":
        pytest.skip("the worker thread is the SQLite driver's")
    await build_history(repo)
    await repo.commit()
    hops: list[object] = []
    queue_call = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object) -> object:
        hops.append(fn)
        return await queue_call(self, fn, *args)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    await build_report(repo, WEEK_START, WEEK_END, TZ, agent_ids=AGENTS)
    assert len(hops) >= 10  # every section's queries, each on the thread
    hops.clear()
    await repo.conversations.count_in_state(ConversationState.BOT)
    assert hops == []  # a shopper's statement outside a report: in the loop
