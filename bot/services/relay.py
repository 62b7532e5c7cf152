"""The seam between the shopper's conversation and the agents' console.

``ConversationService`` calls a ``Relay`` for every shopper message of a queued or assigned
conversation (after storing and answering it); the agent console implements it in ``bot/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from storage.models import Conversation, Customer, Message
from storage.repositories import Repo


class Relay(Protocol):
    async def shopper_message(
        self, repo: Repo, customer: Customer, conversation: Conversation,
        message: Message | None, reply_to_message_id: int | None = None,
        bot_replies: Sequence[str] = (),
    ) -> None:
        """Show ``message`` (None: only the escalation itself) to the agents, then what the bot
        answered it, so an agent taking over knows what the shopper was already told."""
        ...

    async def shopper_burst(
        self, repo: Repo, customer: Customer, conversation: Conversation
    ) -> None:
        """A flooding shopper wrote again (stored, marked ``flood``): the agents get the
        burst's messages collapsed into one post per window, not a copy each."""
        ...


class NoRelay:
    """No agents' console configured: nothing is relayed."""

    async def shopper_message(
        self, repo: Repo, customer: Customer, conversation: Conversation,
        message: Message | None, reply_to_message_id: int | None = None,
        bot_replies: Sequence[str] = (),
    ) -> None:
        return None

    async def shopper_burst(
        self, repo: Repo, customer: Customer, conversation: Conversation
    ) -> None:
        return None
