"""The learning loop, measured: the owner turns the unanswered-questions inbox into phrasings.

    python bench/learning_curve.py [--eval-dir ../shared/eval] [--steps 0,5,10,20]

Per suite, dev.jsonl is split in two halves (stratified by label, fixed seed). The first half
plays the shoppers of past weeks: what the bot did not answer lands in the inbox, grouped as
the owner sees it (``owner_admin.group_questions``, biggest group first). For the k biggest
groups whose question belongs to an FAQ entry, the owner taps "add as a phrasing" (the group's
first question becomes an alternative phrasing of its entry, as ``inbox_to_phrasing`` does);
groups of out-of-scope questions are dismissed and not counted. Dismissed questions are known
out of scope: a phrasing that would make the matcher answer one of them from the FAQ is
refused, as the owner's preview flags it (``faq_changes.newly_answered``). After each k the
matcher is rebuilt and the held-out second half is scored: faq_top1 (hit rate) and
oos_false_accept.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.services.faq_changes import newly_answered  # noqa: E402
from bot.services.owner_admin import Question, group_questions  # noqa: E402
from phrases.classify import label_of  # noqa: E402
from phrases.faq_file import FaqFile, load_faq_file  # noqa: E402
from phrases.understand import Understander  # noqa: E402

SUITES = ("zh-shop", "en-retail")
SEED = 15


def load_jsonl(path: Path) -> list[dict[str, str]]:
    import json

    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def halves(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Every label split evenly between a 'past' half and a held-out half."""
    rng = random.Random(SEED)
    by_label: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_label.setdefault(row["label"], []).append(row)
    past, held = [], []
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        past += group[::2]
        held += group[1::2]
    return past, held


def is_faq(label: str) -> bool:
    return label != "oos" and not label.startswith("smalltalk:")


def score(understander: Understander, rows: list[dict[str, str]]) -> tuple[float, float]:
    faq = [r for r in rows if is_faq(r["label"])]
    oos = [r for r in rows if r["label"] == "oos"]
    hit = sum(label_of(understander.understand(r["text"])) == r["label"] for r in faq)
    fa = sum(is_faq(label_of(understander.understand(r["text"]))) for r in oos)
    return hit / len(faq), (fa / len(oos) if oos else 0.0)


def with_phrasings(faq: FaqFile, extra: dict[str, list[str]]) -> Understander:
    entries = [dataclasses.replace(e, alt=(*e.alt, *extra.get(e.id, ()))) for e in faq.entries]
    return Understander(entries, smalltalk=faq.smalltalk)


def curve(eval_dir: Path, suite: str, steps: list[int],
          guard: bool = True) -> list[tuple[int, int, int, float, float]]:
    """(k, phrasings added, refused, held-out hit rate, held-out false accepts) per step."""
    faq = load_faq_file(eval_dir / suite / "faq.yaml")
    past, held = halves(load_jsonl(eval_dir / suite / "dev.jsonl"))
    base = Understander(faq.entries, smalltalk=faq.smalltalk)
    lang = "zh" if suite.startswith("zh") else "en"
    gold = {r["text"]: r["label"] for r in past}
    inbox = [Question(i, r["text"], lang) for i, r in enumerate(past)
             if not is_faq(label_of(base.understand(r["text"])))]
    groups = group_questions(inbox)
    # The owner's work, in inbox order: one phrasing per group that belongs to an entry; the
    # out-of-scope groups are dismissed, and so become known out-of-scope questions.
    work = [(gold[g.first.text], g.first.text) for g in groups if is_faq(gold[g.first.text])]
    dismissed = [q.text for g in groups if gold[g.first.text] == "oos" for q in g.questions]
    out = []
    extra: dict[str, list[str]] = {}
    current, done, refused = base, 0, 0
    for k in steps:
        for key, text in work[done:k]:
            trial_extra = {**extra, key: [*extra.get(key, []), text]}
            trial = with_phrasings(faq, trial_extra)
            if guard and newly_answered(current.understand, trial, dismissed):
                refused += 1  # the preview flags it: it would answer a dismissed question
                continue
            extra, current = trial_extra, trial
        done = max(done, k)
        added = sum(len(v) for v in extra.values())
        hit, fa = score(current, held)
        out.append((k, added, refused, hit, fa))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--steps", default="0,5,10,20")
    args = parser.parse_args()
    eval_dir = args.eval_dir if args.eval_dir.exists() else Path("/work/shared/eval")
    steps = [int(s) for s in args.steps.split(",")]
    print("| suite | inbox groups offered (k) | guard | phrasings added | refused "
          "| held-out faq_top1 | held-out oos_false_accept |")
    print("|---|---|---|---|---|---|---|")
    for suite in SUITES:
        for guard in (False, True):
            for k, added, refused, hit, fa in curve(eval_dir, suite, steps, guard):
                print(f"| {suite} | {k} | {'on' if guard else 'off'} | {added} | {refused} "
                      f"| {hit:.3f} | {fa:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
