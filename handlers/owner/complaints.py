"""The owner's complaint decisions (P14): list, unfounded, and the charge buttons."""

from __future__ import annotations

from aiogram import Bot
from aiogram.filters import CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.services import complaints as cp
from bot.services.conversation import ConversationService
from bot.services.knowledge import KnowledgeBase
from bot.services.staff import staff_words
from handlers.keyboards import ComplaintAction, OldComplaintButton
from handlers.replying import tell
from phrases.staff import StaffWords
from storage.models.shifts import Complaint, ComplaintStatus
from storage.repositories import Repo


def complaint_keyboard(complaint: Complaint, agent_name: str,
                       w: StaffWords) -> InlineKeyboardMarkup | None:
    """Buttons under a complaint notice: confirming is the only way a step is recorded."""
    builder = InlineKeyboardBuilder()
    if complaint.agent_id is not None and complaint.status in (
            ComplaintStatus.PENDING, ComplaintStatus.RECORDED):
        builder.button(text=w("complaint.button_charge", agent=agent_name),
                       callback_data=ComplaintAction(action="charge", complaint_id=complaint.id))
        if complaint.status == ComplaintStatus.PENDING:
            builder.button(text=w("complaint.button_no"),
                           callback_data=ComplaintAction(action="no",
                                                         complaint_id=complaint.id))
    builder.button(text=w("complaint.button_unfounded"),
                   callback_data=ComplaintAction(action="unfounded", complaint_id=complaint.id))
    builder.adjust(1)
    return builder.as_markup()


async def on_complaints(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase,
                        conversations: ConversationService) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    await tell(bot, message.chat.id,
               await cp.summary_text(repo, conversations.clock.now(), w))


async def on_unfounded(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                       knowledge: KnowledgeBase, conversations: ConversationService) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    arg = (command.args or "").lstrip("#").strip()
    done = arg.isdigit() and await cp.mark_unfounded(
        repo, int(arg), message.from_user.id, conversations.clock.now())
    await tell(bot, message.chat.id, w("complaint.unfounded_done") if done
               else w("complaint.unfounded_usage"))


async def on_complaint_button(query: CallbackQuery, callback_data: ComplaintAction,
                              bot: Bot, repo: Repo, knowledge: KnowledgeBase,
                              conversations: ConversationService) -> None:
    """P14: a penalty step is recorded only when the owner confirms a service complaint."""
    owner, now = query.from_user.id, conversations.clock.now()
    w = await staff_words(repo, knowledge, owner)
    complaint_id = callback_data.complaint_id
    if callback_data.action == "charge":
        decision = await cp.charge(repo, complaint_id, owner, now)
        if decision.complaint is None:
            await query.answer(w("complaint.answer_decided"))
            return
        text = w("complaint.charged", complaint=complaint_id,
                 step=cp.step_text(decision.step, await cp.ladder(repo), w))
        await query.answer(w("complaint.answer_charged"))
        await tell(bot, owner, text)
        return
    if callback_data.action == "no":
        done = await cp.not_charged(repo, complaint_id, owner)
        await query.answer(w("complaint.answer_recorded" if done
                             else "complaint.answer_no_change"))
        return
    done = await cp.mark_unfounded(repo, complaint_id, owner, now)
    await query.answer(w("complaint.answer_unfounded" if done else "complaint.answer_no_change"))


async def on_old_complaint_button(query: CallbackQuery, callback_data: OldComplaintButton,
                                  repo: Repo, knowledge: KnowledgeBase,
                                  conversations: ConversationService) -> None:
    """Buttons sent before the owner's confirmation existed meant 'unfounded'."""
    complaint_id = callback_data.complaint_id
    done = await cp.mark_unfounded(repo, complaint_id, query.from_user.id,
                                   conversations.clock.now())
    w = await staff_words(repo, knowledge, query.from_user.id)
    await query.answer(w("complaint.answer_unfounded" if done else "complaint.answer_no_change"))
