"""Owner-editable message templates with named placeholders (policy §七, P3).

Templates use ``{name}`` placeholders and ``{{`` / ``}}`` for literal braces. We never hand a
template to ``str.format``: an owner's text could otherwise reach Python attributes
(``{x.__class__}``) or blow up on a stray brace. :func:`validate_template` reports problems when
the owner saves a template; :func:`render` substitutes values and never raises, so a bad
template in the database can never break a conversation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from phrases.refused import Refused

PLACEHOLDERS: Mapping[str, str] = MappingProxyType(
    {
        "customer_name": "the shopper's name or nickname, as we know it (P3)",
        "question": "the part of a shopper's message the bot could not answer (quoted back)",
        "shop_name": "the shop's display name in the shopper's language",
        "time_of_day": "good morning / afternoon / evening by the shop's local time, e.g. "
        "'早上好' (greetings; the courtesy phrases tagged time_of_day)",
        "agent_name": "the name of the agent who is answering",
        "order_id": "an order number the shopper gave or the bot found",
        "tracking_number": "a parcel tracking number",
        "courier": "the courier company's name",
        # Order look-ups and notices (P19), surveys (P21) and follow-ups 回访 (P17).
        "order_status": "an order's status in words, e.g. '已发货，运输中'",
        "event_time": "when the latest tracking update happened, shop time, e.g. "
        "'2026-05-20 14:30'",
        "event_place": "where the latest tracking update happened, e.g. '杭州转运中心 '",
        "event_text": "what the latest tracking update says",
        "days": "how many days (e.g. a parcel without tracking updates)",
        "next_open": "when a person is next on duty, already formatted (P24), e.g. '18:30'",
        "opening_hours": "the shop's service hours as text, e.g. 'Mon-Sat 18:30-24:00'",
        "service_hours": "when people answer (P24), from the shift calendar or SERVICE_HOURS, "
        "e.g. 'Mon–Sat 18:30–24:00, Sun 09:30–24:00'",
        "next_opening": "whether a person is online now, or when one is back, as a phrase "
        "(FAQ answers)",
        "queue_position": "this shopper's place in the queue (1 = next)",
        "wait_minutes": "estimated minutes until a person answers",
        "max_length": "longest message the bot accepts, in characters",
        "max_mb": "the largest picture a web visitor may send, in MB",
        "command": "the command the shopper sent, e.g. '/foo'",
        # The catalogue (P5, P6) and 催付 reminders.
        "product": "a product's title in the shopper's language",
        "price": "a price with its currency, e.g. '¥199'",
        "promo_price": "the promotional price, e.g. '¥159'",
        "promo_end": "when the promotion ends, e.g. '5月20日' / '20 May'",
        "variant": "a size and/or colour of a product, e.g. '白色 XL'",
        "options": "the sizes/colours in stock, e.g. 'S, M, L（白色）'",
        "restock": "when more stock is expected, e.g. '5月20日'",
        "material": "what a product is made of",
        "care": "how to wash and care for it",
        "fit": "the product's fit, e.g. '宽松版型' / 'relaxed fit'",
        "height": "the shopper's height as they gave it, e.g. '165cm'",
        "weight": "the shopper's weight, e.g. '55kg'",
        "size": "a size, e.g. 'M'",
        "alt_size": "the next size up, for a looser fit",
        "reason": "why that size (from the size-reason phrases)",
        "measure": "a garment measure in words, e.g. '衣长' / 'sleeve length'",
        "sizes": "a measure per size, e.g. 'S 68cm、M 70cm'",
        "count": "how many (e.g. products imported)",
        "variants": "how many SKUs",
        "errors": "a list of problems, one per line",
        # After-sales tickets (P18/P20).
        "ticket_id": "an after-sales case number, e.g. '12'",
        "ticket_kind": "the kind of case in words, e.g. '退货' / 'Return'",
        "due": "when the case will be handled by, e.g. '05-20 18:00'",
        "status": "where an after-sales case stands, e.g. '处理中' / 'in progress'",
    }
)

# One token of template text: an escaped brace, a well-formed placeholder, or a lone brace.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")
# Anything inside braces, for error messages about what is not a plain name.
_FIELD = re.compile(r"\{([^{}]*)\}")
_MISSING = "\x00"  # marks an empty substitution so the text around it can be tidied


def validate_template(text: str, allowed: Mapping[str, str] | None = None) -> list[Refused]:
    """Return the problems in ``text``; an empty list means it is safe to save.

    Each problem is a :class:`Refused` naming a staff phrase (``tpl.err.*``), so the owner
    reads it in their own language; ``str()`` of one is its key and values (logs, tests).
    ``allowed`` replaces :data:`PLACEHOLDERS` when a caller supports a different set.
    """
    names = PLACEHOLDERS if allowed is None else allowed
    errors: list[Refused] = []
    pos = 0
    while pos < len(text):
        if text.startswith(("{{", "}}"), pos):
            pos += 2
            continue
        char = text[pos]
        if char == "}":
            errors.append(Refused("tpl.err.unmatched_close", pos=pos))
            pos += 1
            continue
        if char != "{":
            pos += 1
            continue
        field = _FIELD.match(text, pos)
        if field is None:
            errors.append(Refused("tpl.err.unclosed", pos=pos))
            pos += 1
            continue
        errors.extend(_field_errors(field.group(1), pos, names))
        pos = field.end()
    return errors


def _field_errors(inner: str, pos: int, names: Mapping[str, str]) -> list[Refused]:
    """Problems with one ``{...}`` field found at ``pos``."""
    stripped = inner.strip()
    field = "{" + inner + "}"
    if not stripped:
        return [Refused("tpl.err.empty_field", pos=pos)]
    if any(c in inner for c in ".[]"):
        return [Refused("tpl.err.attribute", pos=pos, field=field)]
    if any(c in inner for c in "!:"):
        return [Refused("tpl.err.format_spec", pos=pos, field=field)]
    if stripped != inner or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", inner):
        return [Refused("tpl.err.bad_name", pos=pos, field=field)]
    if inner not in names:
        return [Refused("tpl.err.unknown", pos=pos, field=field,
                        known=", ".join(sorted(names)))]
    return []


def placeholders_in(text: str) -> set[str]:
    """Names of the well-formed placeholders used in ``text``."""
    return {m.group(1) for m in _TOKEN.finditer(text) if m.group(1)}


def render(text: str, values: Mapping[str, object]) -> str:
    """Fill ``{name}`` placeholders from ``values`` as plain text; never raises.

    A missing, ``None`` or empty value is left out and the punctuation around it tidied
    ("Hello, {customer_name}!" -> "Hello!"). Malformed fields and unknown names stay as
    literal text. No escaping happens here: the bot escapes the whole message for its parse
    mode afterwards.
    """
    try:
        out: list[str] = []
        last = 0
        for match in _TOKEN.finditer(text):
            out.append(text[last : match.start()])
            token = match.group(0)
            name = match.group(1)
            if token in ("{{", "}}"):
                out.append(token[0])
            elif name is None:
                out.append(token)  # a lone brace: keep it literally
            elif name in values:
                out.append(_as_text(values[name]) or _MISSING)
            elif name in PLACEHOLDERS:
                out.append(_MISSING)
            else:
                out.append(token)
            last = match.end()
        out.append(text[last:])
        return _tidy("".join(out))
    except Exception:  # defensive: a template must never break a conversation
        return text.replace(_MISSING, "")


def _as_text(value: object) -> str:
    """Plain text for a value; anything that cannot be shown counts as missing."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except Exception:
            return ""
    return text.replace(_MISSING, "").strip()


_PUNCT_AFTER = "!！.。?？,，;；:：)）~～"
_LEAD = re.compile(r"^[ \t]*\x00[ \t]*[,，、:：]?[ \t]*")
_BEFORE_PUNCT = re.compile(rf"[ \t]*[,，、]?[ \t]*\x00[ \t]*(?=[{re.escape(_PUNCT_AFTER)}]|$)")
_BETWEEN_SPACES = re.compile(r"[ \t]+\x00[ \t]+")


def _tidy(text: str) -> str:
    """Remove the gaps left by missing values without disturbing other text."""
    if _MISSING not in text:
        return text
    text = _LEAD.sub("", text)
    text = re.sub(r"(\n)[ \t]*\x00[ \t]*[,，、:：]?[ \t]*", r"\1", text)
    text = _BEFORE_PUNCT.sub("", text)
    text = _BETWEEN_SPACES.sub(" ", text)
    return text.replace(_MISSING, "")
