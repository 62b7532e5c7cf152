"""The standard phrases of policy §七 (11 categories, zh + en) and how the bot picks them."""

from __future__ import annotations

import random

import pytest

from phrases.catalogue import (
    ALL_CATEGORIES,
    CATEGORIES,
    SITUATIONS,
    Phrase,
    PhraseCatalogue,
    holding_reply,
    parse_phrase_file,
    say,
)
from phrases.templates import placeholders_in, validate_template
from phrases.tone import check_tone


@pytest.fixture(scope="module")
def cat() -> PhraseCatalogue:
    return PhraseCatalogue.builtin()


def test_policy_7_has_eleven_categories() -> None:
    assert len(CATEGORIES) == 11
    assert CATEGORIES[0] == "greeting" and CATEGORIES[-1] == "negative"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("category", CATEGORIES)
def test_policy_7_every_category_has_several_phrases(
    cat: PhraseCatalogue, category: str, lang: str
) -> None:
    phrases = [p for p in cat.all() if p.category == category and p.lang == lang]
    assert len(phrases) >= 2, (category, lang)


def test_p9_no_builtin_phrase_contains_negative_language(cat: PhraseCatalogue) -> None:
    bad = [
        (p.key, p.lang, p.text)
        for p in cat.all()
        if p.category != "negative" and not check_tone(p.text).ok
    ]
    assert bad == []


def test_negative_category_lists_the_p9_terms(cat: PhraseCatalogue) -> None:
    zh = {p.text for p in cat.find("negative", "zh")}
    assert {"我不能", "我不会", "我不愿意", "我不能够", "可是"} <= zh
    assert "I can't" in {p.text for p in cat.find("negative", "en")}


def test_every_builtin_phrase_is_a_valid_template(cat: PhraseCatalogue) -> None:
    def problems(p: Phrase) -> list[str]:  # staff texts have their own placeholders
        own = {n: n for n in placeholders_in(p.text)} if p.category == "staff" else None
        return validate_template(p.text, own)

    bad = [(p.key, p.lang, problems(p)) for p in cat.all() if problems(p)]
    assert bad == []


def test_keys_are_unique_and_mirrored_between_languages(cat: PhraseCatalogue) -> None:
    zh = {p.key for p in cat.all() if p.lang == "zh" and p.category != "negative"}
    en = {p.key for p in cat.all() if p.lang == "en" and p.category != "negative"}
    assert zh == en
    assert all(k.split(".")[0] in ALL_CATEGORIES for k in zh)


@pytest.mark.parametrize(
    ("category", "tags"),
    [
        ("greeting", ("new",)),  # P3: one greeting per language, time of day a placeholder
        ("greeting", ("returning",)),
        ("greeting", ("hello_again",)),
        ("congratulation", ("christmas",)),
        ("congratulation", ("new_year",)),
        ("congratulation", ("spring_festival",)),
        ("congratulation", ("birthday",)),
        ("congratulation", ("wedding",)),
        ("inquiry", ("clarify", "offer_human")),
        ("inquiry", ("which_one",)),
        ("explanation", ("queued", "offer_human")),
        ("explanation", ("off_hours",)),
        ("apology", ("holding",)),
        ("inquiry", ("holding",)),
        ("apology", ("complaint",)),
        ("thanks", ("reply",)),
        ("acknowledgement", ("thanks_reply",)),
        ("explanation", ("media",)),
        ("explanation", ("media", "sticker")),
        ("explanation", ("media", "photo")),
        ("explanation", ("media", "voice")),
        ("explanation", ("too_long",)),
        ("explanation", ("unknown_command",)),
        ("explanation", ("group_only_private",)),
        ("explanation", ("help",)),
    ],
)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_bot_finds_what_it_needs(
    cat: PhraseCatalogue, category: str, tags: tuple[str, ...], lang: str
) -> None:
    found = cat.find(category, lang, *tags)
    assert found and all(p.lang == lang for p in found)


def test_holding_and_clarify_have_variants(cat: PhraseCatalogue) -> None:
    for lang in ("zh", "en"):
        assert len(cat.find("apology", lang, "holding")) >= 3
        assert len(cat.find("inquiry", lang, "holding")) >= 3
        assert len(cat.find("inquiry", lang, "clarify", "offer_human")) >= 2


def test_off_hours_mentions_next_open(cat: PhraseCatalogue) -> None:
    text, _ = say(cat, "off_hours", "en", values={"next_open": "Sunday 09:30"})
    assert "Sunday 09:30" in text
    text, _ = say(cat, "off_hours", "zh", values={"next_open": "18:30"})
    assert "18:30" in text


def test_find_falls_back_to_the_other_language() -> None:
    cat = PhraseCatalogue([Phrase("farewell.bye", "farewell", "en", "Bye")])
    assert [p.text for p in cat.find("farewell", "zh")] == ["Bye"]
    assert cat.find("farewell", "zh", "evening") == []


def test_find_requires_all_tags(cat: PhraseCatalogue) -> None:
    found = cat.find("explanation", "zh", "media", "photo")
    assert found and all({"media", "photo"} <= set(p.tags) for p in found)
    assert len(found) < len(cat.find("explanation", "zh", "media"))


def test_pick_varies_and_avoids_the_last_key(cat: PhraseCatalogue) -> None:
    rng = random.Random(7)
    last = None
    seen = set()
    for _ in range(40):
        phrase = cat.pick("apology", "zh", "holding", avoid=last, rng=rng)
        assert phrase.key != last
        seen.add(phrase.key)
        last = phrase.key
    assert len(seen) >= 3


def test_pick_returns_avoid_when_it_is_the_only_one() -> None:
    cat = PhraseCatalogue([Phrase("farewell.bye", "farewell", "en", "Bye")])
    assert cat.pick("farewell", "en", avoid="farewell.bye").key == "farewell.bye"


def test_pick_relaxes_tags_from_the_end_in_the_same_language(cat: PhraseCatalogue) -> None:
    phrase = cat.pick("explanation", "zh", "media", "hologram")
    assert phrase.lang == "zh" and "media" in phrase.tags
    with pytest.raises(LookupError):
        PhraseCatalogue([]).pick("greeting", "zh")


def test_pick_skips_phrases_whose_values_are_unknown(cat: PhraseCatalogue) -> None:
    rng = random.Random(1)
    for _ in range(30):
        phrase = cat.pick("explanation", "zh", "queued", rng=rng)
        assert "{queue_position}" not in phrase.text and "{wait_minutes}" not in phrase.text
    phrase = cat.pick("explanation", "en", "queued", values={"queue_position": 3})
    assert "{queue_position}" in phrase.text


def test_with_overrides_replaces_same_key_and_lang(cat: PhraseCatalogue) -> None:
    own = Phrase("farewell.goodbye_1", "farewell", "zh", "慢走，欢迎常来{shop_name}！")
    new = cat.with_overrides([own, Phrase("farewell.extra", "farewell", "zh", "拜拜～")])
    assert new.get("farewell.goodbye_1", "zh") == own
    assert new.get("farewell.goodbye_1", "en") == cat.get("farewell.goodbye_1", "en")
    assert len(new.all()) == len(cat.all()) + 1
    assert cat.get("farewell.goodbye_1", "zh") != own  # the original is unchanged


def test_phrase_rejects_unknown_category() -> None:
    with pytest.raises(ValueError):
        Phrase("x.y", "weather", "zh", "晴")


def test_phrase_file_errors_are_readable() -> None:
    with pytest.raises(ValueError, match="unknown category"):
        parse_phrase_file({"lang": "zh", "phrases": {"weather": []}})
    with pytest.raises(ValueError, match="duplicate key"):
        parse_phrase_file(
            {
                "lang": "zh",
                "phrases": {
                    "farewell": [{"key": "a", "text": "再见"}, {"key": "a", "text": "拜拜"}]
                },
            }
        )
    with pytest.raises(ValueError, match="lang"):
        parse_phrase_file({"phrases": {}})


def test_every_situation_resolves_in_both_languages(cat: PhraseCatalogue) -> None:
    for situation in SITUATIONS:
        for lang in ("zh", "en"):
            text, key = say(cat, situation, lang)
            assert text and key and "{" not in text, (situation, lang, text)


def test_say_uses_values_and_extra_tags(cat: PhraseCatalogue) -> None:
    text, key = say(cat, "media", "en", "sticker")
    assert key == "explanation.media_sticker"
    text, _ = say(cat, "too_long", "zh", values={"max_length": 2000})
    assert "2000" in text


def test_holding_reply_joins_apology_and_inquiry_and_varies(cat: PhraseCatalogue) -> None:
    rng = random.Random(3)
    text, key = holding_reply(cat, "zh", rng=rng)
    apology, inquiry = key.split("+")
    assert apology.startswith("apology.") and inquiry.startswith("inquiry.")
    text2, key2 = holding_reply(cat, "zh", avoid=key, rng=rng)
    assert not set(key2.split("+")) & set(key.split("+"))
    assert check_tone(text).ok and check_tone(text2).ok


@pytest.mark.parametrize(("lang", "named", "unnamed"), [
    ("zh", "您好，我是客服阿青，接下来由我为您服务。", "您好，我是本店客服，接下来由我为您服务。"),
    ("en", "Hello, this is Ava. I'll be looking after you from here.",
     "Hello, this is a colleague from our team. I'll be looking after you from here.")])
def test_an_agent_without_a_name_joins_in_phrase_data_P3(
    cat: PhraseCatalogue, lang: str, named: str, unnamed: str,
) -> None:
    """agent_display_name gives "" for an agent the bot has no name for: the picker then
    says the unnamed phrase (owner-editable, zh and en), never "Hello, this is ." """
    name = {"zh": "阿青", "en": "Ava"}[lang]
    for _ in range(10):  # the picker varies: the named phrase wins whenever a name is known
        assert say(cat, "agent_joined", lang, values={"agent_name": name})[0] == named
        assert say(cat, "agent_joined", lang, values={"agent_name": ""})[0] == unnamed
