"""The eval command: `python -m phrases.classify --faq FAQ.yaml < QUERIES > PREDICTIONS`."""

import io
import json
from pathlib import Path

import pytest

from phrases import classify
from phrases.faq_file import FaqEntry, FaqFile, dump_faq_file
from phrases.understand import Candidate, Intent, Understander, Understanding


def _u(intent: Intent | None, decision: str, best: str | None = None) -> Understanding:
    cands = (Candidate(best, 0.9),) if best else ()
    return Understanding(intent, decision, cands, (), "zh")


def test_label_mapping() -> None:
    assert classify.label_of(_u(Intent.HUMAN, "intent", "x")) == "smalltalk:human"
    assert classify.label_of(_u(None, "answer", "ship_time")) == "ship_time"
    assert classify.label_of(_u(None, "clarify", "ship_time")) == "oos"
    assert classify.label_of(_u(None, "none")) == "oos"


def test_main_reads_jsonl_and_writes_one_line_per_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    faq = FaqFile([FaqEntry("ship_time", "下单后多久发货？", "48小时内"),
                   FaqEntry("invoice", "可以开发票吗？", "可以")], {})
    path = tmp_path / "faq.yaml"
    path.write_text(dump_faq_file(faq), encoding="utf-8")
    queries = ["下单后多久发货", "我要投诉", "红烧肉怎么做"]
    stdin = io.StringIO("".join(json.dumps({"text": q}, ensure_ascii=False) + "\n"
                                for q in queries) + "\n")
    stdout = io.StringIO()
    monkeypatch.setattr("sys.stdin", stdin)
    monkeypatch.setattr("sys.stdout", stdout)
    assert classify.main(["--faq", str(path)]) == 0
    out = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [o["text"] for o in out] == queries
    assert [o["label"] for o in out] == ["ship_time", "smalltalk:complaint", "oos"]


def test_classify_lines_uses_the_given_understander() -> None:
    u = Understander([FaqEntry("a", "可以开发票吗", "可以")])
    out = list(classify.classify_lines(u, ['{"text": "能开发票吗"}']))
    assert out == [{"text": "能开发票吗", "label": "a"}]
