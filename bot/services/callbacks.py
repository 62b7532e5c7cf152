"""The callback data the services write under their buttons, aiogram-free.

Each function mirrors one ``CallbackData`` factory of handlers/keyboards.py, which reads the
string back (typed) when the button is pressed; tests/test_keyboards.py checks that each packs
exactly what its factory packs. The formats never change: buttons sent before an upgrade are
still under people's messages.
"""

from __future__ import annotations

ASK_HUMAN = "human"  # keyboards.AskHuman
TONE_REWRITE, TONE_ORIGINAL = "rw", "og"  # keyboards.ToneChoice.choice


def faq_pick(entry: str) -> str:
    """keyboards.FaqPick: one of two close FAQ entries (P4)."""
    return f"faq:{entry}"


def faq_feedback(helpful: bool, entry: str) -> str:
    """keyboards.FaqFeedback: 👍 / 👎 under an FAQ answer (P2)."""
    return f"fb:{'up' if helpful else 'down'}:{entry}"


def product(action: str, product_id: int) -> str:
    """keyboards.ProductAction: pick / details / sizes / rec (P5, P6)."""
    return f"prod:{action}:{product_id}"


def survey_score(survey_id: int, score: int) -> str:
    """keyboards.SurveyScore (P21)."""
    return f"sv:{survey_id}:{score}"


def survey_skip(survey_id: int) -> str:
    """keyboards.SurveySkip."""
    return f"svskip:{survey_id}"


def follow_up(row_id: int, outcome: str) -> str:
    """keyboards.FollowUpAnswer: ok / problem (P17)."""
    return f"fu:{row_id}:{outcome}"


def follow_up_score(row_id: int, aspect: str, score: int) -> str:
    """keyboards.FollowUpScore (P17)."""
    return f"fq:{row_id}:{aspect}:{score}"


def tone(choice: str, hit_id: int) -> str:
    """keyboards.ToneChoice: send the rewrite or the original (P9)."""
    return f"tg:{choice}:{hit_id}"
