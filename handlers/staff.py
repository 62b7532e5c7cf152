"""Agents' (and owners') own commands in private chat: the schedule, swaps, duty, handover notes.

P11 /schedule shows the coming two weeks; P12 /swap asks a colleague, who accepts with a
button, then every owner gets Approve/Refuse; /duty on|off|auto is the agent's own switch;
P13 /handover <note> leaves a note for the next shift, /handover alone shows the last record;
/leave <day> [reason] asks for leave (P11: at least the day before the shift); the owners get
an Approve button that re-plans the rota (handlers/owner/people.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message

from bot.services import handover as ho
from bot.services import meeting, rota
from bot.services import shifts as sh
from bot.services.agent_console import AgentConsole
from bot.services.conversation import ConversationService
from bot.services.knowledge import KnowledgeBase
from bot.services.staff import (
    RosterCheck,
    agent_names,
    set_duty_switch,
    set_staff_lang,
    staff_words,
)
from bot.settings import Settings
from handlers.keyboards import LeaveDecision, SwapAnswer, SwapDecision, keyboard
from handlers.replying import tell
from storage.repositories import Repo


async def on_schedule(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase,
                      conversations: ConversationService) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    now = conversations.clock.now()
    shifts = await sh.coming_schedule(repo, now)
    on = await sh.on_duty(repo, now)
    names = await agent_names(repo)
    text = sh.schedule_text(shifts, await sh.shop_tz(repo), names, w)
    who = ", ".join(names.get(a, str(a)) for a in on) or w("nobody")
    await tell(bot, message.chat.id, w("schedule.on_now", agents=who) + "\n" + text)


async def on_lang(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                  knowledge: KnowledgeBase) -> None:
    """Each staff member reads the staff screens in zh or en (default: the shop's)."""
    me = message.from_user.id  # type: ignore[union-attr]
    value = (command.args or "").strip().lower()
    value = {"中文": "zh", "chinese": "zh", "英文": "en", "english": "en"}.get(value, value)
    try:
        await set_staff_lang(repo, me, value)
    except ValueError:
        await tell(bot, message.chat.id, (await staff_words(repo, knowledge, me))(
            "lang.usage"))
        return
    await repo.commit()
    await tell(bot, message.chat.id, (await staff_words(repo, knowledge, me))("lang.set"))


async def on_duty_switch(message: Message, command: CommandObject, bot: Bot,
                         repo: Repo, knowledge: KnowledgeBase,
                         console: AgentConsole | None = None) -> None:
    """/duty on|off|auto, the agent's own switch; coming on duty hands out waiting chats at
    once, as /on in the agents' group does (P11)."""
    w = await staff_words(repo, knowledge, message.chat.id)
    value = (command.args or "").strip().lower()
    try:
        await set_duty_switch(repo, message.from_user.id, value)  # type: ignore[union-attr]
    except ValueError:
        await tell(bot, message.chat.id, w("duty.usage"))
        return
    await repo.commit()
    await tell(bot, message.chat.id, w("duty.set", value=w.label("duty", value)))
    if value != "off" and console is not None:
        await console.hand_out(repo)
        await repo.commit()


async def on_handover(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                      knowledge: KnowledgeBase, conversations: ConversationService) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    note = (command.args or "").strip()
    if not note:
        record = await repo.shifts.latest_record()
        await tell(bot, message.chat.id, ho.record_text(
            record, await sh.shop_tz(repo), w, await agent_names(repo))
            if record else w("handover.none"))
        return
    await ho.add_note(repo, message.from_user.id, note, conversations.clock.now())
    await tell(bot, message.chat.id, w("handover.noted"))


async def on_swap(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                  knowledge: KnowledgeBase, conversations: ConversationService) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    parts = (command.args or "").split()
    try:
        day = date.fromisoformat(parts[0])
        colleague = int(parts[1])
        theirs = date.fromisoformat(parts[2]) if len(parts) > 2 else None
    except (IndexError, ValueError):
        await tell(bot, message.chat.id, w("swap.usage"))
        return
    me = message.from_user.id  # type: ignore[union-attr]
    outcome = await sh.request_swap(repo, me, day, colleague, theirs,
                                    conversations.clock.now())
    await repo.commit()
    if not outcome.ok or outcome.swap is None:
        reason = sh.swap_reason_text(outcome.reason, w, await agent_names(repo))
        await tell(bot, message.chat.id, w("swap.refused", reason=reason))
        return
    swap = outcome.swap
    names = await agent_names(repo)
    await tell(bot, message.chat.id, w("swap.asked", colleague=names.get(
        colleague, str(colleague)), swap=sh.swap_text(swap, names, w)))
    theirs = await staff_words(repo, knowledge, colleague)
    await tell(bot, colleague, theirs("swap.ask_colleague", asker=names.get(me, str(me)),
                                      swap=sh.swap_text(swap, names, theirs)), keyboard(
        [(theirs("swap.accept"), SwapAnswer(action="acc", swap_id=swap.id)),
         (theirs("swap.decline"), SwapAnswer(action="dec", swap_id=swap.id))]))


async def on_weekly(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                    knowledge: KnowledgeBase, conversations: ConversationService) -> None:
    """P15: last week's goals met, problems and what to improve, for Monday's meeting."""
    w = await staff_words(repo, knowledge, message.chat.id)
    text = (command.args or "").strip()
    if not text:
        await tell(bot, message.chat.id, w("weekly.usage"))
        return
    saved = await meeting.save_self_report(repo, message.from_user.id, text,  # type: ignore[union-attr]
                                           conversations.clock.now())
    await repo.commit()
    await tell(bot, message.chat.id, w("weekly.saved", week=saved.week))


async def on_leave(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                   knowledge: KnowledgeBase, conversations: ConversationService,
                   settings: Settings) -> None:
    """P11 "如需请假，需在当班前一天提出": recorded, and the owners are told at once."""
    w = await staff_words(repo, knowledge, message.chat.id)
    day_text, _, reason = (command.args or "").strip().partition(" ")
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        await tell(bot, message.chat.id, w("leave.usage"))
        return
    me = message.from_user.id  # type: ignore[union-attr]
    leave = await rota.request_leave(repo, me, day, reason.strip(),
                                     conversations.clock.now())
    await repo.commit()
    await tell(bot, message.chat.id, w("leave.recorded", day=day,
                                       late="" if leave.on_time else w("leave.late")))
    names = await agent_names(repo)
    for owner in settings.owner_ids:
        ow = await staff_words(repo, knowledge, owner)
        await tell(bot, owner, ow("leave.owner_alert", agent=names.get(me, str(me)),
                                  day=day, id=me,
                                  reason=ow("leave.reason", reason=reason.strip())
                                  if reason.strip() else "",
                                  late="" if leave.on_time else ow("leave.late")),
                   keyboard([(ow("leave.approve"), LeaveDecision(event_id=leave.event_id))])
                   if leave.event_id is not None else None)


async def on_swap_button(query: CallbackQuery, callback_data: SwapAnswer, bot: Bot,
                         repo: Repo, knowledge: KnowledgeBase,
                         conversations: ConversationService, settings: Settings) -> None:
    """P12: the colleague's answer; an accepted swap goes to every owner to approve."""
    action, swap_id = callback_data.action, callback_data.swap_id
    now = conversations.clock.now()
    if action == "acc":
        outcome = await sh.accept_swap(repo, swap_id, query.from_user.id, now)
    else:
        outcome = await sh.decide_swap(repo, swap_id, query.from_user.id, False, now,
                                       by_colleague=True)
    await repo.commit()
    w = await staff_words(repo, knowledge, query.from_user.id)
    await query.answer(w("done") if outcome.swap
                       else sh.swap_reason_text(outcome.reason, w)[:190])
    swap = outcome.swap
    if swap is None:
        return
    names = await agent_names(repo)
    asker = await staff_words(repo, knowledge, swap.requester_id)
    await tell(bot, swap.requester_id, sh.swap_text(swap, names, asker))
    if action == "acc" and outcome.ok:
        for owner in settings.owner_ids:
            ow = await staff_words(repo, knowledge, owner)
            await tell(bot, owner, ow("swap.approve_q", swap=sh.swap_text(swap, names, ow)),
                       keyboard([(ow("swap.approve"), SwapDecision(action="ok", swap_id=swap.id)),
                                 (ow("swap.refuse"), SwapDecision(action="no", swap_id=swap.id))]))


async def on_stale_button(query: CallbackQuery, repo: Repo, knowledge: KnowledgeBase) -> None:
    """A swap button no factory reads (forged, or a format long gone): a pop-up, no error."""
    await query.answer((await staff_words(repo, knowledge, query.from_user.id))("button.expired"))


def build_staff_router(owner_ids: Iterable[int]) -> Router:
    """Private chats of owners and of agents on the roster now; the handlers above get what
    they need (``repo``, ``knowledge``, ``conversations``, ``settings``) from workflow data."""
    owners = frozenset(owner_ids)

    async def is_staff(event: Message | CallbackQuery, roster: RosterCheck) -> bool:
        user = event.from_user
        return user is not None and (user.id in owners or await roster.has(user.id))

    router = Router(name="staff")
    router.message.filter(F.chat.type == "private", F.text.startswith("/"), is_staff)
    router.callback_query.filter(F.data.startswith(f"{SwapAnswer.__prefix__}:"), is_staff)
    message = router.message.register
    message(on_schedule, Command("schedule"))
    message(on_lang, Command("lang"))
    message(on_duty_switch, Command("duty"))
    message(on_handover, Command("handover"))
    message(on_swap, Command("swap"))
    message(on_weekly, Command("weekly"))
    message(on_leave, Command("leave"))
    router.callback_query.register(on_swap_button,
                                   SwapAnswer.filter())
    router.callback_query.register(on_stale_button)
    return router
