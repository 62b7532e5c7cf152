"""The owner's controls in Telegram (P10): private chats with an id in OWNER_IDS only.

The router is filtered at router level, so nobody else ever reaches these handlers; other owner
messages fall through to the shopper router (the owner can try the bot as a shopper). The
rules live in ``bot.services.owner_admin``; this module only parses and shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.services import complaints as cp
from bot.services import owner_admin as oa
from bot.services import rota
from bot.services import shifts as sh
from bot.services.conversation import ConversationService
from bot.services.knowledge import KnowledgeBase
from bot.services.staff import (
    agent_names,
    calendar_enabled,
    set_agent_cap,
    set_calendar_enabled,
)
from bot.settings import Settings
from handlers import owner_bulk as bulk
from handlers.replying import keyboard, tell
from storage.models.shifts import Complaint, ComplaintStatus
from storage.repositories import Repo

INBOX_DAYS = 30
INBOX_GROUPS_SHOWN = 8

HELP = """Owner commands
Templates: /templates [category] [lang] · /template <key> [lang]
  /settemplate <key> <lang> then the text on the next lines (preview, then Save)
Negative language (P9): /tone · /toneadd <term> = <instead> · /tonedel <term>
FAQ: /faq [lang] · /faqshow <key> [lang] · /faqdel <key> <lang>
  /faqset <key> <lang> + lines 'Q: …', 'A: …', 'ALT: a | b' (adds or replaces)
  /faqexport <lang> [yaml|csv] · send a .yaml/.csv file captioned /faqimport <lang>
Inbox of unanswered questions: /inbox · /alt <question id> <entry key> (preview first)
Changes: /changes (who changed what, when) · /faqundo (take back the last FAQ change)
Notices and reports: /notice <text> (choose who, preview, then send) · /report · /rates
Agents: /agents · /addagent <id> · /removeagent <id> · forward a message of theirs
  /cap <n> (shop default) · /cap <agent id> <n>
Shifts: /shifts on|off · /schedule · /setshift mon-sat 18:30-24:00 · /closed <YYYY-MM-DD> [reason]
  /open <YYYY-MM-DD> · /assign <YYYY-MM-DD> <id,id> · /swaps · /rota [YYYY-MM]
  /swapfine <swap id> (unclear swap, P12) · /set late_grace_minutes 5 · /set swap_fine 20
Handover: /handovers · /handovershow <id>
Complaints: /complaints · /unfounded <id> · /set complaint_steps 30,60,dismiss
Settings: /settings · /set <name> <value>"""


def _lang(value: str | None, settings: Settings) -> str:
    return value if value in settings.languages else settings.default_language


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a date like 2026-05-04") from error


def _ids(text: str) -> list[int]:
    return [int(x) for x in text.replace(",", " ").split()]


class ComplaintAction(CallbackData, prefix="own"):
    """The owner's decision on a complaint (P14): charge the agent, don't, or unfounded."""

    area: str = "cpl"
    action: str  # "charge" | "no" | "unfounded"
    complaint_id: int


def complaint_keyboard(complaint: Complaint, agent_name: str) -> InlineKeyboardMarkup | None:
    """Buttons under a complaint notice: confirming is the only way a step is recorded."""
    builder = InlineKeyboardBuilder()
    if complaint.agent_id is not None and complaint.status in (
            ComplaintStatus.PENDING, ComplaintStatus.RECORDED):
        builder.button(text=f"Service fault — charge {agent_name}",
                       callback_data=ComplaintAction(action="charge", complaint_id=complaint.id))
        if complaint.status == ComplaintStatus.PENDING:
            builder.button(text="Not the agent's service",
                           callback_data=ComplaintAction(action="no",
                                                         complaint_id=complaint.id))
    builder.button(text="Unfounded",
                   callback_data=ComplaintAction(action="unfounded", complaint_id=complaint.id))
    builder.adjust(1)
    return builder.as_markup()


class OwnerDialogue(StatesGroup):
    """What the owner's next step answers (aiogram FSM: in memory, or Redis shared by every
    process): a template preview waiting for Save, or the answer to an inbox question."""

    template = State()
    inbox_answer = State()


def build_owner_router(owner_ids: Iterable[int]) -> Router:
    owners = set(owner_ids)
    router = Router(name="owner")
    router.message.filter(F.chat.type == "private", F.from_user.id.in_(owners))
    router.callback_query.filter(F.from_user.id.in_(owners), F.data.startswith("own:"))

    # ------------------------------------------------------------------ help, settings
    @router.message(Command("owner", "admin"))
    async def on_help(message: Message, bot: Bot) -> None:
        await tell(bot, message.chat.id, HELP)

    @router.message(Command("settings"))
    async def on_settings(message: Message, bot: Bot, repo: Repo, settings: Settings) -> None:
        pattern = sh.pattern_text(await sh.load_pattern(repo))
        await tell(bot, message.chat.id,
                   f"{await oa.settings_text(repo, settings)}\nshifts: {pattern}")

    async def _set(message: Message, bot: Bot, repo: Repo, name: str, value: str) -> None:
        try:
            stored = await oa.change_setting(repo, message.from_user.id, name, value)
        except ValueError as error:
            await tell(bot, message.chat.id, f"Not changed: {error}")
            return
        await tell(bot, message.chat.id, f"{name} = {stored}")

    @router.message(Command("set"))
    async def on_set(message: Message, command: CommandObject, bot: Bot, repo: Repo) -> None:
        name, _, value = (command.args or "").partition(" ")
        await _set(message, bot, repo, name, value)

    @router.message(Command("cap"))
    async def on_cap(message: Message, command: CommandObject, bot: Bot, repo: Repo) -> None:
        parts = (command.args or "").split()
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            await _set(message, bot, repo, "agent_cap", command.args or "")
            return
        agent, cap = int(parts[0]), int(parts[1])
        if not 1 <= cap <= 100 or not await set_agent_cap(repo, agent, cap):
            await tell(bot, message.chat.id, "Not changed: cap 1..100 for a known agent.")
            return
        await oa.record_change(repo, message.from_user.id, "agent_cap", agent=agent, cap=cap)
        await repo.commit()
        await tell(bot, message.chat.id, f"Agent {agent}: at most {cap} open chats.")

    # ------------------------------------------------------------------ templates
    @router.message(Command("templates"))
    async def on_templates(message: Message, command: CommandObject, bot: Bot,
                           knowledge: KnowledgeBase, settings: Settings) -> None:
        args = (command.args or "").split()
        category = next((a for a in args if a not in settings.languages), None)
        lang = _lang(next((a for a in args if a in settings.languages), None), settings)
        await tell(bot, message.chat.id, oa.template_list(knowledge, lang, category))

    @router.message(Command("template"))
    async def on_template(message: Message, command: CommandObject, bot: Bot,
                          knowledge: KnowledgeBase, settings: Settings) -> None:
        key, _, lang = (command.args or "").partition(" ")
        phrase = oa.template_show(knowledge, key.strip(), _lang(lang.strip(), settings))
        text = (f"{phrase.key} [{phrase.lang}, {phrase.category}]\n{phrase.text}"
                if phrase else f"no template {key!r}")
        await tell(bot, message.chat.id, text)

    @router.message(Command("settemplate"))
    async def on_settemplate(message: Message, bot: Bot, state: FSMContext,
                             knowledge: KnowledgeBase, settings: Settings) -> None:
        head, _, text = (message.text or "").partition("\n")
        parts = head.split()[1:]
        if len(parts) != 2 or not text.strip():
            await tell(bot, message.chat.id,
                       "Write: /settemplate <key> <lang>, then the new text on the next lines.")
            return
        check = oa.check_template(knowledge, parts[0], parts[1], text, settings.shop_name)
        if not check.savable:
            await tell(bot, message.chat.id, "Refused:\n" + "\n".join(check.errors))
            return
        lines = [f"Preview for a sample customer:\n{check.preview}"]
        await state.set_state(OwnerDialogue.template)
        await state.set_data({"key": check.key, "lang": check.lang, "text": check.text})
        buttons = [("Save", "own:tpl:save"), ("Cancel", "own:tpl:cancel")]
        if not check.tone.ok:
            # P9: not saved as written unless the owner confirms it explicitly (recorded).
            terms = ", ".join(sorted({p.term for p in check.tone.problems}))
            lines.append(f"\n⚠ Negative language (P9): {terms}\nSuggested: {check.tone.rewrite}"
                         "\nAs written it is saved only if you confirm it.")
            buttons = [("Save suggested", "own:tpl:rewrite"),
                       ("Keep my wording (I confirm)", "own:tpl:confirm"),
                       ("Cancel", "own:tpl:cancel")]
        await tell(bot, message.chat.id, "\n".join(lines), keyboard(buttons))

    @router.callback_query(F.data.startswith("own:tpl:"))
    async def on_template_button(query: CallbackQuery, bot: Bot, repo: Repo, state: FSMContext,
                                 knowledge: KnowledgeBase) -> None:
        owner = query.from_user.id
        action = (query.data or "").rsplit(":", 1)[-1]
        if await state.get_state() != OwnerDialogue.template.state or action == "cancel":
            await state.clear()
            await query.answer("Nothing saved.")
            return
        edit = await state.get_data()
        text = edit["text"]
        if action == "rewrite":
            text = oa.check_template(knowledge, edit["key"], edit["lang"], text).tone.rewrite
        check = oa.check_template(knowledge, edit["key"], edit["lang"], text)
        errors = await oa.save_template(repo, knowledge, owner, check,
                                        confirm_negative=action == "confirm")
        if not errors:
            await state.clear()  # a refused save can still be confirmed
        await query.answer("Saved." if not errors else "Refused.")
        await tell(bot, owner, "Saved; the bot uses it now." if not errors
                   else "Refused:\n" + "\n".join(errors))

    # ------------------------------------------------------------------ P9 terms
    @router.message(Command("tone"))
    async def on_tone(message: Message, bot: Bot, knowledge: KnowledgeBase) -> None:
        await tell(bot, message.chat.id, oa.tone_terms_text(knowledge))

    @router.message(Command("toneadd"))
    async def on_toneadd(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                         knowledge: KnowledgeBase) -> None:
        term, _, rewrite = (command.args or "").partition("=")
        try:
            await oa.add_tone_term(repo, knowledge, message.from_user.id, term, rewrite)
        except ValueError as error:
            await tell(bot, message.chat.id, f"Not added: {error}")
            return
        await tell(bot, message.chat.id, f"“{term.strip()}” is caught from now on; suggested "
                                         f"instead: {rewrite.strip()}")

    @router.message(Command("tonedel"))
    async def on_tonedel(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                         knowledge: KnowledgeBase) -> None:
        term = (command.args or "").strip()
        done = bool(term) and await oa.remove_tone_term(repo, knowledge, message.from_user.id,
                                                        term)
        await tell(bot, message.chat.id, f"“{term}” is no longer checked." if done
                   else "Write /tonedel <term> (one listed by /tone).")

    # ------------------------------------------------------------------ FAQ
    @router.message(Command("faq"))
    async def on_faq(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                     settings: Settings) -> None:
        await tell(bot, message.chat.id,
                   await oa.faq_list(repo, _lang((command.args or "").strip(), settings)))

    @router.message(Command("faqshow"))
    async def on_faqshow(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                         settings: Settings) -> None:
        key, _, lang = (command.args or "").partition(" ")
        row = await repo.faq.get(key.strip(), _lang(lang.strip(), settings))
        text = (f"{row.key} [{row.lang}]\nQ: {row.question}\nA: {row.answer}\n"
                f"ALT: {' | '.join(row.alt or [])}" if row else f"no entry {key!r}")
        await tell(bot, message.chat.id, text)

    @router.message(Command("faqset"))
    async def on_faqset(message: Message, bot: Bot, repo: Repo,
                        knowledge: KnowledgeBase) -> None:
        body = (message.text or "").split(maxsplit=1)
        try:
            edit = oa.parse_faq_edit(body[1] if len(body) > 1 else "")
        except ValueError as error:
            await tell(bot, message.chat.id, f"Not saved: {error}")
            return
        warning = await oa.upsert_faq(repo, knowledge, message.from_user.id, edit)
        await tell(bot, message.chat.id,
                   f"Saved {edit.key} [{edit.lang}]; answered from now on." +
                   (f"\n⚠ {warning}" if warning else ""))

    @router.message(Command("faqdel"))
    async def on_faqdel(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                        knowledge: KnowledgeBase, settings: Settings) -> None:
        key, _, lang = (command.args or "").partition(" ")
        done = await oa.delete_faq(repo, knowledge, message.from_user.id, key.strip(),
                                   _lang(lang.strip(), settings))
        await tell(bot, message.chat.id, "Deleted." if done else f"no entry {key!r}")

    @router.message(Command("faqexport"))
    async def on_faqexport(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                           settings: Settings) -> None:
        args = (command.args or "").split()
        lang = _lang(next((a for a in args if a in settings.languages), None), settings)
        fmt = "csv" if "csv" in args else "yaml"
        data = await oa.export_faq(repo, lang, fmt)
        await bot.send_document(message.chat.id, BufferedInputFile(data, f"faq.{lang}.{fmt}"))

    router.message.register(bulk.on_faqimport_document, F.document)
    router.callback_query.register(bulk.on_import_choice, bulk.ImportChoice.filter(F.area == "imp"))
    router.callback_query.register(bulk.on_inbox_choice, bulk.InboxChoice.filter(F.area == "ibc"))
    router.message.register(bulk.on_faqundo, Command("faqundo"))
    router.message.register(bulk.on_changes, Command("changes"))

    # ------------------------------------------------------------------ inbox
    @router.message(Command("inbox"))
    async def on_inbox(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase,
                       conversations: ConversationService) -> None:
        since = conversations.clock.now() - timedelta(days=INBOX_DAYS)
        groups = oa.group_questions(await oa.unanswered_questions(repo, since), knowledge)
        if not groups:
            await tell(bot, message.chat.id, "No unanswered questions.")
            return
        await tell(bot, message.chat.id, f"{len(groups)} groups of unanswered questions:")
        for group in groups[:INBOX_GROUPS_SHOWN]:
            first = group.first
            lines = [f"#{first.message_id} ×{len(group.questions)} [{first.lang}] {first.text}"]
            lines += [f"  · {q.text}" for q in group.questions[1:4]]
            buttons = []
            if group.suggestion:
                buttons.append((f"+ phrasing of {group.suggestion}",
                                f"own:inb:alt:{first.message_id}:{group.suggestion}"))
            buttons += [("New entry", f"own:inb:new:{first.message_id}"),
                        ("Dismiss", f"own:inb:dis:{first.message_id}")]
            await tell(bot, message.chat.id, "\n".join(lines), keyboard(buttons))

    @router.message(Command("alt"))
    async def on_alt(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                     state: FSMContext, knowledge: KnowledgeBase,
                     conversations: ConversationService) -> None:
        parts = (command.args or "").split()
        if len(parts) != 2 or not parts[0].lstrip("#").isdigit():
            await tell(bot, message.chat.id, "Write: /alt <question id> <entry key>")
            return
        await bulk.show_inbox_preview(message.from_user.id, bot, repo, state, knowledge,
                                      conversations, int(parts[0].lstrip("#")), key=parts[1])

    @router.callback_query(F.data.startswith("own:inb:"))
    async def on_inbox_button(query: CallbackQuery, bot: Bot, repo: Repo, state: FSMContext,
                              knowledge: KnowledgeBase,
                              conversations: ConversationService) -> None:
        owner = query.from_user.id
        _, _, action, message_id, *rest = (query.data or "").split(":")
        await query.answer()
        if action == "alt" and rest:
            await bulk.show_inbox_preview(owner, bot, repo, state, knowledge, conversations,
                                          int(message_id), key=rest[0])
        elif action == "new":
            if await bulk.ask_inbox_answer(owner, bot, repo, knowledge, int(message_id)):
                await state.set_state(OwnerDialogue.inbox_answer)
                await state.set_data({"message_id": int(message_id)})
        elif action == "dis":
            since = conversations.clock.now() - timedelta(days=INBOX_DAYS)
            await oa.inbox_dismiss(repo, owner, int(message_id), since)
            await tell(bot, owner, "Dismissed.")

    @router.message(Command("cancel"))
    async def on_cancel(message: Message, bot: Bot, state: FSMContext) -> None:
        await state.clear()
        await tell(bot, message.chat.id, "Cancelled.")

    # ------------------------------------------------------------------ agents
    @router.message(Command("agents"))
    async def on_agents(message: Message, bot: Bot, repo: Repo,
                        conversations: ConversationService) -> None:
        from bot.services.staff import agent_ids, duty_switches
        ids = await agent_ids(repo)
        on = set(await sh.on_duty(repo, conversations.clock.now()))
        switches = await duty_switches(repo, ids)
        lines = [f"{i}{' · on duty' if i in on else ''}"
                 f"{'' if switches[i] == 'auto' else f' · switch {switches[i]}'}" for i in ids]
        await tell(bot, message.chat.id, "\n".join(lines) or "No agents yet: /addagent <id>")

    @router.message(Command("addagent", "removeagent"))
    async def on_addagent(message: Message, command: CommandObject, bot: Bot,
                          repo: Repo) -> None:
        try:
            ids = _ids(command.args or "")
        except ValueError:
            ids = []
        if not ids:
            await tell(bot, message.chat.id, f"Write: /{command.command} <telegram id>, or "
                                             "forward me a message of theirs.")
            return
        change = oa.add_agent if command.command == "addagent" else oa.remove_agent
        results = [await change(repo, message.from_user.id, i) for i in ids]
        await tell(bot, message.chat.id, "Done." if all(results) else "Done (no change for "
                   "some: already so).")

    @router.message(F.forward_origin)
    async def on_forward(message: Message, bot: Bot) -> None:
        origin = message.forward_origin
        user = getattr(origin, "sender_user", None)
        if user is None:
            await tell(bot, message.chat.id, "Their privacy settings hide who wrote it; "
                                             "ask for their id and use /addagent <id>.")
            return
        await tell(bot, message.chat.id, f"{user.full_name} ({user.id})", keyboard(
            [("Add as agent", f"own:agt:add:{user.id}"),
             ("Remove agent", f"own:agt:del:{user.id}")]))

    @router.callback_query(F.data.startswith("own:agt:"))
    async def on_agent_button(query: CallbackQuery, bot: Bot, repo: Repo) -> None:
        _, _, action, user_id = (query.data or "").split(":")
        change = oa.add_agent if action == "add" else oa.remove_agent
        changed = await change(repo, query.from_user.id, int(user_id))
        await query.answer("Done." if changed else "No change.")

    # ------------------------------------------------------------------ shifts
    @router.message(Command("shifts"))
    async def on_shifts(message: Message, command: CommandObject, bot: Bot, repo: Repo) -> None:
        value = (command.args or "").strip().lower()
        if value not in ("on", "off"):
            state = "on" if await calendar_enabled(repo) else "off"
            await tell(bot, message.chat.id, f"Shift calendar is {state}. /shifts on|off — on: "
                       "only agents of the running shift are on duty (P11).")
            return
        await set_calendar_enabled(repo, value == "on")
        await oa.record_change(repo, message.from_user.id, "shift_calendar", value=value)
        await repo.commit()
        await tell(bot, message.chat.id, f"Shift calendar {value}.")

    @router.message(Command("setshift"))
    async def on_setshift(message: Message, command: CommandObject, bot: Bot,
                          repo: Repo) -> None:
        try:
            pattern = sh.parse_pattern_line(command.args or "", await sh.load_pattern(repo))
        except ValueError as error:
            await tell(bot, message.chat.id, f"Not changed: {error}")
            return
        await sh.save_pattern(repo, pattern)
        await oa.record_change(repo, message.from_user.id, "shift_pattern",
                               line=command.args or "")
        await repo.commit()
        await tell(bot, message.chat.id, sh.pattern_text(pattern))

    @router.message(Command("closed", "open"))
    async def on_closed(message: Message, command: CommandObject, bot: Bot, repo: Repo) -> None:
        day_text, _, reason = (command.args or "").partition(" ")
        try:
            day = _day(day_text.strip())
        except ValueError as error:
            await tell(bot, message.chat.id, str(error))
            return
        closed = command.command == "closed"
        await repo.shifts.set_closed(day, closed, reason.strip())
        await oa.record_change(repo, message.from_user.id, "closed_day", day=str(day),
                               closed=closed)
        await repo.commit()
        await tell(bot, message.chat.id, f"{day}: {'closed' if closed else 'open'}")

    @router.message(Command("assign"))
    async def on_assign(message: Message, command: CommandObject, bot: Bot, repo: Repo) -> None:
        day_text, _, who = (command.args or "").partition(" ")
        try:
            day, ids = _day(day_text.strip()), _ids(who)
        except ValueError as error:
            await tell(bot, message.chat.id, f"Write: /assign 2026-05-04 901,902 ({error})")
            return
        await repo.shifts.assign(day, ids, source="owner")
        await oa.record_change(repo, message.from_user.id, "assign", day=str(day), agents=ids)
        await repo.commit()
        await tell(bot, message.chat.id, f"{day}: {', '.join(map(str, ids)) or 'rota'}")

    @router.message(Command("rota"))
    async def on_rota(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                      conversations: ConversationService) -> None:
        """P11: the month's rota as a table (/rota 2026-05; this month by default)."""
        arg = (command.args or "").strip()
        now = conversations.clock.now().astimezone(await sh.shop_tz(repo))
        try:
            year, month = (int(x) for x in arg.split("-")) if arg else (now.year, now.month)
            date(year, month, 1)
        except ValueError:
            await tell(bot, message.chat.id, "Write: /rota 2026-05")
            return
        table = await rota.month_table(repo, year, month, await agent_names(repo))
        await bot.send_message(message.chat.id, f"<pre>{escape(table)}</pre>")

    @router.message(Command("swapfine"))
    async def on_swapfine(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                          conversations: ConversationService) -> None:
        """P12 "若交待不清造成误班、空班的扣罚20元": both sides of the swap are fined."""
        arg = (command.args or "").lstrip("#").strip()
        fined = arg.isdigit() and await rota.record_swap_fine(
            repo, message.from_user.id, int(arg), conversations.clock.now())
        await repo.commit()
        await tell(bot, message.chat.id, f"Fine recorded for {', '.join(map(str, fined))}."
                   if fined else "Write /swapfine <approved swap id> (see the weekly report).")

    @router.message(Command("swaps"))
    async def on_swaps(message: Message, bot: Bot, repo: Repo) -> None:
        swaps = await repo.shifts.pending_swaps()
        if not swaps:
            await tell(bot, message.chat.id, "No swaps waiting.")
        for swap in swaps:
            markup = keyboard([("Approve", f"own:swp:ok:{swap.id}"),
                               ("Refuse", f"own:swp:no:{swap.id}")]) if swap.state == (
                "accepted") else None
            await tell(bot, message.chat.id, sh.swap_text(swap), markup)

    @router.callback_query(F.data.startswith("own:swp:"))
    async def on_swap_button(query: CallbackQuery, bot: Bot, repo: Repo,
                             conversations: ConversationService) -> None:
        _, _, action, swap_id = (query.data or "").split(":")
        outcome = await sh.decide_swap(repo, int(swap_id), query.from_user.id, action == "ok",
                                       conversations.clock.now())
        await oa.record_change(repo, query.from_user.id, "swap_decision", swap=int(swap_id),
                               approved=outcome.ok)
        await repo.commit()
        await query.answer("Approved." if outcome.ok else "Refused.")
        if outcome.swap is not None:
            for agent in (outcome.swap.requester_id, outcome.swap.colleague_id):
                await tell(bot, agent, sh.swap_text(outcome.swap))

    # ------------------------------------------------------------------ handover, complaints
    @router.message(Command("handovers"))
    async def on_handovers(message: Message, bot: Bot, repo: Repo) -> None:
        records = await repo.shifts.records()
        await tell(bot, message.chat.id, "\n".join(
            f"#{r.id} {r.shift_day} ({len(r.data.get('questions', []))} topics, "
            f"{len(r.data.get('open', []))} open)" for r in records) or "No handover records yet.")

    @router.message(Command("handovershow"))
    async def on_handovershow(message: Message, command: CommandObject, bot: Bot,
                              repo: Repo) -> None:
        arg = (command.args or "").lstrip("#").strip()
        record = await repo.shifts.record(int(arg)) if arg.isdigit() else None
        await tell(bot, message.chat.id, record.text if record else "Write /handovershow <id>")

    @router.message(Command("complaints"))
    async def on_complaints(message: Message, bot: Bot, repo: Repo,
                            conversations: ConversationService) -> None:
        await tell(bot, message.chat.id,
                   await cp.summary_text(repo, conversations.clock.now()))

    @router.message(Command("unfounded"))
    async def on_unfounded(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                           conversations: ConversationService) -> None:
        arg = (command.args or "").lstrip("#").strip()
        done = arg.isdigit() and await cp.mark_unfounded(
            repo, int(arg), message.from_user.id, conversations.clock.now())
        await tell(bot, message.chat.id, "Marked unfounded; counts updated." if done
                   else "Write /unfounded <complaint id> (an open complaint).")

    @router.callback_query(ComplaintAction.filter())
    async def on_complaint_button(query: CallbackQuery, callback_data: ComplaintAction,
                                  bot: Bot, repo: Repo,
                                  conversations: ConversationService) -> None:
        """P14: a penalty step is recorded only when the owner confirms a service complaint."""
        owner, now = query.from_user.id, conversations.clock.now()
        complaint_id = callback_data.complaint_id
        if callback_data.action == "charge":
            decision = await cp.charge(repo, complaint_id, owner, now)
            if decision.complaint is None:
                await query.answer("No change: decided already.")
                return
            text = (f"Complaint #{complaint_id} charged: "
                    f"{cp.step_text(decision.step, await cp.ladder(repo))}.")
            await query.answer("Charged.")
            await tell(bot, owner, text)
            return
        if callback_data.action == "no":
            done = await cp.not_charged(repo, complaint_id, owner)
            await query.answer("Recorded, charged to nobody." if done else "No change.")
            return
        done = await cp.mark_unfounded(repo, complaint_id, owner, now)
        await query.answer("Marked unfounded." if done else "No change.")

    @router.callback_query(F.data.regexp(r"^own:cpl:\d+$"))
    async def on_old_complaint_button(query: CallbackQuery, repo: Repo,
                                      conversations: ConversationService) -> None:
        """Buttons sent before the owner's confirmation existed meant 'unfounded'."""
        complaint_id = int((query.data or "").rsplit(":", 1)[-1])
        done = await cp.mark_unfounded(repo, complaint_id, query.from_user.id,
                                       conversations.clock.now())
        await query.answer("Marked unfounded." if done else "No change.")

    # ------------------------------------------------------------------ the pending answer
    @router.message(F.text, ~F.text.startswith("/"), StateFilter(OwnerDialogue))
    async def on_pending_text(message: Message, bot: Bot, repo: Repo, state: FSMContext,
                              knowledge: KnowledgeBase,
                              conversations: ConversationService) -> None:
        owner = message.from_user.id
        step, waiting = await state.get_state(), await state.get_data()
        await state.clear()
        if step == OwnerDialogue.inbox_answer.state:
            # 'New entry': the answer is shown working first, applied on the owner's button.
            await bulk.show_inbox_preview(owner, bot, repo, state, knowledge, conversations,
                                          int(waiting["message_id"]), answer=message.text or "")
        else:
            await tell(bot, message.chat.id, "Nothing was waiting for that; see /owner.")

    return router
