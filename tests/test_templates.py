"""Owner templates: safe placeholders (policy §七, P3)."""

from __future__ import annotations

import pytest

from phrases.catalogue import PhraseCatalogue
from phrases.staff import StaffWords
from phrases.templates import PLACEHOLDERS, placeholders_in, render, validate_template


def test_required_placeholders_are_known() -> None:
    for name in (
        "customer_name",
        "shop_name",
        "agent_name",
        "order_id",
        "next_open",
        "queue_position",
        "wait_minutes",
    ):
        assert name in PLACEHOLDERS


def test_valid_template_has_no_errors() -> None:
    assert validate_template("早上好，{customer_name}！欢迎光临{shop_name}") == []
    assert validate_template("literal {{braces}} are fine, {order_id}") == []
    assert validate_template("no placeholders at all") == []


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Hi {nickname}", "tpl.err.unknown"),
        ("{customer_name.__class__}", "tpl.err.attribute"),
        ("{customer_name[0]}", "tpl.err.attribute"),
        ("{shop_name!r}", "tpl.err.format_spec"),
        ("{shop_name:>99999}", "tpl.err.format_spec"),
        ("Hello {customer_name", "tpl.err.unclosed"),
        ("Hello customer_name}", "tpl.err.unmatched_close"),
        ("empty {}", "tpl.err.empty_field"),
        ("{ customer_name }", "tpl.err.bad_name"),
        ("{0}", "tpl.err.bad_name"),
    ],
)
def test_bad_templates_are_rejected_with_a_readable_reason(text: str, key: str) -> None:
    """Each problem names a staff phrase, read in the owner's language (zh + en)."""
    errors = validate_template(text)
    assert errors, text
    assert any(e.key == key for e in errors), errors
    for lang in ("zh", "en"):
        words = StaffWords(PhraseCatalogue.builtin(), lang)
        assert all(words.has(e.key) and str(e.values.get("pos")) in words.why(e)
                   for e in errors)


def test_validate_accepts_a_custom_allowed_set() -> None:
    assert validate_template("{sku}", allowed={"sku": "product code"}) == []
    assert validate_template("{customer_name}", allowed={"sku": "x"}) != []


def test_render_fills_values_as_plain_text() -> None:
    out = render(
        "Hi {customer_name}, order {order_id}", {"customer_name": "<b>Ann</b>", "order_id": 42}
    )
    assert out == "Hi <b>Ann</b>, order 42"  # no escaping here: the bot escapes later


def test_render_never_reaches_attributes() -> None:
    class Spy:
        def __getattr__(self, name: str) -> str:
            raise AssertionError("attribute access")

        def __str__(self) -> str:
            return "spy"

    assert render("{customer_name.__class__}", {"customer_name": Spy()}) == (
        "{customer_name.__class__}"
    )
    assert render("{customer_name[0]}", {"customer_name": "abc"}) == "{customer_name[0]}"


@pytest.mark.parametrize(
    "text",
    ["{", "}", "{{", "}}}", "{customer_name", "{0}", "{:>999999999}", "{x!r}", "\x00{shop_name}"],
)
def test_render_never_raises_on_odd_templates(text: str) -> None:
    assert isinstance(render(text, {"shop_name": "S"}), str)


def test_render_survives_values_that_fail_to_print() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    assert render("Hello, {customer_name}!", {"customer_name": Broken()}) == "Hello!"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Good morning, {customer_name}! Welcome.", "Good morning! Welcome."),
        ("Hi {customer_name}, welcome back", "Hi, welcome back"),
        ("早上好，{customer_name}！欢迎光临", "早上好！欢迎光临"),
        ("{customer_name}早上好，欢迎回来", "早上好，欢迎回来"),
        ("{customer_name}，您好", "您好"),
        ("早上好，{customer_name}，您回来了！", "早上好，您回来了！"),
        ("order {order_id} has shipped", "order has shipped"),
        ("Thanks, {customer_name}", "Thanks"),
    ],
)
def test_missing_values_leave_neutral_text(text: str, expected: str) -> None:
    assert render(text, {}) == expected
    assert render(text, {"customer_name": None, "order_id": ""}) == expected


def test_unknown_names_and_escapes_stay_literal() -> None:
    assert render("{{shop_name}} {unknown}", {"shop_name": "S"}) == "{shop_name} {unknown}"


def test_placeholders_in() -> None:
    assert placeholders_in("{a} {{b}} {c.d} {e}") == {"a", "e"}
