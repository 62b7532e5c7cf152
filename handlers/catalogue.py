"""The catalogue in Telegram (P5, P6): the owner's file import and the shoppers' product buttons.

Thin: parse the update, call ``bot.services.products``; the words come from the phrase data.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message

from bot.services.conversation import ConversationService, Intake
from bot.services.inbound import ProductChosen
from bot.services.knowledge import KnowledgeBase
from bot.services.products import importer
from bot.services.products.wording import product_say
from bot.services.staff import staff_words
from bot.settings import Settings
from handlers.intake import attach_intake
from handlers.keyboards import ProductAction
from handlers.parsing import choice_of
from handlers.replying import tell
from storage.repositories import Repo

IMPORT_COMMAND = "/catalogueimport"
MAX_ERRORS_SHOWN = 40


def build_catalogue_router(owner_ids: Iterable[int]) -> Router:
    """The owner's import (not a shopper message) and the shoppers' product buttons (stored
    first by the intake, like every shopper input)."""
    owners = set(owner_ids)
    router = Router(name="catalogue")
    owner = Router(name="catalogue_owner")
    buttons = attach_intake(Router(name="product_buttons"))

    @owner.message(F.chat.type == "private", F.from_user.id.in_(owners), F.document,
                   F.caption.regexp(rf"^{IMPORT_COMMAND}(@\w+)?(\s|$)"))
    async def on_catalogue_file(message: Message, bot: Bot, repo: Repo, settings: Settings,
                                knowledge: KnowledgeBase,
                                conversations: ConversationService) -> None:
        document = message.document
        assert document is not None and message.from_user is not None
        buffer = io.BytesIO()
        await bot.download(document, destination=buffer)
        result = await importer.import_from_owner(
            repo, message.from_user.id, document.file_name or "catalogue.csv",
            buffer.getvalue(), settings.tz)
        # The owner's staff language (/lang, else the shop's), as on every owner screen.
        w = await staff_words(repo, knowledge, message.from_user.id)
        lang = w.lang
        if result.ok:
            if conversations.catalogue is not None:
                await conversations.catalogue.reload(repo)
            text, _ = product_say(knowledge.catalogue, "catalogue_imported", lang,
                                  values={"count": result.created, "variants": result.variants})
        else:
            shown = w.whys(result.errors[:MAX_ERRORS_SHOWN])
            more = len(result.errors) - len(shown)
            errors = "\n".join(shown + ([f"… +{more}"] if more > 0 else []))
            text, _ = product_say(knowledge.catalogue, "catalogue_rejected", lang,
                                  values={"errors": errors})
        await tell(bot, message.chat.id, text)

    @buttons.callback_query(F.message.chat.type == "private", ProductAction.filter())
    async def on_product_button(query: CallbackQuery, callback_data: ProductAction, repo: Repo,
                                intake: Intake, conversations: ConversationService) -> None:
        """Only well-formed product buttons get here; the desk answers through ``choose``."""
        pick = ProductChosen(callback_data.action, callback_data.product_id)
        notice = await conversations.choose(repo, intake, choice_of(query), pick)
        await query.answer(notice or None)

    router.include_routers(owner, buttons)
    return router
