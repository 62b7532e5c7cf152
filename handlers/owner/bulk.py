"""Safe bulk changes (the owner's): an FAQ import and an inbox action are shown before they are
made and applied on a button; ``/faqundo`` takes the newest FAQ change back; ``/changes`` lists
everything the owner changed, with who and when.

The rules live in ``bot.services.faq_changes`` and ``bot.services.audit``; the words in the
staff phrase data (``faqimport.*``, ``inbox.*``, ``undo.*``, ``changes.*``).
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.filters import CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.services import audit
from bot.services import faq_changes as fc
from bot.services import owner_admin as oa
from bot.services.conversation import ConversationService
from bot.services.knowledge import KnowledgeBase
from bot.services.staff import agent_names, staff_words
from bot.settings import Settings
from handlers.keyboards import ImportChoice, InboxChoice
from handlers.owner.common import INBOX_DAYS, flow, lang_or_default, take_draft
from handlers.replying import tell
from phrases.staff import StaffWords
from storage.repositories import Repo

SHOWN_KEYS = 12  # keys listed per line of an import preview
SHOWN_SHIFTS = 8  # similar questions listed under an inbox preview
CHANGES_SHOWN = 20


class ImportDialogue(StatesGroup):
    """An FAQ import's preview waiting for merge / replace (namespace ``import``)."""

    choice = State()


class InboxDialogue(StatesGroup):
    """An inbox action's preview waiting for Apply (namespace ``inbox``)."""

    confirm = State()


def _keys(entries: Any) -> str:
    keys = [getattr(e, "id", None) or e[1].id for e in entries]
    more = len(keys) - SHOWN_KEYS
    return ", ".join(keys[:SHOWN_KEYS]) + (f" … (+{more})" if more > 0 else "")


# ============================================================================ FAQ import
def import_preview(w: StaffWords, plan: fc.ImportPlan) -> tuple[str, InlineKeyboardMarkup]:
    merge, replace = plan.merge, plan.replace
    lines = [w("faqimport.preview", file=plan.filename, lang=plan.lang, count=len(plan.entries)),
             w("faqimport.merge", added=len(merge.added), changed=len(merge.changed),
               kept=merge.kept)]
    if merge.added:
        lines.append(w("faqimport.added", keys=_keys(merge.added)))
    if merge.changed:
        lines.append(w("faqimport.changed", keys=_keys(merge.changed)))
    if merge.empty:
        lines.append(w("faqimport.same"))
    lines.append(w("faqimport.replace", added=len(replace.added), changed=len(replace.changed),
                   removed=len(replace.removed)))
    if replace.removed:
        lines.append(w("faqimport.removed", keys=_keys(replace.removed)))
    if plan.tone_flagged:
        lines.append(w("faqimport.tone", count=len(plan.tone_flagged),
                       keys=", ".join(plan.tone_flagged[:SHOWN_KEYS])))
    lines.append(w("faqimport.ask"))
    builder = InlineKeyboardBuilder()
    builder.button(text=w("faqimport.button_merge"), callback_data=ImportChoice(mode=fc.MERGE))
    builder.button(text=w("faqimport.button_replace", removed=len(replace.removed)),
                   callback_data=ImportChoice(mode=fc.REPLACE))
    builder.button(text=w("faqimport.button_cancel"), callback_data=ImportChoice(mode="cancel"))
    builder.adjust(1)
    return "\n".join(lines), builder.as_markup()


async def _download(bot: Bot, file_id: str) -> bytes:
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    return buffer.getvalue()


async def on_faqimport_document(message: Message, bot: Bot, repo: Repo, state: FSMContext,
                                knowledge: KnowledgeBase, settings: Settings) -> None:
    """A file captioned /faqimport <lang>: read and compared, nothing changed yet."""
    w = await staff_words(repo, knowledge, message.from_user.id)  # type: ignore[union-attr]
    caption = (message.caption or "").split()
    if not caption or caption[0].split("@")[0] != "/faqimport" or message.document is None:
        await tell(bot, message.chat.id, w("faqimport.hint"))
        return
    lang = lang_or_default(caption[1] if len(caption) > 1 else None, settings)
    name = message.document.file_name or "faq.yaml"
    try:
        plan = await oa.plan_faq_import(repo, knowledge, lang, name,
                                        await _download(bot, message.document.file_id))
    except ValueError as error:
        await tell(bot, message.chat.id, w("faqimport.failed", error=w.why(error)))
        return
    state = flow(state, "import")  # its own namespace: other drafts stay
    await state.set_state(ImportDialogue.choice)
    await state.set_data({"import": {"file_id": message.document.file_id, "name": name,
                                     "lang": lang}})
    text, markup = import_preview(w, plan)
    await tell(bot, message.chat.id, text, markup)


async def on_import_choice(query: CallbackQuery, callback_data: ImportChoice, bot: Bot,
                           repo: Repo, state: FSMContext, knowledge: KnowledgeBase,
                           conversations: ConversationService) -> None:
    """Apply the import as chosen (the file is read again: nothing big waits in the FSM)."""
    owner = query.from_user.id
    w = await staff_words(repo, knowledge, owner)
    pending = await take_draft(state, "import", ImportDialogue.choice)
    if pending is None:
        await query.answer(w("faqimport.expired"))
        return
    if callback_data.mode not in (fc.MERGE, fc.REPLACE):
        await query.answer(w("faqimport.cancelled"))
        return
    try:
        entries = oa.read_faq_upload(pending["lang"], pending["name"],
                                     await _download(bot, pending["file_id"]))
        change = await fc.apply_import(repo, knowledge, owner, pending["lang"], entries,
                                       callback_data.mode, filename=pending["name"],
                                       actor_name=query.from_user.full_name,
                                       at=conversations.clock.now())
    except ValueError as error:
        await query.answer()
        await tell(bot, owner, w("faqimport.failed", error=w.why(error)))
        return
    await query.answer()
    await tell(bot, owner, w("faqimport.done", mode=w(f"faqimport.mode.{callback_data.mode}"),
                             added=len(change.added), changed=len(change.changed),
                             removed=len(change.removed)))


# ============================================================================ inbox
def _outcome(w: StaffWords, knowledge: KnowledgeBase, key: str | None, lang: str,
             answer: str = "") -> str:
    if key is None:
        return w("inbox.outcome_none")
    entry = knowledge.entry(key, lang)
    return w("inbox.outcome_entry", key=key,
             answer=(answer or (entry.answer if entry else ""))[:120])


def inbox_preview(w: StaffWords, knowledge: KnowledgeBase,
                  preview: fc.InboxPreview, new: bool) -> tuple[str, InlineKeyboardMarkup]:
    title = "inbox.preview_entry" if new else "inbox.preview_phrasing"
    lines = [w(title, question=preview.question, key=preview.key),
             w("inbox.now", outcome=_outcome(w, knowledge, preview.now, preview.lang)),
             w("inbox.after", outcome=_outcome(w, knowledge, preview.after, preview.lang,
                                               preview.answer))]
    if preview.shifts:
        lines.append(w("inbox.shifts", count=len(preview.shifts)))
        lines += [w("inbox.shift", question=s.question[:80],
                    before=s.before or w("inbox.shift_none"),
                    after=s.after or w("inbox.shift_none"))
                  for s in preview.shifts[:SHOWN_SHIFTS]]
    else:
        lines.append(w("inbox.no_shifts"))
    if preview.out_of_scope:  # it would answer what the owner dismissed as not the shop's
        lines.append(w("inbox.out_of_scope", count=len(preview.out_of_scope)))
        lines += [w("inbox.out_of_scope_line", question=q[:80])
                  for q in preview.out_of_scope[:SHOWN_SHIFTS]]
    builder = InlineKeyboardBuilder()
    builder.button(text=w("inbox.button_confirm"), callback_data=InboxChoice(action="confirm"))
    builder.button(text=w("inbox.button_cancel"), callback_data=InboxChoice(action="cancel"))
    return "\n".join(lines), builder.as_markup()


async def show_inbox_preview(owner: int, bot: Bot, repo: Repo, state: FSMContext,
                             knowledge: KnowledgeBase, conversations: ConversationService,
                             message_id: int, key: str | None = None,
                             answer: str | None = None) -> None:
    """Try the action on a copy of the FAQ and wait for the owner's button."""
    w = await staff_words(repo, knowledge, owner)
    since = conversations.clock.now() - timedelta(days=INBOX_DAYS)
    try:
        preview = await fc.preview_inbox(repo, knowledge, message_id, since, key=key,
                                         answer=answer)
    except ValueError as error:
        await tell(bot, owner, w("inbox.failed", error=w.why(error)))
        return
    state = flow(state, "inbox")
    await state.set_state(InboxDialogue.confirm)
    await state.set_data({"inbox": {"message_id": message_id, "key": key, "answer": answer}})
    text, markup = inbox_preview(w, knowledge, preview, new=key is None)
    await tell(bot, owner, text, markup)


async def ask_inbox_answer(owner: int, bot: Bot, repo: Repo, knowledge: KnowledgeBase,
                           message_id: int) -> str | None:
    """'New entry': the question is quoted, so the owner answers the right one."""
    w = await staff_words(repo, knowledge, owner)
    question = await fc.question_text(repo, message_id)
    if question is None:
        await tell(bot, owner, w("inbox.failed", error=w("inbox.err_gone")))
        return None
    await tell(bot, owner, w("inbox.ask_answer", question=question))
    return question


async def on_inbox_choice(query: CallbackQuery, callback_data: InboxChoice, bot: Bot,
                          repo: Repo, state: FSMContext, knowledge: KnowledgeBase,
                          conversations: ConversationService) -> None:
    owner = query.from_user.id
    w = await staff_words(repo, knowledge, owner)
    pending = await take_draft(state, "inbox", InboxDialogue.confirm)
    if pending is None:
        await query.answer(w("inbox.expired"))
        return
    if callback_data.action != "confirm":
        await query.answer(w("inbox.cancelled"))
        return
    now = conversations.clock.now()
    since, name = now - timedelta(days=INBOX_DAYS), query.from_user.full_name
    await query.answer()
    try:
        if pending.get("key"):
            text = await oa.inbox_to_phrasing(repo, knowledge, owner, pending["message_id"],
                                              pending["key"], since, actor_name=name, at=now)
            done = w("inbox.done_phrasing", question=text, key=pending["key"])
        else:
            key = await oa.inbox_to_entry(repo, knowledge, owner, pending["message_id"],
                                          pending.get("answer") or "", since, actor_name=name,
                                          at=now)
            done = w("inbox.done_entry", key=key)
    except ValueError as error:
        await tell(bot, owner, w("inbox.failed", error=w.why(error)))
        return
    await tell(bot, owner, done)


# ============================================================================ undo, changes
async def on_faqundo(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase,
                     settings: Settings, conversations: ConversationService) -> None:
    owner = message.from_user.id  # type: ignore[union-attr]
    w = await staff_words(repo, knowledge, owner)
    undone = await fc.undo_last(repo, knowledge, owner, conversations.clock.now(),
                                actor_name=message.from_user.full_name)  # type: ignore[union-attr]
    if undone is None:
        await tell(bot, message.chat.id, w("undo.nothing"))
        return
    names = await agent_names(repo)
    text = w("undo.done", when=_when(undone.at, settings),
             change=describe(w, undone.action, undone.details, names),
             lang=w(f"notice.lang.{undone.lang}"),
             count=undone.entries)
    if undone.reopened:
        text += "\n" + w("undo.reopened", count=undone.reopened)
    await tell(bot, message.chat.id, text)


def _when(at: Any, settings: Settings) -> str:
    return at.astimezone(settings.tz).strftime("%m-%d %H:%M")


def describe(w: StaffWords, action: str, details: dict[str, Any],
             names: dict[int, str]) -> str:
    """One change in words: its phrase ``changes.action.<action>`` with its details."""
    values: dict[str, object] = {}
    for name, value in details.items():
        if name in ("user", "agent") and isinstance(value, int):
            value = names.get(value, value)
        elif name == "agents" and isinstance(value, list):
            value = ", ".join(str(names.get(v, v)) for v in value)
        elif name == "mode":
            value = w(f"faqimport.mode.{value}")
        elif name == "segment":
            value = w(f"notice.segment.{value}")
        elif isinstance(value, bool):
            value = w("changes.yes" if value else "changes.no")
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        values[name] = value
    if action == "faq_undo" and isinstance(details.get("of"), dict):
        of = dict(details["of"])
        values["change"] = describe(w, str(of.pop("action", "")), of, names)
    key = f"changes.action.{action}"
    return w(key, **values) if w.has(key) else w("changes.action.other", action=action)


async def on_changes(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                     knowledge: KnowledgeBase, settings: Settings) -> None:
    """Everything the owner (and the shop file) changed, newest first, with who and when."""
    user = message.from_user
    w = await staff_words(repo, knowledge, user.id)  # type: ignore[union-attr]
    changes = await audit.recent(repo, CHANGES_SHOWN)
    if not changes:
        await tell(bot, message.chat.id, w("changes.empty"))
        return
    names = await agent_names(repo)
    lines = [w("changes.title")]
    for change in changes:
        who = (change.who or (user.full_name if change.actor_id == user.id else None)  # type: ignore[union-attr]
               or (str(change.actor_id) if change.actor_id is not None
                   else w("changes.system")))
        lines.append(w("changes.line", when=_when(change.at, settings), who=who,
                       what=describe(w, change.action, change.details, names),
                       undone=w("changes.undone") if change.undone else ""))
    await tell(bot, message.chat.id, "\n".join(lines))
