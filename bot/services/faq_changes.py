"""FAQ changes that are shown before they are made and can be taken back (``/faqundo``).

An import is compared with the live FAQ first: what it adds, changes and — only when the owner
chooses *replace* — removes; *merge* (the default) leaves every other entry alone. An inbox
action is tried on a copy of the matcher first: which answer the question would get, and which
similar questions already known (FAQ phrasings, what shoppers asked lately) would change
answer. Every applied change is recorded in the change log (``bot.services.audit``) with the
FAQ rows as they were, so ``undo_last`` restores them exactly — thresholds, phrasings, order and
the owner's own entries included — and reopens the inbox questions the change had closed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process, utils
from sqlalchemy import select

from bot.services import audit
from phrases.faq_file import FaqEntry
from phrases.refused import Refused
from phrases.understand import Understander, Understanding
from storage.models import FaqEntryRow, Message, Sender
from storage.repositories import Repo

if TYPE_CHECKING:
    from bot.services.knowledge import KnowledgeBase

MERGE, REPLACE = "merge", "replace"
# Changes /faqundo can take back, newest first.
FAQ_ACTIONS = ("faq_set", "faq_delete", "faq_alt", "faq_import", "faq_file", "inbox_phrasing",
               "inbox_entry")
SIMILAR_SCORE = 55  # token-set ratio (0..100) at which a known question counts as similar
SIMILAR_CHECKED = 40  # the most similar known questions tried against the changed matcher
RECENT_QUESTIONS = 500  # shopper texts of the inbox window looked at
# Questions the owner dismissed from the inbox are known to be out of scope: a phrasing that
# would answer one of them from the FAQ is flagged (the latest shopper texts scanned for them).
DISMISSED_SCANNED = 5000


def entry_of(row: FaqEntryRow) -> FaqEntry:
    return FaqEntry(row.key, row.question, row.answer, tuple(row.alt or ()), row.threshold)


def _dump(entry: FaqEntry) -> dict[str, Any]:
    return {"key": entry.id, "question": entry.question, "answer": entry.answer,
            "alt": list(entry.alt), "threshold": entry.threshold}


def _load(data: dict[str, Any]) -> FaqEntry:
    return FaqEntry(data["key"], data["question"], data["answer"], tuple(data.get("alt") or ()),
                    data.get("threshold"))


def _row(entry: FaqEntry, lang: str) -> FaqEntryRow:
    return FaqEntryRow(key=entry.id, lang=lang, question=entry.question, answer=entry.answer,
                       alt=list(entry.alt), threshold=entry.threshold)


def _same(a: FaqEntry, b: FaqEntry) -> bool:
    """Equal as the shopper sees them; a file without a threshold keeps the live one."""
    return (a.question, a.answer, a.alt) == (b.question, b.answer, b.alt) and (
        b.threshold is None or a.threshold == b.threshold)


# ============================================================================ imports
@dataclass(frozen=True)
class FaqDiff:
    """What an import does to one language's FAQ."""

    added: tuple[FaqEntry, ...]
    changed: tuple[tuple[FaqEntry, FaqEntry], ...]  # (live, from the file)
    removed: tuple[FaqEntry, ...]
    kept: int  # live entries left exactly as they are

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)


def diff(current: Sequence[FaqEntry], incoming: Sequence[FaqEntry], mode: str) -> FaqDiff:
    """Compare the live entries with a file's: merge keeps entries the file does not name,
    replace removes them."""
    live = {e.id: e for e in current}
    names = {e.id for e in incoming}
    added = tuple(e for e in incoming if e.id not in live)
    changed = tuple((live[e.id], e) for e in incoming
                    if e.id in live and not _same(live[e.id], e))
    removed = tuple(e for e in current if e.id not in names) if mode == REPLACE else ()
    return FaqDiff(added, changed, removed, len(current) - len(changed) - len(removed))


@dataclass(frozen=True)
class ImportPlan:
    """An upload read and compared, nothing changed yet: the owner picks merge or replace."""

    lang: str
    filename: str
    entries: tuple[FaqEntry, ...]
    merge: FaqDiff
    replace: FaqDiff
    tone_flagged: tuple[str, ...]  # keys whose answer has negative language (P9)

    def diff(self, mode: str) -> FaqDiff:
        return self.replace if mode == REPLACE else self.merge


async def plan_import(repo: Repo, knowledge: KnowledgeBase, lang: str, filename: str,
                      entries: Sequence[FaqEntry]) -> ImportPlan:
    current = [entry_of(r) for r in await repo.faq.all(lang)]
    merge = diff(current, entries, MERGE)
    new = [*merge.added, *(e for _, e in merge.changed)]  # live answers were checked before
    flagged = tuple(e.id for e in new if not knowledge.check_tone(e.answer).ok)
    return ImportPlan(lang, filename, tuple(entries), merge, diff(current, entries, REPLACE),
                      flagged)


async def apply_import(repo: Repo, knowledge: KnowledgeBase, actor: int | None, lang: str,
                       entries: Sequence[FaqEntry], mode: str, *, filename: str = "",
                       actor_name: str | None = None, at: datetime | None = None) -> FaqDiff:
    """Make the import live (the diff is computed again: the FAQ may have moved since the
    preview) and record it with the language's FAQ as it was."""
    if mode not in (MERGE, REPLACE):
        raise ValueError(f"mode must be {MERGE} or {REPLACE}")
    rows = await repo.faq.all(lang)
    current = [entry_of(r) for r in rows]
    change = diff(current, entries, mode)
    if mode == REPLACE:
        undo = {"lang": lang, "whole": [_dump(e) for e in current]}
        await repo.faq.replace_language(lang, [_row(e, lang) for e in entries])
    else:
        undo = {"lang": lang, "entries": [{"key": e.id, "before": None} for e in change.added]
                + [{"key": old.id, "before": _dump(old)} for old, _ in change.changed]}
        by_key = {r.key: r for r in rows}
        for _, new in change.changed:
            _assign(by_key[new.id], new)
        repo.session.add_all([_row(e, lang) for e in change.added])
    await audit.record(repo, actor, "faq_import", actor_name=actor_name, at=at, undo={"faq": undo},
                       lang=lang, mode=mode, file=filename, added=len(change.added),
                       changed=len(change.changed), removed=len(change.removed))
    await repo.commit()
    await knowledge.reload(repo)
    return change


async def load_file(repo: Repo, lang: str, entries: Sequence[FaqEntry], filename: str) -> None:
    """A changed FAQ file of the shop replaces its language (on start): recorded, and
    undoable like an import, when it replaces entries that were live (the owner's too)."""
    current = [entry_of(r) for r in await repo.faq.all(lang)]
    await repo.faq.replace_language(lang, [_row(e, lang) for e in entries])
    if current:
        await audit.record(repo, None, "faq_file", undo={"faq": {
            "lang": lang, "whole": [_dump(e) for e in current]}}, lang=lang, file=filename,
            entries=len(entries))


def _assign(row: FaqEntryRow, entry: FaqEntry) -> None:
    row.question, row.answer, row.alt = entry.question, entry.answer, list(entry.alt)
    if entry.threshold is not None:
        row.threshold = entry.threshold


# ============================================================================ undo
async def snapshot(repo: Repo, lang: str, keys: Iterable[str]) -> dict[str, Any]:
    """The undo of a change about to touch these entries: each as it is now (None: absent)."""
    out = []
    for key in dict.fromkeys(keys):
        row = await repo.faq.get(key, lang)
        out.append({"key": key, "before": _dump(entry_of(row)) if row else None})
    return {"lang": lang, "entries": out}


@dataclass(frozen=True)
class Undone:
    """A change taken back."""

    action: str
    details: dict[str, Any]
    at: datetime
    lang: str
    entries: int  # live entries of that language now
    reopened: int  # inbox questions back in the inbox


async def undo_last(repo: Repo, knowledge: KnowledgeBase, actor: int, now: datetime,
                    actor_name: str | None = None) -> Undone | None:
    """Take back the newest FAQ change still in force (LIFO: again for the one before)."""
    entry = await repo.audit.last_undoable(FAQ_ACTIONS)
    if entry is None:
        return None
    payload = dict(entry.undo or {})
    faq = payload.get("faq") or {}
    lang = str(faq.get("lang") or "")
    if "whole" in faq:
        await repo.faq.replace_language(lang, [_row(_load(e), lang) for e in faq["whole"]])
    for item in faq.get("entries") or ():
        row = await repo.faq.get(item["key"], lang)
        before = item.get("before")
        if before is None:
            if row is not None:
                await repo.session.delete(row)
        elif row is None:
            repo.session.add(_row(_load(before), lang))
        else:
            restored = _load(before)
            _assign(row, restored)
            row.threshold = restored.threshold
    reopened = 0
    for message_id in payload.get("inbox") or ():
        message = await repo.session.get(Message, message_id)
        if message is not None and (message.meaning or {}).get("inbox"):
            message.meaning = {k: v for k, v in message.meaning.items() if k != "inbox"}
            reopened += 1
    repo.audit.mark_undone(entry, actor, now)
    await audit.record(repo, actor, "faq_undo", actor_name=actor_name, at=now, undid=entry.id,
                       of={"action": entry.action, **(entry.details or {})})
    await repo.session.flush()
    count = len(await repo.faq.all(lang))
    await repo.commit()
    await knowledge.reload(repo)
    return Undone(entry.action, dict(entry.details or {}), entry.at, lang, count, reopened)


# ============================================================================ inbox previews
@dataclass(frozen=True)
class Shift:
    """A known question whose answer the change would move (entry keys; None: no answer)."""

    question: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class InboxPreview:
    """What an inbox action would do, shown before it is done."""

    message_id: int
    question: str
    lang: str
    key: str  # the entry the question joins, or the new entry's key
    now: str | None  # the entry it is answered from today (None: not answered)
    after: str | None  # the entry it would be answered from
    answer: str  # the answer it would get
    shifts: tuple[Shift, ...]  # similar known questions that would change answer
    # Dismissed (known out-of-scope) questions the change would answer from the FAQ, or pull
    # up to the edge of an answer (pulled_in): a phrasing that does this teaches the bot to
    # answer what it must not (flag, don't add).
    out_of_scope: tuple[str, ...] = ()


def verdict(understanding: Understanding) -> str | None:
    """The entry a message is answered from, or None (asked back, handed over, no match)."""
    best = understanding.best
    return best.entry_id if understanding.decision == "answer" and best else None


async def _known_questions(repo: Repo, entries: Sequence[FaqEntry], since: datetime,
                           exclude: int) -> list[str]:
    """FAQ phrasings and what shoppers asked lately: the questions a change must not break."""
    texts = [p for e in entries for p in e.phrasings]
    rows = await repo.session.scalars(
        select(Message.text).where(Message.sender == Sender.SHOPPER, Message.kind == "text",
                                   Message.created_at >= since, Message.id != exclude,
                                   Message.text.is_not(None))
        .order_by(Message.id.desc()).limit(RECENT_QUESTIONS))
    texts += [t for t in rows if t and not t.startswith("/")]
    return list(dict.fromkeys(texts))


def newly_answered(before: Callable[[str], Understanding], after: Understander,
                   texts: Iterable[str]) -> tuple[str, ...]:
    """The texts ``after`` answers from the FAQ that ``before`` did not: for known
    out-of-scope questions, each is a wrong answer the change would start giving."""
    return tuple(t for t in texts
                 if verdict(before(t)) is None and verdict(after.understand(t)) is not None)


def pulled_in(before: Callable[[str], Understanding], after: Understander, key: str,
              texts: Iterable[str]) -> tuple[str, ...]:
    """The texts on which entry ``key`` scores higher after the change than before and now
    leads within the answer zone: for known out-of-scope questions, a change that does this
    moves the bot to the edge of a wrong answer even where a close runner-up still holds it
    back (the learning loop's false accepts came this way: bench/learning_curve.py)."""
    out = []
    for text in texts:
        now = after.understand(text)
        best = now.best
        if best is None or best.entry_id != key or now.intent is not None:
            continue
        if best.score < after.answer_floor(key, now.language):
            continue
        was = next((c.score for c in before(text).candidates if c.entry_id == key), 0.0)
        if best.score > was:
            out.append(text)
    return tuple(out)


async def _dismissed_questions(repo: Repo, exclude: int) -> list[str]:
    """Questions the owner dismissed from the inbox (known out of scope), newest first."""
    rows = await repo.session.execute(
        select(Message.text, Message.meaning)
        .where(Message.sender == Sender.SHOPPER, Message.kind == "text",
               Message.meaning.is_not(None), Message.id != exclude)
        .order_by(Message.id.desc()).limit(DISMISSED_SCANNED))
    texts = [text for text, meaning in rows
             if text and (meaning or {}).get("inbox") == "dismissed"]
    return list(dict.fromkeys(texts))


async def preview_inbox(repo: Repo, knowledge: KnowledgeBase, message_id: int, since: datetime,
                        *, key: str | None = None, answer: str | None = None) -> InboxPreview:
    """Try ``message_id``'s question as a phrasing of entry ``key``, or as a new entry with
    ``answer``, on a copy of the live FAQ; nothing is saved."""
    message = await repo.session.get(Message, message_id)
    if message is None or not message.text:
        raise Refused("inbox.err_gone")
    lang = (message.meaning or {}).get("language") or "zh"
    live = [entry_of(r) for r in await repo.faq.all(lang)]
    if key is not None:
        target = next((e for e in live if e.id == key), None)
        if target is None:
            raise Refused("inbox.err_no_entry", key=key)
        changed_entry = FaqEntry(target.id, target.question, target.answer,
                                 (*target.alt, message.text), target.threshold)
        changed = [changed_entry if e.id == key else e for e in live]
    else:
        key = new_key(message_id)
        changed_entry = FaqEntry(key, message.text, (answer or "").strip())
        changed = [*live, changed_entry]
    # Building a matcher is the cost (seconds for hundreds of entries, bench/
    # bench_bulk_changes.py): off the event loop, so shoppers keep being answered meanwhile.
    trial = await asyncio.to_thread(Understander, changed)
    known = await _known_questions(repo, live, since, message_id)
    similar = process.extract(message.text, known, scorer=fuzz.token_set_ratio,
                              processor=utils.default_process, limit=SIMILAR_CHECKED,
                              score_cutoff=SIMILAR_SCORE)
    shifts = []
    for text, _, _ in similar:
        before, after = verdict(knowledge.understand(text, lang)), verdict(trial.understand(text))
        if before != after:
            shifts.append(Shift(text, before, after))
    after = verdict(trial.understand(message.text))
    answer_text = next((e.answer for e in changed if e.id == after), "")
    dismissed = await _dismissed_questions(repo, message_id)

    def now(text: str) -> Understanding:
        return knowledge.understand(text, lang)

    out_of_scope = tuple(dict.fromkeys([*newly_answered(now, trial, dismissed),
                                        *pulled_in(now, trial, key, dismissed)]))
    return InboxPreview(message_id, message.text, lang, key,
                        verdict(knowledge.understand(message.text, lang)), after, answer_text,
                        tuple(shifts), out_of_scope)


async def question_text(repo: Repo, message_id: int) -> str | None:
    """The text of an inbox question, to quote it to the owner."""
    message = await repo.session.get(Message, message_id)
    return message.text if message is not None and message.text else None


AUTO_KEY_WORDS = 4  # syllables or words of the question an automatic key is made of


def auto_key(question: str, taken: Container[str]) -> str:
    """A short ASCII key for an entry the owner gave none: the pinyin of the question's
    start ("下单以后什么时候发货？" → "xia_dan_yi_hou"), or its first English words; "faq"
    when nothing is left; "_2", "_3"… when taken. ASCII keeps the 👍/👎 buttons' data within
    Telegram's 64 bytes."""
    from pypinyin import lazy_pinyin  # its dictionaries load on first use, not at import

    words = [w for w in (re.sub(r"[^a-z0-9]+", " ", t.lower()).strip()
                         for t in lazy_pinyin(question)) for w in w.split() if w]
    base = "_".join(words[:AUTO_KEY_WORDS])[:32].strip("_") or "faq"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    return key


def new_key(message_id: int) -> str:
    """The key of an entry made from inbox question ``message_id``."""
    return f"inbox_{message_id}"
