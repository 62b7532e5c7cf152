"""Reports (P15, P23): the department's numbers per period, computed in the database.

aiogram-free: ``build_report`` gives dataclasses; ``text``/``charts``/``export`` render them.
"""

from bot.services.reports.build import build_report
from bot.services.reports.model import (
    AfterSales,
    AgentSection,
    BotFigures,
    Change,
    Quality,
    Report,
    Stats,
    Volumes,
    Waiting,
)

__all__ = [
    "AfterSales", "AgentSection", "BotFigures", "Change", "Quality", "Report", "Stats",
    "Volumes", "Waiting", "build_report",
]
