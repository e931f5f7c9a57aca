"""Reading complaints: topic and mood by their words, and by likeness to known complaints."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.llm.complaint import ComplaintReader, fold_typos, read_complaint, read_examples
from app.shop.catalog import load_shop
from app.shop.embedding import Encoder


@pytest.fixture(scope="module")
def reader(encoder: Encoder) -> ComplaintReader:
    return ComplaintReader(encoder, [q for entry in load_shop().faq for q in entry.questions])


def test_the_angry_damaged_parcel_is_about_the_damage_and_the_silence() -> None:
    complaint = read_complaint("This is ridiculous, my parcel arrived broken and nobody answers my emails!")
    assert complaint is not None
    assert (complaint.topic, complaint.upset, complaint.unanswered) == ("damaged", True, True)


def test_common_typos_are_folded_back() -> None:
    assert fold_typos("my cake stand arived damagd, refnd recieved") == (
        "my cake stand arrived damaged, refund received"
    )
    # Only letters dropped inside a word or swapped: other real words stay as they are.
    assert fold_typos("please ignore it, I rushed") == "please ignore it, i rushed"


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("refnd never came thru after i sent the item back", "refund"),
        ("You sent me the wrong item. I ordered a red lunch bag and got a blue doorstop.", "wrong_item"),
        ("I ordered two weeks ago and still nothing. Where is my order?!", "late"),
        ("ur support guy was so rude and condescending", "service"),
        ("I emailed three times and nobody ever replied.", "no_reply"),
        ("Part of my order is missing", "missing"),
        ("sent it back a month ago and still waiting for the money", "refund"),
        ("the parcel came but the teapot is not in it", "missing"),
        ("the item in the box is not the one on my order", "wrong_item"),
        ("a week on and I haven't got my parcel", "late"),
        ("It contains a red tin but I ordered a blue one.", "wrong_item"),
        ("Order 90114 for our café was short by two cases of napkins.", "missing"),
        ("The order had 4 things on the invoice. Only 3 in the box, the cake stand isn't there.", "missing"),
        (
            "I sent the candle set back with the label. That was 9 days ago. Nothing back on PayPal yet",
            "refund",
        ),
        ("you've sent me a unicorn lunchbox when I ordered a dinosaur one", "wrong_item"),
        ("Two of my four candlesticks never turned up. The rest arrived fine on Tuesday.", "missing"),
        ("We ordered mugs and tea towels, and the tea towels were not in the delivery.", "missing"),
        ("Ich habe das Paket vor zwei Wochen zurückgeschickt. Bis jetzt ist kein Geld da.", "refund"),
        ("Das Windlicht kam in tausend Scherben an.", "damaged"),
        ("instead of the lunch bag I paid for there's a set of coasters in it", "wrong_item"),
        ("8 different things, but only 6 were in the box even though the slip lists all 8", "missing"),
        ("von den drei Kerzenhaltern waren nur zwei drin", "missing"),
    ],
)
def test_each_topic_is_read_from_its_words(text: str, topic: str) -> None:
    complaint = read_complaint(text)
    assert complaint is not None
    assert complaint.topic == topic


@pytest.mark.parametrize(
    "text",
    [
        "How long do refunds take?",
        "What if my item is defective?",
        "is it too late to cancel",
        "Do you sell cracked glaze bowls?",
        "I ordered the wrong size, can I exchange it?",
        "Where is my order?",
        "tell me a joke",
        "reset email never came through, checked spam too",
        "I would like my order delivered to my daughter's address instead of mine",
        "can i swap the cushion for a different colour",
        "it arrived after his birthday because I left it late. what amounts do gift cards come in?",
    ],
)
def test_questions_are_not_complaints(text: str) -> None:
    assert read_complaint(text) is None


def test_anger_without_a_topic_is_still_a_complaint() -> None:
    complaint = read_complaint("This is unacceptable.")
    assert complaint is not None
    assert (complaint.topic, complaint.upset) == (None, True)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("The courier left my box in the rain and everything inside is soggy", "damaged"),
        ("The postman says he delivered it but there is nothing here", "late"),
    ],
)
def test_a_complaint_the_words_miss_is_found_by_meaning(
    reader: ComplaintReader, text: str, topic: str
) -> None:
    assert read_complaint(text) is None
    complaint = reader.resembles(text)
    assert complaint is not None
    assert complaint.topic == topic


@pytest.mark.parametrize(
    "text",
    ["could you recommend a nice candle for my aunt?", "what are your favourite products this season?"],
)
def test_other_messages_do_not_resemble_complaints(reader: ComplaintReader, text: str) -> None:
    assert reader.resembles(text) is None


def test_training_examples_with_an_unknown_label_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    path.write_text("# comment\ndamaged\tit broke\nangry\tgrr\n")
    with pytest.raises(ValueError, match=r"train\.tsv:3: expected '<label><TAB><message>'"):
        read_examples(path)


def test_german_damage_words_are_a_damaged_complaint() -> None:
    complaint = read_complaint("Die Vase ist kaputt angekommen")
    assert complaint is not None
    assert complaint.topic == "damaged"


def test_one_item_that_did_not_come_is_missing_not_late() -> None:
    complaint = read_complaint("one item didnt come")
    assert complaint is not None
    assert complaint.topic == "missing"


def test_a_german_missing_part_is_missing() -> None:
    complaint = read_complaint("In meinem Paket fehlt ein Teil")
    assert complaint is not None
    assert complaint.topic == "missing"


def test_a_return_the_shop_has_makes_the_wait_about_the_refund() -> None:
    complaint = read_complaint("its been two weeks since you got my return")
    assert complaint is not None
    assert complaint.topic == "refund"


def test_no_complaints_is_contentment_not_anger() -> None:
    complaint = read_complaint("Delivery was quick, so no complaints there! My lamp came broken though.")
    assert complaint is not None
    assert not complaint.upset
