"""Every inline button's callback data, as aiogram ``CallbackData`` factories, and the one
keyboard helper (built on ``InlineKeyboardBuilder``).

Handlers match buttons with ``Factory.filter(...)`` and get typed fields as ``callback_data``;
nobody splits a callback string by hand. The packed form is ``prefix:field:field`` — the
strings the bot has always sent — so buttons already in shoppers' and staff's chats before an
upgrade keep working (tests/test_keyboards.py lists each format). The services, free of
aiogram, write the same strings into their ``Button`` rows through ``bot.services.callbacks``
(one function per factory); the same test checks each packs what its factory packs.

Fixed words are ``Literal`` fields, so a factory matches only its own buttons (several share the
``own`` prefix) and a forged value matches none. A press that matches no factory (forged, or
from a format long gone) is answered with an "expired" pop-up by the router's catch-all,
never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot.services.replies import Reply

MAX_CALLBACK_BYTES = 64  # Telegram refuses longer callback data
RowId = Annotated[int, Field(ge=0, lt=10**12)]  # a database id; a forged huge number never
Score = Annotated[int, Field(ge=1, le=5)]        # reaches a query


# ------------------------------------------------------------------ shoppers (private chat)
class FaqPick(CallbackData, prefix="faq"):
    """P4: which of two close FAQ entries the shopper meant (``faq:<entry>``)."""

    entry: str


class FaqFeedback(CallbackData, prefix="fb"):
    """P2: 👍/👎 under an FAQ answer (``fb:up:<entry>``, ``fb:down:<entry>``)."""

    verdict: Literal["up", "down"]
    entry: str


class AskHuman(CallbackData, prefix="human"):
    """🙋 a person, please (``human``, no fields)."""


class ProductAction(CallbackData, prefix="prod"):
    """P5, P6: a product button under a bot message (``prod:<action>:<product id>``)."""

    action: Literal["pick", "details", "sizes", "rec"]
    product_id: RowId


class SurveyScore(CallbackData, prefix="sv"):
    """P21: a 1–5 satisfaction score (``sv:<survey id>:<score>``)."""

    survey_id: RowId
    score: Score


class SurveySkip(CallbackData, prefix="svskip"):
    """No comment after a survey score (``svskip:<survey id>``)."""

    survey_id: RowId


class FollowUpAnswer(CallbackData, prefix="fu"):
    """P17: the 回访 question's answer (``fu:<row id>:ok|problem``)."""

    row_id: RowId
    outcome: Literal["ok", "problem"]


class FollowUpScore(CallbackData, prefix="fq"):
    """P17: one of the three 回访 scores (``fq:<row id>:<aspect>:<1-5>``)."""

    row_id: RowId
    aspect: str
    score: Score


class TicketPick(CallbackData, prefix="as"):
    """P18/P20: the ticket dialogue's kind or order (``as:kind:<kind>``, ``as:order:<ref|->``)."""

    step: Literal["kind", "order"]
    value: str


class TicketDone(CallbackData, prefix="as"):
    """The ticket dialogue's "no more photos" (``as:done``)."""

    step: Literal["done"] = "done"


class ForgetConfirm(CallbackData, prefix="forget"):
    """P16: yes, delete my personal data (``forget:yes``)."""

    answer: Literal["yes"] = "yes"


# ------------------------------------------------------------------ agents and owners
class ToneChoice(CallbackData, prefix="tg"):
    """P9: send the suggested rewrite or the agent's own words (``tg:rw|og:<event id>``)."""

    choice: Literal["rw", "og"]  # callbacks.TONE_REWRITE, TONE_ORIGINAL
    hit_id: RowId


class SwapAnswer(CallbackData, prefix="sw"):
    """P12: the colleague accepts or declines a shift swap (``sw:acc|dec:<swap id>``)."""

    action: Literal["acc", "dec"]
    swap_id: RowId


class NoticeAction(CallbackData, prefix="ntc"):
    """The owner's answer to a notice preview (P22, P9): send, send suggested, confirm, cancel."""

    action: Literal["send", "rewrite", "confirm", "cancel"]


class NoticeAudience(CallbackData, prefix="ntca"):
    """Who a notice written without an audience goes to (one of ``SEGMENTS``)."""

    segment: str


class OwnerTemplate(CallbackData, prefix="own"):
    """Save / save suggested / confirm / cancel a template edit (``own:tpl:<action>``)."""

    area: Literal["tpl"] = "tpl"
    action: Literal["save", "rewrite", "confirm", "cancel"]


class InboxButton(CallbackData, prefix="own"):
    """An unanswered-question group: new entry or dismiss (``own:inb:new|dis:<message id>``)."""

    area: Literal["inb"] = "inb"
    action: Literal["new", "dis"]
    message_id: RowId


class InboxPhrasing(CallbackData, prefix="own"):
    """Add the question as a phrasing of an entry (``own:inb:alt:<message id>:<entry>``)."""

    area: Literal["inb"] = "inb"
    action: Literal["alt"] = "alt"
    message_id: RowId
    entry: str


class ImportChoice(CallbackData, prefix="own"):
    """Merge (default), replace or cancel an FAQ import shown as a preview."""

    area: Literal["imp"] = "imp"
    mode: Literal["merge", "replace", "cancel"]


class InboxChoice(CallbackData, prefix="own"):
    """Apply or drop the inbox action shown as a preview."""

    area: Literal["ibc"] = "ibc"
    action: Literal["confirm", "cancel"]


class AgentChoice(CallbackData, prefix="own"):
    """Add or remove the forwarded person as an agent (``own:agt:add|del:<user id>``)."""

    area: Literal["agt"] = "agt"
    action: Literal["add", "del"]
    user_id: RowId


class SwapDecision(CallbackData, prefix="own"):
    """P12: the owner approves or refuses an accepted swap (``own:swp:ok|no:<swap id>``)."""

    area: Literal["swp"] = "swp"
    action: Literal["ok", "no"]
    swap_id: RowId


class LeaveDecision(CallbackData, prefix="own"):
    """P11: the owner approves a leave request; the rota is re-planned (``own:lve:<event id>``)."""

    area: Literal["lve"] = "lve"
    event_id: RowId


class ComplaintAction(CallbackData, prefix="own"):
    """The owner's decision on a complaint (P14): charge the agent, don't, or unfounded."""

    area: Literal["cpl"] = "cpl"
    action: Literal["charge", "no", "unfounded"]
    complaint_id: RowId


class OldComplaintButton(CallbackData, prefix="own"):
    """Complaint buttons sent before the owner's confirmation existed (``own:cpl:<id>``):
    they meant 'unfounded'."""

    area: Literal["cpl"] = "cpl"
    complaint_id: RowId


# ------------------------------------------------------------------ the one keyboard helper
def packed(data: CallbackData | str) -> str | None:
    """The callback string, or None when Telegram would refuse it (over 64 bytes, or a
    value holding the separator)."""
    try:
        text = data if isinstance(data, str) else data.pack()
    except ValueError:
        return None
    return text if len(text.encode()) <= MAX_CALLBACK_BYTES else None


def keyboard(*rows: Iterable[tuple[str, CallbackData | str]]) -> InlineKeyboardMarkup:
    """Rows of (label, callback) as given, one keyboard row each; a button whose data
    Telegram would refuse is left out rather than failing the whole message."""
    builder = InlineKeyboardBuilder()
    for row in rows:
        buttons = [InlineKeyboardButton(text=label, callback_data=data)
                   for label, raw in row if (data := packed(raw)) is not None]
        if buttons:
            builder.row(*buttons)
    return builder.as_markup()


def reply_keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """A service's ``Reply`` buttons (plain strings packed by the service) as a keyboard."""
    if not reply.buttons:
        return None
    return keyboard(*([(b.text, b.data) for b in row] for row in reply.buttons))

