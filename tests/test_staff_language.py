"""Staff screens in the shop's language from phrase data (policy §七 words for staff too):
every staff text exists in zh and en with the same placeholders, passes the tone guard (P9),
and people are shown by name, escaped, within Telegram's limits."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from aiogram import Router
from aiogram.filters import Command

from bot.app import build_app, build_dispatcher
from bot.clock import FixedClock
from bot.jobs.people import people_tick
from bot.services import shifts as sh
from handlers.keyboards import OwnerTemplate
from phrases.catalogue import PhraseCatalogue
from phrases.staff import NAME_LIMIT, StaffWords, topic_name
from phrases.templates import placeholders_in
from phrases.tone import check_tone
from phrases.when import named_period
from storage.repositories import Repo
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import callback_update, message_update
from tests.test_agent_console import ALICE, GROUP, MORNING, OWNER, H, console_settings

CATALOGUE = PhraseCatalogue.builtin()


def staff_keys(lang: str) -> dict[str, str]:
    return {p.key: p.text for p in CATALOGUE.categories(lang)["staff"]}


def test_every_staff_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    zh, en = staff_keys("zh"), staff_keys("en")
    assert zh and set(zh) == set(en), set(zh) ^ set(en)
    for key in zh:
        assert placeholders_in(zh[key]) == placeholders_in(en[key]), key


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_staff_texts_pass_the_tone_guard_P9(lang: str) -> None:
    """Some staff texts reach shoppers' eyes indirectly (quoted, forwarded): none is negative."""
    bad = {k: t for k, t in staff_keys(lang).items() if not check_tone(t).ok}
    assert not bad


def test_words_fall_back_and_an_unknown_key_is_visible() -> None:
    zh, en = StaffWords(CATALOGUE, "zh"), StaffWords(CATALOGUE, "en")
    assert zh("topic.waiting") == "⏳ 等待中" and en("topic.waiting") == "⏳ waiting"
    assert zh("no.such.key") == "no.such.key"
    assert zh.label("order", "shipped") == "已发货" and zh.label("order", "lost") == "lost"


def test_topic_names_are_names_within_128_characters() -> None:
    assert topic_name("李雷", "⏳ 等待中") == "李雷 · ⏳ 等待中"
    long = topic_name("<b>" * 100, "👤 王芳")
    assert len(long) <= NAME_LIMIT and long.endswith(" · 👤 王芳")


# ------------------------------------------------------------------ through the dispatcher
HOSTILE = "<b>李雷</b>&"  # a shopper's own name: shown as text, never as markup


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    session = RecordingSession()
    app = await build_app(console_settings(db_url), session=session, clock=FixedClock(MORNING))
    harness = H(app, build_dispatcher(app), session, FixedClock(MORNING))
    harness.clock = app.clock  # type: ignore[assignment]
    await harness.duty(owner=False, bob=False)
    yield harness
    await app.close()


async def owner_says(h: H, text: str) -> list[str]:
    h.session.requests.clear()
    await h.feed(message_update(h.uid(), OWNER, text, first_name="Olga"))
    return h.texts_to(OWNER)


async def test_setshift_in_chinese_P11(h: H) -> None:
    """/setshift 周一 19:00-23:00: Chinese days (周一…周日, 星期…, 休息), answered in Chinese."""
    told = await owner_says(h, "/setshift 周一 19:00-23:00")
    assert told == ["班次已更新：周一 19:00-23:00；周二 18:30-24:00；周三 18:30-24:00；"
                    "周四 18:30-24:00；周五 18:30-24:00；周六 18:30-24:00；周日 09:30-24:00"]
    assert "周日 休息" in (await owner_says(h, "/setshift 星期天 休息"))[0]
    assert "周二 20:00-02:00" in (await owner_says(h, "/setshift 周二至周五 20：00到02：00"))[0]
    async with h.app.sessions() as db:
        pattern = await sh.load_pattern(Repo(db))
    assert pattern[0] == ("19:00", "23:00") and pattern[6] is None
    assert pattern[4] == ("20:00", "02:00")
    refused = await owner_says(h, "/setshift 周八 19:00-23:00")
    assert refused[0].startswith("未修改：请这样写：/setshift 周一至周六")


def test_named_report_periods_in_both_languages_P23() -> None:
    thursday = date(2026, 12, 3)
    assert named_period("上周", thursday) == named_period("last week", thursday) == (
        date(2026, 11, 23), date(2026, 11, 29))
    assert named_period("本周", thursday) == (date(2026, 11, 30), thursday)
    assert named_period("本月", thursday) == (date(2026, 12, 1), thursday)
    assert named_period("上个月", thursday) == (date(2026, 11, 1), date(2026, 11, 30))
    assert named_period("昨天", thursday) == (date(2026, 12, 2),) * 2
    assert named_period("下周", thursday) is None


async def test_an_owners_edited_report_label_shows_in_the_report_P23(h: H) -> None:
    """The report's words are staff phrases (staff.report.<key>): the owner edits one with
    /settemplate like any staff text and the next /report reads it, in zh and in en."""
    before = (await owner_says(h, "/report 上周"))[0]
    assert "\n服务质量: 满意度" in before and "服务表现" not in before
    await owner_says(h, "/settemplate staff.report.quality zh\n服务表现")
    h.session.requests.clear()
    await h.feed(callback_update(h.uid(), OWNER, OwnerTemplate(action="save").pack()))
    after = (await owner_says(h, "/report 上周"))[0]
    assert "\n服务表现: 满意度" in after and "服务质量" not in after
    await owner_says(h, "/lang en")
    english = (await owner_says(h, "/report last week"))[0]
    assert "\nQuality: satisfaction" in english  # the English text is untouched


async def test_report_periods_follow_the_bot_clock_not_the_message_date_P23(h: H) -> None:
    """今天 / 上周 / 本月 are the shop's days by the bot's clock (the message may be old: sent
    before an outage, or a test's fixed date); here the message says 28 May, the clock 3 Dec."""
    h.clock.at = datetime(2026, 12, 3, 4, tzinfo=UTC)  # Thursday, noon in Shanghai
    for words, first, last in (("上周", "2026-11-23", "2026-11-29"),
                               ("今天", "2026-12-03", "2026-12-03"),
                               ("本月", "2026-12-01", "2026-12-03"),
                               ("昨天", "2026-12-02", "2026-12-02")):
        told = await owner_says(h, f"/report {words}")
        days = f"{first} – {last} " if first != last else f"{first} ("
        assert told[0].startswith(f"📊 客服报表 {days}"), (words, told[:1])


async def test_report_last_week_in_chinese_P23(h: H) -> None:
    """/report 上周: last Monday … Sunday (of the bot's clock), in the owner's language."""
    told = await owner_says(h, "/report 上周")
    found = re.match(r"📊 客服报表 (\S+) – (\S+) ", told[0])
    assert found, told[:1]
    first, last = (date.fromisoformat(x) for x in found.groups())
    assert first.weekday() == 0 and last - first == timedelta(days=6)


async def test_people_by_name_on_topic_card_queue_and_alerts_escaped_P16(h: H) -> None:
    """A hostile shopper name: the topic is named by it (plain text, ≤ 128), the card and the
    queue escape it; the agent is named, never their Telegram id."""
    await h.duty(alice=False)
    await h.shopper("转人工", first_name=HOSTILE)
    [created] = h.session.requests_of("createForumTopic")
    assert created.name == f"{HOSTILE} · ⏳ 等待中"
    card = h.texts_to(GROUP)[0]
    assert card.startswith("🤖 客户档案 · &lt;b&gt;李雷&lt;/b&gt;&amp;") and "<b>" not in card
    await h.duty(alice=True)
    thread = await h.thread()
    await h.agent(ALICE, "/queue", thread)
    assert "&lt;b&gt;李雷&lt;/b&gt;&amp; — 已等 0 分钟（顾客要求人工）" in h.texts_to(GROUP)[-1]
    await h.agent(ALICE, "/take", thread)
    renamed = h.session.requests_of("editForumTopic")[-1]
    assert renamed.name == f"{HOSTILE} · 👤 Alice"
    assert "📌 Alice接手了这位顾客。" in h.texts_to(GROUP)[-1] or any(
        "📌 Alice接手了这位顾客。" in t for t in h.texts_to(GROUP))
    assert not any(str(ALICE) in t for t in h.texts_to(GROUP))
    # The complaint alert names the agent (P14), in the owner's language.
    await h.agent(ALICE, "您好，我来帮您看看", thread)
    await h.shopper("我要投诉你们客服，态度太差了", first_name=HOSTILE)
    h.session.requests.clear()
    await people_tick(h.app)
    [notice] = h.texts_to(OWNER)
    assert "接待客服：Alice。如确认是服务问题：第1次投诉：罚款30元" in notice
    assert str(ALICE) not in notice


async def test_agents_by_name_with_the_id_commands_need(h: H) -> None:
    await h.agent(ALICE, "/on")  # the console learns Alice's name from her messages
    told = await owner_says(h, "/agents")
    assert told[0].splitlines()[0] == f"Alice（{ALICE}） · 在班"


async def test_an_english_staff_member_still_gets_english(h: H) -> None:
    assert await owner_says(h, "/lang en") == ["OK, screens in English from now on."]
    help_text = (await owner_says(h, "/owner"))[0]
    assert help_text.startswith("Owner commands") and "/report last week" in help_text
    assert (await owner_says(h, "/setshift 周一 19:00-23:00"))[0].startswith(
        "Shifts updated: Mon 19:00-23:00; Tue")
    assert (await owner_says(h, "/lang 中文")) == ["好的，以后用中文显示。"]
    assert (await owner_says(h, "/owner"))[0].startswith("店主指令")
    # Alice chose nothing: the shop's language; the agents' group stays in it too.
    await h.agent(ALICE, "/queue")
    assert h.texts_to(GROUP)[-1].startswith("🤖 排队中")


def test_a_service_refusal_reads_in_the_staff_members_language() -> None:
    """Services refuse with a staff key (phrases.refused.Refused); each reader gets it in
    their own language, and any other error as it says (a file's own parse error)."""
    from phrases.refused import Refused

    refusal = Refused("notice.err_too_long", langs="zh", limit="4,096")
    assert StaffWords(CATALOGUE, "zh").why(refusal) == (
        "zh 的文字超过 Telegram 的 4,096 字上限，请删短一些")
    assert StaffWords(CATALOGUE, "en").why(refusal) == (
        "the zh text is over Telegram's 4,096 characters; shorten it")
    assert StaffWords(CATALOGUE, "zh").why(ValueError("row 3: bad")) == "row 3: bad"
    assert refusal == Refused("notice.err_too_long", langs="zh", limit="4,096")


def registered_commands(router: Router) -> set[str]:
    """Every /command a message handler of ``router`` (and its sub-routers) answers."""
    found: set[str] = set()
    for handler in router.message.handlers:
        for flt in handler.filters or ():
            if isinstance(flt.callback, Command):
                found |= {c for c in flt.callback.commands if isinstance(c, str)}
    for sub in router.sub_routers:
        found |= registered_commands(sub)
    return found


SHOPPER_COMMANDS = {"start", "help", "human", "aftersales", "return", "done", "tickets",
                    "stop_notices", "unsubscribe", "forget"}
AGENT_ONLY = {"schedule", "duty", "handover", "swap", "weekly", "leave",  # in /help of agents
              "take", "release", "transfer", "close", "customer", "queue", "on", "off", "admin"}


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_owner_help_names_every_owner_command_and_each_one_answers(
    h: H, lang: str,
) -> None:
    """/owner lists every command the owner has (P10), and each it names is answered as an
    owner command, never with the shopper's "unknown command"."""
    text = StaffWords(h.app.knowledge.catalogue, lang)("owner.help")
    named = set(re.findall(r"(?<![A-Za-z0-9_])/([a-z_]+)", text))
    owner_side = registered_commands(h.dp) - SHOPPER_COMMANDS - AGENT_ONLY - {"owner"}
    assert owner_side - named == set()  # nothing the owner can do is missing from /owner
    unknown = [p.text.split("{")[0][:8] for p in CATALOGUE.categories("zh")["explanation"]
               + CATALOGUE.categories("en")["explanation"] if "unknown_command" in p.tags]
    for command in sorted(named - {"lang", "faqimport", "catalogueimport"}):
        told = await owner_says(h, f"/{command}")
        assert not any(t.startswith(tuple(unknown)) for t in told), (command, told)


def test_a_collapsed_burst_names_media_in_the_agents_words_P2() -> None:
    """The one post a flood becomes: its head and a photo or a sticker in the group's words."""
    from bot.services.flood import digest_text
    from storage.models import Message

    burst = [Message(kind="text", text="在吗"), Message(kind="photo", text=""),
             Message(kind="sticker", text="")]
    assert digest_text(burst, StaffWords(CATALOGUE, "zh")).split("\n") == [
        "📨 顾客连续发来 3 条消息（已合并）：", "• 在吗", "• [图片]", "• [表情]"]
    assert "• [photo]" in digest_text(burst, StaffWords(CATALOGUE, "en"))
