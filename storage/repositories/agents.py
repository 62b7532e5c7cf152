"""Agents, their load, customer topics and message links (the agent console's queries)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation, ConversationState
from storage.models.agents import Agent, CustomerTopic, MessageLink


class AgentRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ----------------------------------------------------------------- agents
    async def ensure(self, telegram_user_ids: Iterable[int]) -> None:
        """Each id gets a row (on duty) unless it has one: adding people to the roster."""
        for user_id in telegram_user_ids:
            if await self.by_telegram_id(user_id) is None:
                self.session.add(Agent(telegram_user_id=user_id, on_duty=True))
        await self.session.flush()

    async def is_agent(self, telegram_user_id: int) -> bool:
        """On the roster now: read per check, so a removal elsewhere counts at once."""
        found = await self.session.scalar(
            select(Agent.id).where(Agent.telegram_user_id == telegram_user_id)
        )
        return found is not None

    async def roster_ids(self) -> list[int]:
        """Telegram ids of the roster in rotation order (the order they were added)."""
        return list(await self.session.scalars(
            select(Agent.telegram_user_id).order_by(Agent.id)
        ))

    async def remove(self, telegram_user_ids: Iterable[int]) -> int:
        """Off the roster: the row goes, so no check anywhere finds them; returns how many."""
        ids = list(telegram_user_ids)
        if not ids:
            return 0
        result = await self.session.execute(
            delete(Agent).where(Agent.telegram_user_id.in_(ids))
            .execution_options(synchronize_session="fetch")
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def assigned_to(self, telegram_user_id: int) -> list[Conversation]:
        """Conversations this agent owns now."""
        return list(await self.session.scalars(
            select(Conversation).where(Conversation.state == ConversationState.ASSIGNED,
                                       Conversation.agent_id == telegram_user_id)
            .order_by(Conversation.id)
        ))

    async def by_telegram_id(self, telegram_user_id: int) -> Agent | None:
        return await self.session.scalar(
            select(Agent).where(Agent.telegram_user_id == telegram_user_id)
        )

    async def all(self) -> list[Agent]:
        return list(await self.session.scalars(select(Agent).order_by(Agent.id)))

    async def on_duty(self) -> list[Agent]:
        return list(await self.session.scalars(
            select(Agent).where(Agent.on_duty.is_(True)).order_by(Agent.id)
        ))

    async def loads(self) -> dict[int, int]:
        """Telegram user id → number of conversations assigned to that agent now."""
        rows = await self.session.execute(
            select(Conversation.agent_id, func.count())
            .where(Conversation.state == ConversationState.ASSIGNED)
            .group_by(Conversation.agent_id)
        )
        return {int(agent_id): int(count) for agent_id, count in rows if agent_id is not None}

    async def last_agent_of(self, customer_id: int, since: datetime) -> int | None:
        """The agent who last had a conversation with this customer active since ``since``."""
        return await self.session.scalar(
            select(Conversation.agent_id)
            .where(Conversation.customer_id == customer_id, Conversation.agent_id.is_not(None),
                   Conversation.last_activity_at >= since)
            .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
            .limit(1)
        )

    # ----------------------------------------------------------------- claiming
    async def claim(self, conversation_id: int, agent_id: int) -> bool:
        """Compare-and-set: only a queued conversation can be claimed; exactly one claim wins."""
        result = await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id,
                   Conversation.state == ConversationState.QUEUED)
            .values(state=ConversationState.ASSIGNED, agent_id=agent_id)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def move(self, conversation_id: int, from_agent: int, to_agent: int) -> bool:
        """Compare-and-set hand-over between agents (transfer, SLA reassignment)."""
        result = await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id,
                   Conversation.state == ConversationState.ASSIGNED,
                   Conversation.agent_id == from_agent)
            .values(agent_id=to_agent)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def unassign(self, conversation_id: int, agent_id: int, now: datetime) -> bool:
        """Back to the queue (release); only the owning agent's release counts."""
        result = await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id,
                   Conversation.state == ConversationState.ASSIGNED,
                   Conversation.agent_id == agent_id)
            .values(state=ConversationState.QUEUED, agent_id=None, queued_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def queued(self) -> list[Conversation]:
        """Waiting conversations in the order agents serve them: complaints first (P7, P20:
        an angry shopper is not left behind ordinary waiters), then longest waiting first."""
        ordinary = case((Conversation.escalation_reason == "complaint", 0), else_=1)
        return list(await self.session.scalars(
            select(Conversation).where(Conversation.state == ConversationState.QUEUED)
            .order_by(ordinary, Conversation.queued_at, Conversation.id)
        ))

    # ----------------------------------------------------------------- topics
    async def topic_of(self, customer_id: int) -> CustomerTopic | None:
        return await self.session.scalar(
            select(CustomerTopic).where(CustomerTopic.customer_id == customer_id)
        )

    async def topic_by_thread(self, chat_id: int, thread_id: int) -> CustomerTopic | None:
        return await self.session.scalar(
            select(CustomerTopic).where(CustomerTopic.chat_id == chat_id,
                                        CustomerTopic.thread_id == thread_id)
        )

    async def add_topic(self, topic: CustomerTopic) -> CustomerTopic:
        """Insert; if another update made this customer's topic first, return that one."""
        try:
            async with self.session.begin_nested():
                self.session.add(topic)
        except IntegrityError:
            existing = await self.topic_of(topic.customer_id)
            if existing is None:
                raise
            return existing
        return topic

    # ----------------------------------------------------------------- links
    async def link(self, conversation_id: int, shopper_chat_id: int, shopper_message_id: int,
                   topic_chat_id: int, topic_message_id: int) -> None:
        self.session.add(MessageLink(
            conversation_id=conversation_id, shopper_chat_id=shopper_chat_id,
            shopper_message_id=shopper_message_id, topic_chat_id=topic_chat_id,
            topic_message_id=topic_message_id,
        ))
        await self.session.flush()

    async def topic_twin(self, shopper_chat_id: int, shopper_message_id: int) -> int | None:
        return await self.session.scalar(
            select(MessageLink.topic_message_id)
            .where(MessageLink.shopper_chat_id == shopper_chat_id,
                   MessageLink.shopper_message_id == shopper_message_id)
            .order_by(MessageLink.id.desc()).limit(1)
        )

    async def shopper_twin(self, topic_chat_id: int, topic_message_id: int) -> int | None:
        return await self.session.scalar(
            select(MessageLink.shopper_message_id)
            .where(MessageLink.topic_chat_id == topic_chat_id,
                   MessageLink.topic_message_id == topic_message_id)
            .order_by(MessageLink.id.desc()).limit(1)
        )

    async def recent_conversations(self, customer_id: int, limit: int = 5) -> list[Conversation]:
        return list(await self.session.scalars(
            select(Conversation).where(Conversation.customer_id == customer_id)
            .order_by(Conversation.id.desc()).limit(limit)
        ))
