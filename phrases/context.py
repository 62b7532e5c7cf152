"""What "it" is: a message about the shopper's own after-sales case or order (P18, P19).

"亲 我刚才问的换货的事 有人处理吗", "我的退款到哪了", "where is my order": the FAQ would answer how
exchanges, refunds or deliveries work in general; a shopper with an open case or a recent
order wants where *theirs* stands. This module only reads the text (no I/O); the conversation
looks the case up (bot/services/cases.py). Word lists: data/lexicon/context.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from phrases.matching.lexicon import LEXICON_DIR
from phrases.normalize import normalize
from phrases.yaml_text import load_yaml

ORDER = "order"


@dataclass(frozen=True)
class About:
    """The subject of a message about the shopper's own case: a ticket kind ("return",
    "exchange", "repair"), ``ORDER``, or None when it only asks after "it" (有人处理吗)."""

    subject: str | None


@dataclass(frozen=True)
class ContextRules:
    own: tuple[re.Pattern[str], ...]
    progress: tuple[re.Pattern[str], ...]
    kinds: dict[str, tuple[re.Pattern[str], ...]]
    order: tuple[re.Pattern[str], ...]
    how: tuple[re.Pattern[str], ...]

    def about(self, text: str) -> About | None:
        """The case a message asks after, or None when it is not about one of the shopper's
        own (a general question such as "退货怎么退")."""
        folded = normalize(text).text
        own = any(p.search(folded) for p in self.own)
        progress = any(p.search(folded) for p in self.progress)
        if not progress and (not own or any(p.search(folded) for p in self.how)):
            return None  # "我的退货怎么寄回": how, not how far
        for kind, patterns in self.kinds.items():
            if any(p.search(folded) for p in patterns):
                return About(kind)
        if progress and any(p.search(folded) for p in self.order):
            return About(ORDER)  # "我的订单" alone may be about anything; where it is, not
        # "我刚才问的事 有人处理吗": no subject named, but clearly after one of their own.
        return About(None) if own and progress else None


@lru_cache(maxsize=1)
def context_rules() -> ContextRules:
    data = load_yaml((LEXICON_DIR / "context.yaml").read_text(encoding="utf-8"))

    def compiled(patterns: list[str]) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in patterns)

    return ContextRules(
        own=compiled(data["own"]), progress=compiled(data["progress"]),
        kinds={kind: compiled(p) for kind, p in data["kinds"].items()},
        order=compiled(data["order"]), how=compiled(data["how"]),
    )


def about_own_case(text: str) -> About | None:
    """See :meth:`ContextRules.about`."""
    return context_rules().about(text)
