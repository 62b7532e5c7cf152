"""Agents' (and owners') own commands in private chat: the schedule, swaps, duty, handover notes.

P11 /schedule shows the coming two weeks; P12 /swap asks a colleague, who accepts with a
button, then every owner gets Approve/Refuse; /duty on|off|auto is the agent's own switch;
P13 /handover <note> leaves a note for the next shift, /handover alone shows the last record;
/leave <day> [reason] asks for leave (P11: at least the day before the shift).
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
from bot.services.conversation import ConversationService
from bot.services.staff import RosterCheck, agent_names, set_duty_switch
from handlers.replying import keyboard, tell
from storage.repositories import Repo

SWAP_HELP = ("Write: /swap <your shift day YYYY-MM-DD> <colleague id> [their day YYYY-MM-DD] "
             "— they accept, then the owner approves (P12, at most the monthly limit).")


def build_staff_router(owner_ids: Iterable[int]) -> Router:
    owners = set(owner_ids)
    router = Router(name="staff")

    async def is_staff(event: Message | CallbackQuery, roster: RosterCheck) -> bool:
        user = event.from_user
        return user is not None and (user.id in owners or await roster.has(user.id))

    router.message.filter(F.chat.type == "private", F.text.startswith("/"), is_staff)
    router.callback_query.filter(F.data.startswith("sw:"), is_staff)

    @router.message(Command("schedule"))
    async def on_schedule(message: Message, bot: Bot, repo: Repo,
                          conversations: ConversationService) -> None:
        now = conversations.clock.now()
        shifts = await sh.coming_schedule(repo, now)
        on = await sh.on_duty(repo, now)
        text = sh.schedule_text(shifts, await sh.shop_tz(repo))
        await tell(bot, message.chat.id, f"On duty now: {', '.join(map(str, on)) or 'nobody'}\n"
                                         f"{text}")

    @router.message(Command("duty"))
    async def on_duty_switch(message: Message, command: CommandObject, bot: Bot,
                             repo: Repo) -> None:
        value = (command.args or "").strip().lower()
        try:
            await set_duty_switch(repo, message.from_user.id, value)  # type: ignore[union-attr]
        except ValueError:
            await tell(bot, message.chat.id, "Write /duty on, /duty off or /duty auto "
                                             "(auto: the shift calendar decides).")
            return
        await repo.commit()
        await tell(bot, message.chat.id, f"Your duty switch: {value}.")

    @router.message(Command("handover"))
    async def on_handover(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                          conversations: ConversationService) -> None:
        note = (command.args or "").strip()
        if not note:
            record = await repo.shifts.latest_record()
            await tell(bot, message.chat.id, record.text if record else
                       "No handover yet. Leave a note: /handover <text>")
            return
        await ho.add_note(repo, message.from_user.id, note, conversations.clock.now())
        await tell(bot, message.chat.id, "Noted for the handover.")

    @router.message(Command("swap"))
    async def on_swap(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                      conversations: ConversationService) -> None:
        parts = (command.args or "").split()
        try:
            day = date.fromisoformat(parts[0])
            colleague = int(parts[1])
            theirs = date.fromisoformat(parts[2]) if len(parts) > 2 else None
        except (IndexError, ValueError):
            await tell(bot, message.chat.id, SWAP_HELP)
            return
        me = message.from_user.id  # type: ignore[union-attr]
        outcome = await sh.request_swap(repo, me, day, colleague, theirs,
                                        conversations.clock.now())
        await repo.commit()
        if not outcome.ok or outcome.swap is None:
            await tell(bot, message.chat.id, f"Swap refused: {outcome.reason}")
            return
        swap = outcome.swap
        await tell(bot, message.chat.id, f"Asked {colleague}. {sh.swap_text(swap)}")
        await tell(bot, colleague, f"{me} asks you to swap: {sh.swap_text(swap)}", keyboard(
            [("Accept", f"sw:acc:{swap.id}"), ("Decline", f"sw:dec:{swap.id}")]))

    @router.message(Command("weekly"))
    async def on_weekly(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                        conversations: ConversationService) -> None:
        """P15: last week's goals met, problems and what to improve, for Monday's meeting."""
        text = (command.args or "").strip()
        if not text:
            await tell(bot, message.chat.id, "Write: /weekly 完成目标：… 问题：… 改进：… "
                                             "(last week, for the Monday 14:30 meeting)")
            return
        saved = await meeting.save_self_report(repo, message.from_user.id, text,  # type: ignore[union-attr]
                                               conversations.clock.now())
        await repo.commit()
        await tell(bot, message.chat.id, f"Self-report for the week of {saved.week} saved; it "
                                         "goes into the meeting report.")

    @router.message(Command("leave"))
    async def on_leave(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                       conversations: ConversationService) -> None:
        """P11 "如需请假，需在当班前一天提出": recorded, and the owners are told at once."""
        day_text, _, reason = (command.args or "").strip().partition(" ")
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            await tell(bot, message.chat.id, "Write: /leave <YYYY-MM-DD> [reason] — at least "
                                             "the day before the shift.")
            return
        me = message.from_user.id  # type: ignore[union-attr]
        leave = await rota.request_leave(repo, me, day, reason.strip(),
                                         conversations.clock.now())
        await repo.commit()
        late = "" if leave.on_time else " — NOT asked the day before (recorded)"
        await tell(bot, message.chat.id, f"Leave for {day} recorded{late}; the owner covers "
                                         "the shift.")
        names = await agent_names(repo)
        for owner in owners:
            await tell(bot, owner, f"Leave request: {names.get(me, me)} on {day}"
                                   f"{f' ({reason.strip()})' if reason.strip() else ''}{late}."
                                   f" Cover it: /assign {day} <agent id>")

    @router.callback_query(F.data.startswith("sw:"))
    async def on_swap_button(query: CallbackQuery, bot: Bot, repo: Repo,
                             conversations: ConversationService) -> None:
        _, action, swap_id = (query.data or "").split(":")
        now = conversations.clock.now()
        if action == "acc":
            outcome = await sh.accept_swap(repo, int(swap_id), query.from_user.id, now)
        else:
            outcome = await sh.decide_swap(repo, int(swap_id), query.from_user.id, False, now,
                                           by_colleague=True)
        await repo.commit()
        await query.answer("Done." if outcome.swap else outcome.reason)
        swap = outcome.swap
        if swap is None:
            return
        await tell(bot, swap.requester_id, sh.swap_text(swap))
        if action == "acc" and outcome.ok:
            for owner in owners:
                await tell(bot, owner, f"Approve? {sh.swap_text(swap)}", keyboard(
                    [("Approve", f"own:swp:ok:{swap.id}"), ("Refuse", f"own:swp:no:{swap.id}")]))

    return router
