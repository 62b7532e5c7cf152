"""P14 as the seed writes it (§四.3(5)): "发现客户因服务原因投诉某客服，一次罚款30元，第二次翻倍，
第三次将予以开除". Dispatcher tests: a shopper complains in the real shopper flow, an agent has
(or has not) served them in the agents' topic, the minute job tells the owner, the owner's
button decides. Owner 900, agent 901 (Mei) and 902."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.jobs.people import people_tick
from bot.services.reports import build_report
from bot.services.reports.text import render_text
from bot.settings import Settings, load_settings
from handlers.owner import ComplaintAction
from phrases.complaint_cause import classify_cause
from storage.models.agents import Agent, CustomerTopic
from storage.models.shifts import Complaint, ComplaintStatus
from tests.fakes.recording_session import RecordingSession
from tests.fakes.updates import callback_update, message_update
from tests.harness import ChatHarness

OWNER, MEI, KEN = 900, 901, 902
GROUP = -100777
SH = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 5, 4, 12, tzinfo=SH).astimezone(UTC)


@dataclass
class H(ChatHarness):
    async def in_topic(self, agent: int, thread: int, text: str) -> None:
        await self.feed(message_update(
            next(self.ids), agent, text, chat_type="supergroup", chat_id=GROUP,
            first_name={MEI: "Mei", KEN: "Ken"}[agent], message_thread_id=thread,
            is_topic_message=True))

    async def tap(self, user: int, data: str) -> None:
        self.session.requests.clear()
        await self.feed(callback_update(next(self.ids), user, data))

    async def served(self, shopper: int, agent: int) -> None:
        """The shopper asks for a person and the agent (the only one on duty) answers them."""
        async with self.app.sessions() as db:
            await db.execute(update(Agent).values(on_duty=Agent.telegram_user_id == agent))
            await db.commit()
        await self.say(shopper, "转人工")
        topics = await self.rows(CustomerTopic)
        await self.in_topic(agent, int(topics[-1].thread_id), "您好，我来帮您看看")

    async def tick(self) -> list[str]:
        """The minute job; returns what the owner was told."""
        self.session.requests.clear()
        await people_tick(self.app)
        return self.sent(to=OWNER)

    def owner_buttons(self) -> list[ComplaintAction]:
        out = []
        for request in self.session.requests_of("sendMessage"):
            if request.chat_id == OWNER and request.reply_markup:
                out += [ComplaintAction.unpack(b.callback_data)
                        for row in request.reply_markup.inline_keyboard for b in row]
        return out


@pytest.fixture
async def h(db_url: str) -> AsyncIterator[H]:
    settings: Settings = load_settings({
        "DATABASE_URL": db_url, "OWNER_IDS": str(OWNER), "AGENT_IDS": f"{MEI},{KEN}",
        "AGENT_CHAT_ID": str(GROUP)})
    harness = await H.start(settings, NOON, RecordingSession(), ids=itertools.count(5000))
    yield harness
    await harness.app.close()


def test_cause_is_classified_from_the_text_P14() -> None:
    """Only "因服务原因" complaints can count against an agent: the cause is read first."""
    assert classify_cause("我要投诉，客服态度太差了") == "service"
    assert classify_cause("我要投诉快递太慢") == "courier"
    assert classify_cause("投诉，衣服质量太差，开线了") == "product"
    assert classify_cause("刚买就降价，不退差价我投诉") == "price"
    assert classify_cause("差评") == "other"
    assert classify_cause("Your agent was rude to me, I want to complain") == "service"
    assert classify_cause("I complain: the courier lost my parcel") == "courier"


async def test_three_complaining_messages_in_one_chat_are_one_complaint_P14(h: H) -> None:
    """"投诉某客服，一次…": one shopper writing 我要投诉 / 差评 / 我要投诉快递太慢 in one chat
    made three complaints before; it is one complaint, about the courier, charged to nobody."""
    await h.served(5101, MEI)
    for text in ("我要投诉", "差评", "我要投诉快递太慢"):
        await h.say(5101, text)
    told = await h.tick()
    [complaint] = await h.rows(Complaint)
    assert complaint.cause == "courier" and complaint.status == ComplaintStatus.RECORDED
    assert complaint.agent_id == MEI and complaint.step == 0
    assert "我要投诉快递太慢" in complaint.text and "差评" in complaint.text
    assert len(told) == 1 and "快递物流" in told[0] and "不计入" in told[0]
    assert "开除" not in told[0]
    await h.say(5101, "还是要投诉")  # later, still the same conversation
    assert await h.tick() == [] and len(await h.rows(Complaint)) == 1


async def test_product_complaint_to_the_bot_charges_no_agent_P14(h: H) -> None:
    """A complaint made before any agent served the shopper is recorded, charged to nobody."""
    await h.say(5102, "你好")
    await h.say(5102, "我要投诉，你们的衣服质量太差了，穿一次就破了")
    told = await h.tick()
    [complaint] = await h.rows(Complaint)
    assert (complaint.agent_id, complaint.cause, complaint.status) == (
        None, "product", ComplaintStatus.RECORDED)
    assert "客服接待之前" in told[0]
    assert [b.action for b in h.owner_buttons()] == ["unfounded"]  # nothing to charge


async def test_ladder_30_then_60_then_dismissal_after_owner_confirms_P14(h: H) -> None:
    """"一次罚款30元，第二次翻倍，第三次将予以开除": each step only after the owner confirms."""
    for n in range(3):
        shopper = 5200 + n
        await h.served(shopper, MEI)
        await h.say(shopper, "我要投诉你们客服，态度太差了")
        told = await h.tick()
        [complaint] = [c for c in await h.rows(Complaint) if c.id == max(
            c.id for c in await h.rows(Complaint))]
        assert complaint.status == ComplaintStatus.PENDING and complaint.step == 0
        assert "服务态度" in told[0] and "Mei" in told[0]
        expected = ["第1次投诉：罚款30元", "第2次投诉：罚款60元", "第3次投诉：予以开除"][n]
        assert expected in told[0]  # what confirming would do
        actions = {b.action: b for b in h.owner_buttons()}
        assert set(actions) == {"charge", "no", "unfounded"}
        await h.tap(OWNER, actions["charge"].pack())
        assert any(expected in text for text in h.sent(to=OWNER))
    complaints = await h.rows(Complaint)
    assert [(c.agent_id, c.step, c.status) for c in complaints] == [
        (MEI, 1, "charged"), (MEI, 2, "charged"), (MEI, 3, "charged")]
    summary = await h.say(OWNER, "/complaints")
    assert "Mei：3 次 — 第3次投诉：予以开除" in summary[0]  # by name, no id
    # Taking the first back moves the later ones down a step.
    await h.tap(OWNER, ComplaintAction(action="unfounded",
                                       complaint_id=complaints[0].id).pack())
    summary = await h.say(OWNER, "/complaints")
    assert "Mei：2 次 — 第2次投诉：罚款60元" in summary[0]


async def test_unconfirmed_or_declined_service_complaint_records_no_step_P14(h: H) -> None:
    await h.served(5301, KEN)
    await h.say(5301, "投诉！客服不理人，态度很差")
    await h.tick()
    [complaint] = await h.rows(Complaint)
    assert complaint.status == ComplaintStatus.PENDING and complaint.step == 0
    summary = await h.say(OWNER, "/complaints")
    assert "暂无计入客服的投诉" in summary[0] and f"#{complaint.id}" in summary[0]
    await h.tap(OWNER, ComplaintAction(action="no", complaint_id=complaint.id).pack())
    [complaint] = await h.rows(Complaint)
    assert complaint.status == ComplaintStatus.RECORDED and complaint.step == 0
    # A second tap on the (old) charge button still works as the owner's explicit decision.
    await h.tap(OWNER, ComplaintAction(action="charge", complaint_id=complaint.id).pack())
    [complaint] = await h.rows(Complaint)
    assert complaint.status == ComplaintStatus.CHARGED and complaint.step == 1


async def test_weekly_report_lists_complaints_by_cause_and_steps_per_agent_P14(h: H) -> None:
    await h.served(5401, MEI)
    await h.say(5401, "我要投诉客服态度差")
    await h.say(5402, "你好")
    await h.say(5402, "投诉快递太慢了")
    await h.tick()
    service = next(c for c in await h.rows(Complaint) if c.cause == "service")
    await h.tap(OWNER, ComplaintAction(action="charge", complaint_id=service.id).pack())
    async with h.app.sessions() as db:
        report = await build_report(db, NOON - timedelta(hours=6), NOON + timedelta(hours=6),
                                    "Asia/Shanghai", agent_ids=[MEI, KEN],
                                    agent_names={MEI: "Mei"})
    assert report.quality.complaints_by_cause == {"courier": 1, "service": 1}
    mei = report.agent(MEI)
    assert mei is not None and (mei.complaints, mei.complaint_steps) == (1, 1)
    text = render_text(report, "zh")
    assert "投诉原因: 快递物流 1 · 服务态度 1" in text
    assert "• Mei:" in text and "处罚步骤 1" in text


async def test_forget_removes_the_complaint_text_but_keeps_the_count_P14_P16(h: H) -> None:
    await h.say(5501, "你好")
    await h.say(5501, "投诉，衣服质量太差了")
    await h.tick()
    await h.say(5501, "/forget")
    await h.feed(callback_update(next(h.ids), 5501, "forget:yes"))
    [complaint] = await h.rows(Complaint)
    assert complaint.text == "" and complaint.cause == "product"  # the words go, the count stays
