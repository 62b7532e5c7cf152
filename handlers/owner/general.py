"""The owner's help, settings and per-agent caps (P10)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.filters import CommandObject
from aiogram.types import Message

from bot.services import owner_admin as oa
from bot.services import shifts as sh
from bot.services.staff import set_agent_cap
from bot.settings import Settings
from handlers.replying import tell
from storage.repositories import Repo

HELP = """Owner commands
Greeting (P3, one for every hour): /greeting · /greeting <lang> [new|returning] then the
  text on the next lines ({time_of_day} = 早上好/下午好/晚上好; preview = what a shopper gets)
Templates: /templates [category] [lang] · /template <key> [lang]
  /settemplate <key> <lang> then the text on the next lines (preview, then Save)
Negative language (P9): /tone · /toneadd <term> = <instead> · /tonedel <term>
FAQ: /faq [lang] · /faqshow <key> [lang] · /faqdel <key> <lang>
  /faqset <key> <lang> + lines 'Q: …', 'A: …', 'ALT: a | b' (adds or replaces)
  /faqexport <lang> [yaml|csv] · send a .yaml/.csv file captioned /faqimport <lang>
Inbox of unanswered questions: /inbox · /alt <question id> <entry key>
Agents: /agents · /addagent <id> · /removeagent <id> · forward a message of theirs
  /cap <n> (shop default) · /cap <agent id> <n>
Shifts: /shifts on|off · /schedule · /setshift mon-sat 18:30-24:00 · /closed <YYYY-MM-DD> [reason]
  /open <YYYY-MM-DD> · /assign <YYYY-MM-DD> <id,id> · /swaps · /rota [YYYY-MM]
  /swapfine <swap id> (unclear swap, P12) · /set late_grace_minutes 5 · /set swap_fine 20
Handover: /handovers · /handovershow <id>
Complaints: /complaints · /unfounded <id> · /set complaint_steps 30,60,dismiss
Settings: /settings · /set <name> <value>"""


async def on_help(message: Message, bot: Bot) -> None:
    await tell(bot, message.chat.id, HELP)


async def on_settings(message: Message, bot: Bot, repo: Repo, settings: Settings) -> None:
    pattern = sh.pattern_text(await sh.load_pattern(repo))
    await tell(bot, message.chat.id,
               f"{await oa.settings_text(repo, settings)}\nshifts: {pattern}")


async def set_value(message: Message, bot: Bot, repo: Repo, name: str, value: str) -> None:
    try:
        stored = await oa.change_setting(repo, message.from_user.id, name, value)
    except ValueError as error:
        await tell(bot, message.chat.id, f"Not changed: {error}")
        return
    await tell(bot, message.chat.id, f"{name} = {stored}")


async def on_set(message: Message, command: CommandObject, bot: Bot, repo: Repo) -> None:
    name, _, value = (command.args or "").partition(" ")
    await set_value(message, bot, repo, name, value)


async def on_cap(message: Message, command: CommandObject, bot: Bot, repo: Repo) -> None:
    parts = (command.args or "").split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        await set_value(message, bot, repo, "agent_cap", command.args or "")
        return
    agent, cap = int(parts[0]), int(parts[1])
    if not 1 <= cap <= 100 or not await set_agent_cap(repo, agent, cap):
        await tell(bot, message.chat.id, "Not changed: cap 1..100 for a known agent.")
        return
    await oa.record_change(repo, message.from_user.id, "agent_cap", agent=agent, cap=cap)
    await repo.commit()
    await tell(bot, message.chat.id, f"Agent {agent}: at most {cap} open chats.")
