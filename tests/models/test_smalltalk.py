"""Greetings, thanks and goodbyes, told apart from questions."""

from __future__ import annotations

import pytest

from app.llm.smalltalk import small_talk


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hello there!", "hello"),
        ("Guten Tag", "hello"),
        ("thank you so much, that's helpful", "thanks"),
        ("merci beaucoup", "thanks"),
        ("ok thanks bye", "bye"),
        ("have a nice evening", "bye"),
        ("hi, how are you?", "how_are_you"),
        ("are you a robot?", "bot"),
        ("is this a bot or a real person", "bot"),
        ("anyone there?", "hello"),
        ("lovely stuff", "ok"),
        ("good night", "bye"),
        ("vielen lieben dank", "thanks"),
    ],
)
def test_small_talk_is_told_by_its_kind(text: str, kind: str) -> None:
    assert small_talk(text) == kind


def test_a_greeting_with_a_question_is_not_small_talk() -> None:
    assert small_talk("hi, where is my order?") is None
    assert small_talk("thanks, and do you ship to France?") is None


def test_someone_there_with_a_question_is_not_small_talk() -> None:
    assert small_talk("is anyone there who can help with my refund") is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [("got it", "ok"), ("no worries", "ok"), ("alles klar", "ok"), ("okey dokey", "ok"), ("kk", "ok")],
)
def test_short_acknowledgements_are_ok(text: str, kind: str) -> None:
    assert small_talk(text) == kind


def test_laughter_of_any_length_is_an_acknowledgement() -> None:
    assert [small_talk(t) for t in ("hahahaha", "hehe", "lol", "lmaooo")] == ["ok"] * 4


def test_emoji_alone_is_an_acknowledgement_or_a_frown() -> None:
    assert (small_talk("🙂👍"), small_talk(":-)"), small_talk("😡")) == ("ok", "ok", "insult")


def test_punctuation_alone_is_not_small_talk() -> None:
    assert small_talk("?") is None


def test_praise_of_the_assistant_is_a_compliment() -> None:
    assert [small_talk(t) for t in ("you're brilliant", "good bot", "du bist super")] == ["compliment"] * 3


def test_thanks_with_praise_are_thanks() -> None:
    assert small_talk("thanks, you've been a star") == "thanks"


def test_abuse_of_the_assistant_is_an_insult() -> None:
    assert [small_talk(t) for t in ("worst bot ever", "you are so dumb", "voll nutzlos")] == ["insult"] * 3


def test_abuse_with_a_question_is_not_small_talk() -> None:
    assert small_talk("useless bot, where is my order") is None


@pytest.mark.parametrize(
    "text", ["are you a real human being", "bist du ein roboter oder echt", "is this automated"]
)
def test_are_you_human_variants_ask_about_the_bot(text: str) -> None:
    assert small_talk(text) == "bot"


def test_how_is_your_day_asks_how_we_are() -> None:
    assert small_talk("how's your day going") == "how_are_you"


@pytest.mark.parametrize(
    "text",
    ["what's your name?", "what can you do", "help", "can you help me?", "was kannst du?", "Wie heißt du"],
)
def test_asking_what_the_assistant_is_or_can_do_gets_its_introduction(text: str) -> None:
    assert small_talk(text) == "bot"


def test_help_with_something_named_is_a_question() -> None:
    assert small_talk("help with my order") is None
    assert small_talk("can you help me find a gift") is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("one sec", "wait"),
        ("hang on", "wait"),
        ("Moment bitte", "wait"),
        ("nvm", "never_mind"),
        ("oops wrong chat", "never_mind"),
        ("vergiss es", "never_mind"),
        ("tell me a joke", "chitchat"),
        ("whats the weather like", "chitchat"),
        ("do you ever sleep", "chitchat"),
        ("just browsing", "browsing"),
    ],
)
def test_waiting_taking_back_chatting_and_browsing_are_small_talk(text: str, kind: str) -> None:
    assert small_talk(text) == kind


def test_letters_typed_over_and_over_are_read_as_the_word() -> None:
    assert (small_talk("hiyaaa"), small_talk("heyy"), small_talk("thxxx")) == ("hello", "hello", "thanks")


def test_good_news_with_thanks_is_thanks() -> None:
    assert small_talk("thanks, the refund came through!") == "thanks"
    assert small_talk("parcel arrived, all good, cheers") == "thanks"


def test_good_news_words_without_thanks_or_with_a_problem_are_not_small_talk() -> None:
    assert small_talk("my parcel arrived broken") is None
    assert small_talk("the refund came through?") is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("you've been no help at all", "insult"),
        ("what a rubbish website", "insult"),
        ("this is a joke", "insult"),
        ("Ihr seid echt unfähig", "insult"),
        ("love this shop", "compliment"),
        ("Morning, hope you are well", "how_are_you"),
        ("Bist du ein Bot oder ein echter Mensch?", "bot"),
        ("are you chatgpt", "bot"),
        ("u there?", "hello"),
        ("hi, I have a question", "hello"),
    ],
)
def test_more_ways_of_saying_small_talk(text: str, kind: str) -> None:
    assert small_talk(text) == kind


def test_thanks_that_helps_is_not_an_insult() -> None:
    assert small_talk("thank you so much, that's helpful") == "thanks"
    assert small_talk("that wasn't helpful") == "insult"


def test_waiting_or_taking_back_with_a_question_is_not_small_talk() -> None:
    assert small_talk("hang on, where is my order") is None
    assert small_talk("sorry, can I change my address") is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("wait am i talking to a bot rn", "bot"),
        ("have you got a name or are you just 'assistant'", "bot"),
        ("hope your day is treating you ok so far", "how_are_you"),
        ("Good morning to you, lovely weather today", "hello"),
        ("ugh this is so frustrating honestly", "insult"),
        ("sound, cheers", "thanks"),
        ("happy new year to you all 🥂", "hello"),
        ("hang on, is this an actual bot", "bot"),
        ("wow that was quick", "compliment"),
    ],
)
def test_small_talk_of_the_third_round(text: str, kind: str) -> None:
    assert small_talk(text) == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("still there?", "hello"),
        ("that's everything I needed, have a lovely evening", "bye"),
        ("cheers, that's me sorted, all the best", "bye"),
        ("sorry for all the questions!", "never_mind"),
        ("asdfghjk sorry the cat walked on my keyboard", "never_mind"),
        ("brb someone's at the door", "wait"),
        ("this chat is actually really handy, well done whoever made it", "compliment"),
        ("honestly this chatbot is rubbish", "insult"),
        ("na toll 🙄", "insult"),
        (
            "Vielen herzlichen Dank für Ihre freundliche Hilfe, ich wünsche Ihnen noch einen schönen Abend.",
            "bye",
        ),
        ("Entschuldigung für die späte Antwort, ich war kurz weg", "wait"),
    ],
)
def test_closings_apologies_absences_and_chat_about_the_chat(text: str, kind: str) -> None:
    assert small_talk(text) == kind
