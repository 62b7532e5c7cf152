"""FAQ / small-talk figures of both eval suites: plain (whole dev set) and k-fold cross-validated.

    python bench/eval_faq.py [--split dev] [--eval-dir ../shared/eval] [--errors] [--cv 5]

Plain: `python -m phrases.classify` on each file, scored by the suite's score.py.

Cross-validated (--cv K): a suite's dev.jsonl and talk-dev.jsonl together are split into K
folds (stratified by label, fixed seed). For each fold the constants (answer threshold and
low-zone factor of the suite's language, the weight of lexicon concepts) are chosen on the
other K-1 folds only — the best faq_top1 with oos_false_accept ≤ 0.05 there — and the
held-out fold is labelled with them; the pooled held-out labels are scored per file.
What CV cannot refit: the lexicon lines and intent rules are hand-written and the same in
every fold.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from phrases.classify import label_of  # noqa: E402
from phrases.faq_file import FaqFile, load_faq_file  # noqa: E402
from phrases.matching.features import W_CONCEPT  # noqa: E402
from phrases.understand import ANSWER_THRESHOLD, LOW_FACTOR, Understander  # noqa: E402

SUITES = {"zh-shop": "zh", "en-retail": "en"}
FILES = ("dev", "talk-dev")
MAX_FALSE_ACCEPT = 0.05
SEED = 15
# The grid CV chooses from: thresholds around each language's default, low-zone factors.
GRID_STEPS = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0)
LOW_FACTORS = (0.6, 0.7, 0.8, 0.9, 1.0)
CONCEPT_WEIGHTS = (0.7, 1.0, 1.4, 2.0)  # weight of a word class (lexicon concept) feature


def load_jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def scorer(eval_dir: Path) -> ModuleType:
    """The suite's own score.py, imported (the same code the command line runs)."""
    spec = importlib.util.spec_from_file_location("shared_score", eval_dir / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_plain(eval_dir: Path, suite: str, split: str, show_errors: bool) -> str:
    """`python -m phrases.classify` as a subprocess, scored by score.py (the README's way)."""
    faq = eval_dir / suite / "faq.yaml"
    queries = eval_dir / suite / f"{split}.jsonl"
    with tempfile.NamedTemporaryFile("w+", suffix=".jsonl", delete=False) as out:
        with queries.open(encoding="utf-8") as inp:
            subprocess.run([sys.executable, "-m", "phrases.classify", "--faq", str(faq)],
                           stdin=inp, stdout=out, check=True, cwd=ROOT)
        pred_path = Path(out.name)
    score = subprocess.run([sys.executable, str(eval_dir / "score.py"), str(queries),
                            str(pred_path)], capture_output=True, text=True, check=True)
    if show_errors:
        gold = load_jsonl(queries)
        pred = load_jsonl(pred_path)
        for g, p in zip(gold, pred, strict=True):
            if g["label"] != p["label"]:
                print(f"  {g['label']:>28} -> {p['label']:<28} {g['text']}")
    pred_path.unlink()
    return score.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class Setting:
    concept_weight: float
    threshold: float
    low_factor: float


def grid(lang: str) -> list[Setting]:
    base = ANSWER_THRESHOLD[lang]
    return [Setting(w, round(base * s, 4), f)
            for w in CONCEPT_WEIGHTS for s in GRID_STEPS for f in LOW_FACTORS]


def label_table(faq: FaqFile, lang: str, texts: Sequence[str],
                settings: Sequence[Setting]) -> dict[Setting, list[str]]:
    """Every query's label under every setting (one matcher per concept weight)."""
    table: dict[Setting, list[str]] = {}
    understanders: dict[float, Understander] = {}
    for setting in settings:
        understander = understanders.get(setting.concept_weight)
        if understander is None:
            understander = understanders[setting.concept_weight] = Understander(
                faq.entries, smalltalk=faq.smalltalk, concept_weight=setting.concept_weight)
        understander.thresholds[lang] = setting.threshold
        understander.low_factors[lang] = setting.low_factor
        table[setting] = [label_of(understander.understand(t)) for t in texts]
    return table


def folds_of(labels: Sequence[str], k: int) -> list[int]:
    """A fold number per query, stratified by label (each label spread over the folds)."""
    rng = random.Random(SEED)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    fold = [0] * len(labels)
    offset = 0
    for label in sorted(by_label):
        members = by_label[label]
        rng.shuffle(members)
        for j, i in enumerate(members):
            fold[i] = (offset + j) % k
        offset += len(members)
    return fold


def choose(score: Callable[..., dict[str, Any]], gold: list[dict[str, str]],
           table: dict[Setting, list[str]], rows: list[int], default: Setting) -> Setting:
    """The setting with the best faq_top1 on `rows` among those within the false-accept cap
    (ties: overall accuracy, then nearness to the default); none within: fewest false accepts."""
    def key(setting: Setting) -> tuple[float, ...]:
        preds = [{"text": gold[i]["text"], "label": table[setting][i]} for i in rows]
        s = score([gold[i] for i in rows], preds)
        fa = s["oos_false_accept"] or 0.0
        ok = fa <= MAX_FALSE_ACCEPT
        near = -(abs(setting.threshold - default.threshold) / default.threshold
                 + abs(setting.low_factor - default.low_factor)
                 + abs(setting.concept_weight - default.concept_weight))
        return (ok, (s["faq_top1"] or 0.0) if ok else -fa, s["overall_acc"] or 0.0, near)

    return max(table, key=key)


def cross_validate(eval_dir: Path, suite: str, k: int) -> tuple[dict[str, dict], list[Setting]]:
    lang = SUITES[suite]
    score = scorer(eval_dir).score
    faq = load_faq_file(eval_dir / suite / "faq.yaml")
    gold: list[dict[str, str]] = []
    origin: list[str] = []
    for name in FILES:
        rows = load_jsonl(eval_dir / suite / f"{name}.jsonl")
        gold += rows
        origin += [name] * len(rows)
    default = Setting(W_CONCEPT, ANSWER_THRESHOLD[lang], LOW_FACTOR[lang])
    table = label_table(faq, lang, [g["text"] for g in gold], grid(lang))
    fold = folds_of([g["label"] for g in gold], k)
    held_out = [""] * len(gold)
    chosen = []
    for f in range(k):
        train = [i for i in range(len(gold)) if fold[i] != f]
        setting = choose(score, gold, table, train, default)
        chosen.append(setting)
        for i in range(len(gold)):
            if fold[i] == f:
                held_out[i] = table[setting][i]
    results = {}
    for name in FILES:
        idx = [i for i in range(len(gold)) if origin[i] == name]
        results[name] = score([gold[i] for i in idx],
                              [{"text": gold[i]["text"], "label": held_out[i]} for i in idx])
    both = list(range(len(gold)))
    results["dev+talk"] = score(gold, [{"text": gold[i]["text"], "label": held_out[i]}
                                       for i in both])
    return results, chosen


def fmt(s: dict[str, Any]) -> str:
    def v(x: Any) -> str:
        return "  –  " if x is None else f"{x:.3f}"
    return (f"faq_top1={v(s['faq_top1'])} oos_false_accept={v(s['oos_false_accept'])} "
            f"smalltalk_acc={v(s['smalltalk_acc'])} overall_acc={v(s['overall_acc'])} "
            f"n={s['queries']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--errors", action="store_true", help="list every wrong label")
    parser.add_argument("--cv", type=int, default=0, metavar="K",
                        help="also K-fold cross-validate dev + talk-dev of each suite")
    args = parser.parse_args()
    eval_dir = args.eval_dir
    if not eval_dir.exists():  # a worktree sits one level deeper than the main checkout
        eval_dir = Path("/work/shared/eval")
    splits = (args.split, f"talk-{args.split}") if args.cv else (args.split,)
    for suite in SUITES:
        for split in splits:
            if (eval_dir / suite / f"{split}.jsonl").exists():
                line = run_plain(eval_dir, suite, split, args.errors)
                print(f"{suite:>10} {split:>8} plain: {line}")
    if args.cv:
        for suite in SUITES:
            results, chosen = cross_validate(eval_dir, suite, args.cv)
            for name, s in results.items():
                print(f"{suite:>10} {name:>8} {args.cv}-fold CV: {fmt(s)}")
            picks = ", ".join(f"{c.concept_weight}/{c.threshold}/{c.low_factor}" for c in chosen)
            print(f"{suite:>10} concept weight/threshold/low factor chosen per fold: {picks}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
