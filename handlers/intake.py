"""The shoppers' intake as an aiogram inner middleware: stored first, then handled.

Attached to every router that answers shoppers (the conversation, the after-sales dialogue,
surveys, /tickets, /forget …). It runs after the filters chose a handler and before the
handler: the message, edit or button press is stored and committed through
``ConversationService.intake`` (one row per update id) and handed to the handler as
``intake``; an update answered already (a redelivery) never reaches the handler. A handler
that answers nothing still leaves its input marked handled, so the resumer does not answer it
a second time. Staff commands live on other routers and are not shopper messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from bot.services.conversation import ConversationService, Intake
from bot.services.inbound import Inbound
from handlers.parsing import choice_of, inbound_of
from storage.repositories import Repo


def inbound_of_event(event: TelegramObject, update: Update) -> Inbound | None:
    """The stored form of a shopper's update; None for what is not a shopper's input."""
    if isinstance(event, CallbackQuery):
        return choice_of(event, update.update_id).as_inbound()
    if isinstance(event, Message) and event.from_user is not None:
        return inbound_of(event, update.update_id, edited=update.edited_message is not None)
    return None


class ShopperIntake(BaseMiddleware):
    """Store first (design.md "store then answer"): see the module docstring."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        inbound = inbound_of_event(event, data["event_update"])
        if inbound is None:
            return await handler(event, data)
        repo: Repo = data["repo"]
        conversations: ConversationService = data["conversations"]
        intake = await conversations.intake(repo, inbound)
        if intake is None:  # answered once already
            if isinstance(event, CallbackQuery):
                await event.answer()
            return None
        data["intake"] = intake
        result = await handler(event, data)
        if not intake.answered:  # e.g. "no thanks" under a survey: nothing to say
            await conversations.reply(repo, intake, [], {"decision": "silent"})
        return result


def attach_intake(router: Router) -> Router:
    """Every message, edit and button press a handler of ``router`` takes is stored first."""
    intake = ShopperIntake()
    router.message.middleware(intake)
    router.edited_message.middleware(intake)
    router.callback_query.middleware(intake)
    return router


__all__ = ["Intake", "ShopperIntake", "attach_intake", "inbound_of_event"]
