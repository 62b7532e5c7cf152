"""Finding the product a shopper names (P5): titles and aliases in zh/en, typos, homophones.

Built once from the catalogue (and again when it changes), queried for every shopper message,
so a lookup touches only the names that share a piece with the message: each name is indexed
by its pinyin/word bigrams (Chinese) and words (English). A candidate then scores 100 when its
text is in the message, 95 when its pinyin is (鸭麻衬衫 → 亚麻衬衫, a homophone typo), else its
rapidfuzz ratio on pinyin/words against runs of its length (linnen shirt → linen shirt).
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

import yaml
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

from storage.models.products import Product

FUZZY_CUTOFF = 86.0
CANDIDATES = 40  # names scored per message at most (those sharing the most pieces)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")
_SPACES = re.compile(r"[^\w\u4e00-\u9fff]+")


def normalise(text: str) -> str:
    """NFKC, lower case, punctuation → one space (全角 ＸＬ → xl)."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def syllables(text: str) -> list[str]:
    """Pinyin for Chinese characters, words for the rest: 'T恤 白色' → ['t', 'xu', 'bai', 'se']."""
    out: list[str] = []
    for piece in lazy_pinyin(text):
        if _CJK.search(piece) is None and not piece.isalpha():
            out += _WORD.findall(piece)
        elif piece.isascii():
            out += _WORD.findall(piece.lower())
        else:
            out.append(piece)
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
    """Names of the products on sale, by the pieces they are made of."""

    def __init__(self, products: Iterable[Product]) -> None:
        self.names: list[Name] = []
        self.by_piece: dict[str, list[int]] = {}
        self.titles: dict[int, dict[str, str]] = {}
        for product in products:
            if not product.active:
                continue
            self.titles[product.id] = {"zh": product.title_zh or product.title_en,
                                       "en": product.title_en or product.title_zh}
            for raw in dict.fromkeys([product.title_zh, product.title_en, *product.aliases]):
                self._add(product.id, raw)

    def _add(self, product_id: int, raw: str) -> None:
        text = normalise(raw or "")
        cjk = _CJK.search(text) is not None
        if len(text.replace(" ", "")) < 2 or (not cjk and len(text) < 3):
            return  # one character or two letters would match everywhere
        tokens = syllables(text)
        number = len(self.names)
        self.names.append(Name(product_id, text, " ".join(tokens), cjk))
        for piece in _pieces(tokens, cjk):
            self.by_piece.setdefault(piece, []).append(number)

    def __len__(self) -> int:
        return len(self.titles)

    def title(self, product_id: int, lang: str) -> str:
        titles = self.titles.get(product_id, {})
        return titles.get(lang) or titles.get("zh") or ""

    def find(self, message: str) -> list[Hit]:
        """Products named in ``message``, best first (one hit per product)."""
        text = normalise(message)
        if not text:
            return []
        tokens = syllables(text)
        sounds = " ".join(tokens)
        counts: Counter[int] = Counter()
        for piece in _pieces(tokens, cjk=False) | _pieces(tokens, cjk=True):
            for number in self.by_piece.get(piece, ()):
                counts[number] += 1
        best: dict[int, Hit] = {}
        padded = f" {text} "
        padded_sounds = f" {sounds} "
        for number, _ in counts.most_common(CANDIDATES):
            name = self.names[number]
            if (name.text in text) if name.cjk else (f" {name.text} " in padded):
                score = 100.0
            elif f" {name.sounds} " in padded_sounds:
                score = 95.0
            elif len(name.sounds) >= 5:
                score = min(94.0, _window_ratio(name.sounds, tokens))
                if score < FUZZY_CUTOFF:
                    continue
            else:
                continue
            # A longer name that matches says more: 亚麻衬衫 over 衬衫.
            score += min(len(name.text), 20) / 100
            known = best.get(name.product_id)
            if known is None or score > known.score:
                best[name.product_id] = Hit(name.product_id, score, name.text)
        return sorted(best.values(), key=lambda hit: -hit.score)


def _window_ratio(name: str, tokens: list[str]) -> float:
    """The best rapidfuzz ratio of ``name`` against runs of the message's syllables/words of
    about its length (so "t shirt" does not match "linnen shirt" the way a partial ratio does).
    """
    size = name.count(" ") + 1
    best = 0.0
    for width in (size - 1, size, size + 1):
        if width < 1:
            continue
        for start in range(0, max(1, len(tokens) - width + 1)):
            window = " ".join(tokens[start:start + width])
            best = max(best, fuzz.ratio(name, window, score_cutoff=best))
    return best


# ---------------------------------------------------------------------- cue words
@dataclass(frozen=True)
class Lexicon:
    cues: dict[str, tuple[str, ...]]
    tags: dict[str, tuple[str, ...]]
    seasons: dict[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    raw: Any = yaml.safe_load(resources.files("phrases").joinpath(
        "data", "lexicon", "products.yaml").read_text(encoding="utf-8"))

    def table(key: str) -> dict[str, tuple[str, ...]]:
        return {name: tuple(str(w).lower() for w in words)
                for name, words in (raw.get(key) or {}).items()}

    return Lexicon(table("cues"), table("tags"), table("seasons"))


def has_word(text: str, words: Iterable[str]) -> bool:
    """``text`` is normalised; English words match whole, Chinese ones anywhere."""
    padded = f" {text} "
    for word in words:
        if word.isascii():
            if f" {normalise(word)} " in padded:
                return True
        elif word in text:
            return True
    return False


def cues_in(text: str) -> set[str]:
    """Which aspects a (normalised) message asks about: price, stock, material, …"""
    return {name for name, words in lexicon().cues.items() if has_word(text, words)}


def wishes_in(text: str) -> tuple[set[str], set[str]]:
    """Tags and seasons a recommendation request mentions (送妈妈 → mother, 夏天 → summer)."""
    words = lexicon()
    tags = {name for name, ws in words.tags.items() if has_word(text, ws)}
    seasons = {name for name, ws in words.seasons.items() if has_word(text, ws)}
    return tags, seasons
