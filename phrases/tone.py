"""Negative-language guard, P9 (policy §七.11).

The seed: "避免使用负面语言：我不能、我不会、我不愿意、我不能够、可是等".

Every outgoing text (template, notice, FAQ answer or agent reply) is checked for the words the
policy says to avoid, and for the everyday refusals and blame of shop chat that the policy's
"等" stands for (不行, 没办法, 不可能, 这不是我们的问题, 随便你, 爱买不买, "not my problem",
"whatever" …). The guard reports where each one is and proposes a rewrite for a person to
approve. A refusal is not softened into another refusal ("这边暂时无法" is still one): a
``clause`` term has its whole clause replaced by what can be done instead ("这边可以先为您…").
Ambiguous words carry a ``pattern``: 可是 is flagged as the conjunction "but" at the start of a
clause, not in "这可是爆款". The term list lives in ``data/tone.yaml``; the owner adds and removes
terms at run time (passed in as ``extra_terms`` / ``without``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

# A clause ends at these marks (kept with the clause); a newline ends one too.
_MARKS = "，,。．.!！?？；;：:\n"
_CLAUSE_RE = re.compile(f"[^{_MARKS}]+[{_MARKS}]*|[{_MARKS}]+")


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


@dataclass(frozen=True)
class Term:
    """One avoided term: its suggestion, whether the suggestion replaces the whole clause (a
    refusal becomes an offer), and a regular expression when the bare word is ambiguous."""

    term: str
    rewrite: str
    clause: bool = False
    pattern: str | None = None


@lru_cache(maxsize=1)
def term_entries() -> dict[str, tuple[Term, ...]]:
    """The packaged terms by language."""
    raw = resources.files("phrases").joinpath("data/tone.yaml").read_text(encoding="utf-8")
    return parse_term_entries(yaml.safe_load(raw))


def negative_terms() -> dict[str, dict[str, str]]:
    """The packaged terms by language: ``{"zh": {term: rewrite}, "en": {...}}``."""
    return {lang: {t.term: t.rewrite for t in terms} for lang, terms in term_entries().items()}


def parse_term_entries(data: object) -> dict[str, tuple[Term, ...]]:
    """Read ``{lang: [{term, rewrite, clause?, pattern?}, ...]}``; ValueError if malformed."""
    if not isinstance(data, Mapping):
        raise ValueError("tone terms: expected a mapping of language -> list of terms")
    result: dict[str, tuple[Term, ...]] = {}
    for lang, entries in data.items():
        if not isinstance(entries, list):
            raise ValueError(f"tone terms: '{lang}' must be a list")
        terms: dict[str, Term] = {}
        for entry in entries:
            if not (isinstance(entry, Mapping) and isinstance(entry.get("term"), str)):
                raise ValueError(f"tone terms: bad entry {entry!r} in '{lang}'")
            term = entry["term"].strip()
            if not term:
                raise ValueError(f"tone terms: empty term in '{lang}'")
            pattern = entry.get("pattern")
            if pattern is not None:
                re.compile(str(pattern))  # a bad pattern fails at load, not at send time
            terms[term] = Term(term, str(entry.get("rewrite") or ""), bool(entry.get("clause")),
                               str(pattern) if pattern is not None else None)
        result[str(lang)] = tuple(terms.values())
    return result


def parse_terms(data: object) -> dict[str, dict[str, str]]:
    """Read a ``{lang: [{term, rewrite}, ...]}`` structure; raise ValueError if malformed."""
    return {lang: {t.term: t.rewrite for t in terms}
            for lang, terms in parse_term_entries(data).items()}


def _key(text: str) -> str:
    """Normalised form used to compare terms."""
    return re.sub(r"\s+", " ", text.replace("’", "'")).casefold()


def _term_pattern(term: Term) -> str:
    if term.pattern:
        return term.pattern
    text = term.term
    body = "".join(
        r"['’]" if ch in "'’" else (r"\s+" if ch.isspace() else re.escape(ch))
        for ch in re.sub(r"\s+", " ", text)
    )
    # Word boundaries only where the term itself starts/ends with a word character of a
    # spaced language, so "but" does not fire in "butter" while 没办法 still matches in Chinese.
    if text[0].isascii() and (text[0].isalnum() or text[0] == "_"):
        body = r"(?<![A-Za-z0-9_])" + body
    if text[-1].isascii() and (text[-1].isalnum() or text[-1] == "_"):
        body += r"(?![A-Za-z0-9_])"
    return body


@lru_cache(maxsize=64)
def _compile(items: tuple[Term, ...]) -> re.Pattern[str]:
    """One alternation, longest term first; group ``t<i>`` is ``items[i]``."""
    order = sorted(range(len(items)), key=lambda i: len(items[i].term), reverse=True)
    return re.compile("|".join(f"(?P<t{i}>{_term_pattern(items[i])})" for i in order),
                      re.IGNORECASE)


def _all_terms(extra_terms: Mapping[str, str] | None,
               without: Iterable[str] = ()) -> tuple[Term, ...]:
    merged: dict[str, Term] = {}
    for terms in term_entries().values():
        for term in terms:
            merged[_key(term.term)] = term
    for term, rewrite in (extra_terms or {}).items():
        if term and term.strip():
            known = merged.get(_key(term.strip()))
            merged[_key(term.strip())] = Term(term.strip(), rewrite or "",
                                              known.clause if known else False,
                                              known.pattern if known else None)
    for term in without:
        merged.pop(_key(term), None)
    return tuple(sorted(merged.values(), key=lambda t: _key(t.term)))


def check_tone(text: str, extra_terms: Mapping[str, str] | None = None,
               without: Iterable[str] = ()) -> ToneReport:
    """Find P9 negative terms in ``text`` and propose a rewrite.

    ``extra_terms`` maps the owner's own terms to their suggested wording (an owner term equal
    to a built-in one replaces its suggestion); ``without`` names terms the owner removed.
    """
    items = _all_terms(extra_terms, tuple(without))
    if not text or not items:
        return ToneReport((), text or "")
    pattern = _compile(items)
    problems = []
    for match in pattern.finditer(text):
        term = items[int((match.lastgroup or "t0")[1:])]
        problems.append((ToneProblem(term.term, match.start(), match.end(), term.rewrite), term))
    if not problems:
        return ToneReport((), text)
    return ToneReport(tuple(p for p, _ in problems), _rewrite(text, problems))


def _rewrite(text: str, problems: list[tuple[ToneProblem, Term]]) -> str:
    """Clause terms replace their clause with the offer; word terms replace only themselves;
    two neighbouring clauses that became the same offer are said once."""
    out: list[str] = []
    last_offer = None
    for clause in _CLAUSE_RE.finditer(text):
        start, end = clause.span()
        inside = [(p, t) for p, t in problems if start <= p.start < end]
        body = clause.group(0)
        stripped = body.rstrip(_MARKS)
        tail = body[len(stripped):]
        lead = stripped[: len(stripped) - len(stripped.lstrip())]
        refusal = next(((p, t) for p, t in inside if t.clause), None)
        if refusal is not None:
            starts = not text[:start].rstrip() or text[:start].rstrip()[-1] in ".!?。！？\n"
            offer = _match_case(stripped.lstrip() if starts else "x", refusal[1].rewrite)
            if offer == last_offer and out:
                out[-1] = out[-1].rstrip("，,；; ") + tail if tail.strip() else out[-1]
                continue
            out.append(lead + offer + tail)
            last_offer = offer
            continue
        last_offer = None
        pieces, pos = [], start
        for problem, _ in inside:
            pieces += [text[pos:problem.start],
                       _match_case(text[problem.start:problem.end], problem.suggestion)]
            pos = problem.end
        pieces.append(text[pos:end])
        out.append("".join(pieces))
    return re.sub(r"[ \t]{2,}", " ", "".join(out))


def _match_case(found: str, suggestion: str) -> str:
    """Capitalise the suggestion when the found text started a sentence ("But" -> "And")."""
    if found[:1].isupper() and suggestion[:1].islower():
        return suggestion[0].upper() + suggestion[1:]
    return suggestion


def find_negative(texts: Iterable[str]) -> list[tuple[str, ToneReport]]:
    """The texts among ``texts`` that fail the guard, with their reports (for owner screens)."""
    reports = ((t, check_tone(t)) for t in texts)
    return [(t, r) for t, r in reports if not r.ok]
