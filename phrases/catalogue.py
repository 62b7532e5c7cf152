"""The standard phrases of policy §七: eleven categories, Chinese and English, owner-editable.

Built-in phrases live in ``data/phrases.<lang>.yaml``; the owner's rows (from the database)
replace built-in phrases with the same key and language. The bot picks by category and context
tags (time of day, festival, returning customer, "holding" while a shopper waits, ...), varies
its choice, and never repeats the phrase it used last time when another one fits.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources

from phrases.staff import parse_staff_file
from phrases.templates import placeholders_in, render
from phrases.tone import negative_terms
from phrases.yaml_text import load_yaml

CATEGORIES: tuple[str, ...] = (
    "greeting",  # 问候语
    "congratulation",  # 祝贺语
    "farewell",  # 告别语
    "apology",  # 道歉语
    "thanks",  # 道谢语
    "acknowledgement",  # 应答语
    "inquiry",  # 征询语
    "explanation",  # 解释语
    "courtesy",  # 基本礼貌用语
    "negotiation",  # 商量语
    "negative",  # 负面语言 (P9): words to AVOID, listed for the owner, never sent
)
# Beyond the policy's eleven: what staff read (screens, cards, topic names, alerts;
# phrases/staff.py) — the same data and overrides, never said to a shopper.
ALL_CATEGORIES: tuple[str, ...] = (*CATEGORIES, "staff")
LANGS: tuple[str, ...] = ("zh", "en")
_FALLBACK: dict[str, tuple[str, ...]] = {"zh": ("en",), "en": ("zh",)}


@dataclass(frozen=True)
class Phrase:
    """One standard phrase; ``key`` ("category.name") is unique per language."""

    key: str
    category: str
    lang: str
    text: str
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.category not in ALL_CATEGORIES:
            raise ValueError(f"phrase {self.key!r}: unknown category {self.category!r}")
        if not self.key or not self.lang:
            raise ValueError("phrase: key and lang must not be empty")
        object.__setattr__(self, "tags", tuple(self.tags))

    def render(self, values: Mapping[str, object]) -> str:
        """The phrase text with its placeholders filled (see :func:`phrases.templates.render`)."""
        return render(self.text, values)

    # Asked of every phrase of a category each time one is picked (most replies): found once.
    @cached_property
    def needs(self) -> frozenset[str]:
        """The placeholders the text cannot do without (not ``OPTIONAL_PLACEHOLDERS``)."""
        return frozenset(placeholders_in(self.text) - OPTIONAL_PLACEHOLDERS)

    @cached_property
    def tag_set(self) -> frozenset[str]:
        return frozenset(self.tags)


def fallback_langs(lang: str) -> tuple[str, ...]:
    """``lang`` first, then the languages to try when it has no suitable phrase."""
    rest = _FALLBACK.get(lang, LANGS)
    return (lang, *(x for x in rest if x != lang))


# Placeholders a phrase can do without (the text reads fine when they are empty). Not
# agent_name: "Hello, this is ." does not; an agent the bot has no name for gets the
# agent_joined phrase without it (P3).
OPTIONAL_PLACEHOLDERS = frozenset({"customer_name", "shop_name"})


# Tags that tie a phrase to hours of the shop's local day (P8: 晚安 only at night). A phrase
# with none of them fits any hour; one with several fits when any of them does.
TIME_TAGS: Mapping[str, frozenset[int]] = {
    "morning": frozenset(range(5, 12)),
    "afternoon": frozenset(range(12, 18)),
    "evening": frozenset((*range(18, 24), *range(0, 5))),
    "tonight": frozenset(range(18, 24)),  # "see you tomorrow, enjoy your evening"
    "night": frozenset((*range(21, 24), *range(0, 5))),  # 晚安 / good night
}


def fits_hour(phrase: Phrase, hour: int | None) -> bool:
    """Whether ``phrase`` may be said at ``hour`` (local, 0..23); None: any phrase fits."""
    named = [tag for tag in phrase.tags if tag in TIME_TAGS]
    return hour is None or not named or any(hour in TIME_TAGS[tag] for tag in named)


def _known(values: Mapping[str, object], name: str) -> bool:
    return values.get(name) not in (None, "")


def best_for(phrases: Sequence[Phrase], values: Mapping[str, object]) -> list[Phrase]:
    """The phrases that read well with ``values``: all their required placeholders are known,
    and they use as many of the known values as any other (say the time when it is known).
    Returns ``phrases`` unchanged when none qualifies."""

    usable = [p for p in phrases if all(_known(values, n) for n in p.needs)]
    if not usable:
        return list(phrases)
    best = max(len(p.needs) for p in usable)
    return [p for p in usable if len(p.needs) == best]


class PhraseCatalogue:
    """An immutable set of phrases with lookup by category, language and tags."""

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        by_id: dict[tuple[str, str], Phrase] = {}
        for phrase in phrases:
            by_id[(phrase.lang, phrase.key)] = phrase  # later rows replace earlier ones
        self._by_id = by_id
        self._index: dict[tuple[str, str], list[Phrase]] = {}
        for phrase in by_id.values():
            self._index.setdefault((phrase.category, phrase.lang), []).append(phrase)

    @classmethod
    def builtin(cls) -> PhraseCatalogue:
        """The packaged zh + en phrases plus the P9 terms as the ``negative`` category."""
        return cls(_builtin_phrases())

    def with_overrides(self, phrases: Iterable[Phrase]) -> PhraseCatalogue:
        """A new catalogue where ``phrases`` replace those with the same key and language."""
        return PhraseCatalogue([*self._by_id.values(), *phrases])

    def all(self) -> list[Phrase]:
        return list(self._by_id.values())

    def get(self, key: str, lang: str) -> Phrase | None:
        """The phrase with this key, in ``lang`` or else in a fallback language."""
        for candidate in fallback_langs(lang):
            phrase = self._by_id.get((candidate, key))
            if phrase is not None:
                return phrase
        return None

    def text(self, key: str, lang: str, /, **values: object) -> str:
        """The phrase ``key`` rendered with ``values`` (fallback language as :meth:`get`); the
        key itself when no language has it, so a missing phrase shows in tests, never raises."""
        phrase = self.get(key, lang)
        return key if phrase is None else phrase.render(values)

    def find(self, category: str, lang: str, *tags: str) -> list[Phrase]:
        """Phrases of ``category`` having all ``tags``, in ``lang``; if none, another language."""
        wanted = set(tags)
        for candidate in fallback_langs(lang):
            found = [p for p in self._index.get((category, candidate), []) if wanted <= p.tag_set]
            if found:
                return found
        return []

    def pick(
        self,
        category: str,
        lang: str,
        *tags: str,
        avoid: str | None = None,
        rng: random.Random | None = None,
        values: Mapping[str, object] | None = None,
        hour: int | None = None,
    ) -> Phrase:
        """A varied phrase of ``category`` for this context; never ``avoid`` if another fits.

        If nothing has all ``tags``, tags are dropped from the end (put the essential tag
        first), still in ``lang`` before any other language. ``values`` are the placeholder
        values the caller will render with: phrases needing a value that is missing (e.g.
        ``{queue_position}``) are skipped while others fit, and phrases using more of the
        given values are preferred. ``hour`` (the shop's local hour) drops phrases tied to
        other hours (:data:`TIME_TAGS`). Raises LookupError only when the category is empty.
        """
        for candidate in fallback_langs(lang):
            for n in range(len(tags), -1, -1):
                wanted = set(tags[:n])
                found = [
                    p for p in self._index.get((category, candidate), [])
                    if wanted <= p.tag_set and fits_hour(p, hour)
                ]
                if found:
                    return choose(best_for(found, values or {}), avoid=avoid, rng=rng)
        raise LookupError(f"no phrase in category {category!r}")

    def categories(self, lang: str) -> dict[str, list[Phrase]]:
        """Phrases of ``lang`` grouped by category, in policy order (for owner screens)."""
        return {c: list(self._index.get((c, lang), [])) for c in ALL_CATEGORIES}


def choose(
    phrases: Sequence[Phrase], *, avoid: str | None = None, rng: random.Random | None = None
) -> Phrase:
    """A random phrase of ``phrases``, other than the one keyed ``avoid`` when possible."""
    if not phrases:
        raise LookupError("no phrase to choose from")
    pool = [p for p in phrases if p.key != avoid] or list(phrases)
    return (rng or random).choice(pool)


def parse_phrase_file(data: object, lang: str | None = None) -> list[Phrase]:
    """Read the phrase-file structure ``{lang, phrases: {category: [{key, text, tags}]}}``.

    Keys in the file are short names; the phrase key becomes ``"<category>.<name>"``. Raises
    ValueError with a readable message for a malformed file.
    """
    if not isinstance(data, Mapping):
        raise ValueError("phrase file: expected a mapping with 'lang' and 'phrases'")
    file_lang = lang or data.get("lang")
    if not isinstance(file_lang, str) or not file_lang:
        raise ValueError("phrase file: missing 'lang'")
    groups = data.get("phrases")
    if not isinstance(groups, Mapping):
        raise ValueError("phrase file: 'phrases' must map category -> list")
    result: list[Phrase] = []
    seen: set[str] = set()
    for category, entries in groups.items():
        if category not in CATEGORIES:
            raise ValueError(f"phrase file: unknown category {category!r}")
        if not isinstance(entries, list):
            raise ValueError(f"phrase file: category {category!r} must be a list")
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise ValueError(f"phrase file: bad entry {entry!r} in {category!r}")
            name, text, tags = entry.get("key"), entry.get("text"), entry.get("tags") or []
            if not isinstance(name, str) or not isinstance(text, str) or not text.strip():
                raise ValueError(f"phrase file: entry {entry!r} needs 'key' and 'text'")
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError(f"phrase file: tags of {name!r} must be a list of strings")
            key = f"{category}.{name}"
            if key in seen:
                raise ValueError(f"phrase file: duplicate key {key!r}")
            seen.add(key)
            result.append(Phrase(key, str(category), file_lang, text.strip(), tuple(tags)))
    return result


@lru_cache(maxsize=1)
def _builtin_phrases() -> tuple[Phrase, ...]:
    phrases: list[Phrase] = []
    root = resources.files("phrases").joinpath("data")
    for lang in LANGS:
        raw = root.joinpath(f"phrases.{lang}.yaml").read_text(encoding="utf-8")
        phrases.extend(parse_phrase_file(load_yaml(raw), lang))
        staff = root.joinpath(f"staff.{lang}.yaml").read_text(encoding="utf-8")
        phrases.extend(parse_staff_file(load_yaml(staff), lang))
    for lang, terms in negative_terms().items():
        for n, term in enumerate(terms, start=1):
            phrases.append(Phrase(f"negative.{n}", "negative", lang, term, ("avoid",)))
    return tuple(phrases)


# What the bot says in recurring situations: situation -> (category, tags).
SITUATIONS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "thanks_reply": ("thanks", ("reply",)),  # the shopper said thank you
    "ack_reply": ("acknowledgement", ("ack_reply",)),  # "ok" / 👍: a short 应答, no hand-over
    "bot_identity": ("explanation", ("bot_identity", "offer_human")),  # "are you a bot?"
    "off_topic": ("explanation", ("off_topic", "offer_human")),  # weather, sums (P4 scope)
    "part_needs_human": ("inquiry", ("part_unanswered", "offer_human")),  # values: question
    "clarify": ("inquiry", ("clarify", "offer_human")),  # P4: no confident FAQ match
    "choose": ("inquiry", ("clarify", "choose")),  # P4: two close FAQ entries, show buttons
    "offer_human": ("inquiry", ("offer_human",)),
    "anything_else": ("inquiry", ("anything_else",)),
    "holding_apology": ("apology", ("holding",)),  # SLA clock: shopper waits for a person
    "holding_inquiry": ("inquiry", ("holding",)),
    # The last holding reply for one message: leave a message, when a person replies (P2).
    "holding_last": ("apology", ("holding_last",)),  # values: service_hours
    # {next_opening} in FAQ answers; extra tag now / later (values: next_open) / unknown.
    "next_opening": ("explanation", ("next_opening",)),
    # A queued shopper writes again over off hours: kept for the next opening (P24).
    "message_kept": ("explanation", ("message_kept",)),  # values: next_open
    "queued": ("explanation", ("queued",)),  # values: queue_position / wait_minutes if known
    "agent_joined": ("explanation", ("agent_joined",)),  # values: agent_name
    "off_hours": ("explanation", ("off_hours",)),  # P24; values: next_open if known
    "policy": ("explanation", ("policy",)),
    "media": ("explanation", ("media",)),  # extra tag: sticker / photo / voice / file
    "too_long": ("explanation", ("too_long",)),  # values: max_length
    "flood": ("explanation", ("flood",)),  # a burst of messages is answered once
    "unknown_command": ("explanation", ("unknown_command",)),  # values: command
    "group_only_private": ("explanation", ("group_only_private",)),
    # The shopper writes again while waiting: a short "noted", once after the shop last spoke
    # (the escalation reply "已为您转接人工客服" is said once per wait).
    "already_queued": ("acknowledgement", ("queued_ack",)),
    "complaint": ("apology", ("complaint",)),  # P7: apologise first, then a person takes over
    "farewell": ("farewell", ()),  # P8
    # A thanks / ok after an agent closed the chat: a short closing reply, no greeting (P8).
    "closing": ("acknowledgement", ("closing",)),
    "hello_again": ("greeting", ("hello_again",)),  # a greeting mid-conversation
    "help": ("explanation", ("help",)),
    # "我的退款到哪了" with an open case (P18): its status; extra tag open / resolved.
    # values: ticket_id, ticket_kind, status, due
    "case_status": ("explanation", ("case_status",)),
    "feedback_thanks": ("thanks", ("feedback",)),
    # A button no message of ours carries (forged, or a format long gone): a pop-up.
    "button_expired": ("explanation", ("button_expired",)),
    # The after-sales ticket dialogue (P18/P20), /tickets, /stop_notices (P22), /forget (P16).
    "ticket_kind": ("inquiry", ("ticket_kind",)),
    "ticket_kind_label": ("explanation", ("ticket_kind_label",)),  # extra tag: the kind
    # The kind inside a sentence ("your exchange request"; the label above is for buttons).
    "ticket_kind_name": ("explanation", ("ticket_kind_name",)),  # extra tag: the kind
    "ticket_status_label": ("explanation", ("ticket_status_label",)),  # extra tag: status
    "ticket_line": ("explanation", ("ticket_line",)),  # /tickets: ticket_id, ticket_kind, status
    "ticket_order": ("inquiry", ("ticket_order",)),
    "ticket_bad_order": ("inquiry", ("ticket_bad_order",)),
    "ticket_reason": ("inquiry", ("ticket_reason",)),
    "ticket_photos": ("inquiry", ("ticket_photos",)),
    "ticket_photo_ok": ("explanation", ("ticket_photo_ok",)),  # values: count
    "ticket_created": ("explanation", ("ticket_created",)),  # values: ticket_id, ticket_kind, due
    "ticket_complaint": ("apology", ("ticket_complaint",)),  # values: ticket_id
    "ticket_cancelled": ("explanation", ("ticket_cancelled",)),
    "ticket_none": ("explanation", ("ticket_none",)),
    "ticket_button": ("explanation", ("ticket_button",)),  # extra tag: no_order/done/forget_yes
    # The button under a reply the bot is unsure of: a person one tap away (P4, P7).
    "human_button": ("explanation", ("human_button",)),
    "notices_off": ("explanation", ("notices_off",)),
    "forget_ask": ("inquiry", ("forget_ask",)),
    "forgotten": ("explanation", ("forgotten",)),
}


def say(
    catalogue: PhraseCatalogue,
    situation: str,
    lang: str,
    *extra_tags: str,
    values: Mapping[str, object] | None = None,
    avoid: str | None = None,
    rng: random.Random | None = None,
    hour: int | None = None,
) -> tuple[str, str]:
    """Rendered text and key of a phrase for a named :data:`SITUATIONS` entry.

    ``extra_tags`` narrow the choice when such phrases exist (e.g. ``"photo"`` for media).
    Phrases whose required placeholders have no value are skipped while others exist, so
    "you are number {queue_position}" is only said when the position is known. ``hour`` (the
    shop's local hour) keeps phrases tied to other hours out (no 晚安 at 16:20, P8).
    """
    category, tags = SITUATIONS[situation]
    values = values or {}
    phrase = catalogue.pick(category, lang, *tags, *extra_tags, avoid=avoid, rng=rng,
                            values=values, hour=hour)
    return phrase.render(values), phrase.key


def holding_reply(
    catalogue: PhraseCatalogue,
    lang: str,
    *,
    values: Mapping[str, object] | None = None,
    avoid: str | None = None,
    rng: random.Random | None = None,
) -> tuple[str, str]:
    """Apology + inquiry for a shopper who waits for a person (design: SLA clock, P2).

    Returns ``(text, "apology.x+inquiry.y")``; pass that key back as ``avoid`` next time and
    neither half repeats when another exists.
    """
    last = set((avoid or "").split("+"))
    parts: list[tuple[str, str]] = []
    for situation in ("holding_apology", "holding_inquiry"):
        category, tags = SITUATIONS[situation]
        found = catalogue.find(category, lang, *tags)
        if not found:
            continue
        fitting = best_for(found, values or {})
        phrase = choose([p for p in fitting if p.key not in last] or fitting, rng=rng)
        parts.append((phrase.render(values or {}), phrase.key))
    sep = "" if lang.startswith("zh") else " "
    return sep.join(t for t, _ in parts), "+".join(k for _, k in parts)
