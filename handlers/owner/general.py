"""The owner's help, settings and per-agent caps (P10)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.filters import CommandObject
from aiogram.types import CallbackQuery, Message

from bot.services import owner_admin as oa
from bot.services import shifts as sh
from bot.services.knowledge import KnowledgeBase
from bot.services.staff import agent_names, set_agent_cap, staff_words
from bot.settings import Settings
from handlers.replying import tell
from storage.repositories import Repo


async def on_help(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase) -> None:
    """/owner: every owner command, in the owner's language (phrase staff.owner.help)."""
    await tell(bot, message.chat.id,
               (await staff_words(repo, knowledge, message.chat.id))("owner.help"))


async def on_settings(message: Message, bot: Bot, repo: Repo, settings: Settings,
                      knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    pattern = sh.pattern_text(await sh.load_pattern(repo), w)
    await tell(bot, message.chat.id, f"{await oa.settings_text(repo, settings, w)}\n"
                                     f"{w('settings.shifts', week=pattern)}")


async def set_value(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase,
                    name: str, value: str) -> None:
    try:
        stored = await oa.change_setting(repo, message.from_user.id, name, value)
    except oa.SettingRefused as refused:  # why, in the owner's language
        w = await staff_words(repo, knowledge, message.chat.id)
        reason = w(f"set.reason.{refused.key}", **refused.values)
        await tell(bot, message.chat.id, w("set.not_changed", reason=reason))
        return
    w = await staff_words(repo, knowledge, message.chat.id)
    await tell(bot, message.chat.id, w("set.done", label=w.label("setting", name), name=name,
                                       value=stored))


async def on_set(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                 knowledge: KnowledgeBase) -> None:
    name, _, value = (command.args or "").partition(" ")
    await set_value(message, bot, repo, knowledge, name, value)


async def on_cap(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                 knowledge: KnowledgeBase) -> None:
    parts = (command.args or "").split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        await set_value(message, bot, repo, knowledge, "agent_cap", command.args or "")
        return
    w = await staff_words(repo, knowledge, message.chat.id)
    agent, cap = int(parts[0]), int(parts[1])
    if not 1 <= cap <= 100 or not await set_agent_cap(repo, agent, cap):
        await tell(bot, message.chat.id, w("cap.refused"))
        return
    await oa.record_change(repo, message.from_user.id, "agent_cap", agent=agent, cap=cap)
    await repo.commit()
    name = (await agent_names(repo)).get(agent, str(agent))
    await tell(bot, message.chat.id, w("cap.set", agent=name, cap=cap))


async def on_stale_button(query: CallbackQuery, repo: Repo, knowledge: KnowledgeBase) -> None:
    """An ``own:`` button no factory reads (forged, or a format long gone): a pop-up."""
    await query.answer((await staff_words(repo, knowledge, query.from_user.id))("button.expired"))
