"""Messages in groups that are not the agents' group: point shoppers to a private chat."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.services.knowledge import KnowledgeBase
from phrases.catalogue import say


def build_group_router(agent_chat_id: int | None) -> Router:
    """Answers commands and mentions in groups once; ordinary group chatter is left alone."""
    router = Router(name="groups")
    router.message.filter(F.chat.type.in_({"group", "supergroup"}))
    if agent_chat_id is not None:
        router.message.filter(F.chat.id != agent_chat_id)

    @router.message(Command("start", "help", "human"))
    @router.message(F.entities[:].type == "mention")
    async def point_to_private(message: Message, knowledge: KnowledgeBase) -> None:
        code = (message.from_user.language_code or "") if message.from_user else ""
        text, _ = say(knowledge.catalogue, "group_only_private", "en" if code.startswith("en")
                      else "zh")
        await message.reply(text)

    return router
