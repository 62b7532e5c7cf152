"""P11/P12 工作纪律 as the seed writes it, through the real routers and the weekly report:
"上班不得迟到" (lateness), "如需请假，需在当班前一天提出" (leave the day before), "换班双方必须
交待清楚，若交待不清造成误班、空班的扣罚20元" (the swap fine), and the month's rota as a table.
Owner 900; agents 901 (Mei) and 902 (Ken)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.services import handover as ho
from bot.services import shifts as sh
from bot.services.reports import build_report
from bot.services.reports.text import render_text
from bot.services.staff import set_calendar_enabled
from bot.settings import load_settings
from storage.models.agents import Agent, CustomerTopic
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import callback_update, message_update
from tests.harness import ChatHarness

OWNER, MEI, KEN = 900, 901, 902
GROUP = -100999
SH = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 5, 4)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SH).astimezone(UTC)


@dataclass
class H(ChatHarness):
    async def report(self, first: date, last: date) -> str:
        async with self.app.sessions() as db:
            report = await build_report(db, at(first, 0), at(last + timedelta(days=1), 0),
                                        "Asia/Shanghai", agent_ids=[MEI, KEN],
                                        agent_names={MEI: "Mei", KEN: "Ken"})
        return render_text(report, "zh")


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    settings = load_settings({"DATABASE_URL": db_url, "OWNER_IDS": str(OWNER),
                              "AGENT_IDS": f"{MEI},{KEN}", "AGENT_CHAT_ID": str(GROUP)})
    harness = await H.start(settings, at(MONDAY, 9), RecordingSession(),
                            ids=itertools.count(9000))
    async with harness.app.sessions() as db:
        for agent, name in ((MEI, "Mei"), (KEN, "Ken")):
            await db.execute(update(Agent).where(Agent.telegram_user_id == agent)
                             .values(name=name))
        await set_calendar_enabled(Repo(db), True)
        await db.commit()
    yield harness
    await harness.app.close()


async def shift_of(h: H, day: date) -> sh.Shift:
    async with h.app.sessions() as db:
        [shift] = await sh.shifts_between(Repo(db), day, day)
    return shift


async def test_owner_sees_the_month_as_a_table_by_name_P11(h: H) -> None:
    await h.say(OWNER, "/rota 2026-05")
    [table] = h.sent(OWNER)
    lines = table.removeprefix("<pre>").removesuffix("</pre>").splitlines()
    assert lines[0].startswith("2026-05 排班") and len(lines) == 2 + 31
    assert "Mei" in table and "Ken" in table and "901" not in table
    sundays = [line for line in lines if " 周日 " in line]
    assert len(sundays) == 5 and all("," not in line for line in sundays)  # one each Sunday


async def test_lateness_is_the_first_activity_after_the_shift_start_P11(h: H) -> None:
    """"上班不得迟到": the agent of Monday's shift first answers at 19:00, 30 minutes late."""
    agent = (await shift_of(h, MONDAY)).agents[0]
    async with h.app.sessions() as db:  # only that agent is present in the group tonight
        await db.execute(update(Agent).values(on_duty=Agent.telegram_user_id == agent))
        await db.commit()
    h.clock.at = at(MONDAY, 19)
    await h.say(5001, "转人工")
    [topic] = await h.rows(CustomerTopic)
    await h.feed(message_update(next(h.ids), agent, "您好，我来帮您", chat_type="supergroup",
                                chat_id=GROUP, message_thread_id=int(topic.thread_id),
                                is_topic_message=True))
    h.clock.at = at(MONDAY + timedelta(days=2), 9)
    text = await h.report(MONDAY, MONDAY)
    name = {MEI: "Mei", KEN: "Ken"}[agent]
    assert f"迟到 05-04 {name} +30 分钟" in text


async def test_leave_must_be_asked_the_day_before_P11(h: H) -> None:
    """"如需请假，需在当班前一天提出": asked on the day itself is recorded as late."""
    tuesday = MONDAY + timedelta(days=1)
    reply = await h.say(MEI, f"/leave {tuesday} 看病")
    assert "请假已记录" in reply[0] and "未在前一天提出" not in reply[0]
    assert any("请假：Mei" in t and f"/assign {tuesday}" in t for t in h.sent(OWNER))
    reply = await h.say(KEN, f"/leave {MONDAY}")  # the same day: too late
    assert "未在前一天提出" in reply[0]
    text = await h.report(MONDAY, MONDAY + timedelta(days=6))
    assert f"请假 {tuesday} Mei (提前申请)" in text
    assert f"请假 {MONDAY} Ken (未提前一天申请)" in text


async def test_unclear_swap_leaves_an_empty_shift_and_the_owner_fines_20_P12(h: H) -> None:
    """"换班双方必须交待清楚，若交待不清造成误班、空班的扣罚20元"."""
    monday, tuesday = await shift_of(h, MONDAY), await shift_of(h, MONDAY + timedelta(days=1))
    asker, colleague = monday.agents[0], tuesday.agents[0]
    async with h.app.sessions() as db:
        repo = Repo(db)
        asked = await sh.request_swap(repo, asker, MONDAY, colleague, None, at(MONDAY, 9))
        assert asked.swap is not None
        await sh.accept_swap(repo, asked.swap.id, colleague, at(MONDAY, 9))
        assert (await sh.decide_swap(repo, asked.swap.id, OWNER, True, at(MONDAY, 9))).ok
        await repo.commit()
        swap_id = asked.swap.id
    h.clock.at = at(MONDAY + timedelta(days=1), 9)  # Monday's shift passed without anyone
    text = await h.report(MONDAY, MONDAY)
    taker = {MEI: "Mei", KEN: "Ken"}[colleague]
    assert f"换班后空班 #{swap_id} 05-04 {taker}" in text
    reply = await h.say(OWNER, f"/swapfine {swap_id}")
    assert "已记录罚款" in reply[0]
    text = await h.report(MONDAY, MONDAY + timedelta(days=1))
    assert text.count(f"换班交待不清罚款 #{swap_id}") == 2 and "20 元" in text  # both sides


def approve_button(h: H) -> str:
    """The callback data of the owner's last "approve" button (a leave request)."""
    for request in reversed(h.session.requests_of("sendMessage")):
        markup = request.reply_markup
        if request.chat_id == OWNER and markup is not None:
            return str(markup.inline_keyboard[0][0].callback_data)
    raise AssertionError("no button to the owner")


async def approve(h: H, data: str | None = None) -> list[str]:
    data = data or approve_button(h)
    h.session.requests.clear()
    await h.feed(callback_update(next(h.ids), OWNER, data))
    return h.sent(OWNER)


async def test_approved_leave_re_plans_the_rota_with_the_other_group_P11(h: H) -> None:
    """"如需请假，需在当班前一天提出" + "上一天休一天": the owner approves, the agent on leave is
    replaced on that shift by the other group's agent; who is on duty, the schedule and the
    handover record follow the new plan."""
    tuesday = MONDAY + timedelta(days=1)
    [away] = (await shift_of(h, tuesday)).agents  # two agents: one per evening
    cover = KEN if away == MEI else MEI
    names = {MEI: "Mei", KEN: "Ken"}
    await h.say(away, f"/leave {tuesday} 看病")
    button = approve_button(h)
    told = await approve(h, button)
    assert any(f"由另一组的 {names[cover]} 顶班" in t for t in told), told
    assert (await shift_of(h, tuesday)).agents == (cover,)
    assert any("由你顶" in t and names[away] in t for t in h.sent(cover))
    assert any("请假已批准" in t for t in h.sent(away))
    async with h.app.sessions() as db:
        repo = Repo(db)
        assert await sh.on_duty(repo, at(tuesday, 20)) == [cover]
        words = h.app.knowledge.staff_words()
        await ho.shift_tick(repo, at(tuesday, 1), words)  # Monday's record is written…
        shown = await ho.shift_tick(repo, at(tuesday, 19), words)  # …and shown to Tuesday's shift
    assert [agent for agent, _ in shown.to_show] == [cover]
    schedule = await h.say(cover, "/schedule")
    assert any(f"{tuesday:%m-%d}" in t and names[cover] in t for t in schedule)
    assert await approve(h, button) == []  # a second tap changes nothing


async def test_approved_leave_nobody_can_cover_flags_the_empty_shift_to_the_owner_P11(
    h: H,
) -> None:
    tuesday = MONDAY + timedelta(days=1)
    [away] = (await shift_of(h, tuesday)).agents
    other = KEN if away == MEI else MEI
    await h.say(other, f"/leave {tuesday}")  # the other group is away that day too
    assert any("本来不当班" in t for t in await approve(h))
    await h.say(away, f"/leave {tuesday}")
    told = await approve(h)
    assert any("空班" in t and f"/assign {tuesday}" in t for t in told), told
    # The agent on leave is off the plan even with nobody to cover: no chat is handed to them.
    assert (await shift_of(h, tuesday)).agents == ()
    async with h.app.sessions() as db:
        assert await sh.on_duty(Repo(db), at(tuesday, 20)) == []


async def test_owner_gets_the_month_as_an_image_with_chinese_names_in_the_cjk_font_P11(
    h: H,
) -> None:
    import warnings

    from matplotlib import font_manager

    from bot.services.reports.charts import packaged_cjk_font
    async with h.app.sessions() as db:
        await db.execute(update(Agent).where(Agent.telegram_user_id == MEI).values(name="小美"))
        await db.execute(update(Agent).where(Agent.telegram_user_id == KEN).values(name="阿强"))
        await db.commit()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await h.say(OWNER, "/rota 2026-05")
    [photo] = h.session.requests_of("sendPhoto")
    assert photo.chat_id == OWNER
    png = photo.photo.data
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert not [w for w in caught if "missing from" in str(w.message)]  # every glyph found
    # The font the table is drawn with is the packaged CJK one, and it has every glyph used.
    from fontTools.ttLib import TTFont  # matplotlib's own dependency
    font = packaged_cjk_font()
    assert font is not None
    assert Path(font_manager.findfont(
        font_manager.FontProperties(family=font_manager.FontProperties(fname=str(font))
                                    .get_name()), fallback_to_default=False)) == font
    cmap = TTFont(str(font), fontNumber=0).getBestCmap()
    assert all(ord(ch) in cmap for ch in "小美阿强周一日排班")
