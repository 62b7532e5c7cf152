"""The owner's controls in Telegram (P10): private chats with an id in OWNER_IDS only.

The router is filtered at router level, so nobody else ever reaches these handlers; other owner
messages fall through to the shopper router (the owner can try the bot as a shopper). The
rules live in ``bot.services.owner_admin`` and its neighbours; the handlers, module-level
functions in this package (``general``, ``templates``, ``faq``, ``bulk``, ``people``,
``complaints``), only parse and show. They get what they need as handler kwargs from the
dispatcher's workflow data (``repo``, ``knowledge``, ``conversations``, ``settings``, ``state``).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiogram import F, Router
from aiogram.filters import Command, StateFilter

from handlers.keyboards import (
    AgentChoice,
    ComplaintAction,
    ImportChoice,
    InboxButton,
    InboxChoice,
    InboxPhrasing,
    OldComplaintButton,
    OwnerTemplate,
    SwapDecision,
)
from handlers.owner import bulk, complaints, faq, general, people, templates
from handlers.owner.common import OwnerDialogue
from handlers.owner.complaints import complaint_keyboard

__all__ = ["ComplaintAction", "OwnerDialogue", "build_owner_router", "complaint_keyboard"]


def build_owner_router(owner_ids: Iterable[int]) -> Router:
    """Registration order matters only for the catch-alls (a document, a forward, the text that
    answers a pending step): they stay after the commands, as before."""
    owners = set(owner_ids)
    router = Router(name="owner")
    router.message.filter(F.chat.type == "private", F.from_user.id.in_(owners))
    router.callback_query.filter(F.from_user.id.in_(owners),
                                 F.data.startswith(f"{ComplaintAction.__prefix__}:"))
    message, button = router.message.register, router.callback_query.register

    message(general.on_help, Command("owner", "admin"))
    message(general.on_settings, Command("settings"))
    message(general.on_set, Command("set"))
    message(general.on_cap, Command("cap"))

    message(templates.on_templates, Command("templates"))
    message(templates.on_template, Command("template"))
    message(templates.on_settemplate, Command("settemplate"))
    message(templates.on_greeting, Command("greeting"))
    button(templates.on_template_button, OwnerTemplate.filter())
    message(templates.on_tone, Command("tone"))
    message(templates.on_toneadd, Command("toneadd"))
    message(templates.on_tonedel, Command("tonedel"))

    message(faq.on_faq, Command("faq"))
    message(faq.on_faqshow, Command("faqshow"))
    message(faq.on_faqset, Command("faqset"))
    message(faq.on_faqdel, Command("faqdel"))
    message(faq.on_faqexport, Command("faqexport"))
    message(bulk.on_faqimport_document, F.document)
    button(bulk.on_import_choice, ImportChoice.filter())
    button(bulk.on_inbox_choice, InboxChoice.filter())
    message(bulk.on_faqundo, Command("faqundo"))
    message(bulk.on_changes, Command("changes"))
    message(faq.on_inbox, Command("inbox"))
    message(faq.on_alt, Command("alt"))
    button(faq.on_inbox_phrasing, InboxPhrasing.filter())
    button(faq.on_inbox_button, InboxButton.filter())
    message(faq.on_cancel, Command("cancel"))

    message(people.on_agents, Command("agents"))
    message(people.on_addagent, Command("addagent", "removeagent"))
    message(people.on_forward, F.forward_origin)
    button(people.on_agent_button, AgentChoice.filter())
    message(people.on_shifts, Command("shifts"))
    message(people.on_setshift, Command("setshift"))
    message(people.on_closed, Command("closed", "open"))
    message(people.on_assign, Command("assign"))
    message(people.on_rota, Command("rota"))
    message(people.on_swapfine, Command("swapfine"))
    message(people.on_swaps, Command("swaps"))
    button(people.on_swap_button, SwapDecision.filter())
    message(people.on_handovers, Command("handovers"))
    message(people.on_handovershow, Command("handovershow"))

    message(complaints.on_complaints, Command("complaints"))
    message(complaints.on_unfounded, Command("unfounded"))
    button(complaints.on_complaint_button, ComplaintAction.filter())
    button(complaints.on_old_complaint_button, OldComplaintButton.filter())
    button(general.on_stale_button)  # any other own: button: a pop-up, never an error

    message(faq.on_pending_text, F.text, ~F.text.startswith("/"), StateFilter(OwnerDialogue))
    return router
