"""Matcher internals: lexicon rewriting, features, typo repair, the inverted index."""

from phrases.matching.features import Analyzer, stem
from phrases.matching.index import Doc, FeatureIndex
from phrases.matching.lexicon import Rewriter, default_lexicon, parse_synonym_lines


def test_synonym_lines_parse() -> None:
    parsed = parse_synonym_lines(["发货: 寄出, 发出", "发货: 寄走"])
    assert parsed == {"发货": ["寄出", "发出", "寄走"]}


def test_rewriter_matches_latin_whole_words_only() -> None:
    rw = Rewriter.build({"快递": ["kd"], "refund": ["money back"]})
    assert rw("kd一般走几天") == "快递一般走几天"
    assert "快递" not in rw("kdx")
    assert rw("i want my money back").split() == ["i", "want", "my", "refund"]


def test_light_stemmer() -> None:
    assert stem("cancelling") == stem("cancel") == stem("canceled")
    assert stem("modified") == stem("modify")
    assert stem("changing") == stem("change") == stem("changes")
    assert stem("address") == "address"


def test_slang_is_replaced_before_numbers_are_masked() -> None:
    a = Analyzer(default_lexicon())
    assert "谢谢" in a.normalize("3q").text
    assert "拜拜" in a.normalize("好的88").text
    assert "拜拜" not in a.normalize("满88包邮吗").text


def test_filler_words_are_weak_features() -> None:
    a = Analyzer(default_lexicon())
    feats = a.features("亲 在吗")
    assert feats["s亲"] < 0.1
    assert "b亲在" not in feats  # filler splits the run: no cross-filler bigram


def test_pinyin_feature_for_homophones() -> None:
    a = Analyzer(default_lexicon())
    assert "pfa_huo" in a.features("发或") and "pfa_huo" in a.features("发货")


def _index() -> FeatureIndex:
    docs = [Doc("cancel", "how do i cancel my order"), Doc("track", "where is my parcel"),
            Doc("track", "track my shipment"), Doc("invoice", "download the invoice", 0.5)]
    return FeatureIndex(docs, Analyzer(default_lexicon()))


def test_typo_repair_keeps_the_first_letter() -> None:
    index = _index()
    assert index.correct("cancle") == "cancel"
    assert index.correct("ordr") == "order"
    assert index.correct("song") == "song"  # not "long": first letters differ


def test_search_groups_phrasings_by_label() -> None:
    hits = _index().search("track my parcel", k=5)
    assert hits[0].label == "track"
    assert len({h.label for h in hits}) == len(hits)
    assert all(0.0 < h.score <= 1.0 for h in hits)


def test_boost_scales_a_document() -> None:
    full = _index().search("download the invoice", k=1)[0].score
    assert 0.4 < full <= 0.5 + 1e-9


def test_unknown_words_pull_the_score_down() -> None:
    index = _index()
    known = index.search("cancel my order", k=1)[0].score
    diluted = index.search("cancel my order of quantum telescopes", k=1)[0].score
    assert diluted < known


def test_glued_words_are_split() -> None:
    index = _index()
    assert index.correct("cancelmy") == "cancel my"


def test_short_words_are_not_bent_into_other_words() -> None:
    docs = [Doc("thanks", "thank you")]
    index = FeatureIndex(docs, Analyzer(default_lexicon()))
    assert index.correct("think") == "think"
    assert index.correct("tahnk") == "thank"


def test_second_text_of_a_label_counts_when_asked() -> None:
    docs = [Doc("a", "退款多久到账"), Doc("a", "退款几天能到账"), Doc("b", "到账通知")]
    index = FeatureIndex(docs, Analyzer(default_lexicon()))
    plain = {h.label: h.score for h in index.search("退款多久到账", k=5)}
    mixed = {h.label: h.score for h in index.search("退款多久到账", k=5, second_weight=0.7)}
    # One text only: its score is shrunk by the full weight; two agreeing texts keep more.
    assert abs(mixed["b"] - plain["b"] / 1.7) < 1e-9
    assert mixed["a"] / plain["a"] > mixed["b"] / plain["b"]
    assert max(mixed, key=mixed.__getitem__) == "a"
