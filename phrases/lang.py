"""Which language a shopper writes in: Chinese or English (the two the bot serves)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_LATIN_WORD_RE = re.compile(r"[A-Za-z]{2,}")
# Latin words that Chinese shoppers mix in; they say nothing about the language.
_ZH_LATIN_SLANG = frozenset({"kd", "sf", "ok", "app", "logo", "vip", "qq", "thx", "hi", "hello"})


# The one definition of a Chinese character: CJK unified ideographs with extension A, and the
# compatibility ideographs. HAN is the range as a regex character class for the tokenisers
# (``rf"[{HAN}]+"``); everything else asks is_chinese_char / has_chinese.
HAN = "\u3400-\u9fff\uf900-\ufaff"
_HAN_RE = re.compile(f"[{HAN}]")


def is_chinese_char(ch: str) -> bool:
    """The one test of "Chinese" for one character."""
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def has_chinese(text: str) -> bool:
    """Any Chinese character at all: enough to say a short message is Chinese ("好")."""
    return _HAN_RE.search(text) is not None


def chinese_count(text: str) -> int:
    """How many Chinese characters ``text`` holds (a regex scan: a Python loop over the
    characters cost as much as a whole FAQ search on long English messages)."""
    return len(_HAN_RE.findall(text))


def series(items: Iterable[str], lang: str) -> str:
    """Items of a list in a sentence: 、 between them in Chinese, a comma in English."""
    return ("、" if lang.startswith("zh") else ", ").join(items)


def detect_language(text: str, default: str = "zh") -> str:
    """Return "zh" or "en": any real run of Chinese wins over a few Latin words.

    Counts CJK characters against Latin words (not letters), so "能发sf吗" is Chinese and
    "hello" alone falls back to `default` only when it is all slang both languages share.
    """
    cjk = chinese_count(text)
    words = [w.lower() for w in _LATIN_WORD_RE.findall(text)]
    real_words = [w for w in words if w not in _ZH_LATIN_SLANG]
    if cjk == 0 and not words:
        return default
    if cjk == 0:
        return "en" if real_words else default
    # Each Chinese character is roughly half a word of content.
    return "en" if len(real_words) > 2 * cjk else "zh"


# What carries no language: a command (/start, /help@shop_bot), a mention, a link, an order
# or tracking number (SF1234567890), any number.
_NO_LANGUAGE_RE = re.compile(
    r"(?<!\w)/[A-Za-z_]+(?:@\w+)?|@\w+|https?://\S+|(?<![A-Za-z])[A-Za-z]{0,4}\d+"
)
# Short Latin words both kinds of shopper type; alone they do not say "English".
_NEUTRAL_WORDS = _ZH_LATIN_SLANG | frozenset({
    "okay", "okk", "lol", "haha", "hehe", "hey", "yes", "yeah", "yep", "no", "bye", "sure",
    "cool", "nice", "good", "wow", "omg", "emm", "hmm", "ps", "vs", "pls", "plz",
})


def message_language(text: str) -> str | None:
    """The language a message clearly is in, or None when it tells nothing.

    Commands, order numbers, links, emoji and "ok" carry no language, so a zh shopper who
    sends /start or 👍 stays zh. Chinese: any Chinese character left (unless English words
    outweigh it, as in detect_language). English: two real words, or one of 4+ letters.
    """
    rest = _NO_LANGUAGE_RE.sub(" ", text)
    if has_chinese(rest):
        return detect_language(rest)
    words = [w.lower() for w in _LATIN_WORD_RE.findall(rest)]
    real = [w for w in words if w not in _NEUTRAL_WORDS]
    if len(real) >= 2 or (len(real) == 1 and len(real[0]) >= 4):
        return "en"
    return None
