"""Messages in groups that are not the agents' group: point shoppers to a private chat."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

PRIVATE_ONLY = {
    "zh": "您好，为了保护您的隐私，请私聊我咨询哦~",
    "en": "Hello! To keep your details private, please message me directly.",
}


def build_group_router(agent_chat_id: int | None) -> Router:
    """Answers commands and mentions in groups once; ordinary group chatter is left alone."""
    router = Router(name="groups")
    router.message.filter(F.chat.type.in_({"group", "supergroup"}))
    if agent_chat_id is not None:
        router.message.filter(F.chat.id != agent_chat_id)

    @router.message(Command("start", "help", "human"))
    @router.message(F.entities[:].type == "mention")
    async def point_to_private(message: Message) -> None:
        lang = "en" if (message.from_user and (message.from_user.language_code or "")
                        .startswith("en")) else "zh"
        await message.reply(PRIVATE_ONLY[lang])

    return router
