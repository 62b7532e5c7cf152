"""Body height and weight in the ways shoppers write them, and a size from a size chart.

Heights: 165 / 165cm / 165厘米 / 1米65 / 1.65m / 1m65 / 5ft6 / 5'6" / 5 foot 6 / 身高165.
Weights: 110斤 (½ kg each) / 55kg / 55公斤 / 130lbs / 130磅 / 体重55.
A bare second number (我165 110) is read as 斤 when it is 80 or more and the shopper writes
Chinese (how people say it in China), else as kilograms. No aiogram, no database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from phrases.lang import has_chinese

CM_PER_INCH = 2.54
KG_PER_LB = 0.45359237

_NUM = r"(\d{1,3}(?:\.\d+)?)"
HEIGHT_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(\d)\s*米\s*(\d{1,2})(?!\d)"), "mi"),  # 1米65
    (re.compile(r"(\d)\s*m\s*(\d{2})(?![\d.])", re.I), "mi"),  # 1m65
    (re.compile(r"(\d)\.(\d{2})\s*(?:m|米)(?![a-z])", re.I), "mi"),  # 1.65m
    (re.compile(r"(\d)\s*(?:ft|feet|foot|')\s*(\d{1,2})?\s*(?:in|inch|inches|\"|'')?",
                re.I), "ft"),  # 5ft6 / 5'6"
    (re.compile(_NUM + r"\s*(?:cm|厘米|公分)", re.I), "cm"),
    (re.compile(r"(?:身高|height|tall)\s*[:：]?\s*" + _NUM, re.I), "cm"),
)
WEIGHT_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(_NUM + r"\s*(?:斤)"), "jin"),
    (re.compile(_NUM + r"\s*(?:kg|kgs|公斤|千克|kilo|kilos)(?![a-z])", re.I), "kg"),
    (re.compile(_NUM + r"\s*(?:lbs|lb|pounds|磅)(?![a-z])", re.I), "lb"),
    (re.compile(r"(?:体重|weight|weigh)\s*[:：]?\s*" + _NUM, re.I), "kg?"),
)
BARE = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d)?)(?![\d.])")
# 200×230 (a duvet, a box) is a size of a thing, never a body: left out before looking.
DIMENSIONS = re.compile(r"\d+(?:\.\d+)?\s*[×xX*]\s*\d+(?:\.\d+)?(?:\s*[×xX*]\s*\d+(?:\.\d+)?)*")


@dataclass(frozen=True)
class Body:
    """What the shopper told us, in centimetres and kilograms, and as they wrote it."""

    height_cm: float | None
    weight_kg: float | None
    height_text: str = ""
    weight_text: str = ""

    @property
    def complete(self) -> bool:
        return self.height_cm is not None and self.weight_kg is not None


def _height(text: str) -> tuple[float | None, str, tuple[int, int] | None]:
    for pattern, unit in HEIGHT_FORMS:
        for match in pattern.finditer(text):
            if unit == "mi":
                cm = float(match.group(1)) * 100 + float(match.group(2).ljust(2, "0"))
            elif unit == "ft":
                inches = float(match.group(1)) * 12 + float(match.group(2) or 0)
                cm = inches * CM_PER_INCH
            else:
                cm = float(match.group(1))
            if 100 <= cm <= 230:  # the span starts at the number: "身高" stays a word
                return round(cm), match.group(0).strip(), (match.start(1), match.end())
    return None, "", None


def _weight(text: str, zh: bool) -> tuple[float | None, str, tuple[int, int] | None]:
    for pattern, unit in WEIGHT_FORMS:
        for match in pattern.finditer(text):
            value = float(match.group(1))
            shown = match.group(0).strip()
            if unit == "kg?":
                unit = "jin" if zh and value >= 80 else "kg"
                shown = f"{value:g}{'斤' if unit == 'jin' else 'kg'}"
            kg = value / 2 if unit == "jin" else value * KG_PER_LB if unit == "lb" else value
            if 25 <= kg <= 200:
                return round(kg, 1), shown, (match.start(1), match.end())
    return None, "", None


NO_BODY = Body(None, None)
_DIGIT_RE = re.compile(r"\d")

# Where a measurement sits in the text: (start, end, "height" | "weight").
Span = tuple[int, int, str]


def _blank(text: str, span: tuple[int, int]) -> str:
    return text[: span[0]] + " " * (span[1] - span[0]) + text[span[1]:]


def find_body(text: str) -> tuple[Body, tuple[Span, ...]]:
    """Height and weight found in a message (either may be missing), and where they are."""
    if _DIGIT_RE.search(text) is None:
        return NO_BODY, ()  # every form has a number: most messages have none
    zh = has_chinese(text)
    spans: list[Span] = []
    text = DIMENSIONS.sub(lambda m: " " * len(m.group(0)), text)
    height, height_text, h_span = _height(text)
    rest = text
    if h_span is not None:
        rest = _blank(rest, h_span)
        spans.append((*h_span, "height"))
    weight, weight_text, w_span = _weight(rest, zh)
    if w_span is not None:
        rest = _blank(rest, w_span)
        spans.append((*w_span, "weight"))
    bare = [(float(m.group(1)), m.span(1)) for m in BARE.finditer(rest)]
    if height is None and weight is not None:
        tall = [b for b in bare if 140 <= b[0] <= 210]
        if tall:
            height, height_text = tall[0][0], f"{tall[0][0]:g}"
            spans.append((*tall[0][1], "height"))
            bare.remove(tall[0])
    if height is None and weight is None and len(bare) >= 2 and 140 <= bare[0][0] <= 210:
        height, height_text = bare[0][0], f"{bare[0][0]:g}"
        spans.append((*bare[0][1], "height"))
        bare = bare[1:]
    if height is not None and weight is None and bare:
        value, span = bare[0]
        kg = value / 2 if zh and value >= 80 else value
        if 25 <= kg <= 200:
            weight = round(kg, 1)
            weight_text = f"{value:g}{'斤' if zh and value >= 80 else 'kg'}"
            spans.append((*span, "weight"))
    if height is not None and not re.search(r"[a-z米厘公'\"]", height_text, re.I):
        height_text = f"{height:g}cm"
    return Body(height, weight, height_text, weight_text), tuple(sorted(spans))


def parse_body(text: str) -> Body:
    """Height and weight found in a message (either may be missing)."""
    return find_body(text)[0]


# Every height and weight form above has a unit or a keyword next to a number; only the bare
# forms (我165 110) need two numbers. A text with neither is not searched (most are not).
_MAYBE_BODY = re.compile(
    r"\d\s*(?:cm|厘米|公分|米|m|ft|feet|foot|'|\"|斤|kg|公斤|千克|kilo|lb|pound|磅)"
    r"|身高|体重|height|weigh|tall", re.I)


def mark_body(text: str, marks: dict[str, str]) -> str:
    """`text` with each height or weight, in whatever unit, replaced by ``marks[kind]``.

    What the matcher sees instead of 165 / 5ft6 / 110斤 / 130lbs: a body measurement is one
    thing in every unit, so "5ft6 130lbs" and "175 cm and 80 kg" ask the same question.
    """
    if _DIGIT_RE.search(text) is None or (
            _MAYBE_BODY.search(text) is None and len(BARE.findall(text)) < 2):
        return text
    _, spans = find_body(text)
    for start, end, kind in reversed(spans):
        text = f"{text[:start]} {marks[kind]} {text[end:]}"
    return text


@dataclass(frozen=True)
class SizePick:
    """The size for a body, why (both / larger / nearest), and the next size up if any."""

    size: str
    reason: str
    looser: str | None


def _fits(value: float, bounds: Sequence[float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _index_for(value: float, chart: Sequence[dict[str, Any]], key: str) -> int:
    """The smallest size whose range reaches ``value`` (the largest if none does)."""
    for index, row in enumerate(chart):
        if value <= row[key][1]:
            return index
    return len(chart) - 1


def pick_size(chart: Sequence[dict[str, Any]], body: Body, fit: str = "regular") -> SizePick | None:
    """One size from a chart (rows smallest first) for a complete body; None without a chart.

    Both measures inside one size's ranges → that size. Otherwise each measure names its own
    size and the larger one is taken (linen and cotton do not stretch: between two sizes the
    larger one is the comfortable one).
    """
    if not chart or not body.complete:
        return None
    assert body.height_cm is not None and body.weight_kg is not None
    both = [i for i, row in enumerate(chart)
            if _fits(body.height_cm, row["height"]) and _fits(body.weight_kg, row["weight"])]
    if both:
        index, reason = both[0], "both"
    else:
        by_height = _index_for(body.height_cm, chart, "height")
        by_weight = _index_for(body.weight_kg, chart, "weight")
        index = max(by_height, by_weight)
        inside = (_fits(body.height_cm, chart[by_height]["height"])
                  and _fits(body.weight_kg, chart[by_weight]["weight"]))
        reason = "larger" if inside and by_height != by_weight else "nearest"
    looser = chart[index + 1]["size"] if index + 1 < len(chart) and fit != "loose" else None
    return SizePick(str(chart[index]["size"]), reason, looser)
