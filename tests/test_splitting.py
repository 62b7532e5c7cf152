"""Splitting long answers into several messages (policy P2)."""

from __future__ import annotations

import pytest

from phrases.splitting import TELEGRAM_LIMIT, split_message, units


def _joined(parts: list[str]) -> str:
    return "".join("".join(p.split()) for p in parts)


def test_p2_short_text_is_one_message() -> None:
    assert split_message("  你好  ") == ["你好"]
    assert split_message("") == []
    assert split_message(" \n ") == []


def test_p2_paragraphs_are_kept_whole_when_they_fit() -> None:
    paras = ["第一段。" * 20, "第二段。" * 20, "第三段。" * 20]  # 80 chars each
    parts = split_message("\n\n".join(paras), limit=200)
    assert parts == ["\n\n".join(paras[:2]), paras[2]]


def test_p2_chinese_sentences() -> None:
    text = "".join(f"这是第{i}句话，内容比较长一些。" for i in range(40))
    parts = split_message(text, limit=100)
    assert len(parts) > 1
    assert all(units(p) <= 100 for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert _joined(parts) == _joined([text])


def test_p2_english_sentences_never_cut_mid_word() -> None:
    text = " ".join(f"Sentence number {i} talks about linen shirts and care!" for i in range(30))
    parts = split_message(text, limit=120)
    assert all(units(p) <= 120 for p in parts)
    assert all(p.endswith("!") for p in parts)
    words = set(text.split())
    for part in parts:
        assert set(part.split()) <= words


def test_p2_decimal_point_is_not_a_sentence_end() -> None:
    text = "Price 3.5 yuan. " * 3
    parts = split_message(text, limit=16)
    assert "Price 3.5 yuan." in parts


def test_p2_long_sentence_falls_back_to_words_then_hard_cut() -> None:
    text = "word " * 100
    parts = split_message(text, limit=50)
    assert all(units(p) <= 50 for p in parts)
    assert all(set(p.split()) == {"word"} for p in parts)
    blob = "x" * 120
    assert split_message(blob, limit=50) == ["x" * 50, "x" * 50, "x" * 20]


def test_p2_hard_cap_is_telegram_limit() -> None:
    text = "a" * 10000
    parts = split_message(text, limit=100000)
    assert all(units(p) <= TELEGRAM_LIMIT for p in parts)
    assert "".join(parts) == text


def test_p2_emoji_count_as_two_units() -> None:
    assert units("😊") == 2
    parts = split_message("😊" * 10, limit=5)
    assert all(units(p) <= 5 for p in parts)
    assert "".join(parts) == "😊" * 10


@pytest.mark.parametrize("limit", [1, 7, 33, 350])
def test_p2_nothing_is_lost(limit: int) -> None:
    text = "亲，您好！我们的亚麻衬衫建议冷水手洗。\nWash cold, dry flat. Thanks!\n\n第二段：谢谢。"
    parts = split_message(text, limit=limit)
    assert all(units(p) <= limit for p in parts)
    assert _joined(parts) == _joined([text])
