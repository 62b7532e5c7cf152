"""Greetings by time of day, name, returning customer and occasion (policy P1, P3, §七.1-3)."""

from __future__ import annotations

import random
from datetime import date, datetime

import pytest

from phrases.catalogue import Phrase, PhraseCatalogue
from phrases.greeting import (
    LUNAR_NEW_YEAR,
    carry_over_greetings,
    compose_farewell,
    compose_greeting,
    occasions,
    time_of_day,
)


@pytest.fixture(scope="module")
def cat() -> PhraseCatalogue:
    return PhraseCatalogue.builtin()


@pytest.mark.parametrize(
    ("hour", "expected"),
    [
        (0, "evening"),
        (4, "evening"),
        (5, "morning"),
        (11, "morning"),
        (12, "afternoon"),
        (17, "afternoon"),
        (18, "evening"),
        (23, "evening"),
    ],
)
def test_time_of_day(hour: int, expected: str) -> None:
    assert time_of_day(hour) == expected


def test_time_of_day_rejects_bad_hours() -> None:
    with pytest.raises(ValueError):
        time_of_day(24)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 12, 25), ("christmas",)),
        (date(2025, 12, 24), ("christmas",)),
        (date(2025, 12, 31), ("new_year",)),
        (date(2026, 1, 1), ("new_year",)),
        (date(2026, 2, 16), ("spring_festival",)),  # 除夕 2026
        (date(2026, 2, 17), ("spring_festival",)),
        (date(2026, 2, 23), ("spring_festival",)),  # 初七
        (date(2026, 2, 24), ()),
        (date(2026, 2, 15), ()),
        (date(2025, 1, 28), ("spring_festival",)),  # eve of 2025-01-29
        (date(2025, 7, 1), ()),
    ],
)
def test_occasions(day: date, expected: tuple[str, ...]) -> None:
    assert occasions(day) == expected


def test_lunar_table_covers_2024_to_2035() -> None:
    assert set(LUNAR_NEW_YEAR) == set(range(2024, 2036))
    assert all(d.year == y and d.month in (1, 2) for y, d in LUNAR_NEW_YEAR.items())


def test_birthday_and_leap_day() -> None:
    assert occasions(date(2026, 5, 3), birthday=date(1990, 5, 3)) == ("birthday",)
    assert occasions(date(2026, 5, 4), birthday=date(1990, 5, 3)) == ()
    assert occasions(date(2025, 2, 28), birthday=date(2000, 2, 29)) == ("birthday",)
    assert occasions(date(2028, 2, 28), birthday=date(2000, 2, 29)) == ()
    assert occasions(date(2028, 2, 29), birthday=date(2000, 2, 29)) == ("birthday",)
    assert occasions(date(2025, 12, 25), birthday=date(1990, 12, 25)) == ("christmas", "birthday")


@pytest.mark.parametrize(
    ("hour", "word"), [(8, "早上好"), (14, "下午好"), (20, "晚上好"), (1, "晚上好")]
)
def test_p3_zh_time_of_day_and_name(cat: PhraseCatalogue, hour: int, word: str) -> None:
    for seed in range(5):
        text, key = compose_greeting(
            cat,
            "zh",
            datetime(2025, 7, 1, hour),
            customer_name="小林",
            returning=False,
            shop_name="松线小铺",
            rng=random.Random(seed),
        )
        assert word in text and "小林" in text
        assert key.startswith("greeting.")


@pytest.mark.parametrize(
    ("hour", "word"), [(8, "Good morning"), (14, "Good afternoon"), (20, "Good evening")]
)
def test_p3_en_time_of_day(cat: PhraseCatalogue, hour: int, word: str) -> None:
    text, _ = compose_greeting(
        cat,
        "en",
        datetime(2025, 7, 1, hour),
        customer_name="Ann",
        returning=False,
        shop_name="Pine & Thread",
    )
    assert word in text and "Ann" in text


def test_p3_every_zh_returning_greeting_says_welcome_back(cat: PhraseCatalogue) -> None:
    for phrase in cat.find("greeting", "zh", "returning"):
        assert "回" in phrase.text, phrase.key
    for phrase in cat.find("greeting", "en", "returning"):
        assert "welcome back" in phrase.text.lower(), phrase.key


def test_p3_returning_customer_is_welcomed_back(cat: PhraseCatalogue) -> None:
    for seed in range(6):
        zh_text, key = compose_greeting(
            cat,
            "zh",
            datetime(2025, 7, 1, 9),
            customer_name=None,
            returning=True,
            shop_name="松线小铺",
            rng=random.Random(seed),
        )
        assert "returning" in cat.get(key, "zh").tags  # type: ignore[union-attr]
        assert "回" in zh_text  # 您回来了 / 欢迎回来 / 欢迎回到
        en, _ = compose_greeting(
            cat,
            "en",
            datetime(2025, 7, 1, 9),
            customer_name=None,
            returning=True,
            shop_name="Pine",
            rng=random.Random(seed),
        )
        assert "welcome back" in en.lower()
        new, key = compose_greeting(
            cat,
            "en",
            datetime(2025, 7, 1, 9),
            customer_name=None,
            returning=False,
            shop_name="Pine",
            rng=random.Random(seed),
        )
        assert "welcome back" not in new.lower()


def test_p3_no_name_reads_naturally(cat: PhraseCatalogue) -> None:
    for seed in range(10):
        text, _ = compose_greeting(
            cat,
            "zh",
            datetime(2025, 7, 1, 9),
            customer_name=None,
            returning=bool(seed % 2),
            shop_name="松线小铺",
            rng=random.Random(seed),
        )
        assert "{" not in text and "，，" not in text and "，！" not in text
        assert not text.startswith(("，", "、"))
        text, _ = compose_greeting(
            cat,
            "en",
            datetime(2025, 7, 1, 9),
            customer_name="",
            returning=bool(seed % 2),
            shop_name="Pine",
            rng=random.Random(seed),
        )
        assert ", !" not in text and " ," not in text and ",," not in text


def test_congratulation_comes_first_on_the_right_days(cat: PhraseCatalogue) -> None:
    text, key = compose_greeting(
        cat,
        "zh",
        datetime(2026, 2, 17, 10),
        customer_name="小林",
        returning=False,
        shop_name="松线小铺",
    )
    assert text.index("新春") < text.index("早上好")
    assert key.startswith("greeting.")
    text, _ = compose_greeting(
        cat, "en", datetime(2025, 12, 25, 19), customer_name="Ann", returning=True, shop_name="Pine"
    )
    assert text.startswith("Merry Christmas")
    text, _ = compose_greeting(
        cat,
        "en",
        datetime(2025, 7, 1, 19),
        customer_name="Ann",
        returning=True,
        shop_name="Pine",
        birthday=date(1991, 7, 1),
    )
    assert text.lower().startswith("happy birthday")
    plain, _ = compose_greeting(
        cat,
        "en",
        datetime(2025, 7, 2, 19),
        customer_name="Ann",
        returning=True,
        shop_name="Pine",
        birthday=date(1991, 7, 1),
    )
    assert "birthday" not in plain.lower() and "christmas" not in plain.lower()


def test_greeting_variants_added_by_the_owner_alternate(cat: PhraseCatalogue) -> None:
    """Optional variants: a second new-shopper greeting is used in turn, never twice in a row."""
    custom = cat.with_overrides(
        [Phrase("greeting.welcome_2", "greeting", "zh", "{time_of_day}呀～欢迎来逛", ("new",))])
    rng = random.Random(0)
    last = None
    for _ in range(20):
        _, key = compose_greeting(
            custom,
            "zh",
            datetime(2025, 7, 1, 9),
            customer_name=None,
            returning=False,
            shop_name="S",
            avoid=last,
            rng=rng,
        )
        assert key != last
        last = key


@pytest.mark.parametrize(("hour", "word"), [(8, "早上好"), (14, "下午好"), (21, "晚上好")])
def test_one_greeting_edit_is_used_at_every_hour_P3(
    cat: PhraseCatalogue, hour: int, word: str
) -> None:
    """The owner edits greeting.welcome once; {time_of_day} fits it to any hour."""
    custom = cat.with_overrides(
        [Phrase("greeting.welcome", "greeting", "zh",
                "{time_of_day}，{customer_name}！这里是{shop_name}", ("new",))])
    text, key = compose_greeting(
        custom,
        "zh",
        datetime(2025, 7, 1, hour),
        customer_name="阿明",
        returning=False,
        shop_name="松线小铺",
    )
    assert (text, key) == (f"{word}，阿明！这里是松线小铺", "greeting.welcome")


def test_an_owner_time_variant_is_preferred_at_its_time_only(cat: PhraseCatalogue) -> None:
    custom = cat.with_overrides(
        [Phrase("greeting.morning_special", "greeting", "zh", "早安！新品上架啦",
                ("new", "morning"))])
    morning, _ = compose_greeting(custom, "zh", datetime(2025, 7, 1, 9), customer_name=None,
                                  returning=False, shop_name="S")
    evening, key = compose_greeting(custom, "zh", datetime(2025, 7, 1, 20), customer_name=None,
                                    returning=False, shop_name="S")
    assert morning == "早安！新品上架啦"
    assert key == "greeting.welcome" and evening.startswith("晚上好")


def test_edits_of_the_old_sixteen_greetings_carry_over() -> None:
    """An owner who edited the old time-of-day greetings keeps their words, now at every hour:
    the latest edit per language and kind becomes the one greeting, its time word the
    placeholder; an edit of the new key itself always wins."""
    edits = [
        Phrase("greeting.morning_new_1", "greeting", "zh", "早上好！{shop_name}欢迎您",
               ("morning", "new")),
        Phrase("greeting.evening_new_2", "greeting", "zh",
               "{customer_name}晚上好，欢迎来{shop_name}", ("evening", "new")),
        Phrase("greeting.afternoon_returning_1", "greeting", "en",
               "Good afternoon, welcome back!", ("afternoon", "returning")),
        Phrase("greeting.hello_returning", "greeting", "zh", "您回来啦", ("returning",)),
        Phrase("greeting.welcome_back", "greeting", "zh", "{time_of_day}，欢迎回来～",
               ("returning",)),
        Phrase("farewell.goodbye_1", "farewell", "zh", "拜拜", ()),
    ]
    carried = {(p.lang, p.key): p for p in carry_over_greetings(edits)}
    welcome = carried[("zh", "greeting.welcome")]
    assert welcome.text == "{customer_name}{time_of_day}，欢迎来{shop_name}"
    assert carried[("zh", "greeting.welcome")].tags == ("new",)
    assert carried[("en", "greeting.welcome_back")].text == "{time_of_day}, welcome back!"
    assert carried[("zh", "greeting.welcome_back")].text == "{time_of_day}，欢迎回来～"
    assert ("zh", "farewell.goodbye_1") in carried
    assert not any("morning" in key or "hello_" in key for _, key in carried)
    catalogue = PhraseCatalogue.builtin().with_overrides(carried.values())
    text, _ = compose_greeting(catalogue, "zh", datetime(2025, 7, 1, 15), customer_name="小林",
                               returning=False, shop_name="松线小铺")
    assert text == "小林下午好，欢迎来松线小铺"


def test_p8_farewell_fits_the_hour(cat: PhraseCatalogue) -> None:
    for seed in range(20):
        text, key = compose_farewell(
            cat, "zh", datetime(2025, 7, 1, 10), shop_name="松线小铺", rng=random.Random(seed)
        )
        assert "晚安" not in text and "明天见" not in text and key.startswith("farewell.")


@pytest.mark.parametrize(("hour", "night"), [(10, False), (16, False), (19, False), (22, True),
                                             (2, True)])
def test_p8_good_night_only_at_night(cat: PhraseCatalogue, hour: int, night: bool) -> None:
    """晚安 is said from 21:00 to 04:59 only (no 晚安 at 16:20 or at 19:00)."""
    said = {compose_farewell(cat, "zh", datetime(2025, 7, 1, hour, 20), shop_name="S",
                             rng=random.Random(seed))[0] for seed in range(40)}
    assert any("晚安" in text for text in said) == night
