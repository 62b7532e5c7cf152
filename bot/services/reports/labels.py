"""The report's words (P23): staff phrases ``staff.report.<key>`` in phrases/data/staff.*.yaml.

One home for words staff read: the owner edits a label like any staff text
(/settemplate staff.report.complaints zh …). A caller that holds the reader's
:class:`StaffWords` passes them and the owner's edits show; a caller that only knows a
language (the CLI, a test, a chart's English fallback) gets the packaged texts.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from phrases.catalogue import PhraseCatalogue
from phrases.staff import StaffWords

PREFIX = "report."

Words = StaffWords | str  # the reader's words, or a language code for the packaged texts


@cache
def _packaged() -> PhraseCatalogue:
    return PhraseCatalogue.builtin()


def words_of(words: Words) -> StaffWords:
    """Staff words for ``words``: itself, or the packaged texts in that language."""
    return words if isinstance(words, StaffWords) else StaffWords(_packaged(), words)


def in_language(words: Words, lang: str) -> Words:
    """The same words in another language (the charts' English fallback keeps the owner's
    edited English texts when it has them)."""
    return replace(words, lang=lang) if isinstance(words, StaffWords) else lang


def lang_of(words: Words) -> str:
    return words.lang if isinstance(words, StaffWords) else words


def label(key: str, words: Words, **values: object) -> str:
    """``label("complaints", w)`` → 投诉; a key without a text (a new escalation reason) shows
    as itself, without its ``reason_`` prefix."""
    w = words_of(words)
    if not w.has(PREFIX + key):
        return key.removeprefix("reason_")
    return w(PREFIX + key, **values)
