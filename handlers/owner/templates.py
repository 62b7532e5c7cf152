"""The owner's reply templates and negative-language terms (P9): list, preview, save."""

from __future__ import annotations

from aiogram import Bot
from aiogram.filters import CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.services import owner_admin as oa
from bot.services.conversation import ConversationService
from bot.services.knowledge import KnowledgeBase
from bot.services.staff import staff_words
from bot.settings import Settings
from handlers.keyboards import OwnerTemplate, keyboard
from handlers.owner.common import TemplateDialogue, flow, lang_or_default
from handlers.replying import tell
from phrases.greeting import GREETING_KEYS
from phrases.staff import StaffWords
from storage.repositories import Repo


async def on_templates(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                       knowledge: KnowledgeBase, settings: Settings) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    args = (command.args or "").split()
    category = next((a for a in args if a not in settings.languages), None)
    lang = lang_or_default(next((a for a in args if a in settings.languages), None), settings)
    await tell(bot, message.chat.id, oa.template_list(knowledge, lang, w, category))


async def on_template(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                      knowledge: KnowledgeBase, settings: Settings) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    key, _, lang = (command.args or "").partition(" ")
    phrase = oa.template_show(knowledge, key.strip(), lang_or_default(lang.strip(), settings))
    text = w("tpl.show", key=phrase.key, lang=phrase.lang, text=phrase.text,
             category=w.label("category", phrase.category)) if phrase else (
        w("tpl.none", key=key.strip()))
    await tell(bot, message.chat.id, text)


async def on_settemplate(message: Message, bot: Bot, repo: Repo, state: FSMContext,
                         knowledge: KnowledgeBase, settings: Settings,
                         conversations: ConversationService) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    head, _, text = (message.text or "").partition("\n")
    parts = head.split()[1:]
    if len(parts) != 2 or not text.strip():
        await tell(bot, message.chat.id, w("tpl.usage"))
        return
    now = conversations.clock.now().astimezone(settings.tz)
    check = oa.check_template(knowledge, parts[0], parts[1], text, settings.shop_name, now)
    await _offer(message, bot, state, check, w, w("tpl.preview"))


async def on_greeting(message: Message, bot: Bot, repo: Repo, state: FSMContext,
                      knowledge: KnowledgeBase, settings: Settings,
                      conversations: ConversationService) -> None:
    """P3: the greeting (and the returning greeting) per language, edited once for every hour:
    /greeting shows both and what a shopper gets now; /greeting <lang> [new|returning] with
    the text on the next lines previews exactly that greeting, then Save."""
    w = await staff_words(repo, knowledge, message.chat.id)
    head, _, text = (message.text or "").partition("\n")
    args = head.split()[1:]
    now = conversations.clock.now().astimezone(settings.tz)
    if not text.strip():
        await tell(bot, message.chat.id,
                   oa.greetings_text(knowledge, settings.languages, now, settings.shop_name, w))
        return
    kind = next((a for a in args if a in GREETING_KEYS), "new")
    lang = next((a for a in args if a in settings.languages), None)
    if lang is None or len(args) > 2:
        await tell(bot, message.chat.id, w("greeting.usage"))
        return
    check = oa.check_template(knowledge, GREETING_KEYS[kind], lang, text, settings.shop_name,
                              now)
    await _offer(message, bot, state, check, w,
                 w("tpl.greeting_preview", kind=w(f"tpl.kind.{kind}"), time=f"{now:%H:%M}"))


async def _offer(message: Message, bot: Bot, state: FSMContext, check: oa.TemplateCheck,
                 w: StaffWords, heading: str) -> None:
    """The preview with Save / Cancel (P9: a negative wording only with an explicit
    confirmation); the edit waits in the owner's dialogue state."""
    if not check.savable:
        await tell(bot, message.chat.id, w("tpl.refused", errors="\n".join(
            w.why(error) for error in check.errors)))
        return
    lines = [f"{heading}\n{check.preview}"]
    waiting = flow(state, "template")  # its own namespace: a /notice draft etc. stay
    await waiting.set_state(TemplateDialogue.preview)
    await waiting.set_data({"key": check.key, "lang": check.lang, "text": check.text})
    buttons = [(w("tpl.save"), OwnerTemplate(action="save")),
               (w("tpl.cancel"), OwnerTemplate(action="cancel"))]
    if not check.tone.ok:
        # P9: not saved as written unless the owner confirms it explicitly (recorded).
        terms = ", ".join(sorted({p.term for p in check.tone.problems}))
        lines.append("\n" + w("tpl.tone", terms=terms, rewrite=check.tone.rewrite))
        buttons = [(w("tpl.save_suggested"), OwnerTemplate(action="rewrite")),
                   (w("tpl.keep"), OwnerTemplate(action="confirm")),
                   (w("tpl.cancel"), OwnerTemplate(action="cancel"))]
    await tell(bot, message.chat.id, "\n".join(lines), keyboard(buttons))


async def on_template_button(query: CallbackQuery, callback_data: OwnerTemplate, bot: Bot,
                             repo: Repo, state: FSMContext, knowledge: KnowledgeBase) -> None:
    owner, action = query.from_user.id, callback_data.action
    w = await staff_words(repo, knowledge, owner)
    state = flow(state, "template")
    if await state.get_state() != TemplateDialogue.preview.state or action == "cancel":
        await state.clear()
        await query.answer(w("tpl.nothing_saved"))
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
    await query.answer(w("tpl.saved_short") if not errors else w("tpl.refused_short"))
    await tell(bot, owner, w("tpl.saved") if not errors
               else w("tpl.refused", errors="\n".join(w.why(error) for error in errors)))


async def on_tone(message: Message, bot: Bot, repo: Repo, knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    await tell(bot, message.chat.id, oa.tone_terms_text(knowledge, w))


async def on_toneadd(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                     knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    term, _, rewrite = (command.args or "").partition("=")
    try:
        await oa.add_tone_term(repo, knowledge, message.from_user.id, term, rewrite)
    except ValueError as error:
        await tell(bot, message.chat.id, w("tone.not_added", error=w.why(error)))
        return
    await tell(bot, message.chat.id, w("tone.added", term=term.strip(),
                                       rewrite=rewrite.strip()))


async def on_tonedel(message: Message, command: CommandObject, bot: Bot, repo: Repo,
                     knowledge: KnowledgeBase) -> None:
    w = await staff_words(repo, knowledge, message.chat.id)
    term = (command.args or "").strip()
    done = bool(term) and await oa.remove_tone_term(repo, knowledge, message.from_user.id,
                                                    term)
    await tell(bot, message.chat.id, w("tone.removed", term=term) if done
               else w("tone.del_usage"))
