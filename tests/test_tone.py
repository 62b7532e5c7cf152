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
    assert report.rewrite == "这边暂时无法保证"


def test_p9_positions_and_suggestions() -> None:
    text = "我不能退款，可是可以换货"
    report = check_tone(text)
    assert [text[p.start : p.end] for p in report.problems] == ["我不能", "可是"]
    assert all(p.suggestion for p in report.problems)
    assert report.rewrite == "这边暂时无法退款，不过可以换货"


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
    report = check_tone("But I can't ship today.")
    assert report.rewrite == "And I'm not able to ship today."
    assert check_tone(report.rewrite).ok


def test_p9_every_rewrite_passes_the_guard() -> None:
    for terms in negative_terms().values():
        for term, rewrite in terms.items():
            assert rewrite, term
            assert check_tone(rewrite).ok, (term, rewrite)


def test_p9_owner_can_extend_and_override() -> None:
    report = check_tone(
        "没办法，我不能", extra_terms={"没办法": "我来想想办法", "我不能": "这边暂不"}
    )
    assert [p.term for p in report.problems] == ["没办法", "我不能"]
    assert report.rewrite == "我来想想办法，这边暂不"
    assert check_tone("没办法").ok  # extensions are per call


def test_clean_text_is_ok_and_unchanged() -> None:
    report = check_tone("好的，马上为您处理～")
    assert report == ToneReport((), "好的，马上为您处理～")
    assert report.ok
