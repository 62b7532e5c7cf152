"""Split long answers into several shorter messages (policy P2: "如回答太长，宜分次回答").

Cuts are made at the coarsest boundary that works: paragraphs, then lines, then sentences
(Chinese 。！？… and English .!?), then clauses (，；, ;), then spaces; only a single word or a
run of unbroken text longer than the limit is cut hard. Lengths are counted in UTF-16 code
units, as Telegram counts them, and no part ever exceeds Telegram's 4096.
"""

from __future__ import annotations

import re
from functools import lru_cache

TELEGRAM_LIMIT = 4096
CAPTION_LIMIT = 1024  # a photo's caption

_CLOSERS = "”’」』）)】\"'"
# Each pattern matches the separator that ends a piece; the separator stays with the piece.
_LEVELS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n[ \t]*\n\s*"),  # paragraphs
    re.compile(r"\n\s*"),  # lines
    re.compile(
        rf"(?:[。！？!?…]+|\.(?=\s|$|[{re.escape(_CLOSERS)}]))[{re.escape(_CLOSERS)}]*\s*"
    ),  # sentences; "3.5" and "e.g" without a following space stay whole
    re.compile(r"[，；;、]\s*|[,:：](?=\s)\s*"),  # clauses
    re.compile(r"\s+"),  # words
)


def units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji may count 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2  # in C: no loop per character


def split_message(text: str, limit: int = 350) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` units (capped at 4096), in order.

    Parts are stripped of surrounding whitespace; an empty or blank text gives ``[]``.
    """
    limit = max(1, min(int(limit), TELEGRAM_LIMIT))
    text = text.strip()
    if not text:
        return []
    if units(text) <= limit:
        return [text]
    return list(_parts_of(text, limit))


@lru_cache(maxsize=256)
def _parts_of(text: str, limit: int) -> tuple[str, ...]:
    """The parts of a long text, found once per text: an FAQ answer is split again for
    every shopper who asks it."""
    parts = (p.strip() for p in _split(text, limit, 0))
    return tuple(p for p in parts if p)


def _pieces(text: str, pattern: re.Pattern[str]) -> list[str]:
    """Cut ``text`` after every separator match, keeping the separator with its piece."""
    pieces: list[str] = []
    start = 0
    for match in pattern.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _split(text: str, limit: int, level: int) -> list[str]:
    if units(text) <= limit:
        return [text]
    if level >= len(_LEVELS):
        return _hard_cut(text, limit)
    pieces = _pieces(text, _LEVELS[level])
    if len(pieces) <= 1:
        return _split(text, limit, level + 1)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if units(current + piece) <= limit or units((current + piece).rstrip()) <= limit:
            current += piece
            continue
        if current:
            chunks.append(current)
            current = ""
        if units(piece.rstrip()) <= limit:
            current = piece
        else:
            sub = _split(piece, limit, level + 1)
            chunks.extend(sub[:-1])
            current = sub[-1]
    if current:
        chunks.append(current)
    return chunks


def _hard_cut(text: str, limit: int) -> list[str]:
    """Last resort: cut at the limit, never inside a surrogate pair's code point."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if size + width > limit and current:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += width
    if current:
        chunks.append("".join(current))
    return chunks
