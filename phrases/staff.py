"""Words staff read (owner screens, cards, topic names, system lines, alerts), zh + en.

They live in ``data/staff.<lang>.yaml`` as ``key: text`` under ``staff:`` and join the phrase
catalogue as category ``staff`` (key ``staff.<key>``), so the owner overrides them the same way
as shopper phrases (/settemplate staff.<key> zh …). A staff member reads them in their own
language (``/lang zh|en``), else the shop's. Texts are plain: callers escape for HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from phrases.refused import Refused
from phrases.templates import placeholders_in, render

if TYPE_CHECKING:
    from phrases.catalogue import Phrase, PhraseCatalogue

CATEGORY = "staff"
NAME_LIMIT = 128  # Telegram's limit for a forum topic's name


def parse_staff_file(data: object, lang: str) -> list[Phrase]:
    """``{lang, staff: {key: text}}`` → phrases ``staff.<key>``; ValueError when malformed."""
    from phrases.catalogue import Phrase

    if not isinstance(data, Mapping) or not isinstance(data.get("staff"), Mapping):
        raise ValueError("staff phrase file: expected a mapping with 'staff: {key: text}'")
    result: list[Phrase] = []
    for key, text in data["staff"].items():
        if not isinstance(key, str) or not isinstance(text, str) or not text.strip():
            raise ValueError(f"staff phrase file: entry {key!r} needs a text")
        result.append(Phrase(f"{CATEGORY}.{key}", CATEGORY, lang, text.rstrip()))
    return result


def staff_placeholders(catalogue: PhraseCatalogue, key: str) -> set[str]:
    """Placeholders the built-in text of a staff key uses (what an owner's edit may use)."""
    found: set[str] = set()
    for lang in ("zh", "en"):
        phrase = catalogue.get(key, lang)
        if phrase is not None:
            found |= placeholders_in(phrase.text)
    return found


@dataclass(frozen=True)
class StaffWords:
    """Staff texts in one language: ``words("card.orders", count=3)`` → plain text.

    A key missing in ``lang`` falls back to the other language; an unknown key comes back
    as the key itself (visible in tests, never an exception in front of staff).
    """

    catalogue: PhraseCatalogue
    lang: str

    def __call__(self, key: str, /, **values: object) -> str:
        phrase = self.catalogue.get(f"{CATEGORY}.{key}", self.lang)
        if phrase is None:
            return key
        return render(phrase.text, values)

    def label(self, prefix: str, code: object) -> str:
        """A stored code in words (``label("order", "paid")`` → 已付款); the code itself when
        no text exists for it, so a new status still shows."""
        key = f"{prefix}.{code}"
        return self(key) if self.has(key) else str(code)

    def why(self, error: BaseException) -> str:
        """A refusal in words: a :class:`Refused` from its phrase (a value that is itself a
        Refused, such as where a problem is, in words too), anything else as it says (a
        file's own parse error names the line it found)."""
        if isinstance(error, Refused):
            return self(error.key, **{name: self.why(value) if isinstance(value, Refused)
                                      else value for name, value in error.values.items()})
        return str(error)

    def whys(self, errors: Iterable[BaseException]) -> list[str]:
        return [self.why(error) for error in errors]

    def has(self, key: str) -> bool:
        return self.catalogue.get(f"{CATEGORY}.{key}", self.lang) is not None

    @property
    def zh(self) -> bool:
        return self.lang.startswith("zh")


def topic_name(name: str, status: str) -> str:
    """A forum topic's name "李雷 · 等待中", at most Telegram's 128 characters."""
    tail = f" · {status}" if status else ""
    room = NAME_LIMIT - len(tail)
    shown = name if len(name) <= room else name[: max(room - 1, 1)] + "…"
    return (shown + tail)[:NAME_LIMIT]
