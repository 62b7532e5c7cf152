"""The queue of shoppers waiting for a person, and who gets which chat (P8).

Rules: assignment goes to an agent who can answer now (``Staffing``: switched on, and in
service hours or the running shift; what the shopper was told, P24), least loaded first,
never above their cap; a shopper who talked to an agent in the last three days goes back to
that agent if on duty (sticky); any agent may claim a waiting chat, and a compare-and-set
UPDATE makes sure exactly one of two simultaneous claims wins. Ownership lives in the
database only (design.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.availability import Staffing
from bot.services.lifecycle import Lifecycle
from bot.services.staff import shop_agent_cap
from storage.models import Conversation, ConversationState
from storage.models.agents import Agent
from storage.repositories import Repo

STICKY_FOR = timedelta(days=3)
MINUTES_PER_CHAT = 4  # rough handling time of one chat, for the expected wait
# The shopper hears about the queue again only when it moved this much (no spam).
RETELL_POSITION_STEP = 2
RETELL_WAIT_STEP_MINUTES = 5


def cap_of(agent: Agent, default_cap: int) -> int:
    return agent.cap if agent.cap is not None else default_cap


@dataclass(frozen=True)
class QueueSpot:
    """Where a waiting shopper stands: 1 = next; ``wait_minutes`` is an estimate."""

    position: int
    wait_minutes: int

    def values(self) -> dict[str, object]:
        return {"queue_position": self.position, "wait_minutes": self.wait_minutes}


class QueueService:
    """Assignment, claiming and queue positions; aiogram-free, one ``Repo`` per call."""

    def __init__(
        self, default_cap: int, *, auto_assign: bool = True, lifecycle: Lifecycle | None = None,
        staffing: Staffing | None = None,
    ) -> None:
        self.default_cap = default_cap
        # Without an agents' console nobody could answer an assigned chat: keep it queued.
        self.auto_assign = auto_assign
        self.lifecycle = lifecycle or Lifecycle()  # claims and moves are its transitions
        # Who can take a chat: the one answer to "when can a person reply" (P11, P24).
        self.staffing = staffing or Staffing(self.lifecycle.settings)

    async def free_agents(
        self, repo: Repo, now: datetime, exclude: int | None = None
    ) -> list[Agent]:
        """Agents who can answer now, below their cap, least loaded first (ties: the
        longest-known)."""
        loads = await repo.agents.loads()
        default = await shop_agent_cap(repo, self.default_cap)  # the owner's /cap n
        agents = [
            a for a in await self.staffing.present_agents(repo, now)
            if a.telegram_user_id != exclude
            and loads.get(a.telegram_user_id, 0) < cap_of(a, default)
        ]
        return sorted(agents, key=lambda a: (loads.get(a.telegram_user_id, 0), a.id))

    async def choose_agent(
        self, repo: Repo, conversation: Conversation, now: datetime, exclude: int | None = None
    ) -> int | None:
        """Sticky first (same agent within 3 days), else the least loaded free agent."""
        free = await self.free_agents(repo, now, exclude)
        if not free:
            return None
        previous = await repo.agents.last_agent_of(conversation.customer_id, now - STICKY_FOR)
        if previous is not None and any(a.telegram_user_id == previous for a in free):
            return previous
        return free[0].telegram_user_id

    async def assign(self, repo: Repo, conversation: Conversation, now: datetime) -> int | None:
        """Give a queued conversation to an agent if one is free; returns the agent id."""
        if not self.auto_assign or conversation.state != ConversationState.QUEUED:
            return None
        agent_id = await self.choose_agent(repo, conversation, now)
        if agent_id is None or not await self.claim(repo, conversation, agent_id, now):
            return None
        return agent_id

    async def claim(
        self, repo: Repo, conversation: Conversation, agent_id: int,
        now: datetime | None = None,
    ) -> bool:
        """Compare-and-set claim (lifecycle ``assign``); on success the loaded object reflects
        the new owner. Whether the agent can answer now (``Staffing``) decides whether a wait
        for the next opening ends (an agent may take a chat off hours, e.g. to read it)."""
        present = False
        if now is not None and conversation.off_hours_until is not None:  # only then it matters
            present = any(a.telegram_user_id == agent_id
                          for a in await self.staffing.present_agents(repo, now))
        return await self.lifecycle.assign(repo, conversation, agent_id, now, present=present)

    async def fill(self, repo: Repo, now: datetime) -> list[tuple[Conversation, int]]:
        """Hand waiting chats to agents who have room (after a release, close or duty change)."""
        assigned: list[tuple[Conversation, int]] = []
        if not self.auto_assign:
            return assigned
        for conversation in await repo.agents.queued():
            agent_id = await self.assign(repo, conversation, now)
            if agent_id is not None:
                assigned.append((conversation, agent_id))
        return assigned

    async def reassign(self, repo: Repo, conversation_id: int, now: datetime) -> int | None:
        """Hand an assigned chat to the next on-duty agent other than the current one.

        For the SLA clock after repeated misses. Returns the new agent's Telegram id, or None
        when nobody else is free (the chat stays where it is). Compare-and-set (lifecycle
        ``transfer``), so a take or transfer at the same moment is never overwritten; one
        ``reassigned`` event with the misses. The caller commits.
        """
        conversation = await repo.conversations.get(conversation_id)
        if conversation is None or conversation.state != ConversationState.ASSIGNED:
            return None
        current = conversation.agent_id
        if current is None:
            return None
        target = await self.choose_agent(repo, conversation, now, exclude=current)
        if target is None or not await self.lifecycle.transfer(
                repo, conversation, current, target, now, by_clock=True):
            return None
        return target

    async def spot(
        self, repo: Repo, conversation: Conversation, now: datetime, agents: int | None = None
    ) -> QueueSpot:
        """Position among waiting chats (oldest first) and a rough expected wait; ``agents``:
        how many can answer now, when the caller knows (``Staffing``)."""
        queued = await repo.agents.queued()
        ids = [c.id for c in queued]
        position = ids.index(conversation.id) + 1 if conversation.id in ids else len(ids) + 1
        if agents is None:
            agents = len(await self.staffing.present_agents(repo, now))
        agents = max(1, agents)
        return QueueSpot(position, max(1, math.ceil(position * MINUTES_PER_CHAT / agents)))

    @staticmethod
    def worth_retelling(before: QueueSpot | None, now: QueueSpot) -> bool:
        """Tell again only when the news is meaningful: next in line, or a real move."""
        if before is None:
            return True
        if now.position == 1 and before.position != 1:
            return True
        return (abs(before.position - now.position) >= RETELL_POSITION_STEP
                or abs(before.wait_minutes - now.wait_minutes) >= RETELL_WAIT_STEP_MINUTES)
