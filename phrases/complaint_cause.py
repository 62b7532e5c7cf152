"""What a complaint is about (P14): service attitude, product quality, courier, price, other.

The policy fines an agent only for a complaint "因服务原因" (about service); the year-end report
counts complaints by cause (服务态度 …). This is a separate step from *detecting* a complaint
(phrases/understand.py): the understander says "this is a complaint", this module says what
about. Patterns and labels live in data/complaint_causes.yaml so the owner's wording can grow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from phrases.normalize import fold
from phrases.yaml_text import load_yaml

SERVICE = "service"
OTHER = "other"


@dataclass(frozen=True)
class Cause:
    name: str
    labels: dict[str, str]
    patterns: tuple[re.Pattern[str], ...]

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels.get("en") or self.name


@lru_cache(maxsize=1)
def causes() -> tuple[Cause, ...]:
    """The causes in tie-break order (the file's order; ``other`` is always last)."""
    raw = resources.files("phrases").joinpath("data/complaint_causes.yaml").read_text("utf-8")
    data = load_yaml(raw)["causes"]
    found = [Cause(name, dict(entry.get("label") or {}),
                   tuple(re.compile(p) for p in entry.get("match") or ()))
             for name, entry in data.items() if name != OTHER]
    other = data.get(OTHER) or {}
    return (*found, Cause(OTHER, dict(other.get("label") or {}), ()))


def cause_names() -> tuple[str, ...]:
    return tuple(c.name for c in causes())


def cause_label(name: str, lang: str) -> str:
    """'服务态度' / 'service attitude'; an unknown name is shown as it is."""
    return next((c.label(lang) for c in causes() if c.name == name), name)


def classify_cause(text: str) -> str:
    """The cause with the most pattern hits in ``text``; ties go to the earlier cause, no hit
    is ``other``. "我要投诉快递太慢" → courier; "客服态度太差" → service."""
    folded = fold(text or "")
    best, best_hits = OTHER, 0
    for cause in causes():
        hits = sum(len(p.findall(folded)) for p in cause.patterns)
        if hits > best_hits:
            best, best_hits = cause.name, hits
    return best
