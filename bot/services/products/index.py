"""Finding the product a shopper names (P5): titles and aliases in zh/en, typos, homophones.

Built once from the catalogue (and again when it changes), queried for every shopper message.
A name scores 100 when its text is in the message, 95 when its pinyin is (鸭麻衬衫 → 亚麻衬衫,
a homophone typo): both found by looking the message's substrings and syllable runs up in
dicts, so no name is visited. Only when none is there, the names sharing the most pieces
(pinyin/word bigrams for Chinese, words for English) get a rapidfuzz ratio against runs of the
message of about their length (linnen shirt → linen shirt), in one ``cdist`` call. All three
need a syllable (pinyin or word) of the message to be one of a name's: a message with none,
most messages, is seen to name no product in one set lookup.
Stock and price are not held here: the desk reads them from the database when it answers.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from phrases.lang import HAN, has_chinese, is_chinese_char
from phrases.yaml_text import load_yaml
from storage.models.products import Product

FUZZY_CUTOFF = 86.0
CANDIDATES = 40  # names scored per message at most (those sharing the most pieces)
_WORD = re.compile(r"[a-z0-9]+")
_SPACES = re.compile(f"[^\\w{HAN}]+")


def normalise(text: str) -> str:
    """NFKC, lower case, punctuation → one space (全角 ＸＬ → xl)."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


@lru_cache(maxsize=30_000)
def _sound(char: str) -> str:
    """One character's pinyin without tones, the same in names and messages (so no context:
    a polyphone reads alike on both sides, which is all matching needs)."""
    from pypinyin import lazy_pinyin  # its dictionaries load on first use, not at import

    return lazy_pinyin(char)[0]


def syllables(text: str) -> list[str]:
    """Pinyin for Chinese characters, words for the rest: 't恤 白色' → ['t', 'xu', 'bai', 'se']."""
    out: list[str] = []
    word: list[str] = []
    for char in text:
        if char.isascii() and char.isalnum():
            word.append(char)
            continue
        if word:
            out.append("".join(word))
            word = []
        if is_chinese_char(char):
            out.append(_sound(char))
    if word:
        out.append("".join(word))
    return out


def _pieces(tokens: list[str], cjk: bool) -> set[str]:
    """What a name is indexed by: syllable bigrams (Chinese), words of ≥ 3 letters (English)."""
    pieces = {f"{a} {b}" for a, b in pairwise(tokens)}
    if not cjk or len(tokens) == 1:
        pieces |= {t for t in tokens if len(t) >= 3 or len(tokens) == 1}
    return pieces


@dataclass(frozen=True)
class Name:
    product_id: int
    text: str  # normalised
    sounds: str  # syllables joined by spaces
    cjk: bool


@dataclass(frozen=True)
class Hit:
    product_id: int
    score: float
    name: str


class ProductIndex:
    """Names of the products on sale: by their text, their sound, and the pieces of both."""

    def __init__(self, products: Iterable[Product]) -> None:
        self.names: list[Name] = []
        self.by_piece: dict[str, list[int]] = {}
        self.by_text: dict[str, list[int]] = {}
        self.by_sounds: dict[str, list[int]] = {}
        self.titles: dict[int, dict[str, str]] = {}
        self.by_product: dict[int, list[str]] = {}
        self.longest = 2  # characters of the longest Chinese name
        self.most_words = 1  # words (or syllables) of the longest name
        # Every syllable of every name: a message sharing none names no product (exactly,
        # by text, sound or fuzzily, all of which need a shared syllable); None when a name
        # has no syllable at all (letters that are neither Latin nor Chinese), so no shortcut.
        self.sounds: set[str] | None = set()
        for product in products:
            if not product.active:
                continue
            self.titles[product.id] = {"zh": product.title_zh or product.title_en,
                                       "en": product.title_en or product.title_zh}
            for raw in dict.fromkeys([product.title_zh, product.title_en, *product.aliases]):
                self._add(product.id, raw)
        # What kind of goods each product is (亚麻衬衫 → shirt), from its names, once.
        self.kinds: dict[int, set[str]] = {
            pid: set().union(*(kinds_in(name) for name in names))
            for pid, names in self.by_product.items()}

    def _add(self, product_id: int, raw: str) -> None:
        text = normalise(raw or "")
        cjk = has_chinese(text)
        if len(text.replace(" ", "")) < 2 or (not cjk and len(text) < 3):
            return  # one character or two letters would match everywhere
        tokens = syllables(text)
        if self.sounds is not None and tokens:
            self.sounds.update(tokens)
        elif not tokens:
            self.sounds = None
        number = len(self.names)
        name = Name(product_id, text, " ".join(tokens), cjk)
        self.names.append(name)
        self.by_product.setdefault(product_id, []).append(text)
        self.by_text.setdefault(text, []).append(number)
        self.by_sounds.setdefault(name.sounds, []).append(number)
        if cjk:
            self.longest = max(self.longest, len(text))
        self.most_words = max(self.most_words, len(tokens), text.count(" ") + 1)
        for piece in _pieces(tokens, cjk):
            self.by_piece.setdefault(piece, []).append(number)

    def __len__(self) -> int:
        return len(self.titles)

    def names_of(self, product_id: int) -> list[str]:
        """The product's names as matched (normalised): titles and aliases."""
        return self.by_product.get(product_id, [])


    def title(self, product_id: int, lang: str) -> str:
        titles = self.titles.get(product_id, {})
        return titles.get(lang) or titles.get("zh") or ""

    def find(self, message: str) -> list[Hit]:
        """Products named in ``message``, best first (one hit per product).

        Exact names first, by looking the message's own pieces up (substrings for Chinese,
        runs of words for English, runs of syllables for sounds): no name is visited unless
        it is there. Only when none is there are the names sharing pieces scored fuzzily.
        """
        text = normalise(message)
        if not text:
            return []
        tokens = syllables(text)
        if self.sounds is not None and self.sounds.isdisjoint(tokens):
            return []  # not one syllable of any name: nothing here could match
        best: dict[int, Hit] = {}
        for number in self._exact(text):
            self._keep(best, number, 100.0)
        for run in _runs(tokens, self.most_words):
            for number in self.by_sounds.get(run, ()):
                self._keep(best, number, 95.0)
        if not best:
            self._fuzzy(best, tokens)
        return sorted(best.values(), key=lambda hit: -hit.score)

    def _exact(self, text: str) -> set[int]:
        found: set[int] = set()
        length = len(text) if has_chinese(text) else 0  # a Chinese name needs a Chinese char
        for start in range(length):  # Chinese names (and mixed ones like "t恤") anywhere
            for end in range(start + 2, min(length, start + self.longest) + 1):
                for number in self.by_text.get(text[start:end], ()):
                    if self.names[number].cjk:
                        found.add(number)
        for run in _runs(text.split(" "), self.most_words):  # English names: whole words
            found.update(n for n in self.by_text.get(run, ()) if not self.names[n].cjk)
        return found

    def _fuzzy(self, best: dict[int, Hit], tokens: list[str]) -> None:
        counts: Counter[int] = Counter()
        for piece in _pieces(tokens, cjk=False) | _pieces(tokens, cjk=True):
            counts.update(self.by_piece.get(piece, ()))
        numbers = [n for n, _ in counts.most_common(CANDIDATES)
                   if len(self.names[n].sounds) >= 5]
        if not numbers:
            return
        widths = {w for n in numbers for size in (self.names[n].sounds.count(" ") + 1,)
                  for w in (size - 1, size, size + 1) if w >= 1}
        windows = list(dict.fromkeys(
            " ".join(tokens[start:start + width]) for width in widths
            for start in range(max(1, len(tokens) - width + 1))))
        scores = cdist(windows, [self.names[n].sounds for n in numbers], scorer=fuzz.ratio,
                       score_cutoff=FUZZY_CUTOFF, workers=1)
        for column, number in enumerate(numbers):
            score = float(scores[:, column].max())
            if score >= FUZZY_CUTOFF:
                self._keep(best, number, min(94.0, score))

    def _keep(self, best: dict[int, Hit], number: int, score: float) -> None:
        name = self.names[number]
        score += min(len(name.text), 20) / 100  # a longer name says more: 亚麻衬衫 over 衬衫
        known = best.get(name.product_id)
        if known is None or score > known.score:
            best[name.product_id] = Hit(name.product_id, score, name.text)


def _runs(words: list[str], longest: int) -> Iterable[str]:
    """Every run of 1..longest consecutive words, joined by spaces."""
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + longest) + 1):
            yield " ".join(words[start:end])


# ---------------------------------------------------------------------- cue words
@dataclass(frozen=True)
class Lexicon:
    cues: dict[str, tuple[str, ...]]
    tags: dict[str, tuple[str, ...]]
    seasons: dict[str, tuple[str, ...]]
    measures: dict[str, tuple[str, ...]]  # garment measure (a size chart's key) → its words
    kinds: dict[str, tuple[str, ...]]  # kind of goods (shirt, tee …) → its words


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    raw: Any = load_yaml(resources.files("phrases").joinpath(
        "data", "lexicon", "products.yaml").read_text(encoding="utf-8"))

    def table(key: str) -> dict[str, tuple[str, ...]]:
        return {name: tuple(str(w).lower() for w in words)
                for name, words in (raw.get(key) or {}).items()}

    return Lexicon(table("cues"), table("tags"), table("seasons"), table("measures"),
                   table("kinds"))


def kinds_in(text: str) -> set[str]:
    """Kinds of goods a (normalised) text names: 衬衫 → shirt, "t-shirt" → tee. Longest words
    first, each taking its place away, so "t shirt" is a tee and not also a shirt."""
    found: set[str] = set()
    padded = f" {text} "
    for word, kind in _kind_words():
        key = _whole(word) if word.isascii() else word
        if key in padded:
            found.add(kind)
            padded = padded.replace(key, " ")
    return found


@lru_cache(maxsize=1)
def _kind_words() -> tuple[tuple[str, str], ...]:
    pairs = [(word, kind) for kind, words in lexicon().kinds.items() for word in words]
    return tuple(sorted(pairs, key=lambda pair: -len(normalise(pair[0]))))


@lru_cache(maxsize=4096)
def _whole(word: str) -> str:
    """An English cue word as it must appear in a normalised, space-padded message (the
    lexicon's words are asked about on every message: normalised once, not each time)."""
    return f" {normalise(word)} "


def has_word(text: str, words: Iterable[str]) -> bool:
    """``text`` is normalised; English words match whole, Chinese ones anywhere."""
    padded = f" {text} "
    for word in words:
        if word.isascii():
            if _whole(word) in padded:
                return True
        elif word in text:
            return True
    return False


@dataclass(frozen=True)
class _CueTable:
    """The cue words by what a message is looked up with, built once: English words
    (normalised, matched whole: runs of the message's words) and the others (matched
    anywhere: the message's substrings of their lengths). The same matches as ``has_word``
    over every cue's words, in one pass over the message instead of one test per word."""

    runs: dict[str, set[str]]
    most_words: int
    inside: dict[str, set[str]]
    lengths: tuple[int, ...]


@lru_cache(maxsize=1)
def _cue_table() -> _CueTable:
    runs: dict[str, set[str]] = {}
    inside: dict[str, set[str]] = {}
    for name, words in lexicon().cues.items():
        for word in words:
            if word.isascii():
                runs.setdefault(normalise(word), set()).add(name)
            else:
                inside.setdefault(word, set()).add(name)
    return _CueTable(runs, max(run.count(" ") + 1 for run in runs) if runs else 1, inside,
                     tuple(sorted({len(word) for word in inside})))


def cues_in(text: str) -> set[str]:
    """Which aspects a (normalised) message asks about: price, stock, material, …"""
    table = _cue_table()
    found: set[str] = set()
    for run in _runs(text.split(" "), table.most_words):
        found.update(table.runs.get(run, ()))
    if table.inside and not text.isascii():  # the other words are not in an ASCII text
        for length in table.lengths:
            for start in range(len(text) - length + 1):
                found.update(table.inside.get(text[start:start + length], ()))
    return found | {"measure"} if measures_in(text) else found


@lru_cache(maxsize=256)
def _asked_measure(word: str) -> re.Pattern[str]:
    """A measure word not followed by a number: "胸围96" / "waist 28" is the shopper's own
    body (the size guide's question), "衣长多少" / "sleeve length?" asks the garment's."""
    edge = r"(?<![a-z0-9])" if word.isascii() else ""
    tail = r"(?![a-z0-9])" if word.isascii() else ""
    given = r"(?!\s*(?:is|of|are|是|为|有)?\s*\d)"  # 胸围96, 胸围是96, waist is 28
    return re.compile(f"{edge}{re.escape(normalise(word))}{tail}{given}")


def measures_in(text: str) -> list[str]:
    """The garment measures a (normalised) message asks about (衣长 → length), lexicon order;
    a measure given with a number is the shopper's body, not a question (the cue ``measure``
    is these)."""
    if not any(word in text for word in _measure_words()):
        return []  # no measure word at all (most messages): no pattern can match
    spans = [(m.start(), m.end(), name) for name, words in lexicon().measures.items()
             for w in words for m in _asked_measure(w).finditer(text)]
    inside = {i for i, (s, e, _) in enumerate(spans) for (s2, e2, _) in spans
              if s2 <= s and e <= e2 and (s2, e2) != (s, e)}  # "length" of "sleeve length"
    found = {name for i, (_, _, name) in enumerate(spans) if i not in inside}
    return [name for name in lexicon().measures if name in found]


@lru_cache(maxsize=1)
def _measure_words() -> tuple[str, ...]:
    """The measure words as their patterns spell them (each pattern needs its word)."""
    return tuple(dict.fromkeys(normalise(w) for ws in lexicon().measures.values() for w in ws))


def wishes_in(text: str) -> tuple[set[str], set[str]]:
    """Tags and seasons a recommendation request mentions (送妈妈 → mother, 夏天 → summer)."""
    words = lexicon()
    tags = {name for name, ws in words.tags.items() if has_word(text, ws)}
    seasons = {name for name, ws in words.seasons.items() if has_word(text, ws)}
    return tags, seasons
