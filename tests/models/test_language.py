"""Which language a customer writes in."""

from __future__ import annotations

import pytest

from app.llm.language import detect_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("how much is delivery to Germany?", "en"),
        ("wie lange dauert der Versand nach Österreich?", "de"),
        ("combien coûte la livraison ?", "fr"),
        ("¿dónde está mi pedido?", "es"),
        ("waar is mijn bestelling", "nl"),
        ("dov'è il mio ordine", "it"),
    ],
)
def test_common_words_name_the_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_a_message_without_telling_words_is_english() -> None:
    assert detect_language("12345") == "en"
    assert detect_language("Paypal?") == "en"
