"""Text normalisation for matching: one canonical form for what shoppers type.

Shoppers type full-width digits, traditional characters, emoji, "啊啊啊" and order numbers.
None of that should change which FAQ entry matches, so it is folded away here, and order
numbers are pulled out as entities (the bot needs them; the matcher must not match on them).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ORDER_TOKEN = "⟨order⟩"
NUMBER_TOKEN = "⟨num⟩"
# A body height / weight in any unit (165, 5ft6, 1米65 / 110斤, 130lbs), as the matcher sees
# it: phrases.sizing finds them, the matcher's analyzer puts these in their place.
HEIGHT_TOKEN = "⟨height⟩"
WEIGHT_TOKEN = "⟨weight⟩"

# An order/tracking number: 6+ digits, optionally with a short letter prefix (SF1234567890)
# or a leading '#'. Shorter numbers (prices, sizes, days) stay plain numbers.
_ORDER_RE = re.compile(r"(?<![a-z0-9])#?([a-z]{0,4}\d{6,})(?![0-9])", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(?<![a-z⟨])\d+(?:[.,]\d+)?")
# Keep letters, digits, CJK, apostrophes inside words and the entity brackets; all else -> space.
_DROP_RE = re.compile(r"[^\w\s'⟨⟩]|_", re.UNICODE)
_SPACE_RE = re.compile(r"\s+")
_REPEAT_CHAR_RE = re.compile(r"(.)\1{2,}")  # 3+ of the same char -> 2 ("哈哈哈哈" -> "哈哈")
_REPEAT_PAIR_RE = re.compile(r"(\w\w)\1+")  # "在么在么" -> "在么"
_APOS_RE = re.compile(r"(?<!\w)'|'(?!\w)")


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """Character-level traditional -> simplified table from OpenCC's own dictionary.

    Character level is enough for matching and, as one str.translate, far faster than
    OpenCC's phrase-level converter (which dominated index build time).
    """
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 1:
            table[ord(parts[0])] = parts[1]
    return table


def to_simplified(text: str) -> str:
    """Fold traditional Chinese characters to simplified ones."""
    return text.translate(_t2s_table())


def fold(text: str) -> str:
    """Width, case, script and punctuation folding, without touching entities."""
    if not text.isascii():  # width and script folding change nothing in plain ASCII
        text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("‘", "'")
        text = to_simplified(text)
    text = text.lower()
    text = _DROP_RE.sub(" ", text)
    text = _APOS_RE.sub(" ", text)
    text = _REPEAT_CHAR_RE.sub(r"\1\1", text)
    text = _REPEAT_PAIR_RE.sub(r"\1", text)
    return _SPACE_RE.sub(" ", text).strip()


@dataclass(frozen=True)
class Normalized:
    """A folded text with entities replaced by placeholder tokens."""

    text: str
    order_ids: tuple[str, ...]
    numbers: tuple[str, ...]


def extract_order_ids(text: str) -> tuple[str, ...]:
    """Order/tracking numbers in their original spelling (width-folded, upper-case letters)."""
    text = unicodedata.normalize("NFKC", text)
    return tuple(m.group(1).upper() for m in _ORDER_RE.finditer(text))


def normalize(text: str) -> Normalized:
    """Fold `text` and replace order ids and other numbers by placeholder tokens."""
    order_ids = extract_order_ids(text)
    folded = unicodedata.normalize("NFKC", text)
    folded = _ORDER_RE.sub(f" {ORDER_TOKEN} ", folded)
    numbers = tuple(_NUMBER_RE.findall(folded))
    folded = _NUMBER_RE.sub(f" {NUMBER_TOKEN} ", folded)
    return Normalized(text=fold(folded), order_ids=order_ids, numbers=numbers)
