"""Follow-ups as the seed writes them: P19 "负责及时跟踪货品发货动向，及时与用户沟通，避免用户
不满意" (a stalled parcel is told to its shopper, once) and P17's 回访 with its three scores."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import order_import
from bot.services.orders import OrderDesk
from bot.services.reports import build_report
from bot.services.reports.text import render_text
from bot.settings import Settings
from storage.models.orders import FollowUp, TicketStatus
from storage.repositories import Repo
from tests.aftersales_support import MORNING, SHANGHAI, Harness
from tests.fakes.updates import callback_update
from tests.test_orders import ORDER, FakeReplier

SHOPPER = 5001


async def test_stalled_parcel_is_told_to_the_shopper_once_P19(
    sessions, settings: Settings,
) -> None:
    settings = settings.model_copy(update={"agent_chat_id": -100500})
    replier = FakeReplier()
    desk = OrderDesk(settings, replier)
    async with sessions() as db:
        repo = Repo(db)
        await repo.customers.upsert_seen(telegram_user_id=SHOPPER, chat_id=SHOPPER, name="林小姐",
                                         username=None, language_code="zh", now=MORNING)
        result = order_import.parse_json([{**ORDER, "telegram_user_id": SHOPPER}], SHANGHAI)
        await order_import.apply(repo, result, MORNING - timedelta(days=5))
        await repo.commit()
        assert await desk.flag_stale(repo, MORNING + timedelta(days=3)) == 1
        order = await repo.orders.by_ref("20260501001")
        assert order is not None
        await repo.orders.add_event(order, MORNING + timedelta(days=4), "上海", "派送中")
        await repo.commit()
        assert await desk.flag_stale(repo, MORNING + timedelta(days=8)) == 1  # stalled again
    to_shopper = [reply.text for chat, reply in replier.sent if chat == SHOPPER]
    assert len(to_shopper) == 1  # once, though the agents were told twice
    assert "20260501001" in to_shopper[0] and "联系快递公司核查" in to_shopper[0]
    assert [chat for chat, _ in replier.sent].count(-100500) == 2


async def test_follow_up_asks_the_three_scored_questions_and_the_report_shows_them_P17(
    settings: Settings,
) -> None:
    """"一对一的上门或电话方式进行回访，询问客户投报人对我处接报后员工的服务态度、解决时间、
    处理情况": after a resolved case the 回访 asks all three, each scored 1–5, and reports them."""
    h = await Harness.start(settings, MORNING)
    try:
        async with h.app.sessions() as db:
            repo = Repo(db)
            customer, _ = await repo.customers.upsert_seen(
                telegram_user_id=SHOPPER, chat_id=SHOPPER, name="林小姐", username=None,
                language_code="zh", now=MORNING)
            tickets = h.app.aftersales.tickets
            ticket = await tickets.open(repo, customer, "exchange", "尺码不合适", MORNING)
            await tickets.move(repo, ticket, TicketStatus.RESOLVED, "agent:901", MORNING)
            await repo.commit()
        h.clock.at = MORNING + timedelta(days=settings.follow_up_days_after_ticket, minutes=1)
        assert (await h.app.aftersales.aftercare.tick()).follow_ups_sent == 1
        row_id = h.buttons()[0].split(":")[1]
        await h.feed(callback_update(1, SHOPPER, f"fu:{row_id}:ok"))
        asked = []
        for n, (aspect, score) in enumerate((("attitude", 5), ("time", 3), ("handling", 4))):
            assert h.buttons() == [f"fq:{row_id}:{aspect}:{s}" for s in range(1, 6)]
            asked.append(h.sent(SHOPPER)[-1])
            await h.feed(callback_update(10 + n, SHOPPER, f"fq:{row_id}:{aspect}:{score}"))
        assert "服务态度" in asked[0] and "时间" in asked[1] and "处理" in asked[2]
        assert "感谢您的评分" in h.sent(SHOPPER)[-1]
        await h.feed(callback_update(20, SHOPPER, f"fq:{row_id}:attitude:1"))  # once only
        [row] = await h.rows(FollowUp)
        assert row.scores == {"attitude": 5, "time": 3, "handling": 4}
        async with h.app.sessions() as db:
            report = await build_report(db, MORNING, h.clock.at + timedelta(hours=1),
                                        "Asia/Shanghai")
        assert report.aftersales.follow_up_scores == {"attitude": 5.0, "time": 3.0,
                                                      "handling": 4.0}
        text = render_text(report, "zh")
        assert "回访评分 (n=1): 服务态度 5.0/5 · 解决时间 3.0/5 · 处理情况 4.0/5" in text
    finally:
        await h.app.close()


async def test_bot_only_conversations_are_sampled_for_satisfaction_P21(
    settings: Settings, sessions,
) -> None:
    """P21 (满意度 measured and reported per segment): the bot's own service is measured too —
    a sample of the conversations it handled alone, at most once a week per shopper — and
    reported apart from the agents'."""
    from bot.clock import FixedClock
    from bot.services.staff import set_owner_setting
    from storage.models import ConversationState
    from storage.models.orders import JobStatus, Survey
    from tests.test_aftercare import FakeReplier, services, shopper

    replier, clock = FakeReplier(), FixedClock(MORNING)
    s = services(settings, sessions, replier, clock)
    async with sessions() as db:
        repo = Repo(db)
        await set_owner_setting(repo, "bot_survey_share", "100")
        customer = await shopper(repo)
        for _ in range(2):  # two bot-only chats of one shopper in a week: asked once
            conversation = await repo.conversations.start(customer.id, "zh", MORNING)
            conversation.state, conversation.closed_at = ConversationState.CLOSED, MORNING
            await repo.commit()
    await s.aftercare.tick()
    [asked] = replier.to(SHOPPER)
    survey_id = int(asked.buttons[0][0].data.split(":")[1])
    async with sessions() as db:
        repo = Repo(db)
        rows = {r.status for r in await db.scalars(select(Survey))}
        assert rows == {JobStatus.SENT, JobStatus.SKIPPED}
        await s.aftercare.rate(repo, customer, survey_id, 4, clock.now())
        report = await build_report(db, MORNING - timedelta(hours=1),
                                    MORNING + timedelta(hours=1), "Asia/Shanghai")
    assert (report.quality.bot_survey_answers, report.quality.bot_satisfaction_avg) == (1, 4.0)
    assert "机器人独立服务满意度 4.00/5 (n=1)" in render_text(report, "zh")
    async with sessions() as db:  # with the share at 0 nobody is asked about the bot
        repo = Repo(db)
        await set_owner_setting(repo, "bot_survey_share", "0")
        other = await shopper(repo, SHOPPER + 1)
        conversation = await repo.conversations.start(other.id, "zh", MORNING)
        conversation.state, conversation.closed_at = ConversationState.CLOSED, MORNING
        await repo.commit()
    await s.aftercare.tick()
    assert replier.to(SHOPPER + 1) == []
