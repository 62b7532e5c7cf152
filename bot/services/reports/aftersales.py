"""After-sales (P17–P19): tickets, handling ≥ 98 %, re-open ≤ 5 %, follow-ups, late shipments.

Tickets opened in the period are followed to their end; 处理率, 及时率 and 返修率 come from
bot/services/rates.py, the same function /rates uses. Follow-ups count when sent in the
period (their answers give the outcomes); a late shipment is an order flagged stale in the
period (P19).
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.services.aftercare import FOLLOW_UP_ASPECTS
from bot.services.rates import ticket_rates
from bot.services.reports.model import AfterSales, AgentSection, Report
from bot.services.reports.scope import Scope
from bot.services.reports.volumes import in_period
from storage.models.orders import FollowUp, Order, Ticket


async def collect(scope: Scope, report: Report, agents: dict[int, AgentSection]) -> None:
    session = scope.session
    aftersales = AfterSales()
    if scope.has_table(Ticket.__tablename__):
        rates = await ticket_rates(session, scope.start, scope.end)  # P18, as /rates
        aftersales.tickets_opened, aftersales.tickets_resolved = rates.opened, rates.resolved
        aftersales.tickets_on_time, aftersales.tickets_reopened = rates.on_time, rates.reopened
    else:
        scope.not_recorded.append("tickets")
    if scope.has_table(FollowUp.__tablename__):
        outcomes = (await session.execute(
            select(FollowUp.outcome, func.count())
            .where(in_period(FollowUp.sent_at, scope))
            .group_by(FollowUp.outcome)
        )).all()
        aftersales.follow_ups_done = sum(int(n) for _, n in outcomes)
        aftersales.follow_up_outcomes = {
            str(outcome or "no_answer"): int(n) for outcome, n in sorted(
                outcomes, key=lambda row: (-row[1], str(row[0] or "")))
        }
        scored = [scores for (scores,) in (await session.execute(
            select(FollowUp.scores).where(in_period(FollowUp.answered_at, scope))
        )).all() if scores]
        aftersales.follow_ups_scored = len(scored)
        for aspect in FOLLOW_UP_ASPECTS:
            values = [int(s[aspect]) for s in scored if aspect in s]
            if values:
                aftersales.follow_up_scores[aspect] = sum(values) / len(values)
    else:
        scope.not_recorded.append("follow_ups")
    if scope.has_table(Order.__tablename__):
        aftersales.late_shipments = int(await session.scalar(
            select(func.count()).select_from(Order)
            .where(in_period(Order.stale_flagged_at, scope))
        ) or 0)
    else:
        scope.not_recorded.append("shipments")
    report.aftersales = aftersales
