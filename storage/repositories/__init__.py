"""Repositories: the queries, one module per aggregate, reached through ``Repo``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage import direct, group_commit
from storage.repositories.aftercare import AftercareRepo
from storage.repositories.agents import AgentRepo
from storage.repositories.audit import AuditRepo
from storage.repositories.conversations import ConversationRepo
from storage.repositories.customers import CustomerRepo
from storage.repositories.events import EventRepo
from storage.repositories.faq import FaqRepo, TemplateRepo
from storage.repositories.orders import OrderRepo
from storage.repositories.products import ProductRepo
from storage.repositories.shifts import ShiftRepo
from storage.repositories.tickets import TicketRepo
from storage.repositories.web_images import WebImageRepo


class Repo:
    """Facade over one session: ``repo.customers.get(...)``; one update = one session.

    With the process's ``writer`` (storage/group_commit.py) the hot path's writes are
    committed in its shared batches, and with its ``reader`` (storage/direct.py) its first read
    skips the session; without them (tools, tests) each query and commit is the session's.
    """

    def __init__(self, session: AsyncSession,
                 writer: group_commit.GroupWriter | None = None,
                 reader: direct.DirectReader | None = None) -> None:
        self.session = session
        if writer is not None:
            session.info[group_commit.WRITER] = writer
        if reader is not None:
            session.info[direct.READER] = reader
        self.customers = CustomerRepo(session)
        self.conversations = ConversationRepo(session)
        self.faq = FaqRepo(session)
        self.templates = TemplateRepo(session)
        self.events = EventRepo(session)
        self.agents = AgentRepo(session)
        self.shifts = ShiftRepo(session)
        self.orders = OrderRepo(session)
        self.tickets = TicketRepo(session)
        self.aftercare = AftercareRepo(session)
        self.products = ProductRepo(session)  # catalogue and 催付 (P5, P6)
        self.audit = AuditRepo(session)  # the owner's changes, with who, when and undo
        self.web_images = WebImageRepo(session)  # the web chat's pictures, each visitor's own

    async def commit(self) -> None:
        """Durable when this returns: in the writer's batch when the session's writes allow
        it (only changed columns of loaded rows and deferred statements), else on its own."""
        if await group_commit.commit(self.session) is None:
            await self.session.commit()


__all__ = ["ConversationRepo", "CustomerRepo", "EventRepo", "FaqRepo", "Repo", "TemplateRepo"]
