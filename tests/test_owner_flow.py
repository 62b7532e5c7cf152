"""Dispatcher tests of the owner's controls and the staff commands (P9–P14).

Real aiogram routing with the FIFO recording session; the owner is 900, the agent 901
(tests/conftest.py), another agent 902 is added by the owner.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.jobs.people import people_tick
from bot.services import shifts as sh
from bot.settings import Settings
from handlers.owner.bulk import ImportChoice, InboxChoice
from storage.models import Conversation, ConversationState, Customer, Event, PhraseTemplate
from storage.models.audit import AuditEntry
from storage.models.orders import FollowUp, Ticket
from storage.models.shifts import HandoverRecord, ShiftSwap, SwapState
from storage.repositories import Repo
from tests.fakes.updates import message_json, message_update
from tests.owner_support import FileSession
from tests.owner_support import OwnerHarness as Harness

OWNER, AGENT, AGENT2, SHOPPER, STRANGER = 900, 901, 902, 5001, 7777
GROUP = -100500
SH = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 5, 4)
NOON = datetime(2026, 5, 4, 12, tzinfo=SH).astimezone(UTC)


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    settings = settings.model_copy(update={"agent_chat_id": GROUP})
    h = await Harness.start(settings, NOON, FileSession(), ids=itertools.count(1000))
    yield h
    await h.app.close()


async def test_non_owner_cannot_change_templates_P10(h: Harness) -> None:
    key = h.app.knowledge.catalogue.categories("zh")["farewell"][0].key
    await h.say(STRANGER, f"/settemplate {key} zh\n再见啦")
    await h.say(AGENT, f"/settemplate {key} zh\n再见啦")
    assert await h.rows(PhraseTemplate) == []
    assert h.app.knowledge.catalogue.get(key, "zh").text != "再见啦"


async def test_template_edit_previews_then_saves_and_refuses_bad_placeholders_P3_P9(
    h: Harness,
) -> None:
    key = h.app.knowledge.catalogue.categories("zh")["farewell"][0].key
    refused = await h.say(OWNER, f"/settemplate {key} zh\n再见 {{x.__class__}}")
    assert refused[0].startswith("未保存：\n第 3 个字符：{x.__class__} 里有“.”或“[]”")
    preview = await h.say(OWNER, f"/settemplate {key} zh\n{{customer_name}}，可是下次再见")
    assert "小林" in preview[0] and "可是" in preview[0]  # sample customer, tone warning
    assert h.buttons() == ["own:tpl:rewrite", "own:tpl:confirm", "own:tpl:cancel"]
    assert await h.rows(PhraseTemplate) == []  # nothing saved before the owner confirms
    await h.tap(OWNER, "own:tpl:confirm")
    [row] = await h.rows(PhraseTemplate)
    assert row.text == "{customer_name}，可是下次再见"
    assert h.app.knowledge.catalogue.get(key, "zh").text == row.text
    audit = await h.rows(AuditEntry)
    assert audit and audit[-1].actor_id == OWNER


async def test_faq_set_is_answered_at_once_without_restart_P4(h: Harness) -> None:
    reply = await h.say(OWNER, "/faqset moon_socks en\nQ: Do you sell socks for astronauts?\n"
                               "A: Yes — our moon socks, in three sizes.")
    assert reply[0].startswith("已保存问答 moon_socks（en）")
    answer = await h.say(SHOPPER, "do you sell socks for astronauts", language_code="en")
    assert any("moon socks" in text for text in answer)


async def test_faq_screens_answer_the_owner_in_chinese_P4_P9(h: Harness) -> None:
    """/faqset's refusals and tone warning, /faqshow, /faqdel and /faq in the owner's
    language (the shop's: Chinese), from the staff phrases faq*.*."""
    assert await h.say(OWNER, "/faqset 发票 zh\nQ: 可以开发票吗？") == [
        "未保存：请在“Q:”后写问题，“A:”后写回答"]
    assert (await h.say(OWNER, "/faqset 发票 xx\nQ: 可以开发票吗？\nA: 可以"))[0].startswith(
        "未保存：第一行写 [key] [语言]")
    saved = await h.say(OWNER, "/faqset 发票 zh\nQ: 可以开发票吗？\nA: 可以，可是我不能开专票")
    assert saved[0].startswith("已保存问答 发票（zh），现在起就按它回答。")
    assert "⚠ 回答里有负面用语（P9）：" in saved[0] and "建议改为：" in saved[0]  # P9
    assert await h.say(OWNER, "/faqshow 发票") == [
        "发票（zh）\n问：可以开发票吗？\n答：可以，可是我不能开专票\n其他问法：无"]
    assert "发票：可以开发票吗？" in (await h.say(OWNER, "/faq zh"))[0]
    assert await h.say(OWNER, "/faqdel 发票") == ["已删除问答 发票（zh）。发 /faqundo 可恢复。"]
    assert await h.say(OWNER, "/faqdel 发票") == ["没有这个问答：发票（/faq 列出全部）"]
    assert [unescape(t) for t in await h.say(OWNER, "/faqdel")] == [
        "用法：/faqdel <key> [语言]（key 见 /faq）"]


async def test_template_lists_answer_the_owner_in_chinese_P10(h: Harness) -> None:
    """/templates and /template in the owner's language: categories by their Chinese names,
    with the code that /templates takes beside them; the staff screens are listed too."""
    overview = (await h.say(OWNER, "/templates"))[0].split("\n")
    assert overview[0].startswith("问候：") and overview[0].endswith("条（/templates greeting）")
    assert overview[-1].startswith("员工界面文字：")
    assert (await h.say(OWNER, "/templates 不存在"))[0].startswith("没有“不存在”这个类别；可选：")
    farewell = (await h.say(OWNER, "/templates farewell"))[0].split("\n")[0]
    key = farewell.split("　")[0]
    assert (await h.say(OWNER, f"/template {key}"))[0].startswith(f"{key}（zh，告别）\n")
    assert (await h.say(OWNER, "/template no.such"))[0] == "没有这个模板：no.such（见 /templates）"


async def test_faq_import_by_document_then_export_P4(h: Harness) -> None:
    csv_text = ("id,question,answer,alt\nteapot,Is the teapot dishwasher safe?,"
                "Yes - top rack only.,can the teapot go in the dishwasher\n")
    h.session.files["faq.csv"] = csv_text.encode()
    for _ in range(2):  # read for the preview, and again when the owner confirms
        h.session.add_result("getFile", {"file_id": "d9", "file_unique_id": "d9u",
                                         "file_path": "faq.csv"})
    doc = {"document": {"file_id": "d9", "file_unique_id": "d9u", "file_name": "faq.csv"},
           "caption": "/faqimport en"}
    h.session.requests.clear()
    await h.feed(message_update(next(h.ids), OWNER, None, **doc))
    assert "新增：teapot" in h.sent()[-1]  # shown first (tests/test_bulk_changes.py)
    await h.tap(OWNER, ImportChoice(mode="merge").pack())
    assert "已导入（合并）" in h.sent()[-1]
    answer = await h.say(SHOPPER, "can the teapot go in the dishwasher", language_code="en")
    assert any("top rack" in text for text in answer)
    await h.say(OWNER, "/faqexport en csv")
    [sent] = h.session.requests_of("sendDocument")
    assert b"teapot" in sent.document.data


async def test_inbox_turns_a_question_into_a_phrasing_the_bot_then_answers_P4(
    h: Harness,
) -> None:
    question = "is there a chance my parcel floats away in rain"
    await h.say(SHOPPER, question, language_code="en")
    await h.say(OWNER, "/inbox")
    assert any(question in text for text in h.sent())
    key = next(iter(h.app.knowledge._entries["en"]))
    [convert] = [t for t in h.sent() if question in t]
    async with h.app.sessions() as db:
        from storage.models import Message
        [message] = [m for m in await db.scalars(select(Message)) if m.text == question]
    await h.tap(OWNER, f"own:inb:alt:{message.id}:{key}")
    assert "之后：按「" in h.sent()[-1]  # the result first, then the owner's button
    await h.tap(OWNER, InboxChoice(action="confirm").pack())
    assert "已生效" in h.sent()[-1]
    entry = h.app.knowledge.entry(key, "en")
    answer = await h.say(SHOPPER + 1, question, language_code="en")
    assert any(entry.answer[:20] in text for text in answer)
    assert convert


async def test_inbox_new_entry_takes_the_owners_next_message_as_answer(h: Harness) -> None:
    await h.say(SHOPPER, "do you knit scarves for giraffes", language_code="en")
    async with h.app.sessions() as db:
        from storage.models import Message
        [message] = [m for m in await db.scalars(select(Message))
                     if m.text == "do you knit scarves for giraffes"]
    await h.tap(OWNER, f"own:inb:new:{message.id}")
    reply = await h.say(OWNER, "Yes, extra long ones, made to order.")
    assert "新建问答" in reply[0]
    await h.tap(OWNER, InboxChoice(action="confirm").pack())
    answer = await h.say(SHOPPER + 2, "do you knit scarves for giraffes", language_code="en")
    assert any("extra long" in text for text in answer)


async def test_the_owners_half_done_step_lives_in_the_fsm_not_the_settings_table(
    h: Harness,
) -> None:
    """One dialogue-state store: aiogram's FSM (Redis when configured, shared by processes)."""
    from aiogram.fsm.storage.base import StorageKey

    from handlers.owner.common import TemplateDialogue
    from storage.models import ShopSetting

    key = h.app.knowledge.catalogue.categories("zh")["farewell"][0].key
    await h.say(OWNER, f"/settemplate {key} zh\n{{customer_name}}，下次再见")
    fsm = StorageKey(bot_id=h.app.bot.id, chat_id=OWNER, user_id=OWNER, destiny="template")
    assert await h.dp.fsm.storage.get_state(fsm) == TemplateDialogue.preview.state
    assert [r for r in await h.rows(ShopSetting) if r.key.startswith("pending:")] == []
    assert await h.say(OWNER, "/cancel") == ["已取消：模板预览。"]
    assert await h.dp.fsm.storage.get_state(fsm) is None
    await h.tap(OWNER, "own:tpl:save")  # the preview was cancelled: nothing to save
    assert await h.rows(PhraseTemplate) == []


async def test_old_pending_rows_are_removed_by_the_migration(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from storage.engine import create_engine
    from storage.migrate import alembic_config

    engine = create_engine(db_url)

    def upgrade(connection: Any, target: str) -> None:
        command.upgrade(alembic_config(connection), target)

    async with engine.begin() as connection:  # a database from before this migration
        await connection.run_sync(upgrade, "heads")
        await connection.execute(text(
            "DELETE FROM alembic_version WHERE version_num = '0010_owner_dialogue_fsm'"))
        await connection.execute(text("DELETE FROM shop_settings"))
        await connection.execute(text(
            "INSERT INTO shop_settings (key, value) VALUES ('pending:900', '{}'), "
            "('faq_hash', 'x')"))
    async with engine.begin() as connection:
        await connection.run_sync(upgrade, "heads")
        keys = (await connection.execute(text("SELECT key FROM shop_settings"))).scalars()
        assert sorted(keys) == ["faq_hash"]
    await engine.dispose()


async def test_owner_adds_agent_by_forward_and_sees_schedule_P10_P11(h: Harness) -> None:
    forward = {"forward_origin": {"type": "user", "date": 1_780_000_000,
                                  "sender_user": {"id": AGENT2, "is_bot": False,
                                                  "first_name": "Ava"}}}
    await h.say(OWNER, "hello from Ava", **forward)
    assert h.buttons() == [f"own:agt:add:{AGENT2}", f"own:agt:del:{AGENT2}"]
    await h.tap(OWNER, f"own:agt:add:{AGENT2}")
    agents = await h.say(OWNER, "/agents")
    assert str(AGENT2) in agents[0]
    schedule = await h.say(AGENT2, "/schedule")
    assert len(schedule[0].splitlines()) == 1 + sh.SCHEDULE_DAYS
    assert await h.say(STRANGER, "/schedule") != schedule  # strangers are shoppers


def forwarded_from(user_id: int, first_name: str, last_name: str = "") -> dict[str, Any]:
    sender = {"id": user_id, "is_bot": False, "first_name": first_name,
              **({"last_name": last_name} if last_name else {})}
    return {"forward_origin": {"type": "user", "date": 1_780_000_000, "sender_user": sender}}


async def test_an_agent_added_by_a_forwarded_message_is_listed_by_name_P10(h: Harness) -> None:
    """转发一条消息 → 加为客服: /agents shows 王芳 by name before she ever writes in the group."""
    await h.say(OWNER, "我是王芳，今晚七点上班", **forwarded_from(AGENT2, "芳", "王"))
    await h.tap(OWNER, f"own:agt:add:{AGENT2}")
    [agents] = await h.say(OWNER, "/agents")
    assert f"芳 王（{AGENT2}）" in agents


async def test_addagent_in_reply_to_a_forwarded_message_stores_the_name_P10(
    h: Harness,
) -> None:
    """/addagent as a reply to a forwarded message adds its author, by name (李雷)."""
    forwarded = message_json(OWNER, "我是李雷", **forwarded_from(AGENT2, "李雷"))
    await h.say(OWNER, "/addagent", reply_to_message=forwarded)
    [agents] = await h.say(OWNER, "/agents")
    assert f"李雷（{AGENT2}）" in agents


async def test_swap_asked_accepted_approved_in_telegram_P12(h: Harness) -> None:
    await h.say(OWNER, f"/addagent {AGENT2}")
    async with h.app.sessions() as db:
        shifts = await sh.shifts_between(Repo(db), MONDAY, MONDAY + timedelta(days=1))
    mine, theirs = shifts[0], shifts[1]
    asker, colleague = mine.agents[0], theirs.agents[0]
    await h.say(asker, f"/swap {mine.day} {colleague} {theirs.day}")
    assert h.sent(to=colleague) and h.buttons()[0].startswith("sw:acc:")
    swap_id = h.buttons()[0].rsplit(":", 1)[-1]
    await h.tap(colleague, f"sw:acc:{swap_id}")
    assert f"own:swp:ok:{swap_id}" in h.buttons()
    await h.tap(OWNER, f"own:swp:ok:{swap_id}")
    [swap] = await h.rows(ShiftSwap)
    assert swap.state == SwapState.APPROVED
    async with h.app.sessions() as db:
        after = await sh.shifts_between(Repo(db), MONDAY, MONDAY + timedelta(days=1))
    assert after[0].agents == (colleague,) and after[1].agents == (asker,)


async def test_swap_refusals_say_why_in_chinese_with_names_P12(h: Harness) -> None:
    """换班未成功：the reason in the agent's language, people by name, not ids."""
    for agent, name in ((AGENT, "李雷"), (AGENT2, "王芳")):  # named by a forwarded message
        await h.say(OWNER, f"我是{name}", **forwarded_from(agent, name))
        await h.tap(OWNER, f"own:agt:add:{agent}")
    async with h.app.sessions() as db:
        shifts = await sh.shifts_between(Repo(db), MONDAY, MONDAY + timedelta(days=1))
    mine, theirs = shifts[0], shifts[1]
    asker = mine.agents[0]
    refused = await h.say(asker, f"/swap {mine.day} {STRANGER}")
    assert refused == [f"换班未成功：{STRANGER} 不是客服"]
    await h.say(OWNER, "/set swap_limit 0")
    colleague = AGENT2 if asker != AGENT2 else theirs.agents[0]
    [limited] = await h.say(asker, f"/swap {mine.day} {colleague}")
    assert limited.startswith("换班未成功：") and "每月上限 0 次" in limited
    assert {AGENT: "李雷", AGENT2: "王芳"}[asker] in limited and str(asker) not in limited


async def test_handover_record_at_shift_end_has_real_content_P13(h: Harness) -> None:
    entry = next(iter(h.app.knowledge._entries["zh"].values()))
    assert "排班表已开启" in (await h.say(OWNER, "/shifts on"))[0]
    h.clock.at = datetime(2026, 5, 4, 19, tzinfo=SH).astimezone(UTC)  # during Monday's shift
    await h.say(SHOPPER, entry.question)
    await h.say(SHOPPER + 5, "转人工")
    schedule = await h.say(AGENT, "/schedule")
    assert schedule and schedule[0].startswith("现在在班：")
    await h.say(AGENT, "/handover 顾客5001的退款明天要跟进")
    async with h.app.sessions() as db:
        customer = (await db.scalars(select(Customer))).first()
        db.add(Ticket(customer_id=customer.id, kind="return", due_at=h.clock.at))
        db.add(FollowUp(source="delivery:1", kind="delivery", customer_id=customer.id,
                        due_at=h.clock.at + timedelta(hours=3)))
        await db.commit()
    h.clock.at = datetime(2026, 5, 5, 0, 1, tzinfo=SH).astimezone(UTC)  # just after 24:00
    h.session.requests.clear()
    await people_tick(h.app)
    [record] = await h.rows(HandoverRecord)
    assert f"faq:{entry.id}" in record.text and "退款明天要跟进" in record.text
    assert "未结的对话（1）：" in record.text and "（顾客要求人工）" in record.text  # zh shop
    # The chat was still with the evening's agent; the shift is over, so it goes back to the
    # queue, keeping its place, for the next shift to take (P13, lifecycle shift_ended).
    assert f"，客服 {AGENT}（顾客要求人工）" in record.text
    async with h.app.sessions() as db:
        [waiting] = await db.scalars(select(Conversation).where(
            Conversation.escalation_reason == "asked"))
        [released] = await db.scalars(select(Event).where(Event.kind == "released"))
    assert waiting.state == ConversationState.QUEUED and waiting.agent_id is None
    assert waiting.queued_at == datetime(2026, 5, 4, 19, tzinfo=SH).astimezone(UTC)
    assert (released.agent_id, released.data["reason"]) == (AGENT, "shift_ended")
    assert "售后单 #1 退货 — 待处理" in record.text and "待回访（1）：" in record.text
    assert any(r.text.startswith("交接记录 — ") for r in h.session.requests_of("sendMessage")
               if r.chat_id == GROUP)
    await people_tick(h.app)  # idempotent
    assert len(await h.rows(HandoverRecord)) == 1
    h.clock.at = datetime(2026, 5, 5, 18, 31, tzinfo=SH).astimezone(UTC)  # next shift starts
    h.session.requests.clear()
    await people_tick(h.app)
    shown = h.session.requests_of("sendMessage")
    assert shown and shown[0].text.startswith("上班前请先看上一班的交接：\n交接记录 — ")
    listing = await h.say(OWNER, "/handovers")
    assert f"#{record.id}" in listing[0]
    await h.say(OWNER, "/lang en")  # each reader gets the record in their own language
    [shown_en] = await h.say(OWNER, f"/handovershow {record.id}")
    assert shown_en.startswith("Handover — shift 2026-05-04") and "Still open (1):" in shown_en


async def test_strangers_messages_reach_the_shopper_flow_not_owner_handlers(h: Harness) -> None:
    sent = await h.say(STRANGER, "/inbox")
    assert all("unanswered" not in text for text in sent)


async def test_owner_settings_shift_pattern_closed_days_and_caps_are_recorded_P10_P11(
    h: Harness,
) -> None:
    assert (await h.say(OWNER, "/set swap_limit 1"))[0] == "已修改：每月换班次数上限 swap_limit = 1"
    assert "未修改" in (await h.say(OWNER, "/set swap_limit lots"))[0]
    assert "周五 20:00-02:00" in (await h.say(OWNER, "/setshift fri 20:00-02:00"))[0]
    assert "休息" in (await h.say(OWNER, f"/closed {MONDAY} 劳动节"))[0]
    schedule = await h.say(OWNER, "/schedule")
    assert "休息（劳动节）" in schedule[0] and "20:00-02:00" in schedule[0]
    if hasattr(Repo(None), "agents"):  # type: ignore[arg-type]  # the agents' console table
        assert "最多同时接待 2 位" in (await h.say(OWNER, f"/cap {AGENT} 2"))[0]
    actions = [c.action for c in await h.rows(AuditEntry)]
    assert {"setting", "shift_pattern", "closed_day"} <= set(actions)
    assert await h.say(AGENT, "/set swap_limit 9") and all(
        "swap_limit = 9" not in t for t in h.sent())  # agents are not owners


async def test_swap_over_the_monthly_limit_is_refused_in_telegram_P12(h: Harness) -> None:
    await h.say(OWNER, f"/addagent {AGENT2}")
    await h.say(OWNER, "/set swap_limit 1")
    async with h.app.sessions() as db:
        shifts = await sh.shifts_between(Repo(db), MONDAY, MONDAY + timedelta(days=5))
    first = shifts[0].agents[0]
    other = AGENT2 if first == AGENT else AGENT
    mine = [s.day for s in shifts if s.agents == (first,)]
    assert "已询问" in (await h.say(first, f"/swap {mine[0]} {other}"))[0]
    refused = await h.say(first, f"/swap {mine[1]} {other}")
    assert "换班未成功" in refused[0] and "每月上限 1 次" in refused[0]
    assert "你的上班开关：强制下班" in (await h.say(first, "/duty off"))[0]
