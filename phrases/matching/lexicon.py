"""Shop-editable word lists: synonyms, filler words, chat slang (files in phrases/data/lexicon).

Why data files: the owner of a shop knows that "寄出" means "发货" in their shop; the matcher
should learn it from a line of text, not from a code change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from phrases.lang import has_chinese
from phrases.normalize import fold

LEXICON_DIR = Path(__file__).resolve().parent.parent / "data" / "lexicon"
_LATIN_RE = re.compile(r"^[a-z0-9' -]+$")


def read_lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a text file."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def parse_synonym_lines(lines: Iterable[str]) -> dict[str, list[str]]:
    """'canonical: a, b, c' lines -> {canonical: [a, b, c]}."""
    out: dict[str, list[str]] = {}
    for line in lines:
        head, sep, tail = line.partition(":")
        if not sep:
            raise ValueError(f"synonym line without ':' -> {line!r}")
        variants = [v.strip().lower() for v in tail.split(",") if v.strip()]
        out.setdefault(head.strip().lower(), []).extend(variants)
    return out


def alternation(words: Iterable[str]) -> str:
    """A regex alternation, longest first; Latin words match whole words only."""
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        escaped = re.escape(word)
        parts.append(rf"(?<![a-z]){escaped}(?![a-z])" if _LATIN_RE.match(word) else escaped)
    return "|".join(parts) if parts else r"(?!x)x"


_LATIN_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9']*")


class PhraseMatcher:
    """Finds known phrases in normalised text, fast.

    One big regex alternation with word-boundary checks is slow on long texts (it dominated
    index build time), so phrases are split three ways: Chinese phrases (one alternation, run
    only on text with Chinese), single Latin words (a dict lookup per token) and multi-word
    Latin phrases (a small alternation, run first).
    """

    def __init__(self, phrases: Iterable[str]) -> None:
        han, words, multi = [], set(), []
        for phrase in phrases:
            if not phrase:
                continue
            if not _LATIN_RE.match(phrase):
                han.append(phrase)
            elif " " in phrase.strip():
                multi.append(phrase)
            else:
                words.add(phrase)
        self.words = frozenset(words)
        self._han = re.compile(alternation(han)) if han else None
        self._multi = re.compile(alternation(multi)) if multi else None
        # A multi-word phrase can only be there when its first word is: a set lookup spares
        # most texts the alternation, the slowest part of rewriting a message.
        self._multi_first = frozenset(_LATIN_TOKEN_RE.findall(p)[0] for p in multi)

    def _may_have_multi(self, text: str) -> bool:
        return self._multi is not None and not self._multi_first.isdisjoint(
            _LATIN_TOKEN_RE.findall(text))

    def sub(self, text: str, repl: Callable[[str], str]) -> str:
        """Replace every phrase by repl(phrase)."""
        if self._may_have_multi(text):
            text = self._multi.sub(lambda m: repl(m.group(0)), text)  # type: ignore[union-attr]
        if self.words and not self.words.isdisjoint(_LATIN_TOKEN_RE.findall(text)):
            text = _LATIN_TOKEN_RE.sub(
                lambda m: repl(m.group(0)) if m.group(0) in self.words else m.group(0), text
            )
        if self._han is not None and has_chinese(text):
            text = self._han.sub(lambda m: repl(m.group(0)), text)
        return text

    def findall(self, text: str) -> list[str]:
        """Every phrase found (multi-word Latin, then single words, then Chinese)."""
        found: list[str] = []
        if self._may_have_multi(text):
            found += self._multi.findall(text)  # type: ignore[union-attr]
        if self.words:
            found += [t for t in _LATIN_TOKEN_RE.findall(text) if t in self.words]
        if self._han is not None and has_chinese(text):
            found += self._han.findall(text)
        return found


@dataclass(frozen=True)
class Rewriter:
    """Rewrites synonym variants to their canonical word."""

    matcher: PhraseMatcher
    canonical: Mapping[str, str]

    @classmethod
    def build(cls, synonyms: Mapping[str, Sequence[str]]) -> Rewriter:
        canonical: dict[str, str] = {}
        for head, variants in synonyms.items():
            for variant in variants:
                variant = fold(variant)
                if variant and variant != head:
                    canonical[variant] = fold(head)
        return cls(PhraseMatcher(canonical), canonical)

    def __call__(self, text: str) -> str:
        def repl(variant: str) -> str:
            word = self.canonical[variant]
            return f" {word} " if _LATIN_RE.match(word) else word

        return self.matcher.sub(text, repl)


@dataclass(frozen=True)
class Lexicon:
    """Everything language-specific the feature extractor needs."""

    synonyms: dict[str, list[str]]
    zh_stopwords: tuple[str, ...]
    en_stopwords: frozenset[str]
    slang: dict[str, str]
    concepts: dict[str, list[str]]  # concept -> member words (members keep their own text)

    def with_synonyms(self, extra: Mapping[str, Sequence[str]] | None) -> Lexicon:
        """A copy with the shop's own synonym lines added."""
        if not extra:
            return self
        merged = {k: list(v) for k, v in self.synonyms.items()}
        for head, variants in extra.items():
            merged.setdefault(head.strip().lower(), []).extend(v.lower() for v in variants)
        return Lexicon(merged, self.zh_stopwords, self.en_stopwords, self.slang, self.concepts)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The built-in lexicon (zh + en), read once per process."""
    synonyms = parse_synonym_lines(read_lines(LEXICON_DIR / "synonyms.zh.txt"))
    for head, variants in parse_synonym_lines(read_lines(LEXICON_DIR / "synonyms.en.txt")).items():
        synonyms.setdefault(head, []).extend(variants)
    zh_stop = tuple(read_lines(LEXICON_DIR / "stopwords.zh.txt"))
    en_stop = frozenset(w for line in read_lines(LEXICON_DIR / "stopwords.en.txt")
                        for w in line.split())
    slang = {}
    for line in read_lines(LEXICON_DIR / "slang.txt"):
        key, _, value = line.partition("=")
        slang[key.strip().lower()] = value.strip()
    concepts = parse_synonym_lines(read_lines(LEXICON_DIR / "concepts.zh.txt"))
    for head, members in parse_synonym_lines(read_lines(LEXICON_DIR / "concepts.en.txt")).items():
        concepts.setdefault(head, []).extend(members)
    return Lexicon(synonyms, zh_stop, en_stop, slang, concepts)
