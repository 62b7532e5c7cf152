"""Run `python -m phrases.classify` on both dev suites and print the scorer's figures.

    python bench/eval_faq.py [--split dev] [--eval-dir ../shared/eval] [--errors]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITES = ("zh-shop", "en-retail")


def run_suite(eval_dir: Path, suite: str, split: str, show_errors: bool) -> str:
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
        gold = [json.loads(x) for x in queries.read_text(encoding="utf-8").splitlines() if x]
        pred = [json.loads(x) for x in pred_path.read_text(encoding="utf-8").splitlines() if x]
        for g, p in zip(gold, pred, strict=True):
            if g["label"] != p["label"]:
                print(f"  {g['label']:>28} -> {p['label']:<28} {g['text']}")
    pred_path.unlink()
    return score.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--errors", action="store_true", help="list every wrong label")
    args = parser.parse_args()
    for suite in SUITES:
        line = run_suite(args.eval_dir, suite, args.split, args.errors)
        print(f"{suite:>10} {args.split}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
