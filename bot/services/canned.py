"""Canned phrases for agents (inline query ``@bot 道歉`` / ``@bot thanks``): policy §七 phrases of
the matching category plus FAQ answers, fuzzy-searched, placeholders filled for the customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from phrases.catalogue import OPTIONAL_PLACEHOLDERS, Phrase, PhraseCatalogue
from phrases.staff import StaffWords
from phrases.templates import placeholders_in, render

# Words an agent types for a category (policy §七 names in both languages, and everyday ones).
CATEGORY_WORDS: Mapping[str, tuple[str, ...]] = {
    "greeting": ("问候", "问候语", "你好", "greeting", "hello", "hi"),
    "congratulation": ("祝贺", "恭喜", "congratulation", "congrats"),
    "farewell": ("告别", "再见", "farewell", "bye", "goodbye"),
    "apology": ("道歉", "抱歉", "对不起", "apology", "sorry", "apologise"),
    "thanks": ("道谢", "感谢", "谢谢", "thanks", "thank you"),
    "acknowledgement": ("应答", "好的", "收到", "acknowledgement", "ok"),
    "inquiry": ("征询", "请问", "inquiry", "ask"),
    "explanation": ("解释", "说明", "explanation", "explain"),
    "courtesy": ("礼貌", "courtesy", "please"),
    "negotiation": ("商量", "negotiation", "suggest"),
}
_ALIASES = {word: category for category, words in CATEGORY_WORDS.items() for word in words}
MAX_RESULTS = 20
TEXT_CUTOFF = 60


@dataclass(frozen=True)
class Canned:
    """One inline result: a stable id, a short title and the text the agent will send."""

    id: str
    title: str
    text: str


def _short(text: str, limit: int = 40) -> str:
    """The start of a text for a one-line title."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _usable(phrase: Phrase, values: Mapping[str, object]) -> bool:
    """Every placeholder the phrase needs has a value (optional ones may be empty)."""
    return all(name in OPTIONAL_PLACEHOLDERS or values.get(name) not in (None, "")
               for name in placeholders_in(phrase.text))


def search(
    catalogue: PhraseCatalogue, faq: Iterable[tuple[str, str, str]], query: str, lang: str,
    values: Mapping[str, object], words: StaffWords | None = None,
) -> list[Canned]:
    """Phrases of the category the query names, then fuzzy matches of phrases and FAQ answers.

    ``faq`` holds (key, question, answer) in the customer's language. Never offers the
    ``negative`` category (P9: words to avoid) nor the staff's own texts. Titles read as
    "道歉 · 对不起，给您添麻烦了…" in the agent's ``words`` (the category, then the text).
    """
    query = query.strip()
    phrases = [p for p in catalogue.all()
               if p.lang == lang and p.category not in ("negative", "staff")
               and "widget" not in p.tags
               and _usable(p, values)]
    results: list[Canned] = []
    seen: set[str] = set()

    def add(item: Canned) -> None:
        if item.id not in seen and len(results) < MAX_RESULTS:
            seen.add(item.id)
            results.append(item)

    def of_phrase(phrase: Phrase) -> Canned:
        text = render(phrase.text, values)
        category = words.label("category", phrase.category) if words else phrase.category
        return Canned(f"p:{phrase.key}"[:64], f"{category} · {_short(text)}", text)

    if not query:
        for phrase in phrases:
            if phrase.category in ("greeting", "acknowledgement", "thanks"):
                add(of_phrase(phrase))
        return results
    alias = process.extractOne(query.casefold(), list(_ALIASES), scorer=fuzz.ratio,
                               score_cutoff=80)
    if alias is not None:
        category = _ALIASES[alias[0]]
        for phrase in phrases:
            if phrase.category == category:
                add(of_phrase(phrase))
    by_text = {f"p:{p.key}": p for p in phrases}
    faq_items = {f"f:{key}": (question, answer) for key, question, answer in faq}
    choices = {**{k: p.text for k, p in by_text.items()},
               **{k: f"{q} {a}" for k, (q, a) in faq_items.items()}}
    for _, score, key in process.extract(query, choices, scorer=fuzz.partial_ratio,
                                         limit=MAX_RESULTS, score_cutoff=TEXT_CUTOFF):
        if score < TEXT_CUTOFF:
            continue
        if key in by_text:
            add(of_phrase(by_text[key]))
        else:
            question, answer = faq_items[key]
            faq_label = words("category.faq") if words else "FAQ"
            add(Canned(key[:64], f"{faq_label} · {_short(question)}", render(answer, values)))
    return results
