"""The FAQ file format (docs/faq-format.md): loading, round trip and clear errors."""

from pathlib import Path

import pytest
import yaml

from phrases.catalogue import PhraseCatalogue
from phrases.faq_file import FaqEntry, FaqFile, dump_faq_file, load_faq_file, parse_faq
from phrases.refused import Refused
from phrases.staff import StaffWords

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"


def _entry(**over: object) -> dict[str, object]:
    raw: dict[str, object] = {"id": "ship_time", "question": "多久发货？", "answer": "48小时内"}
    raw.update(over)
    return raw


def test_parse_minimal_entry() -> None:
    faq = parse_faq({"faq": [_entry()]})
    assert faq.entries == [FaqEntry("ship_time", "多久发货？", "48小时内")]
    assert faq.smalltalk == {}


def test_alt_threshold_and_smalltalk() -> None:
    faq = parse_faq({"faq": [_entry(alt=["几天发出？"], threshold=0.7)],
                     "smalltalk": {"greeting": ["你好"], "thanks": "谢谢"}})
    entry = faq.entries[0]
    assert entry.alt == ("几天发出？",)
    assert entry.threshold == 0.7
    assert entry.phrasings == ("多久发货？", "几天发出？")
    assert faq.smalltalk == {"greeting": ["你好"], "thanks": ["谢谢"]}


def test_round_trip_through_yaml() -> None:
    faq = FaqFile(
        entries=[FaqEntry("a", "问题：冒号", "答复\n第二行", alt=("别的问法",), threshold=0.4),
                 FaqEntry("b", "question b", "answer b")],
        smalltalk={"farewell": ["再见"]},
    )
    assert parse_faq(yaml.safe_load(dump_faq_file(faq))) == faq


@pytest.mark.parametrize(
    ("data", "key", "values"),
    [
        ({"faq": [_entry(answer="")]}, "faqfile.empty",
         {"entry": 1, "id": "ship_time", "name": "answer"}),
        ({"faq": [_entry(), _entry()]}, "faqfile.duplicate",
         {"entry": 2, "id": "ship_time", "first": 1}),
        ({"faq": [_entry(threshold=1.5)]}, "faqfile.threshold", {"threshold": 1.5}),
        ({"faq": [_entry(threshold="high")]}, "faqfile.threshold", {"threshold": "high"}),
        ({"faq": [_entry(colour="red")]}, "faqfile.unknown_keys", {"keys": "colour"}),
        ({"faq": [_entry(alt={"x": 1})]}, "faqfile.alt_list", {"entry": 1}),
        ({"faq": ["just text"]}, "faqfile.not_mapping", {"entry": 1}),
        ({"faq": [_entry(), {"question": "q", "answer": "a"}]}, "faqfile.not_text",
         {"entry": 2, "id": "—", "name": "id"}),
        ({"faq": "nope"}, "faqfile.not_file", {}),
        ([], "faqfile.not_file", {}),
    ],
)
def test_bad_data_names_the_entry(data: object, key: str, values: dict[str, object]) -> None:
    """The entry (counted from 1, as the owner counts) and its id, in words staff read."""
    with pytest.raises(Refused) as err:
        parse_faq(data)
    assert err.value.key == key and values.items() <= err.value.values.items()
    zh = StaffWords(PhraseCatalogue.builtin(), "zh").why(err.value)
    assert zh != key and all(str(v) in zh for v in values.values() if v != "—")


def test_an_unknown_small_talk_intent_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown intent 'weather'"):
        parse_faq({"faq": [], "smalltalk": {"weather": ["晴"]}})


def test_invalid_yaml_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text("faq: [\n  - id: x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_faq_file(path)


@pytest.mark.skipif(not EVAL_DIR.exists(), reason="shared eval suites not present")
@pytest.mark.parametrize(("suite", "count"), [("zh-shop", 40), ("en-retail", 25)])
def test_loads_the_eval_suites(suite: str, count: int) -> None:
    faq = load_faq_file(EVAL_DIR / suite / "faq.yaml")
    assert len(faq.entries) == count
    assert all(e.answer and e.alt for e in faq.entries)
    assert parse_faq(yaml.safe_load(dump_faq_file(faq))) == faq
