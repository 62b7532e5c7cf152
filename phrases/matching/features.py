"""Turn a text into weighted features: the words and character n-grams that get matched.

Chinese has no spaces, so Chinese runs give character unigrams and bigrams plus toneless
pinyin bigrams (a homophone typo such as 发或 for 发货 keeps its pinyin). Latin words give a
light stem, the word's character trigrams (typos) and word bigrams. Filler words stay as weak
features so that "在吗" can still be small talk, yet never decide an FAQ match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from phrases.lang import HAN
from phrases.matching.lexicon import Lexicon, PhraseMatcher, Rewriter, alternation
from phrases.normalize import (
    HEIGHT_TOKEN,
    NUMBER_TOKEN,
    ORDER_TOKEN,
    WEIGHT_TOKEN,
    Normalized,
    normalize,
)
from phrases.sizing import mark_body

W_UNI = 0.25  # Chinese single character
W_BI = 1.0  # Chinese character bigram
W_PY = 0.5  # toneless pinyin bigram
W_WORD = 1.0  # Latin word stem
W_TRI = 0.25  # character trigram of a Latin word
W_WBI = 0.4  # bigram of two content words
W_STOP = 0.08  # filler word
W_ENT = 0.15  # order id / number placeholder
W_CONCEPT = 0.7  # a word class (快递公司, 地区, 颜色...) present in the text
W_BODY = 1.0  # a body height or weight, whatever its unit (5ft6, 165cm, 110斤, 130lbs)

_HAN_RE = re.compile(f"[{HAN}]+")
_TOKEN_RE = re.compile(f"[{HAN}]+|⟨\\w+⟩|[a-z0-9']+")
LATIN_WORD_RE = re.compile(r"[a-z][a-z']*")
_DOUBLE_END_RE = re.compile(r"([bdfgklmnprtz])\1$")

Features = dict[str, float]
_WORD_TOKEN_RE = re.compile(r"(?<!\w)[a-z0-9]+(?!\w)")
_TAIL_TOKEN_RE = re.compile(r"(?<![a-z0-9])([a-z0-9]+)\W*$")

# Unit after a number -> the concept it signals (concept names as in concepts.zh/en.txt).
NUMBER_UNITS = {
    "块": "钱", "元": "钱", "毛": "钱", "dollars": "money", "dollar": "money", "euros": "money",
    "天": "时间", "日": "时间", "号": "时间", "点": "时间", "小时": "时间", "days": "time",
    "hours": "time", "斤": "尺码", "公斤": "尺码", "码": "尺码", "cm": "尺码",
    "kg": "尺码", "厘米": "尺码", "米": "尺码",
    # Body measurements in English (5ft6, 130lbs): the same size concept as 斤 and cm.
    "lbs": "尺码", "lb": "尺码", "pounds": "尺码", "ft": "尺码", "feet": "尺码",
    "inches": "尺码", "kgs": "尺码",
}
BODY_MARKS = {"height": HEIGHT_TOKEN, "weight": WEIGHT_TOKEN}
# A body measurement is about size, as its unit after a plain number would say.
BODY_CONCEPT = NUMBER_UNITS["cm"]
_NUM_UNIT_RE = re.compile(
    rf"{re.escape(NUMBER_TOKEN)}\s*(" + "|".join(sorted(NUMBER_UNITS, key=len, reverse=True))
    + r")(?![a-z])"
)


@lru_cache(maxsize=8192)
def pinyin_of(ch: str) -> str:
    """Toneless pinyin of one Han character (its most common reading)."""
    from pypinyin import lazy_pinyin

    return lazy_pinyin(ch)[0]


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A deliberately light English stemmer: plural, -ing, -ed, final e, doubled consonant."""
    w = word.replace("'", "")
    if len(w) > 4 and w.endswith(("ies", "ied")):
        w = w[:-3] + "y"
    elif len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    elif len(w) > 4 and w.endswith("es") and w[-3] in "sxz":
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    w = _DOUBLE_END_RE.sub(r"\1", w)
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


@dataclass(frozen=True)
class Query:
    """A query analysed once: the rewritten text (for fuzzy re-scoring) and its features."""

    rewritten: str
    features: Features


class Analyzer:
    """Text -> features, with the lexicon's slang, synonyms and filler words applied."""

    def __init__(self, lexicon: Lexicon, stop_weight: float = W_STOP,
                 concept_weight: float = W_CONCEPT) -> None:
        self.lexicon = lexicon
        self.stop_weight = stop_weight
        self.concept_weight = concept_weight
        self._rewrite = Rewriter.build(lexicon.synonyms)
        self._zh_stop_re = re.compile(alternation(w for w in lexicon.zh_stopwords
                                                   if _HAN_RE.fullmatch(w)))
        self.en_stopwords = lexicon.en_stopwords
        self._concept_of: dict[str, list[str]] = {}
        for concept, members in lexicon.concepts.items():
            for member in members:
                self._concept_of.setdefault(member, []).append(concept)
        self._concepts = PhraseMatcher(self._concept_of)
        self.known_words = {
            w
            for phrase in [*lexicon.synonyms, *(v for vs in lexicon.synonyms.values() for v in vs)]
            for w in LATIN_WORD_RE.findall(phrase)
        } | set(lexicon.en_stopwords)

    def normalize(self, text: str) -> Normalized:
        """Slang first (so "88" is not masked as a number), then normal folding."""
        slang = self.lexicon.slang
        text = text.lower().strip()
        # Whole tokens ("3q", "thx"), or glued to Chinese at the very end ("好的88").
        if not slang.keys().isdisjoint(_WORD_TOKEN_RE.findall(text)):
            text = _WORD_TOKEN_RE.sub(lambda m: f" {slang[m.group(0)]} " if m.group(0) in slang
                                      else m.group(0), text)
        tail = _TAIL_TOKEN_RE.search(text)
        if tail and tail.group(1) in slang:
            text = f"{text[: tail.start(1)]} {slang[tail.group(1)]} {text[tail.end(1):]}"
        return normalize(mark_body(text, BODY_MARKS))

    def rewrite(self, folded: str, correct: Callable[[str], str] | None = None) -> str:
        """Typo repair of Latin words (if `correct` is given), then synonyms -> canonical."""
        if correct is not None:
            folded = LATIN_WORD_RE.sub(lambda m: correct(m.group(0)), folded)
        return self._rewrite(folded)

    def surface(self, rewritten: str) -> str:
        """The text as fuzzy string matching should see it: filler words gone."""
        text = self._zh_stop_re.sub("", rewritten)
        return " ".join(w for w in text.split() if w not in self.en_stopwords)

    def query(self, folded: str, correct: Callable[[str], str] | None = None) -> Query:
        """`folded` rewritten (typos repaired if `correct` is given) and its features."""
        rewritten = self.rewrite(folded, correct)
        return Query(rewritten, self.features_of(rewritten))

    def same_features(self, other: Analyzer) -> bool:
        """True when both give every text the same features (one analysis can serve both)."""
        return (self.lexicon is other.lexicon and self.stop_weight == other.stop_weight
                and self.concept_weight == other.concept_weight)

    def features(self, folded: str, correct: Callable[[str], str] | None = None) -> Features:
        """Features of an already normalised text; `correct` may fix misspelt Latin words."""
        return self.features_of(self.rewrite(folded, correct))

    def features_of(self, text: str) -> Features:
        """Features of a normalised text that already went through `rewrite`."""
        feats: Features = {}

        def add(key: str, weight: float) -> None:
            feats[key] = feats.get(key, 0.0) + weight

        for concepts in {m: self._concept_of[m] for m in self._concepts.findall(text)}.values():
            for concept in concepts:
                feats["k" + concept] = self.concept_weight
        # A number's unit says what it is about: 20块 money, 3天 time, 6期 instalments.
        for unit in _NUM_UNIT_RE.findall(text):
            feats["k" + NUMBER_UNITS[unit]] = self.concept_weight
        if _HAN_RE.search(text):
            for stop in self._zh_stop_re.findall(text):
                add("s" + stop, self.stop_weight)
            text = self._zh_stop_re.sub(" ", text)
        prev_content: str | None = None
        for token in _TOKEN_RE.findall(text):
            if token == ORDER_TOKEN:
                add("e:order", W_ENT)
                prev_content = None
            elif token == NUMBER_TOKEN:
                add("e:num", W_ENT)
                prev_content = None
            elif token in (HEIGHT_TOKEN, WEIGHT_TOKEN):
                add("e:" + token.strip("⟨⟩"), W_BODY)
                feats["k" + BODY_CONCEPT] = self.concept_weight
                prev_content = None
            elif _HAN_RE.match(token):
                for key, weight in _han_features(token):
                    add(key, weight)
                prev_content = None
            elif token in self.en_stopwords or not token.strip("'"):
                add("s" + token, self.stop_weight)
            else:
                s, word_feats = _word_features(token)
                for key, weight in word_feats:
                    add(key, weight)
                if prev_content is not None:
                    add(f"v{prev_content}_{s}", W_WBI)
                prev_content = s
        return feats


# Per-token features, cached: every message repeats the same few hundred words and runs, and
# building their n-grams in Python was the largest part of a query's cost (bench_matcher).
@lru_cache(maxsize=65536)
def _word_features(token: str) -> tuple[str, tuple[tuple[str, float], ...]]:
    """A Latin word's stem, and its stem and character trigram features."""
    s = stem(token)
    padded = f"#{token}#"
    return s, (("w" + s, W_WORD),
               *(("t" + padded[i : i + 3], W_TRI) for i in range(len(padded) - 2)))


@lru_cache(maxsize=65536)
def _han_features(run: str) -> tuple[tuple[str, float], ...]:
    """A Chinese run's character, bigram and toneless pinyin bigram features."""
    pys = [pinyin_of(ch) for ch in run]
    out: list[tuple[str, float]] = []
    for i, ch in enumerate(run):
        out.append(("c" + ch, W_UNI))
        if i + 1 < len(run):
            out.append(("b" + run[i : i + 2], W_BI))
            out.append((f"p{pys[i]}_{pys[i + 1]}", W_PY))
    return tuple(out)
