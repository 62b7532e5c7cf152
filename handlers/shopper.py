"""Shoppers in private chats: every message, edit and button goes to the conversation service."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message, Update

from bot.services.conversation import ConversationService
from handlers.parsing import choice_of, inbound_of
from storage.repositories import Repo


def build_shopper_router() -> Router:
    router = Router(name="shopper")
    router.message.filter(F.chat.type == "private", F.from_user)
    router.edited_message.filter(F.chat.type == "private", F.from_user)
    router.callback_query.filter(F.message.chat.type == "private")

    @router.message()
    async def on_message(
        message: Message, event_update: Update, repo: Repo, conversations: ConversationService
    ) -> None:
        await conversations.receive(repo, inbound_of(message, event_update.update_id))

    @router.edited_message()
    async def on_edit(
        message: Message, event_update: Update, repo: Repo, conversations: ConversationService
    ) -> None:
        # An edit is a corrected question: stored as its own update and answered anew.
        await conversations.receive(repo, inbound_of(message, event_update.update_id, edited=True))

    @router.callback_query(F.data)
    async def on_button(
        query: CallbackQuery, repo: Repo, conversations: ConversationService
    ) -> None:
        notice = await conversations.choose(repo, choice_of(query))
        await query.answer(notice or None)

    return router
