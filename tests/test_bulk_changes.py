"""Safe bulk changes, in Chinese (P4, P9, P10, P22): an FAQ import is previewed, merged or
replaced only on the owner's button and undone with /faqundo; an inbox action shows which
answers it moves before it is made and can be undone; a notice written the natural way asks
for its audience, shows the recipients per language, passes the tone guard and waits for
confirmation; /changes lists all of it with who and when.

Dispatcher tests: real aiogram routing, the FIFO recording session; the owner is 900.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from bot.settings import Settings
from handlers.aftersales import NoticeAction, NoticeAudience
from handlers.keyboards import OwnerTemplate
from handlers.owner.bulk import ImportChoice, InboxChoice
from storage.models.audit import AuditEntry
from storage.models.orders import NoticeDelivery
from tests.owner_support import FileSession
from tests.owner_support import OwnerHarness as Harness

OWNER, SHOPPER, SHOPPER_EN, OPTED_OUT = 900, 5101, 5102, 5103
NOON = datetime(2026, 12, 3, 12, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
COURIERS = "你们用的是什么快递？"  # the demo FAQ's entry "couriers"
OWN_ENTRY = "gift_card zh\nQ: 有礼品卡吗？\nA: 有的，礼品卡面值100元起，可以在店铺首页购买。"
UPLOAD = ("id,question,answer,alt\n"
          "shipping_time,下单以后什么时候发货？,亲，付款后48小时内发货～,拍完多久能寄出？\n"
          "antarctica,可以寄到南极科考站吗？,南极科考站我们暂时寄不到，抱歉～,\n")


@pytest.fixture
async def h(settings: Settings) -> AsyncIterator[Harness]:
    h = await Harness.start(settings, NOON, FileSession(), ids=itertools.count(1000),
                            to_sender_only=True)
    yield h
    await h.app.close()


def couriers_answer(h: Harness) -> str:
    return h.app.knowledge.entry("couriers", "zh").answer


async def test_notice_written_naturally_asks_the_audience_then_previews_and_waits_P9_P22(
    h: Harness,
) -> None:
    await h.say(SHOPPER, "你好")
    await h.say(SHOPPER_EN, "hello", language_code="en")
    await h.say(OPTED_OUT, "你好")
    await h.say(OPTED_OUT, "/stop_notices")
    asked = await h.say(OWNER, "/notice 双十二全场满199减30，欢迎选购")
    assert "发给谁" in asked[-1] and "双十二全场满199减30" in asked[-1]
    assert NoticeAudience(segment="all").pack() in h.buttons()
    assert await h.rows(NoticeDelivery) == []

    preview = (await h.tap(OWNER, NoticeAudience(segment="all").pack()))[-1]
    assert "共 2 人" in preview  # the opted-out shopper is not counted
    assert "【中文】1 人" in preview and "【英文】1 人" in preview
    assert h.buttons() == [NoticeAction(action="send").pack(), NoticeAction(action="cancel").pack()]
    assert await h.rows(NoticeDelivery) == []  # waits for the owner's confirmation
    await h.tap(OWNER, NoticeAction(action="send").pack())
    [task] = [t for t in asyncio.all_tasks()
              if getattr(t.get_coro(), "__qualname__", "") == "NoticeService.send"]
    await task
    assert "双十二全场满199减30，欢迎选购" in h.sent(SHOPPER)
    assert not [t for t in h.sent(OPTED_OUT) if "双十二" in t]
    assert len(await h.rows(NoticeDelivery)) == 2


async def test_notice_with_negative_words_needs_the_owners_confirmation_P9_P22(
    h: Harness,
) -> None:
    await h.say(SHOPPER, "你好")
    preview = (await h.say(OWNER, "/notice 全部顾客 双十二特价商品不退不换，没办法"))[-1]
    assert "负面用语" in preview and "没办法" in preview and "建议改为" in preview
    await h.tap(OWNER, NoticeAction(action="send").pack())
    assert await h.rows(NoticeDelivery) == [] and "负面用语" in h.answered()[-1]
    await h.tap(OWNER, NoticeAction(action="confirm").pack())
    [task] = [t for t in asyncio.all_tasks()
              if getattr(t.get_coro(), "__qualname__", "") == "NoticeService.send"]
    await task
    [notice] = [c for c in await h.rows(AuditEntry) if c.action == "notice"]
    assert notice.actor_id == OWNER and notice.details["tone_confirmed"] == ["没办法"]


async def test_import_preview_merge_keeps_other_entries_and_undo_restores_P4_P10(
    h: Harness,
) -> None:
    await h.say(OWNER, f"/faqset {OWN_ENTRY}")
    before = await h.faq()
    preview = await h.upload("faq.csv", UPLOAD, "/faqimport zh")
    text = preview[-1]
    assert "faq.csv" in text and "新增 1 条，修改 1 条" in text  # merge: what it adds, changes
    assert "antarctica" in text and "shipping_time" in text
    assert f"删除 {len(before) - 1} 条" in text  # what replace would remove, said up front
    assert h.buttons() == [ImportChoice(mode="merge").pack(), ImportChoice(mode="replace").pack(),
                           ImportChoice(mode="cancel").pack()]
    assert await h.faq() == before  # nothing changed before the owner chooses

    done = await h.tap(OWNER, ImportChoice(mode="merge").pack())
    assert "已导入（合并）" in done[-1] and "/faqundo" in done[-1]
    after = {key: answer for key, _, answer, _, _ in await h.faq()}
    assert len(after) == len(before) + 1 and after["shipping_time"] == "亲，付款后48小时内发货～"
    assert after["gift_card"].startswith("有的，礼品卡")  # the owner's own entry survives
    assert any(couriers_answer(h)[:15] in t for t in await h.say(SHOPPER, COURIERS))

    undone = await h.say(OWNER, "/faqundo")
    assert "已撤销" in undone[-1]
    assert await h.faq() == before  # exactly as before: questions, answers, phrasings, order


async def test_import_replace_only_on_the_button_and_undo_brings_everything_back_P4_P10(
    h: Harness,
) -> None:
    await h.say(OWNER, f"/faqset {OWN_ENTRY}")
    before = await h.faq()
    await h.upload("faq.csv", UPLOAD, "/faqimport zh")
    cancelled = await h.tap(OWNER, ImportChoice(mode="cancel").pack())
    assert await h.faq() == before and not cancelled and "已取消" in h.answered()[-1]
    assert "已经处理过" in (await h.tap(OWNER, ImportChoice(mode="replace").pack()) or
                          h.answered())[-1]  # a stale button changes nothing
    assert await h.faq() == before

    await h.upload("faq.csv", UPLOAD, "/faqimport zh")
    done = await h.tap(OWNER, ImportChoice(mode="replace").pack())
    assert "已导入（替换）" in done[-1] and f"删除 {len(before) - 1}" in done[-1]
    assert [key for key, *_ in await h.faq()] == ["shipping_time", "antarctica"]
    assert not any(couriers_answer(h)[:15] in t for t in await h.say(SHOPPER, COURIERS))

    await h.say(OWNER, "/faqundo")
    assert await h.faq() == before  # the owner's gift_card too
    assert any(couriers_answer(h)[:15] in t for t in await h.say(SHOPPER + 10, COURIERS))
    assert "没有可以撤销" not in (await h.say(OWNER, "/faqundo"))[-1]  # then the /faqset
    assert "gift_card" not in [key for key, *_ in await h.faq()]


async def test_inbox_phrasing_is_previewed_with_the_answers_it_moves_then_undone_P4(
    h: Harness,
) -> None:
    await h.say(SHOPPER, "可以寄到南极吗")
    await h.say(SHOPPER + 1, "能寄到南极吗？急")
    question = await h.message_id("可以寄到南极吗")
    before = await h.faq()
    preview = (await h.say(OWNER, f"/alt {question} exchange"))[-1]
    assert "可以寄到南极吗" in preview and "exchange" in preview
    assert "现在：没有直接回答" in preview and "之后：按「exchange」回答" in preview
    assert "能寄到南极吗？急" in preview  # a similar known question would change answer
    assert await h.faq() == before  # nothing changed yet

    done = await h.tap(OWNER, InboxChoice(action="confirm").pack())
    assert "已生效" in done[-1]
    alts = {key: alt for key, _, _, alt, _ in await h.faq()}
    assert "可以寄到南极吗" in alts["exchange"]
    assert not [t for t in await h.say(OWNER, "/inbox") if "可以寄到南极吗" in t]  # dealt with

    undone = await h.say(OWNER, "/faqundo")
    assert "已撤销" in undone[-1] and "回到了 /inbox" in undone[-1]
    assert await h.faq() == before
    assert [t for t in await h.say(OWNER, "/inbox") if "可以寄到南极吗" in t]  # back again


def button_labels(h: Harness) -> list[str]:
    """The labels of the last message's inline buttons (what the owner reads)."""
    markup = h.session.requests_of("sendMessage")[-1].reply_markup
    return [b.text for row in markup.inline_keyboard for b in row] if markup else []


async def test_the_inbox_screen_and_its_buttons_are_in_chinese_P4(h: Harness) -> None:
    """/inbox lists the groups with their questions; its buttons, /alt's usage and Dismiss
    answer in the owner's language (staff phrases inbox.*), not in English."""
    await h.say(SHOPPER, "可以寄到南极吗")
    screen = await h.say(OWNER, "/inbox")
    assert screen[0] == "最近 30 天有 1 组未回答的问题："
    question = await h.message_id("可以寄到南极吗")
    assert screen[1] == f"#{question} ×1（zh）可以寄到南极吗"
    labels = button_labels(h)
    assert labels[-2:] == ["新建问答", "忽略"]
    assert all(label.startswith("+ 作为「") for label in labels[:-2]), labels
    assert [unescape(t) for t in await h.say(OWNER, "/alt 南极")] == [
        "用法：/alt <问题编号> <问答 key>（编号见 /inbox；先预览，确认后生效）"]
    assert (await h.say(OWNER, f"/alt {question} no_such_entry"))[-1] == (
        "没有修改：找不到问答 no_such_entry")
    assert await h.tap(OWNER, f"own:inb:dis:{question}") == ["已忽略这个问题和与它相似的问题。"]
    assert await h.say(OWNER, "/inbox") == ["没有未回答的问题。"]


async def test_inbox_new_entry_quotes_the_question_and_waits_for_confirmation_P4(
    h: Harness,
) -> None:
    await h.say(SHOPPER, "你们的毛巾可以定制刺绣名字吗")
    question = await h.message_id("你们的毛巾可以定制刺绣名字吗")
    asked = await h.tap(OWNER, f"own:inb:new:{question}")
    assert "你们的毛巾可以定制刺绣名字吗" in asked[-1]  # the question it asks the answer for
    preview = (await h.say(OWNER, "可以的，每条毛巾加10元，最多4个字。"))[-1]
    assert "新建问答" in preview and "之后：按「inbox_" in preview
    assert not [k for k, *_ in await h.faq() if k.startswith("inbox_")]
    await h.tap(OWNER, InboxChoice(action="confirm").pack())
    answer = await h.say(SHOPPER + 3, "你们的毛巾可以定制刺绣名字吗")
    assert any("每条毛巾加10元" in t for t in answer)
    await h.say(OWNER, "/faqundo")
    assert not [k for k, *_ in await h.faq() if k.startswith("inbox_")]


async def test_changes_lists_every_change_with_who_and_when_P10(h: Harness) -> None:
    await h.say(OWNER, f"/faqset {OWN_ENTRY}")
    await h.upload("faq.csv", UPLOAD, "/faqimport zh")
    await h.tap(OWNER, ImportChoice(mode="merge").pack())
    await h.say(SHOPPER, "你好")
    await h.say(OWNER, "/notice 全部顾客 双十二全场满199减30")
    await h.tap(OWNER, NoticeAction(action="send").pack())
    await h.say(OWNER, "/faqundo")
    await h.say(OWNER, "/toneadd 找快递去 = 这边马上帮您联系快递")
    listing = "\n".join(await h.say(OWNER, "/changes"))
    lines = listing.splitlines()
    assert lines[0].startswith("最近的修改")
    assert "负面用语：加入「找快递去」" in lines[1]  # newest first
    assert "撤销" in lines[2] and "导入常见问题 faq.csv" in lines[2]
    assert "发送通知（全部顾客，1 人）" in listing
    assert "导入常见问题 faq.csv（zh，合并）：新增 1，修改 1，删除 0（已撤销）" in listing
    assert "保存问答 gift_card（zh）" in listing
    assert all(re.match(r"\d\d-\d\d \d\d:\d\d · 小林 · ", line) for line in lines[1:])
    for task in [t for t in asyncio.all_tasks()
                 if getattr(t.get_coro(), "__qualname__", "") == "NoticeService.send"]:
        await task


async def test_faqset_takes_a_chinese_key_or_makes_one_from_the_question_P4(
    h: Harness,
) -> None:
    """/faqset 发货时间 … keeps the Chinese key; /faqset with only Q:/A: gets a key made from
    the question (pinyin, ASCII); both answer shoppers at once."""
    await h.say(OWNER, "/faqset 发货时间\nQ: 双十二的订单什么时候发货？\n"
                       "A: 双十二的订单48小时内发出～")
    assert ("发货时间", "双十二的订单什么时候发货？") in [(k, q) for k, q, *_ in await h.faq()]
    saved = await h.say(OWNER, "/faqset\nQ: 有没有礼品卡卖？\nA: 有的，礼品卡面值100元起。")
    assert "you_mei_you_li" in saved[-1]
    assert ("you_mei_you_li", "有没有礼品卡卖？") in [(k, q) for k, q, *_ in await h.faq()]
    again = await h.say(OWNER, "/faqset zh\nQ: 有没有礼品卡？\nA: 有的。")
    assert "you_mei_you_li_2" in again[-1]  # the first key is taken: not overwritten
    answer = await h.say(SHOPPER, "双十二的订单什么时候发货？")
    assert any("48小时内发出" in text for text in answer)


async def test_a_notice_draft_a_template_preview_and_an_import_wait_side_by_side_P22(
    h: Harness,
) -> None:
    """群发通知草稿、模板预览、常见问题导入各有各的对话状态 (aiogram FSM, one namespace per
    flow): starting one never drops another's draft; /cancel names what it drops."""
    await h.say(SHOPPER, "你好")
    await h.say(OWNER, "/notice 双十二全场满199减30，欢迎选购")  # waits for its audience
    key = h.app.knowledge.catalogue.categories("zh")["farewell"][0].key
    await h.say(OWNER, f"/settemplate {key} zh\n再见，欢迎下次光临～")  # a preview waits too
    await h.upload("faq.csv", UPLOAD, "/faqimport zh")  # and an import preview
    preview = (await h.tap(OWNER, NoticeAudience(segment="all").pack()))[-1]
    assert "共 1 人" in preview  # the notice draft outlived both
    await h.tap(OWNER, OwnerTemplate(action="save").pack())
    assert h.app.knowledge.catalogue.get(key, "zh").text == "再见，欢迎下次光临～"
    done = await h.tap(OWNER, ImportChoice(mode="merge").pack())
    assert "已导入" in done[-1]
    assert await h.say(OWNER, "/cancel") == ["已取消：群发通知草稿。"]
    await h.tap(OWNER, NoticeAction(action="send").pack())
    assert await h.rows(NoticeDelivery) == []  # the cancelled draft is gone


async def test_a_bad_faq_file_is_refused_in_chinese_naming_the_entry_P4(h: Harness) -> None:
    """A blank answer cell: nothing imported, and the owner reads which entry, in Chinese."""
    before = await h.faq()
    told = await h.upload("faq.csv", "id,question,answer\n发货时间,什么时候发货？,48小时内\n"
                                     "开发票,可以开发票吗？,\n", "/faqimport zh")
    assert told == ["没有导入，常见问题保持原样：第 2 条（开发票）：“answer”是空的"]
    assert await h.faq() == before
    told = await h.upload("faq.csv", "id,question\n发货时间,什么时候发货？\n", "/faqimport zh")
    assert told[0].startswith("没有导入，常见问题保持原样：CSV 缺少这些列：answer")
