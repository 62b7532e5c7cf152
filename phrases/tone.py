"""Negative-language guard (policy §七.11, P9).

Every outgoing text (template or agent reply) is checked for the words the policy says to
avoid (我不能, 我不会, 我不愿意, 我不能够, 可是, and English equivalents such as "I can't" or
"but"). The guard reports where each one is and proposes a positive rewrite for a person to
approve; the owner can add terms. The term list lives in ``data/tone.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class ToneProblem:
    """One avoided term found at ``text[start:end]``, with the wording we suggest instead."""

    term: str
    start: int
    end: int
    suggestion: str


@dataclass(frozen=True)
class ToneReport:
    """All problems of one text and the text with every problem replaced by its suggestion."""

    problems: tuple[ToneProblem, ...]
    rewrite: str

    @property
    def ok(self) -> bool:
        return not self.problems


@lru_cache(maxsize=1)
def negative_terms() -> dict[str, dict[str, str]]:
    """The packaged terms by language: ``{"zh": {term: rewrite}, "en": {...}}``."""
    raw = resources.files("phrases").joinpath("data/tone.yaml").read_text(encoding="utf-8")
    return parse_terms(yaml.safe_load(raw))


def parse_terms(data: object) -> dict[str, dict[str, str]]:
    """Read a ``{lang: [{term, rewrite}, ...]}`` structure; raise ValueError if malformed."""
    if not isinstance(data, Mapping):
        raise ValueError("tone terms: expected a mapping of language -> list of terms")
    result: dict[str, dict[str, str]] = {}
    for lang, entries in data.items():
        if not isinstance(entries, list):
            raise ValueError(f"tone terms: '{lang}' must be a list")
        terms: dict[str, str] = {}
        for entry in entries:
            if not (isinstance(entry, Mapping) and isinstance(entry.get("term"), str)):
                raise ValueError(f"tone terms: bad entry {entry!r} in '{lang}'")
            term = entry["term"].strip()
            if not term:
                raise ValueError(f"tone terms: empty term in '{lang}'")
            terms[term] = str(entry.get("rewrite") or "")
        result[str(lang)] = terms
    return result


def _key(text: str) -> str:
    """Normalised form used to map a match back to its listed term."""
    return re.sub(r"\s+", " ", text.replace("’", "'")).casefold()


def _term_pattern(term: str) -> str:
    body = "".join(
        r"['’]" if ch in "'’" else (r"\s+" if ch.isspace() else re.escape(ch))
        for ch in re.sub(r"\s+", " ", term)
    )
    # Word boundaries only where the term itself starts/ends with a word character of a
    # spaced language, so "but" does not fire in "butter" while 可是 still matches inside Chinese.
    if term[0].isascii() and (term[0].isalnum() or term[0] == "_"):
        body = r"(?<![A-Za-z0-9_])" + body
    if term[-1].isascii() and (term[-1].isalnum() or term[-1] == "_"):
        body += r"(?![A-Za-z0-9_])"
    return body


_Lookup = dict[str, tuple[str, str]]


@lru_cache(maxsize=64)
def _compile(items: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], _Lookup]:
    lookup: dict[str, tuple[str, str]] = {}
    for term, rewrite in items:
        lookup[_key(term)] = (term, rewrite)
    ordered = sorted((t for t, _ in lookup.values()), key=len, reverse=True)
    pattern = re.compile("|".join(_term_pattern(t) for t in ordered), re.IGNORECASE)
    return pattern, lookup


def _all_terms(extra_terms: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    merged: dict[str, tuple[str, str]] = {}
    for terms in negative_terms().values():
        for term, rewrite in terms.items():
            merged[_key(term)] = (term, rewrite)
    for term, rewrite in (extra_terms or {}).items():
        if term and term.strip():
            merged[_key(term.strip())] = (term.strip(), rewrite or "")
    return tuple(sorted(merged.values()))


def check_tone(text: str, extra_terms: Mapping[str, str] | None = None) -> ToneReport:
    """Find P9 negative terms in ``text`` and propose a rewrite.

    ``extra_terms`` maps the owner's own terms to their suggested wording; an owner term
    equal to a built-in one replaces its suggestion.
    """
    items = _all_terms(extra_terms)
    if not text or not items:
        return ToneReport((), text or "")
    pattern, lookup = _compile(items)
    problems: list[ToneProblem] = []
    pieces: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        term, suggestion = lookup.get(_key(match.group(0)), (match.group(0), ""))
        problems.append(ToneProblem(term, match.start(), match.end(), suggestion))
        pieces.append(text[last : match.start()])
        pieces.append(_match_case(match.group(0), suggestion))
        last = match.end()
    pieces.append(text[last:])
    rewrite = re.sub(r"[ \t]{2,}", " ", "".join(pieces)) if problems else text
    return ToneReport(tuple(problems), rewrite)


def _match_case(found: str, suggestion: str) -> str:
    """Capitalise the suggestion when the found text started a sentence ("But" -> "And")."""
    if found[:1].isupper() and suggestion[:1].islower():
        return suggestion[0].upper() + suggestion[1:]
    return suggestion


def find_negative(texts: Iterable[str]) -> list[tuple[str, ToneReport]]:
    """The texts among ``texts`` that fail the guard, with their reports (for owner screens)."""
    reports = ((t, check_tone(t)) for t in texts)
    return [(t, r) for t, r in reports if not r.ok]
