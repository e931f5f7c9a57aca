from __future__ import annotations

import pytest

from app.shop.catalog import Product, load_shop
from app.shop.embedding import Encoder
from app.shop.knowledge import CatalogIndex, KnowledgeBase, faq_terms, terms


@pytest.fixture(scope="module")
def knowledge(encoder: Encoder) -> KnowledgeBase:
    return KnowledgeBase(load_shop(), encoder)


def test_terms_fold_plurals_and_drop_stopwords() -> None:
    assert terms("Do you sell mugs and candles?") == ["mug", "candle"]


@pytest.mark.parametrize(
    ("question", "faq_id"),
    [
        ("can I get my money back", "refund_status"),
        ("how much is postage to london", "delivery_cost"),
        ("I'd like to talk to someone", "contact_human"),
        ("wie lange dauert der versand", "delivery_time"),
    ],
)
def test_paraphrased_questions_find_their_faq_entry(
    knowledge: KnowledgeBase, question: str, faq_id: str
) -> None:
    assert knowledge.faq.search(question)[0].entry.faq_id == faq_id


def test_exact_product_name_ranks_first(knowledge: KnowledgeBase) -> None:
    hits = knowledge.catalog.search("jumbo bag red retrospot")
    assert hits[0].product.name == "Jumbo Bag Red Retrospot"
    assert hits[0].matched == 1.0


def test_matched_counts_words_missing_from_the_catalog() -> None:
    index = CatalogIndex([Product("1", "Blue Mug", 1.0, 3)])
    assert index.search("return mug")[0].matched == 0.5


def test_query_without_catalog_words_finds_nothing() -> None:
    index = CatalogIndex([Product("1", "Blue Mug", 1.0, 3)])
    assert index.search("refund please") == []


def test_catalog_search_never_finds_postage_or_fees(knowledge: KnowledgeBase) -> None:
    for query in ("next day carriage", "packing charge", "high resolution image"):
        assert all(hit.product.is_product for hit in knowledge.catalog.search(query, n=10)), query


def test_the_faq_searched_by_words_alone_finds_keyword_questions_and_nothing_for_greetings(
    knowledge: KnowledgeBase,
) -> None:
    assert knowledge.faq.search_words("can I pay with paypal?")[0].entry.faq_id == "payment_methods"
    assert knowledge.faq.search_words("what is your return policy?")[0].score == 1.0
    assert knowledge.faq.search_words("hi") == []


def test_faq_terms_keep_words_with_accents_whole() -> None:
    assert faq_terms("Rücksendung nach Großbritannien") == ["rücksendung", "nach", "großbritannien"]


def test_the_faq_is_found_by_the_words_of_its_answers_in_other_languages(knowledge: KnowledgeBase) -> None:
    # "Geschenkverpackung" is only in the gift-wrap entry's German answer.
    assert knowledge.faq.search_words("Geschenkverpackung")[0].entry.faq_id == "gift_wrap"


def test_words_customers_use_for_delivery_are_one_faq_term() -> None:
    assert faq_terms("postage costs") == faq_terms("delivery costs") == faq_terms("shipping costs")
