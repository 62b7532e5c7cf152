"""Shift calendar math, on-duty, next shift and swaps (P11, P12)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.services import shifts as sh
from bot.services.availability import Staffing
from bot.services.staff import (
    add_agent,
    set_agents,
    set_calendar_enabled,
    set_duty_switch,
    set_owner_setting,
)
from bot.settings import Settings
from phrases.catalogue import PhraseCatalogue
from phrases.staff import StaffWords
from storage.models.shifts import SwapState
from storage.repositories import Repo

SH = ZoneInfo("Asia/Shanghai")
A, B, C = 901, 902, 903
MONDAY = date(2026, 5, 4)  # a Monday


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SH).astimezone(UTC)


@pytest.fixture
async def staffed(repo: Repo) -> Repo:
    await set_agents(repo, [A, B])
    await repo.faq.set_setting("timezone", "Asia/Shanghai")
    await set_calendar_enabled(repo, True)
    await repo.commit()
    return repo


def test_default_pattern_is_mon_sat_evening_and_sunday_all_day_P11() -> None:
    cal = sh.Calendar(SH, dict(sh.DEFAULT_PATTERN), [A, B])
    week = sh.shifts_in(MONDAY, MONDAY + timedelta(days=6), cal)
    assert len(week) == 7
    monday, sunday = week[0], week[6]
    assert monday.start == at(MONDAY, 18, 30)
    assert monday.end == at(MONDAY + timedelta(days=1), 0)  # 24:00 is the next midnight
    assert sunday.start == at(sunday.day, 9, 30)
    assert (sunday.end - sunday.start) == timedelta(hours=14, minutes=30)


def test_agents_alternate_days_and_take_sundays_in_turn_P11() -> None:
    cal = sh.Calendar(SH, dict(sh.DEFAULT_PATTERN), [A, B])
    weeks = sh.shifts_in(MONDAY, MONDAY + timedelta(days=13), cal)
    weekdays = [s.agents for s in weeks if s.day.weekday() < 6]
    assert all(weekdays[i] != weekdays[i + 1] for i in range(len(weekdays) - 1))
    sundays = [s.agents for s in weeks if s.day.weekday() == 6]
    assert sundays[0] != sundays[1]


def _week(roster: list[int]) -> list[tuple[int, ...]]:
    cal = sh.Calendar(SH, dict(sh.DEFAULT_PATTERN), roster)
    return [s.agents for s in sh.shifts_in(MONDAY, MONDAY + timedelta(days=20), cal)]


@pytest.mark.parametrize("roster", [[A], [A, B], [A, B, C], [A, B, C, 904]])
def test_rota_two_groups_alternate_evenings_sundays_rotate_P11(roster: list[int]) -> None:
    """"周一至周六：晚班（18:30至24:00），上一天休一天；周天：全天班（9:30至24:00），轮流值班"."""
    shifts = _week(roster)  # three weeks from a Monday
    evenings = [a for i, a in enumerate(shifts) if i % 7 != 6]
    sundays = [a for i, a in enumerate(shifts) if i % 7 == 6]
    first, second = sh.groups(roster)
    assert set(first) | set(second) == set(roster)
    if len(roster) == 1:  # one agent works every shift
        assert all(a == (A,) for a in shifts)
        return
    assert not set(first) & set(second)  # two separate groups
    assert evenings == [tuple(first), tuple(second)] * 9  # work a day, rest a day
    for agent in roster:  # nobody works two evenings in a row (Mon–Sat)
        worked = [agent in a for a in evenings]
        assert not any(worked[i] and worked[i + 1] for i in range(len(worked) - 1))
    assert all(len(s) == 1 for s in sundays)  # Sunday: one agent, in turn (轮流值班)
    for this, following in itertools.pairwise(sundays):
        assert following[0] == roster[(roster.index(this[0]) + 1) % len(roster)]


def test_rota_sundays_go_round_everyone_P11() -> None:
    cal = sh.Calendar(SH, dict(sh.DEFAULT_PATTERN), [A, B, C, 904])
    sundays = [s.agents[0] for s in sh.shifts_in(MONDAY, MONDAY + timedelta(days=7 * 8), cal)
               if s.day.weekday() == 6]
    assert set(sundays[:4]) == {A, B, C, 904}  # everyone once in four weeks


def test_pattern_line_past_midnight_and_closed_weekday_P11() -> None:
    pattern = sh.parse_pattern_line("fri 20:00-02:00")
    pattern = sh.parse_pattern_line("sat off", pattern)
    cal = sh.Calendar(SH, pattern, [A])
    friday = MONDAY + timedelta(days=4)
    [shift] = sh.shifts_in(friday, friday, cal)
    assert shift.start == at(friday, 20) and shift.end == at(friday + timedelta(days=1), 2)
    assert sh.shifts_in(friday + timedelta(days=1), friday + timedelta(days=1), cal) == []
    with pytest.raises(ValueError):
        sh.parse_pattern_line("fri 25:00-02:00")
    with pytest.raises(ValueError):
        sh.parse_pattern_line("someday 10:00-12:00")


async def test_on_duty_across_midnight_in_shanghai_P11(staffed: Repo) -> None:
    await sh.save_pattern(staffed, sh.parse_pattern_line("mon-sat 18:30-02:00"))
    await staffed.commit()
    [monday] = await sh.shifts_between(staffed, MONDAY, MONDAY)
    agent = monday.agents[0]
    assert await sh.on_duty(staffed, at(MONDAY, 18, 0)) == []
    assert await sh.on_duty(staffed, at(MONDAY, 23, 59)) == [agent]
    tuesday_night = at(MONDAY + timedelta(days=1), 1, 30)  # still Monday's shift
    assert await sh.on_duty(staffed, tuesday_night) == [agent]
    assert await sh.on_duty(staffed, at(MONDAY + timedelta(days=1), 2, 0)) == []


async def test_next_shift_start_and_closed_days_P11_P24(staffed: Repo) -> None:
    morning = at(MONDAY, 10)
    assert await sh.next_shift_start(staffed, morning) == at(MONDAY, 18, 30)
    await staffed.shifts.set_closed(MONDAY, True, "holiday")
    await staffed.commit()
    assert await sh.next_shift_start(staffed, morning) == at(MONDAY + timedelta(days=1), 18, 30)
    assert await sh.on_duty(staffed, at(MONDAY, 20)) == []
    zh = StaffWords(PhraseCatalogue.builtin(), "zh")
    text = sh.schedule_text(await sh.coming_schedule(staffed, morning), SH, {}, zh)
    assert "休息（holiday）" in text and len(text.splitlines()) == sh.SCHEDULE_DAYS


async def test_agent_switch_overrides_the_calendar(staffed: Repo) -> None:
    evening = at(MONDAY, 20)
    [on] = await sh.on_duty(staffed, evening)
    off = B if on == A else A
    await set_duty_switch(staffed, off, "on")
    await set_duty_switch(staffed, on, "off")
    assert await sh.on_duty(staffed, evening) == [off]
    assert await sh.on_duty(staffed, at(MONDAY, 10)) == [off]


async def test_swap_needs_colleague_and_owner_then_changes_the_calendar_P12(
    staffed: Repo,
) -> None:
    now = at(MONDAY, 9)
    mon, tue = MONDAY, MONDAY + timedelta(days=1)
    [a_shift, b_shift] = await sh.shifts_between(staffed, mon, tue)
    first, second = a_shift.agents[0], b_shift.agents[0]
    asked = await sh.request_swap(staffed, first, mon, second, tue, now)
    assert asked.ok and asked.swap is not None
    assert not (await sh.decide_swap(staffed, asked.swap.id, 900, True, now)).ok  # not accepted
    assert (await sh.accept_swap(staffed, asked.swap.id, second, now)).ok
    approved = await sh.decide_swap(staffed, asked.swap.id, 900, True, now)
    assert approved.ok and approved.swap.state == SwapState.APPROVED
    [mon_after, tue_after] = await sh.shifts_between(staffed, mon, tue)
    assert mon_after.agents == (second,) and tue_after.agents == (first,)


async def test_at_most_two_swaps_per_agent_per_month_P12(staffed: Repo) -> None:
    now = at(MONDAY, 9)
    days = await sh.shifts_between(staffed, MONDAY, MONDAY + timedelta(days=12))
    first = days[0].agents[0]
    other = B if first == A else A
    mine = [s.day for s in days if s.agents == (first,)]
    assert (await sh.request_swap(staffed, first, mine[0], other, None, now)).ok
    assert (await sh.request_swap(staffed, first, mine[1], other, None, now)).ok
    third = await sh.request_swap(staffed, first, mine[2], other, None, now)
    assert not third.ok and third.reason.startswith("limit ") and third.reason.split()[2] == "2"
    await set_owner_setting(staffed, "swap_limit", "3")
    assert (await sh.request_swap(staffed, first, mine[2], other, None, now)).ok


async def test_swap_leaving_a_shift_uncovered_is_refused_with_reason_P12(staffed: Repo) -> None:
    now = at(MONDAY, 9)
    [shift] = await sh.shifts_between(staffed, MONDAY, MONDAY)
    first = shift.agents[0]
    other = B if first == A else A
    asked = await sh.request_swap(staffed, first, MONDAY, other, None, now)
    await sh.accept_swap(staffed, asked.swap.id, other, now)
    await set_agents(staffed, [first, C])  # the colleague left before the owner decided
    refused = await sh.decide_swap(staffed, asked.swap.id, 900, True, now)
    assert not refused.ok and refused.reason.startswith("uncovered ")
    assert refused.swap.state == SwapState.REFUSED
    assert await staffed.events.count("swap_refused") == 1
    assert not (await sh.request_swap(staffed, first, MONDAY - timedelta(days=1), C, None,
                                      now)).ok  # past shift


async def test_with_the_calendar_off_every_agent_is_on_duty_and_sla_falls_back(
    staffed: Repo, settings: Settings
) -> None:
    await set_calendar_enabled(staffed, False)
    morning = at(MONDAY, 10)
    assert await sh.on_duty(staffed, morning) == [A, B]
    assert await sh.next_shift_start(staffed, morning) is None
    assert (await Staffing(settings).at(staffed, morning)).soon  # SERVICE_HOURS=always
    await set_duty_switch(staffed, A, "off")
    assert await sh.on_duty(staffed, morning) == [B]


async def test_calendar_roster_tells_the_sla_clock_when_people_are_back_P24(
    staffed: Repo, settings: Settings
) -> None:
    roster = Staffing(settings)  # the calendar decides, whatever SERVICE_HOURS says
    assert await roster.next_human_at(staffed, at(MONDAY, 10)) == at(MONDAY, 18, 30)
    assert await roster.next_human_at(staffed, at(MONDAY, 20)) is None
    await set_duty_switch(staffed, 900, "on")  # an owner who is not an agent: no effect (P10)
    assert await roster.next_human_at(staffed, at(MONDAY, 10)) == at(MONDAY, 18, 30)
    assert 900 not in await sh.on_duty(staffed, at(MONDAY, 10))
    await add_agent(staffed, 900)  # added to the roster, the owner steps in
    assert await roster.next_human_at(staffed, at(MONDAY, 10)) is None
    assert 900 in await sh.on_duty(staffed, at(MONDAY, 10))


async def test_chat_assignment_follows_the_calendar_once_it_is_on_P11(staffed: Repo) -> None:
    from bot.services.availability import on_duty_agents

    await staffed.agents.ensure([A, B, 900])
    [monday] = await sh.shifts_between(staffed, MONDAY, MONDAY)
    evening = await on_duty_agents(staffed, at(MONDAY, 20))
    assert [a.telegram_user_id for a in evening] == list(monday.agents)
    assert await on_duty_agents(staffed, at(MONDAY, 10)) == []
    await set_calendar_enabled(staffed, False)
    anytime = await on_duty_agents(staffed, at(MONDAY, 10))
    assert {a.telegram_user_id for a in anytime} == {A, B, 900}
