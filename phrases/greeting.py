"""Greetings and farewells that fit the moment (policy P1, P3, P8, §七.1-3).

One greeting per language for a new shopper (``greeting.welcome``) and one for a returning
one (``greeting.welcome_back``): the owner edits those two, and ``{time_of_day}`` in them
becomes 早上好/下午好/晚上好 by the shop's local time (the courtesy phrases tagged
``time_of_day``). A greeting tagged morning/afternoon/evening, if the owner adds one, is
preferred at that time (optional variants). On a festival or the customer's birthday a
congratulation comes first. Callers pass the shop's local time: this module never looks at the
clock itself, so it is easy to test, and the owner's preview is the shopper's greeting.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from phrases.catalogue import Phrase, PhraseCatalogue, choose

# The two greetings the owner edits (per language), by kind of shopper.
GREETING_KEYS: dict[str, str] = {"new": "greeting.welcome", "returning": "greeting.welcome_back"}

TIMES_OF_DAY: tuple[str, ...] = ("morning", "afternoon", "evening")

# First day of the lunar new year (春节), a fact table; extend it when 2035 comes near.
LUNAR_NEW_YEAR: dict[int, date] = {
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}
# Spring Festival wishes from New Year's Eve (除夕) to the 7th day (人日, end of the holiday).
_SPRING_BEFORE, _SPRING_AFTER = 1, 6


def time_of_day(hour: int) -> str:
    """Morning 05-11h, afternoon 12-17h, evening 18-04h (晚上好 also late at night)."""
    if not 0 <= hour <= 23:
        raise ValueError(f"hour must be 0..23, got {hour}")
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 18:
        return "afternoon"
    return "evening"


def occasions(day: date, birthday: date | None = None) -> tuple[str, ...]:
    """Congratulation tags for ``day``: christmas, new_year, spring_festival, birthday.

    Christmas is Dec 24-25, New Year Dec 31-Jan 1, Spring Festival eve to the 7th day.
    A Feb 29 birthday is celebrated on Feb 28 in other years.
    """
    tags: list[str] = []
    if day.month == 12 and day.day in (24, 25):
        tags.append("christmas")
    if (day.month, day.day) in ((12, 31), (1, 1)):
        tags.append("new_year")
    for year in (day.year, day.year + 1):
        first = LUNAR_NEW_YEAR.get(year)
        if first and -_SPRING_BEFORE <= (day - first).days <= _SPRING_AFTER:
            tags.append("spring_festival")
            break
    if birthday is not None and _is_birthday(day, birthday):
        tags.append("birthday")
    return tuple(tags)


def _is_birthday(day: date, birthday: date) -> bool:
    if (birthday.month, birthday.day) == (day.month, day.day):
        return True
    leap_day = (birthday.month, birthday.day) == (2, 29)
    not_leap = (day + timedelta(days=1)).month == 3 and day.month == 2 and day.day == 28
    return leap_day and not_leap


def _fits_time(phrase: Phrase, tod: str) -> bool:
    """A phrase fits when it names this time of day or names no time at all."""
    named = set(phrase.tags) & set(TIMES_OF_DAY)
    return not named or tod in named


def _timed(
    catalogue: PhraseCatalogue, category: str, lang: str, tod: str, *tags: str
) -> list[Phrase]:
    found = [p for p in catalogue.find(category, lang, *tags) if _fits_time(p, tod)]
    timed = [p for p in found if tod in p.tags]
    return timed or found


def _join(lang: str, *parts: str) -> str:
    sep = "" if lang.startswith("zh") else " "
    return sep.join(p for p in parts if p)


def time_of_day_word(catalogue: PhraseCatalogue, lang: str, hour: int) -> str:
    """早上好 / Good afternoon …: the value of ``{time_of_day}`` at ``hour`` (phrase data)."""
    found = catalogue.find("courtesy", lang, "time_of_day", time_of_day(hour))
    return found[0].text if found else ""


def compose_greeting(
    catalogue: PhraseCatalogue,
    lang: str,
    now: datetime,
    *,
    customer_name: str | None,
    returning: bool,
    shop_name: str,
    birthday: date | None = None,
    avoid: str | None = None,
    rng: random.Random | None = None,
) -> tuple[str, str]:
    """The first reply to a shopper (P1, P3): ``(text, key of the greeting phrase)``.

    ``now`` is the shop's local time. Pass the key returned last time as ``avoid`` to vary.
    The owner's preview calls this too, with the edited catalogue, so it shows what a shopper
    gets at that moment.
    """
    values = {"customer_name": customer_name or "", "shop_name": shop_name,
              "time_of_day": time_of_day_word(catalogue, lang, now.hour)}
    tod = time_of_day(now.hour)
    kind = "returning" if returning else "new"
    candidates = _timed(catalogue, "greeting", lang, tod, kind) or catalogue.find("greeting", lang)
    greeting = choose(candidates, avoid=avoid, rng=rng) if candidates else None
    wishes = [
        choose(found, rng=rng).render(values)
        for tag in occasions(now.date(), birthday)
        if (found := catalogue.find("congratulation", lang, tag))
    ]
    text = greeting.render(values) if greeting else ""
    return _join(lang, *wishes, text), greeting.key if greeting else ""


def compose_farewell(
    catalogue: PhraseCatalogue,
    lang: str,
    now: datetime,
    *,
    shop_name: str,
    customer_name: str | None = None,
    avoid: str | None = None,
    rng: random.Random | None = None,
) -> tuple[str, str]:
    """A farewell that suits the hour (晚安 only at night, P8): ``(text, key)``."""
    try:
        phrase = catalogue.pick("farewell", lang, avoid=avoid, rng=rng, hour=now.hour)
    except LookupError:
        return "", ""
    values = {"customer_name": customer_name or "", "shop_name": shop_name}
    return phrase.render(values), phrase.key


# Keys of the greetings before there was one to edit (four per time of day and kind, 16 in
# all): an owner's edit of one of them is carried over to the new key (see below).
_OLD_GREETING = re.compile(
    r"greeting\.(?:(?:morning|afternoon|evening)_(new|returning)_\d+|hello_(new|returning))")
_TIME_WORDS = re.compile(r"早上好|上午好|中午好|下午好|晚上好|good (?:morning|afternoon|evening)",
                         re.IGNORECASE)


def carry_over_greetings(overrides: Iterable[Phrase]) -> list[Phrase]:
    """The owner's phrases with their edits of the old time-of-day greetings carried over.

    Oldest first in, so the last edit wins: per language and kind (new/returning) the most
    recent edit of an old greeting becomes ``greeting.welcome`` / ``welcome_back``, its time
    word (早上好, Good evening …) turned into ``{time_of_day}`` so it fits every hour; an edit
    of the new key itself always wins. The old keys are dropped (no phrase uses them now).
    """
    kept: list[Phrase] = []
    carried: dict[tuple[str, str], Phrase] = {}
    own = set()
    for phrase in overrides:
        old = _OLD_GREETING.fullmatch(phrase.key)
        if old is None:
            kept.append(phrase)
            if phrase.key in GREETING_KEYS.values():
                own.add((phrase.lang, phrase.key))
            continue
        kind = old.group(1) or old.group(2)
        key = GREETING_KEYS[kind]
        text = _TIME_WORDS.sub("{time_of_day}", phrase.text, count=1)
        carried[(phrase.lang, key)] = Phrase(key, "greeting", phrase.lang, text, (kind,))
    kept += [p for ident, p in carried.items() if ident not in own]
    return kept
