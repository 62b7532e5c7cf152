"""The owner's FAQ: entries, file export/import, and the inbox of unanswered questions."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Bot
from aiogram.filters import CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.services import owner_admin as oa
from bot.services.conversation import ConversationService
from bot.services.knowledge import KnowledgeBase
from bot.services.staff import staff_words
from bot.settings import Settings
from handlers.keyboards import InboxButton, InboxPhrasing, keyboard
from handlers.owner import bulk
from handlers.owner.common import (
    FLOWS,
    INBOX_DAYS,
    INBOX_GROUPS_SHOWN,
    OwnerDialogue,
    flow,
    lang_or_default,
    pending_flows,
)
from handlers.replying import tell
from phrases.lang import series
from storage.repositories import Repo


async def on_faq(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                 knowledge: KnowledgeBase, settings: Settings) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    lang = lang_or_default((command.args or "").strip(), settings)
    await tell(bot, message.chat.id, await oa.faq_list(repo, lang, w))


async def on_faqshow(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                     knowledge: KnowledgeBase, settings: Settings) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    key, _, lang = (command.args or "").partition(" ")
    row = await repo.faq.get(key.strip(), lang_or_default(lang.strip(), settings))
    text = w("faq.show", key=row.key, lang=row.lang, question=row.question, answer=row.answer,
             alt=" | ".join(row.alt or []) or w("none")) if row else (
        w("faq.no_entry", key=key.strip()))
    await tell(bot, message.chat.id, text)


async def on_faqset(message: Message, bot: Bot, repo: Repo,
                    knowledge: KnowledgeBase, settings: Settings) -> None:
    """'/faqset 发货时间 zh' + Q:/A: lines; without a key one is made from the question."""
    w = await staff_words(repo, knowledge, message.chat.id)
    body = (message.text or "").split(maxsplit=1)
    try:
        edit = oa.parse_faq_edit(body[1] if len(body) > 1 else "", settings.default_language)
    except ValueError as error:
        await tell(bot, message.chat.id, w("faqset.not_saved", error=w.why(error)))
        return
    edit = await oa.with_key(repo, edit)
    tone = await oa.upsert_faq(repo, knowledge, message.from_user.id, edit)
    lines = [w("faqset.saved", key=edit.key, lang=edit.lang)]
    if not tone.ok:  # P9: saved (the owner's answer), with the suggested wording beside it
        lines.append(w("faqset.tone", terms=", ".join(sorted({p.term for p in tone.problems})),
                       rewrite=tone.rewrite))
    await tell(bot, message.chat.id, "\n".join(lines))


async def on_faqdel(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                    knowledge: KnowledgeBase, settings: Settings) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    key, _, lang = (command.args or "").partition(" ")
    lang = lang_or_default(lang.strip(), settings)
    if not key.strip():
        await tell(bot, message.chat.id, w("faqdel.usage"))
        return
    done = await oa.delete_faq(repo, knowledge, message.from_user.id, key.strip(), lang)
    await tell(bot, message.chat.id, w("faqdel.done", key=key.strip(), lang=lang) if done
               else w("faq.no_entry", key=key.strip()))


async def on_faqexport(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                       settings: Settings) -> None:
    args = (command.args or "").split()
    lang = lang_or_default(next((a for a in args if a in settings.languages), None), settings)
    fmt = "csv" if "csv" in args else "yaml"
    data = await oa.export_faq(repo, lang, fmt)
    await bot.send_document(message.chat.id, BufferedInputFile(data, f"faq.{lang}.{fmt}"))


async def on_inbox(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase,
                   conversations: ConversationService) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    since = conversations.clock.now() - timedelta(days=INBOX_DAYS)
    groups = oa.group_questions(await oa.unanswered_questions(repo, since), knowledge)
    if not groups:
        await tell(bot, message.chat.id, w("inbox.empty"))
        return
    await tell(bot, message.chat.id, w("inbox.title", count=len(groups), days=INBOX_DAYS))
    for group in groups[:INBOX_GROUPS_SHOWN]:
        first = group.first
        lines = [w("inbox.group", id=first.message_id, count=len(group.questions),
                   lang=first.lang, question=first.text)]
        lines += [w("inbox.member", question=q.text) for q in group.questions[1:4]]
        buttons: list[tuple[str, CallbackData]] = []
        if group.suggestion:
            buttons.append((w("inbox.button_phrasing", key=group.suggestion),
                            InboxPhrasing(message_id=first.message_id, entry=group.suggestion)))
        buttons += [(w("inbox.button_new"), InboxButton(action="new", message_id=first.message_id)),
                    (w("inbox.button_dismiss"),
                     InboxButton(action="dis", message_id=first.message_id))]
        await tell(bot, message.chat.id, "\n".join(lines), keyboard(buttons))


async def on_alt(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                 state: FSMContext, knowledge: KnowledgeBase,
                 conversations: ConversationService) -> None:
    parts = (command.args or "").split()
    if len(parts) != 2 or not parts[0].lstrip("#").isdigit():
        w = await staff_words(repo, knowledge, message.chat.id)
        await tell(bot, message.chat.id, w("alt.usage"))
        return
    await bulk.show_inbox_preview(message.from_user.id, bot, repo, state, knowledge,
                                  conversations, int(parts[0].lstrip("#")), key=parts[1])


async def on_inbox_phrasing(query: CallbackQuery, callback_data: InboxPhrasing, bot: Bot,
                            repo: Repo, state: FSMContext, knowledge: KnowledgeBase,
                            conversations: ConversationService) -> None:
    """+ phrasing of an entry: shown first, applied on the owner's button."""
    await query.answer()
    await bulk.show_inbox_preview(query.from_user.id, bot, repo, state, knowledge, conversations,
                                  callback_data.message_id, key=callback_data.entry)


async def on_inbox_button(query: CallbackQuery, callback_data: InboxButton, bot: Bot,
                          repo: Repo, state: FSMContext, knowledge: KnowledgeBase,
                          conversations: ConversationService) -> None:
    owner, message_id = query.from_user.id, callback_data.message_id
    await query.answer()
    if callback_data.action == "new":  # the question is quoted, so the owner answers it
        if await bulk.ask_inbox_answer(owner, bot, repo, knowledge, message_id):
            await state.set_state(OwnerDialogue.inbox_answer)
            await state.set_data({"message_id": message_id})
    elif callback_data.action == "dis":
        since = conversations.clock.now() - timedelta(days=INBOX_DAYS)
        await oa.inbox_dismiss(repo, owner, message_id, since)
        w = await staff_words(repo, knowledge, owner)
        await tell(bot, owner, w("inbox.dismissed"))


async def on_cancel(message: Message, bot: Bot, repo: Repo, state: FSMContext,
                    knowledge: KnowledgeBase) -> None:
    """/cancel: every step waiting for the owner is dropped, and named."""
    w = await staff_words(repo, knowledge, message.chat.id)
    dropped = await pending_flows(state)
    await state.clear()
    for name in FLOWS:
        await flow(state, name).clear()
    names = series((w(f"flow.{name}") for name in dropped), w.lang)
    await tell(bot, message.chat.id, w("cancel.done", flows=names) if dropped
               else w("cancel.nothing"))


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
        w = await staff_words(repo, knowledge, owner)
        await tell(bot, message.chat.id, w("pending.nothing"))
