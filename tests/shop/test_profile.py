"""shop.toml: missing keys are warnings, broken entries are errors naming their line."""

from __future__ import annotations

from app.shop.catalog import read_shop
from app.shop.problems import Problem
from tests.shop.conftest import SHOP_TOML, ShopFolder


def problems(folder_files: ShopFolder, toml: str) -> list[Problem]:
    return read_shop(folder_files({"shop.toml": toml})).problems.kept


def test_a_faq_entry_without_answer_is_an_error_at_its_line(shop_folder: ShopFolder) -> None:
    toml = SHOP_TOML.replace('answer = "Yes, within 30 days."\n', "")
    found = problems(shop_folder, toml)
    assert [(p.severity, p.line, p.what) for p in found] == [
        ("error", 12, "FAQ entry 1 ('returns') has no answer")
    ]


def test_a_misspelt_key_is_named_with_the_likely_one(shop_folder: ShopFolder) -> None:
    toml = SHOP_TOML.replace("answer =", "anwser =")
    found = problems(shop_folder, toml)
    assert {p.severity for p in found} == {"error", "warning"}
    warning = next(p for p in found if p.severity == "warning")
    assert warning.line == 16
    assert "did you mean 'answer'?" in warning.fix


def test_an_empty_faq_is_a_warning(shop_folder: ShopFolder) -> None:
    toml = SHOP_TOML[: SHOP_TOML.index("[[faq]]")]
    found = problems(shop_folder, toml)
    assert [(p.severity, p.code) for p in found] == [("warning", "empty_faq")]


def test_missing_support_contact_is_a_warning(shop_folder: ShopFolder) -> None:
    toml = SHOP_TOML.replace('support_email = "help@tiny.example"\n', "")
    found = problems(shop_folder, toml)
    assert [(p.severity, p.line, p.code) for p in found] == [("warning", 1, "missing_key")]
    assert "support_email" in found[0].what


def test_syntax_errors_name_the_line(shop_folder: ShopFolder) -> None:
    found = problems(shop_folder, SHOP_TOML.replace('name = "Tiny Gifts"', "name = Tiny Gifts"))
    assert [(p.severity, p.line, p.code) for p in found] == [("error", 2, "syntax")]


def test_keys_inside_multiline_answers_are_not_mistaken_for_keys(shop_folder: ShopFolder) -> None:
    toml = SHOP_TOML.replace(
        'answer = "Yes, within 30 days."', 'answer = """\nYes.\nid = not a key\n"""\nanwser = "typo"'
    )
    found = problems(shop_folder, toml)
    assert [(p.line, p.code) for p in found] == [(20, "unknown_key")]


def test_currency_symbol_defaults_from_the_currency(shop_folder: ShopFolder) -> None:
    toml = SHOP_TOML.replace('currency = "GBP"', 'currency = "EUR"').replace('currency_symbol = "£"\n', "")
    reading = read_shop(
        shop_folder({"shop.toml": toml, "products.csv": 'product_id,name,price\n1,Mug,"9,50 €"\n'})
    )
    assert reading.shop is not None
    assert reading.shop.format_price(9.5) == "€9.50"


def test_orders_return_window_is_read(shop_folder: ShopFolder) -> None:
    reading = read_shop(shop_folder({"shop.toml": SHOP_TOML + "\n[orders]\nreturn_window_days = 14\n"}))
    assert reading.problems.kept == []
    assert reading.shop is not None
    assert reading.shop.return_window_days == 14


def test_orders_return_window_defaults_to_30_days(shop_folder: ShopFolder) -> None:
    reading = read_shop(shop_folder({"shop.toml": SHOP_TOML}))
    assert reading.shop is not None
    assert reading.shop.return_window_days == 30


def test_a_return_window_that_is_not_a_number_of_days_is_an_error(shop_folder: ShopFolder) -> None:
    for value in ('"30"', "-1", "true", "2.5"):
        found = problems(shop_folder, SHOP_TOML + f"\n[orders]\nreturn_window_days = {value}\n")
        assert [(p.severity, p.code) for p in found] == [("error", "bad_value")], value
        assert "return_window_days" in found[0].what


def test_an_unknown_orders_key_is_a_warning(shop_folder: ShopFolder) -> None:
    found = problems(shop_folder, SHOP_TOML + "\n[orders]\nreturn_window = 30\n")
    assert [(p.severity, p.code) for p in found] == [("warning", "unknown_key")]
    assert "did you mean 'return_window_days'?" in found[0].fix


def test_an_answer_in_another_language_is_read_by_its_code(shop_folder: ShopFolder) -> None:
    toml = SHOP_TOML.replace(
        'answer = "Yes, within 30 days."',
        'answer = "Yes, within 30 days."\nanswer_de = "Ja, innerhalb von 30 Tagen."',
    )
    reading = read_shop(shop_folder({"shop.toml": toml}))
    assert reading.shop is not None
    entry = reading.shop.faq[0]
    assert reading.problems.kept == []
    assert entry.answer_in("de") == "Ja, innerhalb von 30 Tagen."
    assert entry.answer_in("en") == "Yes, within 30 days."
    assert entry.answer_in("fr") is None


def test_an_empty_answer_in_another_language_is_an_error(shop_folder: ShopFolder) -> None:
    toml = SHOP_TOML.replace(
        'answer = "Yes, within 30 days."', 'answer = "Yes, within 30 days."\nanswer_de = ""'
    )
    found = problems(shop_folder, toml)
    assert [(p.severity, p.code) for p in found] == [("error", "bad_value")]
    assert "answer_de" in found[0].what
