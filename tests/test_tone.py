"""Negative-language guard (policy P9, §七.11)."""

from __future__ import annotations

import pytest

from phrases.tone import ToneReport, check_tone, negative_terms


@pytest.mark.parametrize("term", ["我不能", "我不会", "我不愿意", "我不能够", "可是"])
def test_p9_every_policy_term_is_found(term: str) -> None:
    report = check_tone(f"亲，{term}这样做")
    assert not report.ok
    assert [p.term for p in report.problems] == [term]
    assert term not in report.rewrite


def test_p9_longest_term_wins() -> None:
    report = check_tone("我不能够保证")
    assert [(p.term, p.start, p.end) for p in report.problems] == [("我不能够", 0, 4)]
    assert report.rewrite == "这边可以先为您看看能怎么处理"  # an offer, not "暂时无法"


def test_p9_positions_and_suggestions() -> None:
    text = "我不能退款，可是可以换货"
    report = check_tone(text)
    assert [text[p.start : p.end] for p in report.problems] == ["我不能", "可是"]
    assert all(p.suggestion for p in report.problems)
    assert report.rewrite == "这边可以先为您看看能怎么处理，不过可以换货"


@pytest.mark.parametrize(
    "text",
    [
        "I can't do that",
        "I cannot",
        "i CAN’T ship",
        "I won't",
        "I will not",
        "I'm not willing to wait",
        "I am not willing",
        "Sorry, but no",
        "We can't",
        "we cannot",
    ],
)
def test_p9_english_equivalents_case_and_apostrophe_insensitive(text: str) -> None:
    assert not check_tone(text).ok


@pytest.mark.parametrize(
    "text",
    [
        "Butter cotton",
        "a rebuttal",
        "I can help",
        "I can notify you",
        "buttons",
        "Abut",
        "",
    ],
)
def test_p9_word_boundaries_avoid_false_alarms(text: str) -> None:
    assert check_tone(text).ok


def test_p9_rewrite_keeps_sentence_case_and_is_clean() -> None:
    report = check_tone("Sorry. But the parcel is late.")
    assert report.rewrite == "Sorry. And the parcel is late."
    assert check_tone(report.rewrite).ok


def test_p9_every_rewrite_passes_the_guard() -> None:
    for terms in negative_terms().values():
        for term, rewrite in terms.items():
            assert rewrite, term
            assert check_tone(rewrite).ok, (term, rewrite)


def test_p9_owner_can_extend_and_override() -> None:
    report = check_tone(
        "太难搞，我不能", extra_terms={"太难搞": "我来想想办法", "我不能": "这边马上为您处理"}
    )
    assert [p.term for p in report.problems] == ["太难搞", "我不能"]
    assert report.rewrite == "我来想想办法，这边马上为您处理"
    assert check_tone("太难搞").ok  # extensions are per call
    assert check_tone("可是", without=["可是"]).ok  # the owner removed a term


def test_clean_text_is_ok_and_unchanged() -> None:
    report = check_tone("好的，马上为您处理～")
    assert report == ToneReport((), "好的，马上为您处理～")
    assert report.ok


@pytest.mark.parametrize("text", [
    "这个没办法换，不行",  # an agent's reply that went through before
    "不好意思，这个我们不能退，没办法。",  # an owner's template that went through before
    "不可能", "这不是我们的问题", "随便你", "爱买不买", "That's not my problem.", "Whatever.",
])
def test_p9_everyday_refusals_and_blame_are_caught_with_an_offer(text: str) -> None:
    """§七.11 "避免使用负面语言…等": the 等 covers shop chat's everyday refusals and blame."""
    report = check_tone(text)
    assert not report.ok
    assert check_tone(report.rewrite).ok, report.rewrite
    assert "无法" not in report.rewrite and "not able" not in report.rewrite  # no refusal left


def test_p9_rewrites_offer_what_can_be_done() -> None:
    report = check_tone("不好意思，这个我们不能退，没办法。")
    assert report.rewrite.startswith("不好意思，") and report.rewrite.endswith("。")
    assert "这边可以先为您" in report.rewrite
    report = check_tone("Sorry, I can't refund this.")
    assert report.rewrite == "Sorry, let me see what I can do for you here."


@pytest.mark.parametrize("text", ["这可是爆款", "您看这样行不行？", "如果不行的话可以换货",
                                  "We'll do whatever you need"])
def test_p9_ambiguous_words_are_not_flagged_out_of_their_negative_sense(text: str) -> None:
    """可是 only as the conjunction "but" (not 这可是爆款); 行不行 is 商量语, not a refusal."""
    assert check_tone(text).ok


def test_p9_kesi_as_conjunction_is_flagged() -> None:
    report = check_tone("喜欢，可是太贵了")
    assert [p.term for p in report.problems] == ["可是"]
    assert report.rewrite == "喜欢，不过太贵了"
