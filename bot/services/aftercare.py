"""Satisfaction surveys (P21) and follow-ups 回访 (P17), scheduled from the database.

``tick()`` runs every few seconds (APScheduler interval job, or a plain loop): it writes the rows
that became due (a survey for each agent-handled conversation that closed, a 回访 for each
delivered order), then sends due rows after claiming each one with compare-and-set and committing
the claim — so a restart loses nothing and two workers never send the same row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services import callbacks
from bot.services.orders import OrderDesk
from bot.services.replies import Button, Replier, Reply
from bot.services.staff import owner_setting, words_for
from bot.services.tickets import TicketService
from bot.settings import Settings
from phrases.staff import StaffWords
from storage.models import Customer
from storage.models.orders import FollowUp, JobStatus, Survey, TicketKind, TicketStatus
from storage.repositories import Repo

log = logging.getLogger(__name__)
SURVEY_LOOKBACK = timedelta(days=7)  # closed conversations older than this get no survey
BOT_SURVEY_EVERY = timedelta(days=7)  # P21: a shopper is asked about the bot at most weekly
LOW_SCORE = 2
# P17: the year-end report's 回访 asks "服务态度、解决时间、处理情况", each scored 1–5.
FOLLOW_UP_ASPECTS = ("attitude", "time", "handling")

# What the shopper reads: owner-editable phrases (phrases/data/phrases.*.yaml), by key.
SURVEY_KEY = "inquiry.survey"
SURVEY_RATED_KEY, SURVEY_DONE_KEY = "thanks.survey_rated", "thanks.survey_done"
SURVEY_COMMENT_KEY, SURVEY_SKIP_KEY = "thanks.survey_comment", "acknowledgement.survey_skip"
FOLLOW_UP_KEYS = {"delivery": "inquiry.follow_up_delivery", "ticket": "inquiry.follow_up_ticket"}
FOLLOW_UP_BUTTONS = {"ok": "acknowledgement.follow_up_ok_button",
                     "problem": "acknowledgement.follow_up_problem_button"}
FOLLOW_UP_OK_KEY, FOLLOW_UP_PROBLEM_KEY = "thanks.follow_up_ok", "apology.follow_up_problem"
FOLLOW_UP_SCORED_KEY = "thanks.follow_up_scored"


@dataclass
class TickReport:
    surveys_scheduled: int = 0
    surveys_sent: int = 0
    follow_ups_scheduled: int = 0
    follow_ups_sent: int = 0
    orders_notified: int = 0
    shipments_flagged: int = 0
    complaints_tracked: int = 0


class Aftercare:
    """Surveys and follow-ups: scheduling, sending (once) and the shopper's answers."""

    def __init__(
        self, settings: Settings, replier: Replier, clock: Clock, desk: OrderDesk,
        tickets: TicketService, sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.replier = replier
        self.clock = clock
        self.desk = desk
        self.tickets = tickets

    def _say(self, key: str, lang: str, /, **values: object) -> str:
        """The owner's phrase ``key`` (else the built-in one) in ``lang``."""
        return self.desk.wording.catalogue.text(key, lang, **values)

    # ------------------------------------------------------------ the periodic job
    async def tick(self) -> TickReport:
        now = self.clock.now()
        report = TickReport()
        async with self.sessions() as db:
            repo = Repo(db)
            report.surveys_scheduled = await self.schedule_surveys(repo, now)
            report.follow_ups_scheduled = await self.schedule_delivery_follow_ups(repo, now)
            report.complaints_tracked = await self.tickets.track_complaints(repo, now)
            await repo.commit()
            report.orders_notified = await self.desk.notify_due(repo, now)
            report.shipments_flagged = await self.desk.flag_stale(repo, now)
            report.surveys_sent = await self.send_due_surveys(repo, now)
            report.follow_ups_sent = await self.send_due_follow_ups(repo, now)
        return report

    # ------------------------------------------------------------ surveys (P21)
    async def schedule_surveys(self, repo: Repo, now: datetime) -> int:
        count = 0
        for conversation in await repo.aftercare.closed_without_survey(now - SURVEY_LOOKBACK):
            added = await repo.aftercare.add_survey(
                conversation_id=conversation.id, customer_id=conversation.customer_id,
                agent_id=conversation.agent_id, language=conversation.language, due_at=now,
            )
            count += added is not None
        return count + await self.schedule_bot_surveys(repo, now)

    async def schedule_bot_surveys(self, repo: Repo, now: datetime) -> int:
        """P21: the bot's own service is measured too — a sample of the conversations it
        handled alone (owner setting ``bot_survey_share``, percent), at most once a week per
        shopper. Conversations left out get a ``skipped`` row, so each is decided once."""
        share = int(await owner_setting(repo, "bot_survey_share") or 0)
        count = 0
        for conversation in await repo.aftercare.closed_bot_only_without_survey(
                now - SURVEY_LOOKBACK):
            drawn = (conversation.id * 2654435761) % 100 < share  # spread evenly over ids
            if drawn and await repo.aftercare.bot_surveys_since(
                    conversation.customer_id, now - BOT_SURVEY_EVERY):
                drawn = False
            added = await repo.aftercare.add_survey(
                conversation_id=conversation.id, customer_id=conversation.customer_id,
                agent_id=None, language=conversation.language, due_at=now,
                status=JobStatus.DUE if drawn else JobStatus.SKIPPED,
            )
            count += added is not None and drawn
        return count

    async def send_due_surveys(self, repo: Repo, now: datetime) -> int:
        sent = 0
        for survey in await repo.aftercare.due(Survey, now):
            if not await repo.aftercare.claim(Survey, survey.id, now):
                continue  # another worker has it
            await repo.commit()
            customer = await repo.customers.get(survey.customer_id)
            if customer is None or customer.blocked_at is not None:
                await repo.aftercare.mark(survey, JobStatus.FAILED, now)
                await repo.commit()
                continue
            text = self._say(SURVEY_KEY, survey.language)
            row = tuple(Button(str(score), callbacks.survey_score(survey.id, score))
                        for score in range(1, 6))
            delivered = await self.replier.send(customer.chat_id, Reply(text, (row,)))
            status = JobStatus.SENT if delivered is not None else JobStatus.FAILED
            await repo.aftercare.mark(survey, status, now)
            await repo.commit()
            sent += delivered is not None
        return sent

    async def rate(
        self, repo: Repo, customer: Customer, survey_id: int, score: int, now: datetime,
    ) -> tuple[str, bool]:
        """A score button: recorded once; returns (notice, whether a comment may follow)."""
        survey = await repo.aftercare.survey(survey_id)
        lang = survey.language if survey else "zh"
        if survey is None or survey.customer_id != customer.id or not 1 <= score <= 5:
            return self._say(SURVEY_DONE_KEY, lang), False
        if not await repo.aftercare.answer_survey(survey_id, score, now):
            return self._say(SURVEY_DONE_KEY, lang), False
        await repo.events.add("survey_answered", conversation_id=survey.conversation_id,
                              agent_id=survey.agent_id, score=score)
        task = None
        if score <= LOW_SCORE:
            task = await repo.aftercare.add_follow_up(
                source=f"survey:{survey.id}", kind="low_score", customer_id=customer.id,
                status=JobStatus.TASK, due_at=now, note=f"score {score}",
            )
        await repo.commit()
        if task is not None:
            for owner in self.settings.owner_ids:  # P21: a low score alerts the owner
                w = await words_for(repo, self.desk.wording.catalogue, self.settings, owner)
                handle = (f"@{customer.username}" if customer.username
                          else f"id {customer.telegram_user_id}")
                alert = w("alert.low_score", customer=customer.name or w("shopper"),
                          handle=handle, score=score, task=task.id)
                await self.replier.send(owner, Reply(alert))
        return self._say(SURVEY_RATED_KEY, lang), True

    async def comment(self, repo: Repo, customer: Customer, survey_id: int, text: str) -> str:
        survey = await repo.aftercare.survey(survey_id)
        if survey is None or survey.customer_id != customer.id or survey.comment:
            return ""
        survey.comment = text[:2000]
        await repo.commit()
        return self._say(SURVEY_COMMENT_KEY, survey.language)

    def skip_button(self, survey_lang: str, survey_id: int) -> Button:
        return Button(self._say(SURVEY_SKIP_KEY, survey_lang), callbacks.survey_skip(survey_id))

    # ------------------------------------------------------------ follow-ups (P17)
    async def schedule_delivery_follow_ups(self, repo: Repo, now: datetime) -> int:
        count = 0
        days = timedelta(days=self.settings.follow_up_days_after_delivery)
        for order in await repo.aftercare.delivered_without_follow_up():
            customer = await repo.customers.by_telegram_id(order.telegram_user_id or 0)
            if customer is None:
                continue
            added = await repo.aftercare.add_follow_up(
                source=f"delivery:{order.id}", kind="delivery", customer_id=customer.id,
                order_id=order.id, due_at=(order.delivered_at or now) + days,
            )
            count += added is not None
        return count

    async def send_due_follow_ups(self, repo: Repo, now: datetime) -> int:
        sent = 0
        for row in await repo.aftercare.due(FollowUp, now):
            if not await repo.aftercare.claim(FollowUp, row.id, now):
                continue
            await repo.commit()
            customer = await repo.customers.get(row.customer_id)
            if customer is None or customer.blocked_at is not None:
                await repo.aftercare.mark(row, JobStatus.FAILED, now)
                await repo.commit()
                continue
            lang = await self.desk.language_of(repo, customer)
            if row.kind == "ticket":
                text = self._say(FOLLOW_UP_KEYS["ticket"], lang, ticket_id=row.ticket_id)
            else:
                order = await repo.orders.get(row.order_id) if row.order_id else None
                text = self._say(FOLLOW_UP_KEYS["delivery"], lang,
                                 order_id=order.order_ref if order else "")
            buttons = (tuple(Button(self._say(key, lang), callbacks.follow_up(row.id, outcome))
                             for outcome, key in FOLLOW_UP_BUTTONS.items()),)
            delivered = await self.replier.send(customer.chat_id, Reply(text, buttons))
            await repo.aftercare.mark(row, JobStatus.SENT if delivered else JobStatus.FAILED, now)
            await repo.commit()
            sent += delivered is not None
        return sent

    def score_question(self, row: FollowUp, lang: str) -> Reply | None:
        """P17 "询问…服务态度、解决时间、处理情况": the next unscored question of a ticket's
        回访 (1–5 buttons), or None when all three are scored (or it is not a ticket's)."""
        if row.kind != "ticket":
            return None
        aspect = next((a for a in FOLLOW_UP_ASPECTS if a not in (row.scores or {})), None)
        if aspect is None:
            return None
        buttons = (tuple(Button(str(n), callbacks.follow_up_score(row.id, aspect, n))
                         for n in range(1, 6)),)
        return Reply(self._say(f"inquiry.follow_up_{aspect}", lang), buttons)

    async def score_follow_up(
        self, repo: Repo, customer: Customer, row_id: int, aspect: str, score: int,
    ) -> list[Reply]:
        """One 回访 score, recorded once per question; then the next question or thanks."""
        row = await repo.aftercare.follow_up(row_id)
        lang = await self.desk.language_of(repo, customer)
        if (row is None or row.customer_id != customer.id or aspect not in FOLLOW_UP_ASPECTS
                or not 1 <= score <= 5 or aspect in (row.scores or {})):
            return []
        row.scores = {**(row.scores or {}), aspect: score}
        await repo.events.add("follow_up_scored", follow_up=row.id, aspect=aspect, score=score,
                              at=self.clock.now())
        await repo.commit()
        following = self.score_question(row, lang)
        return [following] if following else [Reply(self._say(FOLLOW_UP_SCORED_KEY, lang))]

    async def follow_up_answer(
        self, repo: Repo, customer: Customer, row_id: int, outcome: str, now: datetime,
    ) -> str:
        """A 回访 button: outcome recorded once; "problem" re-opens the ticket or opens one."""
        lang = await self.desk.language_of(repo, customer)
        row = await repo.aftercare.follow_up(row_id)
        if row is None or row.customer_id != customer.id or outcome not in ("ok", "problem"):
            return ""
        if not await repo.aftercare.answer_follow_up(row_id, outcome, now):
            return self._say(FOLLOW_UP_OK_KEY, lang) if outcome == "ok" else ""
        await repo.events.add("follow_up_answered", follow_up=row.kind, outcome=outcome)
        if outcome == "ok":
            await repo.commit()
            return self._say(FOLLOW_UP_OK_KEY, lang)
        ticket = await repo.tickets.get(row.ticket_id) if row.ticket_id else None
        # Stored with the ticket and read by staff: in the shop's language (staff phrases).
        w = StaffWords(self.desk.wording.catalogue, self.settings.default_language)
        if ticket is not None and ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            await self.tickets.move(repo, ticket, TicketStatus.REOPENED, "shopper", now,
                                    w("ticket.follow_up_unsolved"))
        else:
            order = await repo.orders.get(row.order_id) if row.order_id else None
            ticket = await self.tickets.open(
                repo, customer, TicketKind.REPAIR, w("ticket.follow_up_problem"), now,
                order_ref=order.order_ref if order else None)
        row.note = f"ticket #{ticket.id}"
        await repo.commit()
        return self._say(FOLLOW_UP_PROBLEM_KEY, lang, ticket_id=ticket.id)
