"""The FAQ and phrases the bot answers from: loaded from the database, rebuilt on edits.

The shop's FAQ files seed the database; a file that changed since it was last loaded replaces
that language's entries (the owner's edits in Telegram live until the file changes again).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from bot.services import faq_changes
from bot.settings import Settings
from phrases.catalogue import Phrase, PhraseCatalogue
from phrases.faq_file import FaqEntry, load_faq_file
from phrases.greeting import carry_over_greetings
from phrases.lang import detect_language
from phrases.staff import StaffWords
from phrases.tone import ToneReport, check_tone
from phrases.understand import Understander, Understanding
from storage.models import FaqEntryRow
from storage.repositories import Repo

TONE_KEY = "tone_terms"  # the owner's P9 terms: {"add": {term: rewrite}, "remove": [term]}


def faq_sources(settings: Settings) -> dict[str, Path]:
    """Language → FAQ file; FAQ_FILE replaces the shop file's FAQ of its own language."""
    sources = {
        lang: path for lang, path in settings.faq_files.items() if lang in settings.languages
    }
    if settings.faq_file is not None:
        entries = load_faq_file(settings.faq_file).entries
        sample = " ".join(entry.question for entry in entries[:20])
        sources[detect_language(sample, default=settings.default_language)] = settings.faq_file
    return sources


async def sync_faq_from_files(repo: Repo, settings: Settings) -> dict[str, int]:
    """Load each FAQ file whose content changed since last time; returns lang → entries loaded."""
    loaded: dict[str, int] = {}
    for lang, path in faq_sources(settings).items():
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        setting_key = f"faq_source_sha256:{lang}"
        if await repo.faq.setting(setting_key) == digest:
            continue
        entries = load_faq_file(path).entries
        await faq_changes.load_file(repo, lang, entries, path.name)
        await repo.faq.set_setting(setting_key, digest)
        loaded[lang] = len(entries)
    await repo.commit()
    return loaded


@lru_cache(maxsize=4)  # per language: the live matcher and the one before (memory)
def understander_for(entries: tuple[FaqEntry, ...]) -> Understander:
    """The matcher of one exact set of entries, built once per process: an edit of one
    language's FAQ (or of a template) does not rebuild the other languages' matchers, and
    processes and tests that load the same FAQ share one build (~0.2 s for the demo shop).
    Safe because an Understander is never changed after it is built."""
    return Understander(entries)


def _entry(row: FaqEntryRow) -> FaqEntry:
    return FaqEntry(id=row.key, question=row.question, answer=row.answer,
                    alt=tuple(row.alt or ()), threshold=row.threshold)


def build_matchers(entries: Mapping[str, Mapping[str, FaqEntry]]) -> dict[str, Understander]:
    """One matcher per language (pure CPU, seconds for hundreds of entries: run it off the
    event loop)."""
    return {lang: understander_for(tuple(by_key.values())) for lang, by_key in entries.items()}


class KnowledgeBase:
    """Per-language FAQ matchers plus the phrase catalogue with the owner's overrides."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalogue = PhraseCatalogue.builtin()
        self._understanders: dict[str, Understander] = {}
        self._entries: dict[str, dict[str, FaqEntry]] = {}
        self.tone_added: dict[str, str] = {}
        self.tone_removed: tuple[str, ...] = ()
        self._reloads_started = self._reloads_swapped = 0

    async def reload(self, repo: Repo) -> None:
        """Rebuild from the database; call after any FAQ or template edit (no restart needed).

        A language's matcher takes seconds to build for hundreds of entries (bench/
        bench_knowledge_reload.py), so only languages whose entries changed are rebuilt, on a
        worker thread, and everything is swapped in at once when ready: meanwhile shoppers
        are answered by the matcher in place. Of reloads that overlap, the last started wins.
        """
        self._reloads_started += 1
        mine = self._reloads_started
        entries: dict[str, dict[str, FaqEntry]] = {}
        for row in await repo.faq.all():
            entries.setdefault(row.lang, {})[row.key] = _entry(row)
        rows = sorted(await repo.templates.all(), key=lambda t: (t.updated_at, t.id))
        overrides = [
            Phrase(key=t.key, category=t.category, lang=t.lang, text=t.text, tags=tuple(t.tags))
            for t in rows
        ]
        # Edits of the 16 old time-of-day greetings live on as the one greeting (P3).
        catalogue = PhraseCatalogue.builtin().with_overrides(carry_over_greetings(overrides))
        tone = json.loads(await repo.faq.setting(TONE_KEY) or "{}")
        # Off the loop; a language whose entries did not change comes back from the memo
        # (understander_for) at once, so only edited languages are really rebuilt.
        built = await asyncio.to_thread(build_matchers, entries)
        if mine < self._reloads_swapped:
            return  # a reload started after this one is live already
        # The swap: no await from here on, so a shopper sees all old or all new.
        self._reloads_swapped = mine
        self._understanders = built
        self._entries = entries
        self.catalogue = catalogue
        self.tone_added = {str(k): str(v) for k, v in (tone.get("add") or {}).items()}
        self.tone_removed = tuple(str(t) for t in tone.get("remove") or ())

    def staff_words(self, lang: str | None = None) -> StaffWords:
        """Staff texts in ``lang``, by default the shop's language (the agents' group, alerts
        to nobody in particular); a person's own choice: ``bot.services.staff.staff_words``."""
        return StaffWords(self.catalogue, lang or self.settings.default_language)

    def check_tone(self, text: str) -> ToneReport:
        """P9 with the owner's own terms added and removed: every outgoing check uses this."""
        return check_tone(text, self.tone_added, self.tone_removed)

    def understand(self, text: str, lang: str) -> Understanding:
        """Match in the shopper's language, falling back to any language that has an FAQ."""
        understander = self._understanders.get(lang) or next(
            iter(self._understanders.values()), None
        )
        if understander is None:
            understander = self._understanders.setdefault("", Understander(()))
        return understander.understand(text)

    def understand_parts(self, text: str, lang: str) -> tuple[tuple[str, Understanding], ...]:
        """Each clause of a several-question message, understood in the shopper's language."""
        understander = self._understanders.get(lang) or next(
            iter(self._understanders.values()), None)
        return understander.understand_parts(text) if understander is not None else ()

    def entry(self, key: str, lang: str) -> FaqEntry | None:
        """The entry in the wanted language, else in any language that has it."""
        for candidate in (lang, *self._entries):
            found = self._entries.get(candidate, {}).get(key)
            if found is not None:
                return found
        return None

    def entry_count(self) -> dict[str, int]:
        return {lang: len(by_key) for lang, by_key in self._entries.items()}
