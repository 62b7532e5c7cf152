"""Shoppers in private chats: every message, edit and button goes to the conversation service.

The intake middleware (``handlers.intake``) has stored each one before these handlers run.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.services.conversation import ConversationService, Intake
from handlers.intake import attach_intake
from handlers.parsing import choice_of
from storage.repositories import Repo


async def on_message(
    message: Message, repo: Repo, intake: Intake, conversations: ConversationService
) -> None:
    """A message or an edit (a corrected question: stored as its own update, answered anew)."""
    await conversations.answer(repo, intake)


async def on_button(
    query: CallbackQuery, repo: Repo, intake: Intake, conversations: ConversationService
) -> None:
    notice = await conversations.choose(repo, intake, choice_of(query))
    await query.answer(notice or None)


def build_shopper_router() -> Router:
    router = Router(name="shopper")
    router.message.filter(F.chat.type == "private", F.from_user)
    router.edited_message.filter(F.chat.type == "private", F.from_user)
    router.callback_query.filter(F.message.chat.type == "private")
    router.message.register(on_message)
    router.edited_message.register(on_message)
    router.callback_query.register(on_button, F.data)
    return attach_intake(router)
