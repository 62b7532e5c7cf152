"""The catalogue's words: phrases of the owner-editable catalogue (phrases.*.yaml), by situation.

The situations are the catalogue's own (kept here, beside the code that says them, so the
shared table in ``phrases.catalogue`` stays the conversation's); the phrases themselves are
ordinary §七 phrases the owner can change with /settemplate (placeholders and P9 checked).
"""

from __future__ import annotations

from collections.abc import Mapping

from phrases.catalogue import PhraseCatalogue

SITUATIONS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "product_price": ("explanation", ("product_price",)),
    "product_promo": ("explanation", ("product_promo",)),
    "product_in_stock": ("explanation", ("product_in_stock",)),
    "product_restock": ("explanation", ("product_restock",)),  # extra tag: restock_date
    "product_sold_out": ("explanation", ("product_sold_out",)),
    "product_options": ("explanation", ("product_options",)),
    "product_material": ("explanation", ("product_material",)),
    "product_care": ("explanation", ("product_care",)),
    "product_fit": ("explanation", ("product_fit",)),
    "product_card": ("explanation", ("product_card",)),
    "product_which": ("inquiry", ("product_which",)),
    "size_advice": ("explanation", ("size_advice",)),
    "size_advice_loose": ("explanation", ("size_advice_loose",)),
    "size_advice_no_chart": ("explanation", ("size_advice_no_chart",)),
    "size_need_body": ("inquiry", ("size_need_body",)),
    "size_which": ("inquiry", ("size_which",)),  # measurements given, no product: which item
    "measure_which": ("inquiry", ("measure_which",)),  # 衣长多少 with no product: which item
    "measure_sizes": ("explanation", ("measure_sizes",)),
    "measure_unknown": ("explanation", ("measure_unknown",)),
    "measure_name": ("explanation", ("measure_name",)),  # extra tag: length / chest / …
    "size_reason": ("explanation", ("size_reason",)),  # extra tag: both / larger / nearest
    "recommend_intro": ("explanation", ("recommend_intro",)),
    "recommend_none": ("explanation", ("recommend_none",)),
    "recommend_caption": ("explanation", ("recommend_caption",)),
    "cross_sell": ("explanation", ("cross_sell",)),
    "product_button": ("explanation", ("product_button",)),  # extra tag: details / sizes
    "catalogue_imported": ("explanation", ("catalogue_imported",)),
    "catalogue_rejected": ("explanation", ("catalogue_rejected",)),
    "payment_reminder": ("inquiry", ("payment_reminder",)),  # 催付
}

# Situations whose phrase is a photo's caption: Telegram takes 1,024 characters there, not 4,096.
CAPTION_SITUATIONS = frozenset({"recommend_caption"})

FIT_NAMES = {
    "zh": {"slim": "修身版型", "regular": "常规版型", "loose": "宽松版型"},
    "en": {"slim": "slim fit", "regular": "regular fit", "loose": "relaxed fit"},
}


def product_say(
    catalogue: PhraseCatalogue, situation: str, lang: str, *extra_tags: str,
    values: Mapping[str, object] | None = None, avoid: str | None = None,
) -> tuple[str, str]:
    """Rendered text and key of the phrase for a catalogue situation in ``lang``."""
    category, tags = SITUATIONS[situation]
    values = values or {}
    phrase = catalogue.pick(category, lang, *tags, *extra_tags, avoid=avoid, values=values)
    return phrase.render(values), phrase.key


def money(cents: int, lang: str) -> str:
    """¥199 / ¥199.50: the shop's prices are in yuan (CNY)."""
    yuan = f"{cents // 100}" if cents % 100 == 0 else f"{cents / 100:.2f}"
    return f"¥{yuan}"
