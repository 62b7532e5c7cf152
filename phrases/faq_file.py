"""The FAQ file: the owner's import/export format and the eval format (docs/faq-format.md).

    faq:
      - id: ship_time
        question: "下单后多久发货？"
        answer: "..."
        alt: ["付款以后几天能发出来？"]      # optional
        threshold: 0.6                       # optional per-entry answer threshold
    smalltalk:                               # optional extra examples per intent
      greeting: ["你好"]

Bad data raises ValueError naming the entry (index and id), so the owner can fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from phrases.refused import Refused
from phrases.yaml_text import load_yaml

SMALLTALK_INTENTS = ("greeting", "thanks", "farewell", "human", "complaint")


@dataclass(frozen=True)
class FaqEntry:
    """One FAQ entry: a standard question, the shop's answer and other phrasings."""

    id: str
    question: str
    answer: str
    alt: tuple[str, ...] = ()
    threshold: float | None = None  # per-entry override of the answer threshold (owner tuning)

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question followed by its alternative phrasings."""
        return (self.question, *self.alt)


@dataclass
class FaqFile:
    """A parsed FAQ file: entries plus optional extra small-talk examples per intent."""

    entries: list[FaqEntry]
    smalltalk: dict[str, list[str]] = field(default_factory=dict)


def _text(value: Any, where: dict[str, object], name: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Refused("faqfile.not_text", **where, name=name)
    text = str(value).strip()
    if required and not text:
        raise Refused("faqfile.empty", **where, name=name)
    return text


def _entry(index: int, raw: Any) -> FaqEntry:
    """One entry; a problem is refused naming the entry (1-based, the owner counts so) and
    its id, in words staff read (staff phrases faqfile.*)."""
    where: dict[str, object] = {"entry": index + 1, "id": "—"}
    if not isinstance(raw, dict):
        raise Refused("faqfile.not_mapping", entry=index + 1)
    if "id" in raw and isinstance(raw["id"], str):
        where["id"] = raw["id"]
    unknown = set(raw) - {"id", "question", "answer", "alt", "threshold"}
    if unknown:
        raise Refused("faqfile.unknown_keys", **where, keys=", ".join(sorted(map(str, unknown))))
    entry_id = _text(raw.get("id"), where, "id")
    question = _text(raw.get("question"), where, "question")
    answer = _text(raw.get("answer"), where, "answer")
    alt_raw = raw.get("alt") or []
    if isinstance(alt_raw, str):
        alt_raw = [alt_raw]
    if not isinstance(alt_raw, list):
        raise Refused("faqfile.alt_list", **where)
    alt = tuple(_text(a, where, f"alt[{i}]") for i, a in enumerate(alt_raw))
    threshold = raw.get("threshold")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise Refused("faqfile.threshold", **where, threshold=str(threshold)[:20])
        if not 0.0 <= float(threshold) <= 1.0:
            raise Refused("faqfile.threshold", **where, threshold=threshold)
        threshold = float(threshold)
    return FaqEntry(id=entry_id, question=question, answer=answer, alt=alt, threshold=threshold)


def _smalltalk(raw: Any) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("smalltalk: expected a mapping of intent -> list of examples")
    out: dict[str, list[str]] = {}
    for intent, examples in raw.items():
        if intent not in SMALLTALK_INTENTS:
            raise ValueError(
                f"smalltalk: unknown intent {intent!r}, use one of {SMALLTALK_INTENTS}"
            )
        if isinstance(examples, str):
            examples = [examples]
        if not isinstance(examples, list):
            raise ValueError(f"smalltalk.{intent}: expected a list of examples")
        out[intent] = [_text(e, {"entry": f"smalltalk.{intent}[{i}]", "id": "—"}, "example")
                       for i, e in enumerate(examples)]
    return out


def parse_faq(data: Any) -> FaqFile:
    """Build a FaqFile from already-parsed YAML/JSON data; ValueError on bad data."""
    if not isinstance(data, dict):
        raise Refused("faqfile.not_file")
    raw_entries = data.get("faq")
    if not isinstance(raw_entries, list):
        raise Refused("faqfile.not_file")
    entries = [_entry(i, raw) for i, raw in enumerate(raw_entries)]
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if entry.id in seen:
            first = seen[entry.id]
            raise Refused("faqfile.duplicate", entry=i + 1, id=entry.id, first=first + 1)
        seen[entry.id] = i
    return FaqFile(entries=entries, smalltalk=_smalltalk(data.get("smalltalk")))


def load_faq_file(path: str | Path) -> FaqFile:
    """Read an FAQ YAML file (see module docstring)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    return parse_faq(data)


def dump_faq_file(faq: FaqFile) -> str:
    """YAML text for `faq` that load_faq_file reads back to an equal FaqFile."""
    entries: list[dict[str, Any]] = []
    for e in faq.entries:
        raw: dict[str, Any] = {"id": e.id, "question": e.question, "answer": e.answer}
        if e.alt:
            raw["alt"] = list(e.alt)
        if e.threshold is not None:
            raw["threshold"] = e.threshold
        entries.append(raw)
    data: dict[str, Any] = {"faq": entries}
    if faq.smalltalk:
        data["smalltalk"] = {k: list(v) for k, v in faq.smalltalk.items()}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
