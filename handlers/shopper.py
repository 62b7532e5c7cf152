"""Shoppers in private chats: every message, edit and button goes to the conversation service.

The intake middleware (``handlers.intake``) has stored each one before these handlers run.
Buttons are unpacked by their ``CallbackData`` factory (handlers/keyboards.py) and reach the
service as typed picks; a press no factory knows gets the "expired" pop-up.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message

from bot.services.conversation import ConversationService, Intake
from bot.services.inbound import FaqChosen, FaqVerdict, HumanAsked, Pick
from handlers.intake import attach_intake
from handlers.keyboards import AskHuman, FaqFeedback, FaqPick
from handlers.parsing import choice_of
from storage.repositories import Repo


async def on_message(
    message: Message, repo: Repo, intake: Intake, conversations: ConversationService
) -> None:
    """A message or an edit (a corrected question: stored as its own update, answered anew)."""
    await conversations.answer(repo, intake)


async def choose(query: CallbackQuery, repo: Repo, intake: Intake,
                 conversations: ConversationService, pick: Pick | None) -> None:
    """The service answers the pick; its short notice (or the expired one) is the pop-up."""
    notice = await conversations.choose(repo, intake, choice_of(query), pick)
    await query.answer(notice[:200] or None)


async def on_faq_pick(query: CallbackQuery, callback_data: FaqPick, repo: Repo,
                      intake: Intake, conversations: ConversationService) -> None:
    await choose(query, repo, intake, conversations, FaqChosen(callback_data.entry))


async def on_feedback(query: CallbackQuery, callback_data: FaqFeedback, repo: Repo,
                      intake: Intake, conversations: ConversationService) -> None:
    await choose(query, repo, intake, conversations,
                 FaqVerdict(callback_data.entry, helpful=callback_data.verdict == "up"))


async def on_ask_human(query: CallbackQuery, repo: Repo, intake: Intake,
                       conversations: ConversationService) -> None:
    await choose(query, repo, intake, conversations, HumanAsked())


async def on_unknown_button(query: CallbackQuery, repo: Repo, intake: Intake,
                            conversations: ConversationService) -> None:
    """Forged, malformed or from a format long gone: stored, answered with a pop-up."""
    await choose(query, repo, intake, conversations, None)


def build_shopper_router() -> Router:
    router = Router(name="shopper")
    router.message.filter(F.chat.type == "private", F.from_user)
    router.edited_message.filter(F.chat.type == "private", F.from_user)
    router.callback_query.filter(F.message.chat.type == "private")
    router.message.register(on_message)
    router.edited_message.register(on_message)
    router.callback_query.register(on_faq_pick, FaqPick.filter())
    router.callback_query.register(on_feedback, FaqFeedback.filter())
    router.callback_query.register(on_ask_human, AskHuman.filter())
    router.callback_query.register(on_unknown_button, F.data)
    return attach_intake(router)

