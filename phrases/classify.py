"""Label queries with the bot's own matcher (the evaluation command; docs/faq-format.md).

    python -m phrases.classify --faq FAQ.yaml < QUERIES.jsonl > PREDICTIONS.jsonl

Labels: "smalltalk:<intent>" for an intent (ack, bot, complaint...; off-topic chit-chat is
"oos"), the FAQ id for a confident answer, else "oos" (clarify and none both mean the bot
does not answer from the FAQ). Runs offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator

from phrases.faq_file import load_faq_file
from phrases.understand import Intent, Understander, Understanding


def label_of(u: Understanding) -> str:
    """The eval label of one understanding."""
    if u.intent is Intent.OFFTOPIC:
        return "oos"  # off-topic chit-chat is out of scope: never an FAQ answer
    if u.intent is not None:
        return f"smalltalk:{u.intent.value}"
    if u.decision == "answer" and u.best is not None:
        return u.best.entry_id
    return "oos"


def classify_lines(understander: Understander, lines: Iterable[str]) -> Iterator[dict[str, str]]:
    """One {"text", "label"} record per non-empty JSON line."""
    for line in lines:
        if not line.strip():
            continue
        text = json.loads(line)["text"]
        yield {"text": text, "label": label_of(understander.understand(text))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faq", required=True, help="FAQ YAML file (docs/faq-format.md)")
    args = parser.parse_args(argv)
    faq = load_faq_file(args.faq)
    understander = Understander(faq.entries, smalltalk=faq.smalltalk)
    for record in classify_lines(understander, sys.stdin):
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
