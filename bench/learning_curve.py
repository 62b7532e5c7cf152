"""The learning loop, measured: the owner turns the unanswered-questions inbox into phrasings.

    python bench/learning_curve.py [--eval-dir ../shared/eval] [--steps 0,5,10,20] [--splits 5]

Per suite, dev.jsonl is split in two halves (stratified by label). The first half plays the
shoppers of past weeks: what the bot did not answer lands in the inbox, grouped as the owner
sees it (``owner_admin.group_questions``, biggest group first). For the k biggest groups whose
question belongs to an FAQ entry, the owner taps "add as a phrasing" (the group's first
question becomes an alternative phrasing of its entry, as ``inbox_to_phrasing`` does); groups
of out-of-scope questions are dismissed and not counted. After each k the matcher is rebuilt
and the held-out second half is scored: faq_top1 (hit rate) and oos_false_accept.

Honest figures: one split's held-out half has ~30 out-of-scope questions (zh), so a single
question moves oos_false_accept by 0.033. Every figure is the mean over ``--splits`` random
halvings (seeds SEED, SEED+1, ...), with the total counts behind it.

Guard "preview" is the owner reading the preview before saving (``faq_changes``): a phrasing
is refused when it would answer a dismissed (known out-of-scope) question from the FAQ
(``newly_answered``), or when it pulls a dismissed question's score for its entry up into the
answer zone (``pulled_in``).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.services.faq_changes import newly_answered, pulled_in  # noqa: E402
from bot.services.owner_admin import Question, group_questions  # noqa: E402
from phrases.classify import label_of  # noqa: E402
from phrases.faq_file import FaqFile, load_faq_file  # noqa: E402
from phrases.understand import Understander  # noqa: E402

SUITES = ("zh-shop", "en-retail")
SEED = 15


def load_jsonl(path: Path) -> list[dict[str, str]]:
    import json

    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def halves(rows: list[dict[str, str]], seed: int = SEED
           ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Every label split evenly between a 'past' half and a held-out half."""
    rng = random.Random(seed)
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


@dataclass(frozen=True)
class Step:
    """One point of the curve on one split, with the counts behind the rates."""

    k: int
    added: int
    refused: int
    hits: int
    faq: int
    false_accepts: int
    oos: int


def score(understander: Understander, rows: list[dict[str, str]]) -> tuple[int, int, int, int]:
    """(right FAQ answers, FAQ questions, out-of-scope questions answered, out-of-scope)."""
    faq = [r for r in rows if is_faq(r["label"])]
    oos = [r for r in rows if r["label"] == "oos"]
    hit = sum(label_of(understander.understand(r["text"])) == r["label"] for r in faq)
    fa = sum(is_faq(label_of(understander.understand(r["text"]))) for r in oos)
    return hit, len(faq), fa, len(oos)


def with_phrasings(faq: FaqFile, extra: dict[str, list[str]]) -> Understander:
    entries = [dataclasses.replace(e, alt=(*e.alt, *extra.get(e.id, ()))) for e in faq.entries]
    return Understander(entries, smalltalk=faq.smalltalk)


def curve(eval_dir: Path, suite: str, steps: list[int], guard: bool = True,
          seed: int = SEED) -> list[Step]:
    """The curve on one split: a Step per k."""
    faq = load_faq_file(eval_dir / suite / "faq.yaml")
    past, held = halves(load_jsonl(eval_dir / suite / "dev.jsonl"), seed)
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
            if guard and (newly_answered(current.understand, trial, dismissed)
                          or pulled_in(current.understand, trial, key, dismissed)):
                refused += 1  # the preview flags it: it would answer a dismissed question
                continue
            extra, current = trial_extra, trial
        done = max(done, k)
        added = sum(len(v) for v in extra.values())
        out.append(Step(k, added, refused, *score(current, held)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--steps", default="0,5,10,20")
    parser.add_argument("--splits", type=int, default=5, help="random halvings averaged")
    args = parser.parse_args()
    eval_dir = args.eval_dir if args.eval_dir.exists() else Path("/work/shared/eval")
    steps = [int(s) for s in args.steps.split(",")]
    print(f"Means over {args.splits} random halvings of dev.jsonl; counts summed over them.")
    print("| suite | inbox groups offered (k) | guard | phrasings added | refused "
          "| held-out faq_top1 | right / FAQ questions | held-out oos_false_accept "
          "| answered / out-of-scope |")
    print("|---|---|---|---|---|---|---|---|---|")
    for suite in SUITES:
        for guard in (False, True):
            runs = [curve(eval_dir, suite, steps, guard, SEED + i) for i in range(args.splits)]
            for at in zip(*runs, strict=True):
                n = len(at)
                hits, faq = sum(s.hits for s in at), sum(s.faq for s in at)
                fas, oos = sum(s.false_accepts for s in at), sum(s.oos for s in at)
                added, refused = sum(s.added for s in at) / n, sum(s.refused for s in at) / n
                print(f"| {suite} | {at[0].k} | {'preview' if guard else 'off'} "
                      f"| {added:.1f} | {refused:.1f} "
                      f"| {hits / faq:.3f} | {hits}/{faq} | {fas / max(oos, 1):.3f} "
                      f"| {fas}/{oos} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
