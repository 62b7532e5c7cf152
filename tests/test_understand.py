"""Understanding shopper messages: intents first, threshold + margin, entities (P4, P7, P20)."""

import pytest

from phrases.faq_file import FaqEntry
from phrases.lang import detect_language, message_language
from phrases.understand import Candidate, Intent, Understander

ZH_FAQ = [
    FaqEntry("ship_time", "下单后多久发货？", "48小时内发货", alt=("付款以后几天能发出来？",)),
    FaqEntry("courier", "你们默认发什么快递？", "默认中通或圆通", alt=("一般用哪家快递？",)),
    FaqEntry("refund_time", "退款多久能到账？", "1-3天到账", alt=("钱什么时候退给我？",)),
    FaqEntry("cs_hours", "客服什么时间在线？", "9点到24点", alt=("人工客服几点上班？",)),
    FaqEntry("invoice", "可以开发票吗？", "可以开电子发票", alt=("公司报销要发票，可以开吗？",)),
    FaqEntry("size_guide", "尺码怎么选？", "看尺码表", alt=("衣服偏大还是偏小？",)),
]
EN_FAQ = [
    FaqEntry("cancel_order", "how do I cancel my order?", "Go to Orders > Cancel.",
             alt=("I want to cancel a purchase",)),
    FaqEntry("track_order", "where is my order?", "Use the tracking link.",
             alt=("track the status of my order",)),
    FaqEntry("get_invoice", "how can I get an invoice?", "Download it from your account.",
             alt=("I need a bill for my purchase",)),
]


@pytest.fixture(scope="module")
def zh() -> Understander:
    return Understander(ZH_FAQ)


@pytest.fixture(scope="module")
def en() -> Understander:
    return Understander(EN_FAQ)


def test_exact_question_is_answered(zh: Understander) -> None:
    u = zh.understand("下单后多久发货？")
    assert (u.decision, u.intent, u.language) == ("answer", None, "zh")
    assert u.best == Candidate("ship_time", u.best.score if u.best else 0.0)
    assert u.best is not None and 0.0 < u.best.score <= 1.0


def test_colloquial_paraphrase_with_synonym(zh: Understander) -> None:
    # 寄出 is rewritten to 发货 by the synonym lexicon; 亲/呀 are filler words.
    u = zh.understand("亲 付款后几天能寄出呀")
    assert u.decision == "answer" and u.best is not None and u.best.entry_id == "ship_time"


def test_homophone_typo_survives_through_pinyin(zh: Understander) -> None:
    u = zh.understand("下单后多久发或")
    assert u.best is not None and u.best.entry_id == "ship_time"


def test_latin_shop_slang_kd_means_courier(zh: Understander) -> None:
    u = zh.understand("默认发什么kd")
    assert u.best is not None and u.best.entry_id == "courier"


def test_traditional_chinese_matches_simplified_faq(zh: Understander) -> None:
    u = zh.understand("退款多久能到賬？")
    assert u.decision == "answer" and u.best is not None and u.best.entry_id == "refund_time"


def test_order_number_is_an_entity_not_text(zh: Understander) -> None:
    u = zh.understand("订单1945623307812 退款多久能到账")
    assert u.order_ids == ("1945623307812",)
    assert u.best is not None and u.best.entry_id == "refund_time"


def test_out_of_scope_is_not_answered(zh: Understander, en: Understander) -> None:
    for text in ("明天杭州下雨吗", "红烧肉怎么做好吃", "推荐个好看的电视剧"):
        u = zh.understand(text)
        assert u.decision != "answer" and u.intent in (None, Intent.OFFTOPIC), text
    for text in ("what is the capital of peru", "set an alarm for 7 am"):
        u = en.understand(text)
        assert u.decision != "answer" and u.intent in (None, Intent.OFFTOPIC), text


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("你好", Intent.GREETING),
        ("在吗在吗", Intent.GREETING),
        ("谢谢亲", Intent.THANKS),
        ("3q", Intent.THANKS),
        ("好的 拜拜", Intent.FAREWELL),
        ("88", Intent.FAREWELL),
        ("转人工", Intent.HUMAN),
        ("我要投诉你们", Intent.COMPLAINT),
        ("hello there", Intent.GREETING),
        ("thanks a lot!", Intent.THANKS),
        ("ok bye", Intent.FAREWELL),
        ("let me talk to a real person", Intent.HUMAN),
        ("I want to file a complaint", Intent.COMPLAINT),
        ("are you doing ok today", Intent.GREETING),
        ("you've been a great help", Intent.THANKS),
        ("glad you could sort it out", Intent.THANKS),
        ("catch you later", Intent.FAREWELL),
        ("signing off now", Intent.FAREWELL),
        ("i need help from a real person", Intent.HUMAN),
        ("can i get support from a human agent", Intent.HUMAN),
        # Acknowledgements and filler ask nothing (应答, §七).
        ("好的", Intent.ACK), ("嗯嗯 知道了", Intent.ACK), ("收到", Intent.ACK),
        ("👍", Intent.ACK), ("😂😂😂", Intent.ACK), ("okay cool", Intent.ACK),
        ("got it", Intent.ACK),
        # "Are you a bot?" is a question about the bot, not a request for a person.
        ("你是机器人吗", Intent.BOT), ("你们这是自动回复吧", Intent.BOT),
        ("are you a bot?", Intent.BOT), ("am I talking to a real person", Intent.BOT),
        ("找个真人", Intent.HUMAN), ("i want to talk to a real person", Intent.HUMAN),
        # Off-topic chit-chat gets a scope answer, never the FAQ (P4).
        ("明天天气怎么样", Intent.OFFTOPIC), ("1+1等于几", Intent.OFFTOPIC),
        ("what is 2+2", Intent.OFFTOPIC), ("tell me a joke", Intent.OFFTOPIC),
        # Anger and insults are complaints (P7, P20), in both languages.
        ("什么破东西 气死我了", Intent.COMPLAINT), ("你们是不是骗子", Intent.COMPLAINT),
        ("this shop is a scam", Intent.COMPLAINT), ("worst service ever", Intent.COMPLAINT),
        ("you guys are useless", Intent.COMPLAINT),
    ],
)
def test_small_talk_intents(zh: Understander, text: str, intent: Intent) -> None:
    u = zh.understand(text)
    assert (u.intent, u.decision) == (intent, "intent")


def test_complaint_is_never_answered_from_faq_p20(zh: Understander) -> None:
    # Shares every word with an FAQ entry, yet a complaint goes to a person (P7, P20).
    u = zh.understand("退款多久能到账？我要投诉")
    assert u.intent is Intent.COMPLAINT and u.decision == "intent"


def test_request_for_human_is_never_answered_from_faq(zh: Understander) -> None:
    u = zh.understand("人工客服 转人工")
    assert u.intent is Intent.HUMAN


def test_asking_when_agents_work_is_an_faq_question(zh: Understander) -> None:
    u = zh.understand("人工客服几点上班？")
    assert u.intent is None and u.best is not None and u.best.entry_id == "cs_hours"


def test_greeting_in_front_of_a_question_still_answers(zh: Understander, en: Understander) -> None:
    u = zh.understand("你好，请问下单后多久发货")
    assert u.decision == "answer" and u.best is not None and u.best.entry_id == "ship_time"
    u = en.understand("hi, how do I cancel my order?")
    assert u.decision == "answer" and u.best is not None and u.best.entry_id == "cancel_order"


def test_english_typos_are_repaired(en: Understander) -> None:
    u = en.understand("how do i cancle my ordr")
    assert u.best is not None and u.best.entry_id == "cancel_order"


def test_english_synonyms(en: Understander) -> None:
    u = en.understand("I need a receipt for my order")
    assert u.best is not None and u.best.entry_id == "get_invoice"
    assert u.language == "en"


def test_two_close_entries_ask_which_one_p4() -> None:
    twins = [FaqEntry("a", "退货运费谁出", "买家出"), FaqEntry("b", "退货运费谁出呢", "卖家出")]
    u = Understander(twins).understand("退货运费谁出")
    assert u.decision == "clarify"
    assert {c.entry_id for c in u.candidates[:2]} == {"a", "b"}


def test_per_entry_threshold_override() -> None:
    strict = [FaqEntry("ship_time", "下单后多久发货？", "48小时内", threshold=1.0),
              FaqEntry("other", "可以开发票吗？", "可以")]
    assert Understander(strict).understand("付款后要多久才发货呀").decision == "none"
    lenient = [FaqEntry("ship_time", "下单后多久发货？", "48小时内", threshold=0.01),
               FaqEntry("other", "可以开发票吗？", "可以")]
    assert Understander(lenient).understand("发货").decision == "answer"


def test_shop_synonyms_extend_the_lexicon() -> None:
    faq = [FaqEntry("member", "会员积分有什么用？", "抵现"), FaqEntry("x", "可以开发票吗", "可以")]
    plain = Understander(faq).understand("金币有什么用")
    tuned = Understander(faq, synonyms={"积分": ["金币"]}).understand("金币有什么用")
    assert tuned.best is not None and tuned.best.entry_id == "member"
    assert plain.best is None or tuned.best.score > plain.best.score


def test_shop_smalltalk_examples_are_used() -> None:
    u = Understander(ZH_FAQ, smalltalk={"farewell": ["撤了撤了"]}).understand("撤了撤了")
    assert u.intent is Intent.FAREWELL


def test_unknown_smalltalk_intent_is_rejected() -> None:
    with pytest.raises(ValueError):
        Understander(ZH_FAQ, smalltalk={"weather": ["晴天"]})


def test_candidates_sorted_and_at_most_three(zh: Understander) -> None:
    u = zh.understand("发货 快递 退款 发票 尺码 客服")
    assert len(u.candidates) <= 3
    scores = [c.score for c in u.candidates]
    assert scores == sorted(scores, reverse=True)


def test_empty_faq_and_empty_text() -> None:
    empty = Understander([])
    u = empty.understand("下单后多久发货")
    assert (u.decision, u.candidates, u.best) == ("none", (), None)
    assert Understander(ZH_FAQ).understand("").decision == "none"
    assert Understander(ZH_FAQ).understand("😀😀").intent is Intent.ACK  # filler, no FAQ
    assert Understander(ZH_FAQ).understand("？？").decision == "none"  # puzzled: ask back


@pytest.mark.parametrize(
    ("text", "lang"),
    [("下单后多久发货", "zh"), ("能发sf吗", "zh"), ("where is my order", "en"),
     ("hello world", "en"), ("", "zh"), ("12345", "zh"), ("kd", "zh"),
     ("my order 订单 is late and I want a refund", "en")],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_detect_language_default_for_shared_slang() -> None:
    assert detect_language("🙂", default="en") == "en"
    assert detect_language("hello", default="en") == "en"
    assert detect_language("hello", default="zh") == "zh"


def test_very_long_message_is_cut_but_keeps_all_order_ids(zh: Understander) -> None:
    text = "退款多久能到账 " + "啊" * 2000 + " 订单1945623307812"
    u = zh.understand(text)
    assert u.order_ids == ("1945623307812",)
    assert u.best is not None and u.best.entry_id == "refund_time"


def test_low_score_with_a_clear_lead_is_answered_p4() -> None:
    # Just under the threshold, an entry far ahead of the runner-up is answered; far under
    # the threshold it is not (LOW_FACTOR of the threshold is the floor).
    base = Understander(ZH_FAQ).understand("退款多久能到账呢")
    assert base.best is not None and base.best.entry_id == "refund_time"
    score = base.best.score
    assert len(base.candidates) < 2 or base.candidates[1].score <= 0.6 * score

    def with_threshold(t: float) -> Understander:
        return Understander([FaqEntry(e.id, e.question, e.answer, e.alt,
                                      t if e.id == "refund_time" else None) for e in ZH_FAQ])

    assert with_threshold(score / 0.9).understand("退款多久能到账呢").decision == "answer"
    assert with_threshold(score / 0.7).understand("退款多久能到账呢").decision == "none"


def test_off_topic_questions_are_not_answered_even_when_words_overlap() -> None:
    faq = [FaqEntry("colors", "有哪些颜色？", "黑白灰三色", alt=("还有别的颜色吗",)),
           FaqEntry("price", "多少钱？", "以页面为准")]
    u = Understander(faq)
    assert u.understand("有什么颜色").decision == "answer"
    for text in ("你最喜欢什么颜色", "去三亚的机票多少钱", "12乘以8是多少钱"):
        got = u.understand(text)
        assert (got.intent, got.decision) == (Intent.OFFTOPIC, "intent"), text


def test_a_question_with_an_ack_word_is_still_a_question(zh: Understander) -> None:
    u = zh.understand("好的 那下单后多久发货")
    assert u.intent is None and u.best is not None and u.best.entry_id == "ship_time"


def test_a_complaint_keeps_the_faq_verdict_for_its_after_sales_steps() -> None:
    faq = [FaqEntry("damaged", "收到的商品破损了怎么办", "拍照联系我们"),
           FaqEntry("ship", "多久发货", "48小时")]
    u = Understander(faq).understand("收到的商品破损了 什么破玩意儿 气死我了")
    assert u.intent is Intent.COMPLAINT and u.faq_decision == "answer"
    assert u.best is not None and u.best.entry_id == "damaged"


@pytest.mark.parametrize(
    ("text", "lang"),
    [("/start", None), ("/help@shop_bot", None), ("SF1234567890", None), ("👍", None),
     ("ok", None), ("okay lol", None), ("1945623307812", None), ("好的", "zh"),
     ("订单SF1234567890到哪了", "zh"), ("where is my order", "en"), ("refund", "en"),
     ("/start hello there friend", "en")],
)
def test_message_language_ignores_what_carries_no_language(text: str, lang: str | None) -> None:
    assert message_language(text) == lang
