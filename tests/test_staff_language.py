"""Staff screens in the shop's language from phrase data (policy §七 words for staff too):
every staff text exists in zh and en with the same placeholders, passes the tone guard (P9),
and people are shown by name, escaped, within Telegram's limits."""

from __future__ import annotations

import pytest

from phrases.catalogue import PhraseCatalogue
from phrases.staff import NAME_LIMIT, StaffWords, topic_name
from phrases.templates import placeholders_in
from phrases.tone import check_tone

CATALOGUE = PhraseCatalogue.builtin()


def staff_keys(lang: str) -> dict[str, str]:
    return {p.key: p.text for p in CATALOGUE.categories(lang)["staff"]}


def test_every_staff_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    zh, en = staff_keys("zh"), staff_keys("en")
    assert zh and set(zh) == set(en), set(zh) ^ set(en)
    for key in zh:
        assert placeholders_in(zh[key]) == placeholders_in(en[key]), key


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_staff_texts_pass_the_tone_guard_P9(lang: str) -> None:
    """Some staff texts reach shoppers' eyes indirectly (quoted, forwarded): none is negative."""
    bad = {k: t for k, t in staff_keys(lang).items() if not check_tone(t).ok}
    assert not bad


def test_words_fall_back_and_an_unknown_key_is_visible() -> None:
    zh, en = StaffWords(CATALOGUE, "zh"), StaffWords(CATALOGUE, "en")
    assert zh("topic.waiting") == "⏳ 等待中" and en("topic.waiting") == "⏳ waiting"
    assert zh("no.such.key") == "no.such.key"
    assert zh.label("order", "shipped") == "已发货" and zh.label("order", "lost") == "lost"


def test_topic_names_are_names_within_128_characters() -> None:
    assert topic_name("李雷", "⏳ 等待中") == "李雷 · ⏳ 等待中"
    long = topic_name("<b>" * 100, "👤 王芳")
    assert len(long) <= NAME_LIMIT and long.endswith(" · 👤 王芳")
