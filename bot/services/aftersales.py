"""The after-sales services in one bundle, built once per app (P16–P22).

``AfterSales.desk`` answers order questions inside conversations; ``tickets`` runs the ticket
life; ``aftercare`` sends surveys and 回访 from the database; ``notices`` broadcasts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.services.aftercare import Aftercare
from bot.services.escalation import EscalationService
from bot.services.notices import NoticeService, Pacer
from bot.services.orders import OrderDesk
from bot.services.replies import Replier
from bot.services.tickets import TicketService
from bot.settings import Settings


@dataclass
class AfterSales:
    desk: OrderDesk
    tickets: TicketService
    aftercare: Aftercare
    notices: NoticeService
    clock: Clock


def build_aftersales(
    settings: Settings, replier: Replier, clock: Clock, escalation: EscalationService,
    sessions: async_sessionmaker[AsyncSession], pacer: Pacer | None = None,
) -> AfterSales:
    desk = OrderDesk(settings, replier, escalation.knowledge)
    tickets = TicketService(settings, escalation)
    aftercare = Aftercare(settings, replier, clock, desk, tickets, sessions)
    notices = NoticeService(settings, replier, clock, desk, sessions, pacer)
    return AfterSales(desk, tickets, aftercare, notices, clock)
