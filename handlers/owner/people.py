"""The owner's agents, shift calendar, swaps and handover records (P11, P12)."""

from __future__ import annotations

from datetime import date
from html import escape

from aiogram import Bot
from aiogram.filters import CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, Message, User

from bot.services import handover as ho
from bot.services import owner_admin as oa
from bot.services import rota
from bot.services import shifts as sh
from bot.services.conversation import ConversationService
from bot.services.knowledge import KnowledgeBase
from bot.services.staff import (
    agent_ids,
    agent_names,
    calendar_enabled,
    duty_switches,
    remember_person,
    set_calendar_enabled,
    staff_words,
)
from handlers.keyboards import AgentChoice, LeaveDecision, SwapDecision, keyboard
from handlers.owner.common import parse_day, parse_ids
from handlers.replying import tell
from phrases.staff import StaffWords
from storage.repositories import Repo


async def on_agents(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase,
                    conversations: ConversationService) -> None:
    """The roster by name; the Telegram id beside it is what /removeagent and /cap take."""
    w = await staff_words(repo, knowledge, message.chat.id)
    ids = await agent_ids(repo)
    names = await agent_names(repo)
    on = set(await sh.on_duty(repo, conversations.clock.now()))
    switches = await duty_switches(repo, ids)
    lines = []
    for i in ids:
        name = names.get(i, str(i))
        parts = [w("agents.who", agent=name, id=i) if name != str(i) else str(i)]
        parts.append(w("agents.on_duty") if i in on else w("agents.off_duty"))
        if switches[i] != "auto":
            parts.append(w("agents.switch", value=w.label("agents.switch", switches[i])))
        lines.append(" · ".join(parts))
    await tell(bot, message.chat.id, "\n".join(lines) or w("agents.none"))


async def on_addagent(message: Message, command: CommandObject, bot: Bot,
                      repo: Repo, knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    try:
        ids = parse_ids(command.args or "")
    except ValueError:
        ids = []
    person = _author(message.reply_to_message) if command.command == "addagent" else None
    if not ids and person is not None:  # /addagent in reply to a message of theirs
        added = await oa.add_agent(repo, message.from_user.id, person.id, person.full_name,
                                   person.username)
        await tell(bot, message.chat.id, w("done") if added else w("agents.already"))
        return
    if not ids:
        await tell(bot, message.chat.id, w("agents.usage", command=command.command))
        return
    change = oa.add_agent if command.command == "addagent" else oa.remove_agent
    results = [await change(repo, message.from_user.id, i) for i in ids]
    await tell(bot, message.chat.id, w("done") if all(results) else w("agents.already"))


def _author(message: Message | None) -> User | None:
    """Who wrote a message the owner forwarded (or replies to): None when hidden or absent."""
    if message is None:
        return None
    return getattr(message.forward_origin, "sender_user", None)


async def on_forward(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    user = _author(message)
    if user is not None:  # the buttons carry the id; the name is kept for "add as agent"
        await remember_person(repo, user.id, user.full_name, user.username)
        await repo.commit()
    if user is None:
        await tell(bot, message.chat.id, w("agents.hidden"))
        return
    await tell(bot, message.chat.id, w("agents.who", agent=user.full_name, id=user.id), keyboard(
        [(w("agents.button_add"), AgentChoice(action="add", user_id=user.id)),
         (w("agents.button_remove"), AgentChoice(action="del", user_id=user.id))]))


async def on_agent_button(query: CallbackQuery, callback_data: AgentChoice, bot: Bot,
                          repo: Repo, knowledge: KnowledgeBase) -> None:
    change = oa.add_agent if callback_data.action == "add" else oa.remove_agent
    changed = await change(repo, query.from_user.id, callback_data.user_id)
    w = await staff_words(repo, knowledge, query.from_user.id)
    await query.answer(w("done") if changed else w("agents.no_change"))


async def on_shifts(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                    knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    value = (command.args or "").strip().lower()
    value = {"开": "on", "开启": "on", "关": "off", "关闭": "off"}.get(value, value)
    if value not in ("on", "off"):
        state = "on" if await calendar_enabled(repo) else "off"
        await tell(bot, message.chat.id, w("shifts.state", state=w.label("shifts", state)))
        return
    await set_calendar_enabled(repo, value == "on")
    await oa.record_change(repo, message.from_user.id, "shift_calendar", value=value)
    await repo.commit()
    await tell(bot, message.chat.id, w("shifts.set", state=w.label("shifts", value)))


async def on_setshift(message: Message, command: CommandObject, bot: Bot,
                      repo: Repo, knowledge: KnowledgeBase) -> None:
    """P11 hours per weekday: '/setshift 周一 19:00-23:00', '/setshift mon-sat 18:30-24:00'."""
    w = await staff_words(repo, knowledge, message.chat.id)
    try:
        pattern = sh.parse_pattern_line(command.args or "", await sh.load_pattern(repo))
    except sh.ShiftLineError as error:
        await tell(bot, message.chat.id, w("shift.not_changed",
                                           reason=w(f"shift.{error.key}", **error.values)))
        return
    await sh.save_pattern(repo, pattern)
    await oa.record_change(repo, message.from_user.id, "shift_pattern",
                           line=command.args or "")
    await repo.commit()
    await tell(bot, message.chat.id, w("shift.saved", week=sh.pattern_text(pattern, w)))


async def on_closed(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                    knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    day_text, _, reason = (command.args or "").partition(" ")
    try:
        day = parse_day(day_text.strip())
    except ValueError:
        await tell(bot, message.chat.id, w("date.bad", text=day_text.strip()))
        return
    closed = command.command == "closed"
    await repo.shifts.set_closed(day, closed, reason.strip())
    await oa.record_change(repo, message.from_user.id, "closed_day", day=str(day),
                           closed=closed)
    await repo.commit()
    await tell(bot, message.chat.id, w("closed.set" if closed else "closed.open", day=day))


async def on_assign(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                    knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    day_text, _, who = (command.args or "").partition(" ")
    try:
        day, ids = parse_day(day_text.strip()), parse_ids(who)
    except ValueError:
        await tell(bot, message.chat.id, w("assign.usage"))
        return
    await repo.shifts.assign(day, ids, source="owner")
    await oa.record_change(repo, message.from_user.id, "assign", day=str(day), agents=ids)
    await repo.commit()
    names = await agent_names(repo)
    await tell(bot, message.chat.id, w("assign.set", day=day, agents=", ".join(
        names.get(i, str(i)) for i in ids) or w("assign.rota")))


async def on_rota(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                  knowledge: KnowledgeBase, conversations: ConversationService) -> None:
    """P11: the month's rota as a table (/rota 2026-05; this month by default)."""
    w = await staff_words(repo, knowledge, message.chat.id)
    arg = (command.args or "").strip()
    now = conversations.clock.now().astimezone(await sh.shop_tz(repo))
    try:
        year, month = (int(x) for x in arg.split("-")) if arg else (now.year, now.month)
        date(year, month, 1)
    except ValueError:
        await tell(bot, message.chat.id, w("rota.usage"))
        return
    names = await agent_names(repo)
    table = await rota.month_table(repo, year, month, names, w)
    await bot.send_message(message.chat.id, f"<pre>{escape(table)}</pre>")
    png = await rota.month_image(repo, year, month, names, w)  # the same table as an image
    await bot.send_photo(message.chat.id, BufferedInputFile(png, f"rota-{year}-{month:02d}.png"))


async def on_swapfine(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                      knowledge: KnowledgeBase, conversations: ConversationService) -> None:
    """P12 "若交待不清造成误班、空班的扣罚20元": both sides of the swap are fined."""
    arg = (command.args or "").lstrip("#").strip()
    fined = arg.isdigit() and await rota.record_swap_fine(
        repo, message.from_user.id, int(arg), conversations.clock.now())
    await repo.commit()
    w = await staff_words(repo, knowledge, message.chat.id)
    names = await agent_names(repo)
    await tell(bot, message.chat.id, w("swapfine.done", agents=", ".join(
        names.get(i, str(i)) for i in fined)) if fined else w("swapfine.usage"))


async def on_swaps(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    names = await agent_names(repo)
    swaps = await repo.shifts.pending_swaps()
    if not swaps:
        await tell(bot, message.chat.id, w("swaps.none"))
    for swap in swaps:
        markup = keyboard([(w("swap.approve"), SwapDecision(action="ok", swap_id=swap.id)),
                           (w("swap.refuse"), SwapDecision(action="no", swap_id=swap.id))]
                          ) if swap.state == (
            "accepted") else None
        await tell(bot, message.chat.id, sh.swap_text(swap, names, w), markup)


async def on_swap_button(query: CallbackQuery, callback_data: SwapDecision, bot: Bot,
                         repo: Repo, knowledge: KnowledgeBase,
                         conversations: ConversationService) -> None:
    swap_id = callback_data.swap_id
    outcome = await sh.decide_swap(repo, swap_id, query.from_user.id,
                                   callback_data.action == "ok", conversations.clock.now())
    await oa.record_change(repo, query.from_user.id, "swap_decision", swap=swap_id,
                           approved=outcome.ok)
    await repo.commit()
    w = await staff_words(repo, knowledge, query.from_user.id)
    await query.answer(w("swap.answer_approved" if outcome.ok else "swap.answer_refused"))
    if outcome.swap is not None:
        names = await agent_names(repo)
        for agent in (outcome.swap.requester_id, outcome.swap.colleague_id):
            theirs = await staff_words(repo, knowledge, agent)
            await tell(bot, agent, sh.swap_text(outcome.swap, names, theirs))


async def on_leave_button(query: CallbackQuery, callback_data: LeaveDecision, bot: Bot,
                          repo: Repo, knowledge: KnowledgeBase,
                          conversations: ConversationService) -> None:
    """P11: an approved leave re-plans the rota; the owner, the agent on leave and whoever
    covers are told (the schedule, who is on duty and the handover follow the stored plan)."""
    plan = await rota.approve_leave(repo, callback_data.event_id, query.from_user.id,
                                    conversations.clock.now())
    await repo.commit()
    w = await staff_words(repo, knowledge, query.from_user.id)
    if plan is None:
        await query.answer(w("leave.unknown"))
        return
    await query.answer(w("done"))
    if plan.already:
        return
    names = await agent_names(repo)
    tz = await sh.shop_tz(repo)

    def shift_line(words: StaffWords) -> str:
        return sh.schedule_text([plan.shift], tz, names, words) if plan.shift else ""

    agent = names.get(plan.agent_id, str(plan.agent_id))
    cover = names.get(plan.replacement, str(plan.replacement)) if plan.replacement else ""
    key = ("leave.not_on_shift" if not plan.on_shift else "leave.shift_empty"
           if plan.empty else "leave.covered" if plan.replacement else "leave.still_covered")
    await tell(bot, query.from_user.id, w(key, agent=agent, day=plan.day, cover=cover,
                                          shift=shift_line(w)))
    mine = await staff_words(repo, knowledge, plan.agent_id)
    await tell(bot, plan.agent_id, mine("leave.approved", day=plan.day, shift=shift_line(mine)))
    if plan.replacement is not None:
        theirs = await staff_words(repo, knowledge, plan.replacement)
        await tell(bot, plan.replacement, theirs("leave.you_cover", agent=agent, day=plan.day,
                                                 shift=shift_line(theirs)))


async def on_handovers(message: Message, bot: Bot, repo: Repo,
                       knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    records = await repo.shifts.records()
    await tell(bot, message.chat.id, "\n".join(
        w("handovers.line", record=r.id, day=r.shift_day,
          topics=len(r.data.get("questions", [])), open=len(r.data.get("open", [])))
        for r in records) or w("handovers.none"))


async def on_handovershow(message: Message, command: CommandObject, bot: Bot,
                          repo: Repo, knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    arg = (command.args or "").lstrip("#").strip()
    record = await repo.shifts.record(int(arg)) if arg.isdigit() else None
    await tell(bot, message.chat.id, ho.record_text(
        record, await sh.shop_tz(repo), w, await agent_names(repo))
        if record else w("handovershow.usage"))
