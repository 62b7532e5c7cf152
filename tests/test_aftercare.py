"""Surveys (P21) and follow-ups 回访 (P17): sent once, from the database, across restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FixedClock
from bot.services.aftersales import AfterSales, build_aftersales
from bot.services.escalation import EscalationService
from bot.services.replies import Reply
from bot.settings import Settings
from storage.models import ConversationState, Customer
from storage.models.orders import FollowUp, JobStatus, TicketStatus
from storage.repositories import Repo
from tests.aftersales_support import MORNING, OWNER, SHOPPER


class FakeReplier:
    def __init__(self) -> None:
        self.sent: list[tuple[int, Reply]] = []

    async def send(self, chat_id: int, reply: Reply) -> int | None:
        self.sent.append((chat_id, reply))
        return len(self.sent)

    def to(self, chat_id: int) -> list[Reply]:
        return [reply for chat, reply in self.sent if chat == chat_id]


def services(settings: Settings, sessions: async_sessionmaker[AsyncSession],
             replier: FakeReplier, clock: FixedClock) -> AfterSales:
    return build_aftersales(settings, replier, clock, EscalationService(), sessions)


async def shopper(repo: Repo, user_id: int = SHOPPER) -> Customer:
    customer, _ = await repo.customers.upsert_seen(
        telegram_user_id=user_id, chat_id=user_id, name="小林", username=None,
        language_code="zh", now=MORNING)
    return customer


async def closed_agent_chat(sessions: async_sessionmaker[AsyncSession]) -> Customer:
    async with sessions() as db:
        repo = Repo(db)
        customer = await shopper(repo)
        conversation = await repo.conversations.start(customer.id, "zh", MORNING)
        conversation.agent_id = 901
        conversation.state = ConversationState.CLOSED
        conversation.closed_at = MORNING
        await repo.commit()
        return customer


async def test_survey_after_an_agent_chat_is_sent_once_and_rated_once_P21(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    customer = await closed_agent_chat(sessions)
    replier, clock = FakeReplier(), FixedClock(MORNING + timedelta(minutes=1))
    first = services(settings, sessions, replier, clock)
    report = await first.aftercare.tick()
    assert report.surveys_scheduled == 1 and report.surveys_sent == 1
    # A restarted process (new services, same database) sends nothing again.
    again = services(settings, sessions, replier, clock)
    assert (await again.aftercare.tick()).surveys_sent == 0
    [survey] = replier.to(SHOPPER)
    buttons = [b.data for row in survey.buttons for b in row]
    assert len(buttons) == 5 and buttons[0].endswith(":1") and buttons[-1].endswith(":5")
    survey_id = int(buttons[0].split(":")[1])
    async with sessions() as db:
        repo = Repo(db)
        notice, comment = await again.aftercare.rate(repo, customer, survey_id, 5, clock.now())
        assert comment
        second, comment_again = await again.aftercare.rate(repo, customer, survey_id, 1,
                                                           clock.now())
        assert not comment_again and second != notice
        assert await again.aftercare.comment(repo, customer, survey_id, "很耐心") != ""
        [row] = await repo.aftercare.surveys_for_customer(customer.id)
        assert row.score == 5 and row.comment == "很耐心"
    assert replier.to(OWNER) == []  # a good score alerts nobody


async def test_low_score_alerts_the_owner_and_opens_a_follow_up_task_P21(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    customer = await closed_agent_chat(sessions)
    replier, clock = FakeReplier(), FixedClock(MORNING)
    s = services(settings, sessions, replier, clock)
    await s.aftercare.tick()
    [survey] = replier.to(SHOPPER)
    survey_id = int(survey.buttons[0][0].data.split(":")[1])
    async with sessions() as db:
        repo = Repo(db)
        await s.aftercare.rate(repo, customer, survey_id, 2, clock.now())
        [task] = await repo.aftercare.follow_ups_for_customer(customer.id)
    assert task.kind == "low_score" and task.status == JobStatus.TASK
    [alert] = replier.to(OWNER)
    assert "2" in alert.text and str(task.id) in alert.text
    await s.aftercare.tick()
    assert len(replier.to(SHOPPER)) == 1  # a task is for people, never sent to the shopper


async def test_someone_else_cannot_rate_a_survey_P21(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    await closed_agent_chat(sessions)
    replier, clock = FakeReplier(), FixedClock(MORNING)
    s = services(settings, sessions, replier, clock)
    await s.aftercare.tick()
    survey_id = int(replier.to(SHOPPER)[0].buttons[0][0].data.split(":")[1])
    async with sessions() as db:
        repo = Repo(db)
        other = await shopper(repo, 7777)
        _, accepted = await s.aftercare.rate(repo, other, survey_id, 1, clock.now())
        assert not accepted
        [row] = await repo.aftercare.surveys_for_customer((await shopper(repo)).id)
        assert row.score is None


async def test_follow_up_is_claimed_once_across_two_sessions_P17(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as db:
        repo = Repo(db)
        customer = await shopper(repo)
        row = await repo.aftercare.add_follow_up(
            source="delivery:1", kind="delivery", customer_id=customer.id, due_at=MORNING)
        assert row is not None
        again = await repo.aftercare.add_follow_up(
            source="delivery:1", kind="delivery", customer_id=customer.id, due_at=MORNING)
        assert again is None  # scheduling twice keeps one row
        await repo.commit()
        row_id = row.id
    async with sessions() as one, sessions() as two:
        first = await Repo(one).aftercare.claim(FollowUp, row_id, MORNING)
        await one.commit()
        second = await Repo(two).aftercare.claim(FollowUp, row_id, MORNING)
        await two.commit()
    assert (first, second) == (True, False)


async def test_delivery_follow_up_is_sent_days_later_once_and_a_problem_opens_a_ticket_P17(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    from bot.services import order_import
    from tests.aftersales_support import SHANGHAI

    async with sessions() as db:
        repo = Repo(db)
        customer = await shopper(repo)
        result = order_import.parse_json([{"order_id": "20260501001", "status": "delivered",
                                           "telegram_user_id": SHOPPER}], SHANGHAI)
        await order_import.apply(repo, result, MORNING)
        await repo.commit()
    replier, clock = FakeReplier(), FixedClock(MORNING)
    s = services(settings, sessions, replier, clock)
    first = await s.aftercare.tick()
    assert first.orders_notified == 1 and first.follow_ups_scheduled == 1
    assert first.follow_ups_sent == 0  # not yet: N days after delivery
    clock.at = MORNING + timedelta(days=settings.follow_up_days_after_delivery, minutes=1)
    assert (await s.aftercare.tick()).follow_ups_sent == 1
    restarted = services(settings, sessions, replier, clock)
    assert (await restarted.aftercare.tick()).follow_ups_sent == 0
    message = replier.to(SHOPPER)[-1]
    assert "20260501001" in message.text
    problem = message.buttons[0][1].data
    row_id = int(problem.split(":")[1])
    async with sessions() as db:
        repo = Repo(db)
        text = await s.aftercare.follow_up_answer(repo, customer, row_id, "problem", clock.now())
        assert "#" in text
        [ticket] = await repo.tickets.for_customer(customer.id)
        assert ticket.kind == "repair" and ticket.order_id is not None
        # Pressing again records nothing more.
        await s.aftercare.follow_up_answer(repo, customer, row_id, "ok", clock.now())
        [row] = [f for f in await repo.aftercare.follow_ups_for_customer(customer.id)]
        assert row.outcome == "problem"


async def test_resolved_ticket_gets_a_follow_up_and_not_solved_reopens_it_P17_P18(
    settings: Settings, sessions: async_sessionmaker[AsyncSession],
) -> None:
    replier, clock = FakeReplier(), FixedClock(MORNING)
    s = services(settings, sessions, replier, clock)
    async with sessions() as db:
        repo = Repo(db)
        customer = await shopper(repo)
        ticket = await s.tickets.open(repo, customer, "exchange", "尺码不合适", MORNING)
        await s.tickets.move(repo, ticket, TicketStatus.RESOLVED, "agent:901", MORNING)
        await repo.commit()
    clock.at = MORNING + timedelta(days=settings.follow_up_days_after_ticket, minutes=1)
    assert (await s.aftercare.tick()).follow_ups_sent == 1
    row_id = int(replier.to(SHOPPER)[-1].buttons[0][1].data.split(":")[1])
    async with sessions() as db:
        repo = Repo(db)
        await s.aftercare.follow_up_answer(repo, customer, row_id, "problem", clock.now())
        reopened = await repo.tickets.get(ticket.id)
        assert reopened is not None and reopened.status == TicketStatus.REOPENED


@pytest.mark.parametrize("score", [0, 6])
async def test_scores_outside_one_to_five_are_refused_P21(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], score: int,
) -> None:
    customer = await closed_agent_chat(sessions)
    replier, clock = FakeReplier(), FixedClock(MORNING)
    s = services(settings, sessions, replier, clock)
    await s.aftercare.tick()
    survey_id = int(replier.to(SHOPPER)[0].buttons[0][0].data.split(":")[1])
    async with sessions() as db:
        _, accepted = await s.aftercare.rate(Repo(db), customer, survey_id, score, clock.now())
    assert not accepted


async def test_survey_buttons_and_comment_in_telegram_P21(settings: Settings) -> None:
    from storage.models.orders import Survey
    from tests.aftersales_support import Harness
    from tests.fakes.updates import callback_update, message_update

    h = await Harness.start(settings, MORNING)
    app = h.app
    try:
        await closed_agent_chat(app.sessions)
        await app.aftersales.aftercare.tick()
        assert h.buttons() == [f"sv:1:{score}" for score in range(1, 6)]
        await h.feed(callback_update(1, SHOPPER, "sv:1:4"))
        assert h.buttons() == ["svskip:1"]  # an optional comment may follow
        await h.feed(message_update(2, SHOPPER, "回复很快，谢谢"))
        await h.feed(callback_update(3, SHOPPER, "sv:1:1"))  # a second rating is ignored
        [survey] = await h.rows(Survey)
        assert (survey.score, survey.comment) == (4, "回复很快，谢谢")
        assert h.sent(OWNER) == []
    finally:
        await app.close()


async def test_owner_rewords_the_survey_and_its_buttons_in_chinese_P21(
    settings: Settings,
) -> None:
    """The survey, its thanks and the skip button are phrase data the owner edits by key."""
    from tests.aftersales_support import Harness
    from tests.fakes.updates import callback_update, message_update

    h = await Harness.start(settings, MORNING)
    try:
        for n, (key, text) in enumerate((
                ("inquiry.survey", "亲，这次聊得满意吗？给个分吧（1–5）："),
                ("thanks.survey_rated", "收到您的评分啦，谢谢！想说点什么也可以直接回复～"),
                ("acknowledgement.survey_skip", "不写了"))):
            await h.feed(message_update(100 + n, OWNER, f"/settemplate {key} zh\n{text}"))
            await h.feed(callback_update(200 + n, OWNER, "own:tpl:confirm"))
        h.take_sent()
        await closed_agent_chat(h.app.sessions)
        await h.app.aftersales.aftercare.tick()
        assert h.sent(SHOPPER) == ["亲，这次聊得满意吗？给个分吧（1–5）："]
        await h.feed(callback_update(1, SHOPPER, "sv:1:5"))
        assert h.sent(SHOPPER)[-1] == "收到您的评分啦，谢谢！想说点什么也可以直接回复～"
        last = h.session.requests_of("sendMessage")[-1]
        assert [b.text for row in last.reply_markup.inline_keyboard for b in row] == ["不写了"]
    finally:
        await h.app.close()
