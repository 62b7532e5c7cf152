"""The owner's controls (P10), without aiogram: templates, FAQ, unanswered inbox, agents, settings.

Every change is checked before it is saved (placeholders, P9 tone), recorded in the change
log (``bot.services.audit``) with who and when — FAQ changes with what undoes them
(``bot.services.faq_changes``) — and made live at once with ``knowledge.reload`` (no
restart). The handlers in ``handlers/owner/`` only parse commands and show these results.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import yaml
from rapidfuzz import fuzz, process, utils
from sqlalchemy import select

from bot.services import audit, staff
from bot.services import faq_changes as fc
from bot.services.knowledge import TONE_KEY, KnowledgeBase
from bot.services.products.wording import CAPTION_SITUATIONS
from bot.settings import SUPPORTED_LANGUAGES, Settings
from phrases.catalogue import ALL_CATEGORIES, Phrase
from phrases.faq_file import FaqEntry, FaqFile, dump_faq_file, parse_faq
from phrases.greeting import GREETING_KEYS, compose_greeting, time_of_day_word
from phrases.refused import Refused
from phrases.splitting import CAPTION_LIMIT, TELEGRAM_LIMIT, units
from phrases.staff import CATEGORY as STAFF
from phrases.staff import StaffWords, staff_placeholders
from phrases.templates import render, validate_template
from phrases.tone import ToneReport, check_tone, term_entries
from phrases.yaml_text import load_yaml
from storage.models import Conversation, FaqEntryRow, Message, Sender
from storage.repositories import Repo

SAMPLE_VALUES: dict[str, dict[str, object]] = {
    "zh": {"customer_name": "小林", "agent_name": "阿青", "order_id": "SO20260504001",
           "tracking_number": "SF1234567890", "courier": "顺丰速运", "next_open": "今天 18:30",
           "opening_hours": "周一至周六 18:30-24:00，周日 9:30-24:00", "queue_position": 2,
           "service_hours": "周一至周六 18:30–24:00，周日 09:30–24:00",
           "next_opening": "客服同事将于今天 18:30上线",
           "wait_minutes": 5, "max_length": 2000, "command": "/foo",
           "order_status": "已发货，运输中", "event_time": "2026-05-04 10:00",
           "event_place": "杭州转运中心 ", "event_text": "运输中", "days": 3, "ticket_id": 12},
    "en": {"customer_name": "Sam", "agent_name": "Ava", "order_id": "SO20260504001",
           "tracking_number": "SF1234567890", "courier": "SF Express", "next_open": "18:30 today",
           "opening_hours": "Mon-Sat 18:30-24:00, Sun 9:30-24:00", "queue_position": 2,
           "service_hours": "Mon–Sat 18:30–24:00, Sun 09:30–24:00",
           "next_opening": "our team is back at 18:30 today",
           "wait_minutes": 5, "max_length": 2000, "command": "/foo",
           "order_status": "shipped, on its way", "event_time": "2026-05-04 10:00",
           "event_place": "Hangzhou hub ", "event_text": "in transit", "days": 3,
           "ticket_id": 12},
}
INBOX_SIMILARITY = 70  # token-sort ratio (0..100) at which two questions count as one
UNANSWERED_REASONS = ("not_understood", "rejected_answer")


async def record_change(repo: Repo, owner: int, action: str, *,
                        undo: dict[str, Any] | None = None, **data: Any) -> None:
    """Every owner change: who, what and when, in the change log."""
    await audit.record(repo, owner, action, undo=undo, **data)


# ============================================================================ templates
def template_list(knowledge: KnowledgeBase, lang: str, w: StaffWords,
                  category: str | None = None) -> str:
    """Categories with counts, or the phrases of one category (key and start of text), in
    the owner's words; the codes stay beside them (what /templates and /settemplate take)."""
    groups = knowledge.catalogue.categories(lang)
    if category is None:
        return "\n".join(w("tpl.category_line", label=w.label("category", c), category=c,
                           count=len(groups.get(c, []))) for c in ALL_CATEGORIES)
    if category not in groups:
        return w("tpl.unknown_category", category=category, categories=", ".join(ALL_CATEGORIES))
    lines = [w("tpl.list_line", key=p.key, text=p.text[:50]) for p in groups[category]]
    return "\n".join(lines) or w("none")


def template_show(knowledge: KnowledgeBase, key: str, lang: str) -> Phrase | None:
    return knowledge.catalogue.get(key, lang)


@dataclass(frozen=True)
class TemplateCheck:
    """The outcome of checking an edit: errors block saving, tone problems only warn."""

    key: str
    lang: str
    text: str
    errors: tuple[Refused, ...]  # staff phrases: StaffWords.why renders each
    tone: ToneReport
    preview: str
    category: str = ""
    tags: tuple[str, ...] = ()

    @property
    def savable(self) -> bool:
        return not self.errors


def check_template(
    knowledge: KnowledgeBase, key: str, lang: str, text: str, shop_name: str = "",
    now: datetime | None = None,
) -> TemplateCheck:
    """Placeholders (validate_template), P9 tone and a preview for a sample customer.

    ``now`` (the shop's local time): the preview of a greeting is what a shopper who writes
    now gets with this text saved (the same ``compose_greeting``, festival wishes included)."""
    text = text.strip()
    current = knowledge.catalogue.get(key, lang)
    errors: list[Refused] = []
    if current is None:
        errors.append(Refused("tpl.none", key=key))
    if lang not in SUPPORTED_LANGUAGES:
        errors.append(Refused("err_lang", languages=" / ".join(SUPPORTED_LANGUAGES)))
    if current is not None and current.category == "negative":
        errors.append(Refused("tpl.err.negative_list"))
    if not text:
        errors.append(Refused("tpl.err.empty"))
    if current is not None and current.category == STAFF:  # its own placeholders (staff.py)
        own = staff_placeholders(knowledge.catalogue, key)
        errors += validate_template(text, {name: name for name in own})
    else:
        errors += validate_template(text)
    values = {**SAMPLE_VALUES.get(lang, SAMPLE_VALUES["en"]), "shop_name": shop_name}
    if now is not None:
        values["time_of_day"] = time_of_day_word(knowledge.catalogue, lang, now.hour)
    preview = render(text, values) if not errors else ""
    errors += _length_errors(text, preview, current.tags if current else ())
    if not errors and now is not None and current is not None and key in GREETING_KEYS.values():
        preview = greeting_now(knowledge, lang, now, shop_name,
                               returning=key == GREETING_KEYS["returning"],
                               edit=Phrase(key, current.category, lang, text, current.tags))
    return TemplateCheck(
        key, lang, text, tuple(errors), knowledge.check_tone(text), preview,
        current.category if current else "", current.tags if current else (),
    )


def greeting_now(
    knowledge: KnowledgeBase, lang: str, now: datetime, shop_name: str, *, returning: bool,
    edit: Phrase | None = None,
) -> str:
    """What the sample customer (SAMPLE_VALUES) is greeted with at ``now`` (shop time), with
    ``edit`` saved: the shopper side's own ``compose_greeting`` (P3), so preview = greeting."""
    catalogue = knowledge.catalogue.with_overrides([edit]) if edit else knowledge.catalogue
    name = str(SAMPLE_VALUES.get(lang, SAMPLE_VALUES["en"])["customer_name"])
    text, _ = compose_greeting(catalogue, lang, now, customer_name=name, returning=returning,
                               shop_name=shop_name)
    return text


def greetings_text(knowledge: KnowledgeBase, languages: tuple[str, ...], now: datetime,
                   shop_name: str, w: StaffWords) -> str:
    """The two greetings per language, and what a new / returning shopper gets right now,
    in the owner's words (staff phrases ``greeting.*``)."""
    lines = [w("greeting.overview", time=f"{now:%H:%M}")]
    for lang in languages:
        for kind, key in GREETING_KEYS.items():
            phrase = knowledge.catalogue.get(key, lang)
            shown = greeting_now(knowledge, lang, now, shop_name, returning=kind == "returning")
            lines += [w("greeting.line", lang=lang, kind=w(f"tpl.kind.{kind}"),
                        text=phrase.text if phrase else "—"), w("greeting.now", text=shown)]
    lines.append(w("greeting.usage"))
    return "\n".join(lines)


def _length_errors(text: str, preview: str, tags: Sequence[str]) -> list[Refused]:
    """Telegram refuses a message over 4,096 characters and a caption over 1,024 whole: an
    owner's text that long is refused on save, with the limit, not found out at send time."""
    caption = any(tag in CAPTION_SITUATIONS for tag in tags)
    limit = CAPTION_LIMIT if caption else TELEGRAM_LIMIT
    length = max(units(text), units(preview))
    if length <= limit:
        return []
    return [Refused("tpl.err.too_long_caption" if caption else "tpl.err.too_long",
                    length=f"{length:,}", limit=f"{limit:,}", over=f"{length - limit:,}")]


async def save_template(
    repo: Repo, knowledge: KnowledgeBase, owner: int, check: TemplateCheck,
    confirm_negative: bool = False,
) -> list[Refused]:
    """Save a checked edit (checked again: the text may come back from a pending state).

    P9: a text with negative language is refused unless the owner explicitly confirmed it;
    the confirmation is recorded with the terms it let through."""
    again = check_template(knowledge, check.key, check.lang, check.text)
    if again.errors:
        return list(again.errors)
    terms = sorted({p.term for p in again.tone.problems})
    if terms and not confirm_negative:
        return [Refused("tpl.err.tone_unconfirmed", terms=", ".join(terms))]
    await repo.templates.upsert(key=check.key, lang=check.lang, category=again.category,
                                text=again.text, tags=list(again.tags))
    await record_change(repo, owner, "template", key=check.key, lang=check.lang,
                        tone_warnings=len(again.tone.problems),
                        **({"tone_confirmed": terms} if terms else {}))
    await repo.commit()
    await knowledge.reload(repo)
    return []


# ============================================================================ FAQ
def _row_entry(row: FaqEntryRow) -> FaqEntry:
    return FaqEntry(row.key, row.question, row.answer, tuple(row.alt or ()), row.threshold)


async def faq_list(repo: Repo, lang: str, w: StaffWords) -> str:
    """The language's entries, key and the start of the question (the key is what /faqshow,
    /faqdel and /alt take)."""
    rows = await repo.faq.all(lang)
    return "\n".join(w("faq.line", key=r.key, question=r.question[:60]) for r in rows) or (
        w("faq.empty", lang=lang))


@dataclass(frozen=True)
class FaqEdit:
    key: str
    lang: str
    question: str
    answer: str
    alt: tuple[str, ...] = ()


_FIELD_LINE = re.compile(r"\s*(Q|A|ALT)\s*[:：]\s*(.*)", re.IGNORECASE)
KEY_BYTES = 40  # an owner's key, in UTF-8: buttons carry it within Telegram's 64 bytes


def parse_faq_edit(text: str, default_lang: str = "zh") -> FaqEdit:
    """'[key] [lang]\nQ: question\nA: answer (may span lines)\nALT: one | two' → FaqEdit.

    The key may be Chinese (``发货时间``); without one the key is empty and
    :func:`with_key` makes one from the question; without a language, ``default_lang``.
    """
    head, _, body = text.strip().partition("\n")
    if _FIELD_LINE.match(head):  # no first line: "/faqset\nQ: …"
        head, body = "", text.strip()
    parts = head.split()
    if len(parts) == 1 and parts[0] in SUPPORTED_LANGUAGES:
        parts = ["", parts[0]]
    elif len(parts) <= 1:
        parts = [*(parts or [""]), default_lang]
    if len(parts) != 2 or parts[1] not in SUPPORTED_LANGUAGES:
        raise Refused("faqset.err_head")
    if parts[0] and not (re.fullmatch(r"[\w.-]+", parts[0])
                         and len(parts[0].encode()) <= KEY_BYTES):
        raise Refused("faqset.err_key", bytes=KEY_BYTES)
    fields: dict[str, list[str]] = {"q": [], "a": [], "alt": []}
    current: str | None = None
    for line in body.splitlines():
        match = _FIELD_LINE.match(line)
        if match:
            current = match.group(1).lower()
            fields[current].append(match.group(2))
        elif current is not None:
            fields[current].append(line)
    question = "\n".join(fields["q"]).strip()
    answer = "\n".join(fields["a"]).strip()
    if not question or not answer:
        raise Refused("faqset.err_fields")
    alt = tuple(a.strip() for a in " | ".join(fields["alt"]).split("|") if a.strip())
    return FaqEdit(parts[0], parts[1], question, answer, alt)


async def with_key(repo: Repo, edit: FaqEdit) -> FaqEdit:
    """The edit with its key: the owner's, else one made from the question (free in its
    language)."""
    if edit.key:
        return edit
    taken = {row.key for row in await repo.faq.all(edit.lang)}
    return replace(edit, key=fc.auto_key(edit.question, taken))


async def upsert_faq(repo: Repo, knowledge: KnowledgeBase, owner: int,
                     edit: FaqEdit) -> ToneReport:
    """Add or replace an entry; returns the P9 check of its answer (the owner is warned)."""
    undo = {"faq": await fc.snapshot(repo, edit.lang, [edit.key])}
    row = await repo.faq.get(edit.key, edit.lang)
    if row is None:
        repo.session.add(FaqEntryRow(key=edit.key, lang=edit.lang, question=edit.question,
                                     answer=edit.answer, alt=list(edit.alt)))
    else:
        row.question, row.answer, row.alt = edit.question, edit.answer, list(edit.alt)
    await record_change(repo, owner, "faq_set", undo=undo, key=edit.key, lang=edit.lang,
                        new=row is None)
    await repo.commit()
    await knowledge.reload(repo)
    return knowledge.check_tone(edit.answer)


async def delete_faq(repo: Repo, knowledge: KnowledgeBase, owner: int, key: str,
                     lang: str) -> bool:
    row = await repo.faq.get(key, lang)
    if row is None:
        return False
    undo = {"faq": await fc.snapshot(repo, lang, [key])}
    await repo.session.delete(row)
    await record_change(repo, owner, "faq_delete", undo=undo, key=key, lang=lang)
    await repo.commit()
    await knowledge.reload(repo)
    return True


CSV_COLUMNS = ("id", "question", "answer", "alt", "threshold")


async def export_faq(repo: Repo, lang: str, fmt: str) -> bytes:
    """The language's FAQ as the YAML FAQ file or CSV (alt phrasings joined by ' | ')."""
    entries = [_row_entry(r) for r in await repo.faq.all(lang)]
    if fmt == "yaml":
        return dump_faq_file(FaqFile(entries)).encode("utf-8")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow([e.id, e.question, e.answer, " | ".join(e.alt),
                         "" if e.threshold is None else e.threshold])
    return out.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheet apps read Chinese


def parse_faq_upload(filename: str, data: bytes) -> FaqFile:
    """A YAML FAQ file or a CSV with the export's columns; ValueError says what is wrong."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Refused("faqimport.err_utf8") from error
    if filename.lower().endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text))
        missing = {"id", "question", "answer"} - set(reader.fieldnames or ())
        if missing:
            raise Refused("faqimport.err_columns", columns=", ".join(sorted(missing)))
        raw: list[dict[str, Any]] = []
        for row in reader:
            entry: dict[str, Any] = {k: row.get(k) for k in ("id", "question", "answer")}
            alts = [a.strip() for a in (row.get("alt") or "").split("|") if a.strip()]
            if alts:
                entry["alt"] = alts
            if (row.get("threshold") or "").strip():
                try:
                    entry["threshold"] = float(row["threshold"])
                except ValueError as error:
                    raise Refused("faqimport.err_threshold",
                                  row=row.get("id") or "") from error
            raw.append(entry)
        return parse_faq({"faq": raw})
    try:
        return parse_faq(load_yaml(text))
    except yaml.YAMLError as error:
        raise Refused("faqimport.err_yaml", error=str(error)[:300]) from error


def read_faq_upload(lang: str, filename: str, data: bytes) -> list[FaqEntry]:
    """The entries of an uploaded FAQ file (ValueError says what is wrong)."""
    if lang not in SUPPORTED_LANGUAGES:
        raise Refused("err_lang", languages=" / ".join(SUPPORTED_LANGUAGES))
    faq = parse_faq_upload(filename, data)
    if not faq.entries:
        raise Refused("faqimport.err_empty")
    return faq.entries


async def plan_faq_import(repo: Repo, knowledge: KnowledgeBase, lang: str, filename: str,
                          data: bytes) -> fc.ImportPlan:
    """What the upload would add, change and (with replace) remove; nothing is changed."""
    return await fc.plan_import(repo, knowledge, lang, filename,
                                read_faq_upload(lang, filename, data))


async def import_faq(repo: Repo, knowledge: KnowledgeBase, owner: int, lang: str,
                     filename: str, data: bytes, mode: str = fc.MERGE) -> int:
    """Import without a preview (merge by default; undoable); returns the file's entries."""
    entries = read_faq_upload(lang, filename, data)
    await fc.apply_import(repo, knowledge, owner, lang, entries, mode, filename=filename)
    return len(entries)


# ============================================================================ inbox
@dataclass(frozen=True)
class Question:
    message_id: int
    text: str
    lang: str


@dataclass(frozen=True)
class QuestionGroup:
    """Similar unanswered questions; ``suggestion`` is the nearest FAQ entry, if any."""

    questions: tuple[Question, ...]
    suggestion: str | None

    @property
    def first(self) -> Question:
        return self.questions[0]


def _unanswered(message: Message, reason: str | None) -> bool:
    meaning = message.meaning or {}
    if meaning.get("inbox") or meaning.get("intent"):
        return False
    decision = meaning.get("decision")
    return decision in ("none", "clarify") or (
        decision == "answer" and reason == "rejected_answer")


async def unanswered_questions(repo: Repo, since: datetime, limit: int = 300) -> list[Question]:
    """Shopper texts the bot could not match, or whose answer led to an escalation."""
    rows = await repo.session.execute(
        select(Message, Conversation.escalation_reason, Conversation.language)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.sender == Sender.SHOPPER, Message.kind == "text",
               Message.created_at >= since, Message.meaning.is_not(None))
        .order_by(Message.id.desc())
        .limit(limit * 3)
    )
    out = []
    for message, reason, language in rows:
        if _unanswered(message, reason):
            lang = (message.meaning or {}).get("language") or language
            out.append(Question(message.id, message.text, lang))
    return out[:limit]


def group_questions(questions: list[Question], knowledge: KnowledgeBase | None = None,
                    threshold: int = INBOX_SIMILARITY) -> list[QuestionGroup]:
    """Greedy grouping by rapidfuzz similarity, biggest groups first."""
    if not questions:
        return []
    texts = [q.text for q in questions]
    scores = process.cdist(texts, texts, scorer=fuzz.token_sort_ratio,
                           processor=utils.default_process)
    taken: set[int] = set()
    groups: list[QuestionGroup] = []
    for i in range(len(questions)):
        if i in taken:
            continue
        members = [j for j in range(len(questions)) if j not in taken and scores[i][j] >= threshold]
        taken.update(members)
        first = questions[i]
        suggestion = None
        if knowledge is not None:
            best = knowledge.understand(first.text, first.lang).best
            suggestion = best.entry_id if best else None
        groups.append(QuestionGroup(tuple(questions[j] for j in members), suggestion))
    groups.sort(key=lambda g: -len(g.questions))
    return groups


async def _close_group(repo: Repo, message_id: int, action: str,
                       since: datetime) -> list[int]:
    """Mark the question and the ones similar to it as dealt with; returns their ids."""
    target = await repo.session.get(Message, message_id)
    if target is None:
        raise Refused("inbox.err_gone")
    pending = await unanswered_questions(repo, since)
    similar = [q.message_id for q in pending
               if fuzz.token_sort_ratio(q.text, target.text, processor=utils.default_process)
               >= INBOX_SIMILARITY]
    closed = []
    for other_id in sorted({message_id, *similar}):
        message = await repo.session.get(Message, other_id)
        if message is not None and not (message.meaning or {}).get("inbox"):
            message.meaning = {**(message.meaning or {}), "inbox": action}
            closed.append(other_id)
    return closed


async def inbox_to_phrasing(repo: Repo, knowledge: KnowledgeBase, owner: int, message_id: int,
                            key: str, since: datetime, actor_name: str | None = None,
                            at: datetime | None = None) -> str:
    """The question becomes another phrasing of entry ``key`` (undoable); returns its text.
    Show ``faq_changes.preview_inbox`` first: it says which answers this moves."""
    message = await repo.session.get(Message, message_id)
    if message is None:
        raise Refused("inbox.err_gone")
    lang = (message.meaning or {}).get("language") or "zh"
    row = await repo.faq.get(key, lang) or next(
        (r for r in await repo.faq.all() if r.key == key), None)
    if row is None:
        raise Refused("inbox.err_no_entry", key=key)
    undo = {"faq": await fc.snapshot(repo, row.lang, [row.key])}
    if message.text not in (row.alt or []) and message.text != row.question:
        row.alt = [*(row.alt or []), message.text]
    undo["inbox"] = await _close_group(repo, message_id, f"alt:{key}", since)
    await audit.record(repo, owner, "inbox_phrasing", actor_name=actor_name, at=at, undo=undo,
                       key=row.key, lang=row.lang, question=message.text[:200])
    await repo.commit()
    await knowledge.reload(repo)
    return message.text


async def inbox_to_entry(repo: Repo, knowledge: KnowledgeBase, owner: int, message_id: int,
                         answer: str, since: datetime, actor_name: str | None = None,
                         at: datetime | None = None) -> str:
    """The question becomes a new entry with the owner's answer (undoable); returns its key."""
    message = await repo.session.get(Message, message_id)
    if message is None:
        raise Refused("inbox.err_gone")
    answer = answer.strip()
    if not answer:
        raise Refused("inbox.err_empty")
    lang = (message.meaning or {}).get("language") or "zh"
    key = fc.new_key(message_id)
    undo = {"faq": await fc.snapshot(repo, lang, [key])}
    row = await repo.faq.get(key, lang)
    if row is None:
        repo.session.add(FaqEntryRow(key=key, lang=lang, question=message.text, answer=answer,
                                     alt=[]))
    else:
        row.question, row.answer = message.text, answer
    undo["inbox"] = await _close_group(repo, message_id, f"new:{key}", since)
    await audit.record(repo, owner, "inbox_entry", actor_name=actor_name, at=at, undo=undo,
                       key=key, lang=lang, question=message.text[:200])
    await repo.commit()
    await knowledge.reload(repo)
    return key


async def inbox_dismiss(repo: Repo, owner: int, message_id: int, since: datetime) -> None:
    await _close_group(repo, message_id, "dismissed", since)
    await record_change(repo, owner, "inbox_dismiss", message=message_id)
    await repo.commit()


# ============================================================================ agents, settings
async def add_agent(repo: Repo, owner: int, user_id: int, name: str = "",
                    username: str | None = None) -> bool:
    added = await staff.add_agent(repo, user_id, name, username)
    await record_change(repo, owner, "agent_add", user=user_id)
    await repo.commit()
    return added


async def remove_agent(repo: Repo, owner: int, user_id: int) -> bool:
    removed = await staff.remove_agent(repo, user_id)
    await record_change(repo, owner, "agent_remove", user=user_id)
    await repo.commit()
    return removed


class SettingRefused(ValueError):
    """Why /set changed nothing, in words staff read: the staff phrase ``set.reason.<key>``
    with ``values`` (the owner reads it in their own language)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


def _int_in(low: int, high: int) -> Any:
    def check(value: str) -> str:
        try:
            number = int(value)
        except ValueError:
            raise SettingRefused("number", low=low, high=high) from None
        if not low <= number <= high:
            raise SettingRefused("range", low=low, high=high)
        return str(number)
    return check


def _steps(value: str) -> str:
    try:
        parse_steps(value)
    except ValueError:
        raise SettingRefused("steps") from None
    return value.replace(" ", "")


def _period(value: str) -> str:
    if value not in ("all", "month", "quarter", "year"):
        raise SettingRefused("period")
    return value


# Only settings the services read from the database at run time can be changed here (an
# owner setting that changes nothing would mislead): the shop's default cap (``/cap 3``) is
# read at every assignment; per-agent caps: /cap <agent> <n>. The rest stay in the shop file,
# each with the plain reason the owner is told (staff phrase set.reason.<name>).
SETTING_RULES = {
    "agent_cap": _int_in(1, 100),
    "swap_limit": _int_in(0, 31),
    "complaint_steps": _steps,
    "complaint_period": _period,
    "late_grace_minutes": _int_in(0, 120),
    "swap_fine": _int_in(0, 10000),
    "bot_survey_share": _int_in(0, 100),
}
# Settings of the shop file, each with the plain reason (staff phrase set.reason.<name>).
SHOP_FILE_SETTINGS = ("shop_name", "languages", "timezone", "sla_greeting_seconds",
                      "sla_reply_seconds")


def parse_steps(value: str) -> list[float | None]:
    """'30,60,dismiss' → [30.0, 60.0, None]: amount per step, None for dismissal (P14)."""
    steps: list[float | None] = []
    for part in value.split(","):
        part = part.strip().lower()
        if part in ("dismiss", "dismissal"):
            steps.append(None)
        else:
            amount = float(part)
            if amount < 0:
                raise ValueError("penalty amounts are not negative")
            steps.append(amount)
    if not steps:
        raise ValueError("at least one step")
    return steps


async def change_setting(repo: Repo, owner: int, name: str, value: str) -> str:
    """Validate and store one owner setting; returns the stored value (ValueError if bad)."""
    value = value.strip()
    if name in SHOP_FILE_SETTINGS:
        raise SettingRefused(name, name=name)
    rule = SETTING_RULES.get(name)
    if rule is None:
        raise SettingRefused("unknown", names=", ".join(SETTING_RULES))
    value = rule(value)
    await staff.set_owner_setting(repo, name, value)
    await record_change(repo, owner, "setting", name=name, value=value)
    await repo.commit()
    return value


def _shown(value: object) -> str:
    """A shop-file value as the owner reads it: a list without brackets and quotes."""
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(getattr(value, "key", value))  # a time zone by its name


async def settings_text(repo: Repo, settings: Settings, w: StaffWords) -> str:
    """The owner's settings, then those of the shop file (why not here: /set <name>)."""
    lines = [w("settings.line", label=w.label("setting", name), name=name,
               value=w.label(f"setting.{name}", await staff.owner_setting(repo, name)))
             for name in SETTING_RULES if name != "agent_cap"]  # a code value in words
    lines.insert(0, w("settings.cap", label=w.label("setting", "agent_cap"),
                      value=await staff.shop_agent_cap(repo, settings.agent_cap)))
    lines += [w("settings.shop_file", label=w.label("setting", name), name=name,
                value=_shown(getattr(settings, name))) for name in SHOP_FILE_SETTINGS]
    return "\n".join(lines)


# ============================================================================ P9 terms
def tone_terms_text(knowledge: KnowledgeBase, w: StaffWords) -> str:
    """The terms the guard checks now: built-in (minus removed) and the owner's own, in the
    owner's words (staff phrases tone.*)."""
    removed = {t.casefold() for t in knowledge.tone_removed}
    lines = [w("tone.title")]
    for lang, terms in term_entries().items():
        shown = [w("tone.line", term=t.term, rewrite=knowledge.tone_added.get(t.term, t.rewrite))
                 for t in terms if t.term.casefold() not in removed]
        lines += [w("tone.lang", lang=w.label("notice.lang", lang)), *shown]
    own = [w("tone.line", term=t, rewrite=r) for t, r in knowledge.tone_added.items()
           if not any(t == e.term for terms in term_entries().values() for e in terms)]
    if own:
        lines += [w("tone.yours"), *own]
    if knowledge.tone_removed:
        lines.append(w("tone.removed_list", terms=", ".join(knowledge.tone_removed)))
    lines.append(w("tone.usage"))
    return "\n".join(lines)


async def _save_tone(repo: Repo, knowledge: KnowledgeBase, added: dict[str, str],
                     removed: list[str]) -> None:
    await repo.faq.set_setting(TONE_KEY, json.dumps({"add": added, "remove": removed},
                                                    ensure_ascii=False))
    await repo.commit()
    await knowledge.reload(repo)


async def add_tone_term(repo: Repo, knowledge: KnowledgeBase, owner: int, term: str,
                        rewrite: str) -> None:
    """The owner adds (or re-words) a term; the suggestion must itself pass the guard."""
    term, rewrite = term.strip(), rewrite.strip()
    if not term or not rewrite:
        raise Refused("tone.add_usage")
    if len(term) > 60 or len(rewrite) > 200:
        raise Refused("tone.err_length", term=60, rewrite=200)
    added = {**knowledge.tone_added, term: rewrite}
    if not check_tone(rewrite, added, knowledge.tone_removed).ok:
        raise Refused("tone.err_negative", rewrite=rewrite)
    removed = [t for t in knowledge.tone_removed if t.casefold() != term.casefold()]
    await record_change(repo, owner, "tone_term_add", term=term, rewrite=rewrite)
    await _save_tone(repo, knowledge, added, removed)


async def remove_tone_term(repo: Repo, knowledge: KnowledgeBase, owner: int, term: str) -> bool:
    """The owner's own term goes away; a built-in one stops being checked (recorded)."""
    term = term.strip()
    added = {t: r for t, r in knowledge.tone_added.items() if t.casefold() != term.casefold()}
    builtin = any(e.term.casefold() == term.casefold()
                  for terms in term_entries().values() for e in terms)
    if len(added) == len(knowledge.tone_added) and not builtin:
        return False
    removed = list(knowledge.tone_removed)
    if builtin and term.casefold() not in {t.casefold() for t in removed}:
        removed.append(term)
    await record_change(repo, owner, "tone_term_remove", term=term)
    await _save_tone(repo, knowledge, added, removed)
    return True
