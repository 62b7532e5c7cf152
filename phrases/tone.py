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

The guard reads a normalised view of the text (``_view``) so it cannot be slipped past with
zero-width characters, full-width Latin or spaced-out terms ("不 可 能", "c a n ' t"); what it
finds is mapped back to the original text for the rewrite.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from phrases.lang import is_chinese_char
from phrases.yaml_text import load_yaml

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
    return parse_term_entries(load_yaml(raw))


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


def _key(text: str) -> str:
    """Normalised form used to compare terms."""
    return re.sub(r"\s+", " ", text.replace("’", "'")).casefold()


# What people put between letters to slip a term past a guard ("不 可 能", "c a n ' t").
_SEPARATORS = " \t\n\u00a0\u3000._*·~\\/|-"
_SEP = "[" + re.escape(_SEPARATORS) + "]"


_is_cjk = is_chinese_char


def _view(text: str) -> tuple[str, list[int]]:
    """The text as the guard reads it, and for each of its characters the index it came from.

    Format characters (zero-width space and joiner, BOM, soft hyphen, direction marks) are
    dropped; full-width and other compatibility forms of Latin letters and digits become
    ASCII ("ｃａｎ’ｔ"); separators between Chinese characters are dropped where a character
    stands alone ("不 可 能", "我 不能"), so ordinary spaced phrases ("好的 可是…") keep their
    space. Problems found in the view are mapped back to the original text for the rewrite."""
    if text.isascii():
        return text, list(range(len(text)))
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if ord(ch) < 128:
            chars.append(ch)
        elif unicodedata.category(ch) == "Cf":
            continue
        else:
            folded = unicodedata.normalize("NFKC", ch)
            usable = len(folded) == 1 and ((folded.isascii() and folded.isalnum())
                                           or folded in "' ")
            chars.append(folded if usable else ch)
        origin.append(i)
    keep = [True] * len(chars)
    i = 0
    while i < len(chars):
        if chars[i] not in _SEPARATORS or i == 0 or not _is_cjk(chars[i - 1]):
            i += 1
            continue
        j = i
        while j < len(chars) and chars[j] in _SEPARATORS:
            j += 1
        if j < len(chars) and _is_cjk(chars[j]):
            left_alone = i < 2 or not _is_cjk(chars[i - 2])
            right_alone = j + 1 >= len(chars) or not _is_cjk(chars[j + 1])
            if left_alone or right_alone:
                keep[i:j] = [False] * (j - i)
        i = j
    return ("".join(c for c, k in zip(chars, keep, strict=True) if k),
            [o for o, k in zip(origin, keep, strict=True) if k])


def _term_pattern(term: Term) -> str:
    if term.pattern:
        return term.pattern
    text = term.term
    body = "".join(
        r"['’]" if ch in "'’" else (r"\s+" if ch.isspace() else re.escape(ch))
        for ch in re.sub(r"\s+", " ", text)
    )
    letters = [ch for ch in text if not ch.isspace()]
    if text.isascii() and len(letters) >= 5:  # every letter spaced out: "n o t  m y  …"
        spaced = f"{_SEP}+".join(r"['’]" if ch in "'’" else re.escape(ch) for ch in letters)
        body = f"(?:{body}|{spaced})"
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
    seen, origin = _view(text)
    problems = []
    for match in pattern.finditer(seen):
        if match.end() == match.start():
            continue
        term = items[int((match.lastgroup or "t0")[1:])]
        start, end = origin[match.start()], origin[match.end() - 1] + 1
        problems.append((ToneProblem(term.term, start, end, term.rewrite), term))
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
