"""The report as plain dataclasses: what P15/P23 ask the department to show, per period.

Convention: a count of ``None`` means the source is *not recorded yet* (its table or event
kind does not exist in this shop); a rate of ``None`` means there was nothing to divide by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.services.rates import HANDLED_TARGET, REWORK_LIMIT, TicketRates


@dataclass(frozen=True)
class Stats:
    """Distribution of durations in seconds; p50/p95 are nearest-rank percentiles."""

    count: int = 0
    avg: float | None = None
    p50: float | None = None
    p95: float | None = None
    max: float | None = None


@dataclass
class Volumes:
    conversations: int = 0
    shopper_messages: int = 0
    agent_messages: int = 0
    customers: int = 0
    new_customers: int = 0
    returning_customers: int = 0
    # Conversations opened per channel (telegram, web chat).
    by_channel: dict[str, int] = field(default_factory=dict)


@dataclass
class BotFigures:
    """How much the bot settles alone (P4/P5) and where it hands over."""

    conversations: int = 0
    resolved_without_human: int = 0
    faq_questions: int = 0
    faq_hits: int = 0
    unanswered: list[tuple[str, int]] = field(default_factory=list)
    escalations: dict[str, int] = field(default_factory=dict)
    feedback_helpful: int = 0
    feedback_total: int = 0

    @property
    def resolved_share(self) -> float | None:
        return _share(self.resolved_without_human, self.conversations)

    @property
    def faq_hit_rate(self) -> float | None:
        return _share(self.faq_hits, self.faq_questions)


@dataclass
class Waiting:
    """P1 greeting within 15 s, P2 reply within 20 s, and the human side's reply times."""

    shopper_wait: Stats = field(default_factory=Stats)
    unanswered_messages: int = 0
    wait_buckets: list[tuple[str, int]] = field(default_factory=list)
    greeting_seconds: int = 15
    conversations: int = 0
    greeted_on_time: int = 0
    sla_breaches: int | None = None
    holding_replies: int | None = None
    reassignments: int | None = None
    human_first_reply: Stats = field(default_factory=Stats)
    human_next_reply: Stats = field(default_factory=Stats)

    @property
    def greeted_share(self) -> float | None:
        return _share(self.greeted_on_time, self.conversations)


@dataclass
class Quality:
    """P20 complaints, P21 satisfaction (the seed's 满意度), P9 tone guard."""

    survey_answers: int | None = None
    satisfaction_avg: float | None = None
    satisfied: int | None = None  # scores 4–5
    bot_survey_answers: int = 0  # P21: conversations the bot handled alone (sampled)
    bot_satisfaction_avg: float | None = None
    complaints: int = 0
    complaints_by_cause: dict[str, int] = field(default_factory=dict)  # P14 causes
    complaints_handled: int | None = None
    complaint_steps: int | None = None
    tone_guard: int | None = None

    @property
    def satisfied_share(self) -> float | None:
        if self.satisfied is None or self.survey_answers is None:
            return None
        return _share(self.satisfied, self.survey_answers)


@dataclass
class AfterSales:
    """P17 follow-ups, P18 handling ≥ 98 % and re-open ≤ 5 %, P19 shipments."""

    tickets_opened: int | None = None
    tickets_resolved: int | None = None
    tickets_on_time: int | None = None
    tickets_reopened: int | None = None
    follow_ups_done: int | None = None
    follow_up_outcomes: dict[str, int] = field(default_factory=dict)
    # P17 回访 scores: aspect (attitude / time / handling) → average 1–5, and how many scored
    follow_up_scores: dict[str, float] = field(default_factory=dict)
    follow_ups_scored: int = 0
    late_shipments: int | None = None

    HANDLING_TARGET = HANDLED_TARGET
    REOPEN_LIMIT = REWORK_LIMIT

    @property
    def rates(self) -> TicketRates | None:
        """P18: the one definition of 处理率/及时率/返修率 (bot/services/rates.py)."""
        if self.tickets_opened is None:
            return None
        return TicketRates(self.tickets_opened, self.tickets_resolved or 0,
                           self.tickets_on_time or 0, self.tickets_reopened or 0)

    @property
    def handling_rate(self) -> float | None:
        """处理率: resolved of opened."""
        return self.rates.handled_rate if self.rates else None

    @property
    def on_time_rate(self) -> float | None:
        """及时率: resolved by the due time, of resolved."""
        return self.rates.on_time_rate if self.rates else None

    @property
    def reopen_rate(self) -> float | None:
        """返修率 (rework): re-opened of resolved."""
        return self.rates.rework_rate if self.rates else None


@dataclass
class AgentSection:
    """One agent's own figures for the weekly meeting (P15)."""

    agent_id: int
    name: str = ""
    conversations: int = 0
    messages: int = 0
    first_reply: Stats = field(default_factory=Stats)
    next_reply: Stats = field(default_factory=Stats)
    sla_breaches: int | None = None
    holding_replies: int | None = None
    reassignments: int | None = None
    complaints: int = 0  # P14: complaints the owner charged to this agent
    complaint_steps: int | None = None  # the highest step of the ladder reached
    tone_guard: int | None = None
    survey_answers: int | None = None
    satisfaction_avg: float | None = None
    self_report: str = ""  # P15: the agent's own words for the Monday meeting

    @property
    def label(self) -> str:
        return self.name or f"#{self.agent_id}"


@dataclass(frozen=True)
class Change:
    """One headline figure against the previous period of the same length."""

    key: str
    now: float | None
    before: float | None

    @property
    def delta(self) -> float | None:
        if self.now is None or self.before is None:
            return None
        return self.now - self.before


@dataclass
class Report:
    start: datetime
    end: datetime
    timezone: str
    volumes: Volumes = field(default_factory=Volumes)
    bot: BotFigures = field(default_factory=BotFigures)
    waiting: Waiting = field(default_factory=Waiting)
    quality: Quality = field(default_factory=Quality)
    aftersales: AfterSales = field(default_factory=AfterSales)
    agents: list[AgentSection] = field(default_factory=list)
    by_hour: list[int] = field(default_factory=lambda: [0] * 24)  # shopper messages, local hour
    by_day: list[tuple[date, int]] = field(default_factory=list)  # conversations per local day
    satisfaction_by_day: list[tuple[date, float]] = field(default_factory=list)
    not_recorded: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    duty: Any = None  # bot.services.rota.DutySummary (P11, P12), None in headline-only builds
    sales: Any = None  # bot.services.products.figures.SalesFigures (P5, P6, 催缴)

    def agent(self, agent_id: int) -> AgentSection | None:
        return next((a for a in self.agents if a.agent_id == agent_id), None)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
