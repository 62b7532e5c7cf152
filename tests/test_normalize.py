"""Normalisation: what shoppers type folds to one form; order numbers become entities."""

from phrases.normalize import (
    NUMBER_TOKEN,
    ORDER_TOKEN,
    extract_order_ids,
    fold,
    normalize,
    to_simplified,
)


def test_full_width_and_case_fold() -> None:
    assert fold("ＡＢＣ　ｋｄ１２３") == "abc kd123"


def test_traditional_to_simplified() -> None:
    assert to_simplified("發貨 退貨運費險 這個顏色") == "发货 退货运费险 这个颜色"


def test_punctuation_and_emoji_removed() -> None:
    assert fold("在吗？？😡！！发货了没") == "在吗 发货了没"


def test_repeated_characters_and_pairs_collapse() -> None:
    assert fold("哈哈哈哈哈") == "哈哈"
    assert fold("在么在么在么") == "在么"
    assert fold("soooo") == "soo"


def test_order_ids_are_pulled_out_and_masked() -> None:
    n = normalize("订单１９４５６２３３０７８１２ 帮忙催一下")
    assert n.order_ids == ("1945623307812",)
    assert ORDER_TOKEN in n.text
    assert "1945623307812" not in n.text


def test_tracking_number_with_letter_prefix() -> None:
    assert extract_order_ids("SF1234567890到哪了") == ("SF1234567890",)
    assert extract_order_ids("order #00004587345 please") == ("00004587345",)


def test_short_numbers_are_numbers_not_orders() -> None:
    n = normalize("满99包邮吗 还差12块")
    assert n.order_ids == ()
    assert n.numbers == ("99", "12")
    assert n.text.count(NUMBER_TOKEN) == 2


def test_apostrophes_inside_words_survive() -> None:
    assert fold("I can't find it, 'really'") == "i can't find it really"
