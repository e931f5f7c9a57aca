"""How the built-in responder answers held-out customer messages: right, wrong or asked back, per kind.

Used by ``bench/quality.py``; the sets and how they were written are in ``bench/data/README.md``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.llm.local import LocalChatModel
from app.llm.model import ChatRequest
from app.llm.tokens import ChatMessage

DATA = Path(__file__).resolve().parent / "data"
RESPONDER_SETS = {
    "heldout": DATA / "responder_heldout.tsv",
    "heldout2": DATA / "responder_heldout2.tsv",
    "heldout3": DATA / "responder_heldout3.tsv",
    "heldout4": DATA / "responder_heldout4.tsv",
    "heldout5": DATA / "responder_heldout5.tsv",
    "dev": DATA / "responder_dev.tsv",
    "dev2": DATA / "responder_dev2.tsv",
    "dev3": DATA / "responder_dev3.tsv",
    "dev4": DATA / "responder_dev4.tsv",
    "dev5": DATA / "responder_dev5.tsv",
    "dev6": DATA / "responder_dev6.tsv",
    "dev7": DATA / "responder_dev7.tsv",
    "dev8": DATA / "responder_dev8.tsv",
    "dev9": DATA / "responder_dev9.tsv",
    "dev10": DATA / "responder_dev10.tsv",
    "dev11": DATA / "responder_dev11.tsv",
}
DIALOGUES = DATA / "responder_dialogues.tsv"


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled message: what it should get (FAQ id, ``uncovered`` or ``smalltalk``), its language, kind."""

    text: str
    expected: str
    lang: str
    kind: str


def read_rows(path: Path) -> list[Row]:
    """``text<TAB>expected<TAB>lang<TAB>kind`` lines, ``#`` comments skipped."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            text, expected, lang, kind = line.split("\t")
            rows.append(Row(text.strip(), expected, lang, kind))
    return rows


def answered(model: LocalChatModel, reply: str) -> set[str]:
    """The FAQ entries whose curated answer (in any of its languages) the reply gives.

    An answer is known by its last 60 characters (a complaint reply drops an answer's opening apology). Those
    may also close another entry's answer (a gift card's "enter the code at checkout" is in the discount-code
    answer too): an entry counts only when its ending occurs more often than the other found answers explain.
    """
    found = {
        e.faq_id: [
            t.strip() for t in (e.answer, *getattr(e, "answers", {}).values()) if t.strip()[-60:] in reply
        ]
        for e in model.knowledge.shop.faq
    }
    found = {faq_id: texts for faq_id, texts in found.items() if texts}
    out = set()
    for faq_id, texts in found.items():
        for text in texts:
            ending = text[-60:]
            inside = sum(t.count(ending) for other, ts in found.items() if other != faq_id for t in ts)
            if reply.count(ending) > inside:
                out.add(faq_id)
                break
    return out


def in_language(model: LocalChatModel, reply: str, lang: str) -> bool:
    """Whether the reply gives some FAQ answer in ``lang``."""
    return any(
        lang in (texts := getattr(e, "answers", {})) and texts[lang].strip()[-60:] in reply
        for e in model.knowledge.shop.faq
    )


def ask(model: LocalChatModel, text: str, history: Sequence[ChatMessage] = ()) -> str:
    """The responder's reply to ``text`` after ``history``."""
    messages: list[ChatMessage] = [*history, {"role": "user", "content": text}]
    return model.answer(ChatRequest(messages=messages, route="chat", query=text))


def outcome(model: LocalChatModel, row: Row, reply: str) -> str:
    """``right``, ``wrong`` or ``asked`` (a clarifying question or the way to a person).

    Right is the expected entry's answer and no other: a reply that gives two entries' answers has guessed.
    """
    got = answered(model, reply)
    if row.expected == "smalltalk":
        return "right" if model.is_small_talk(reply) else ("wrong" if got else "asked")
    if row.expected == "uncovered":
        return "wrong" if got else "right"
    if got == {row.expected}:
        return "right"
    return "wrong" if got else "asked"


def evaluate_responder(model: LocalChatModel, rows: Sequence[Row]) -> dict[str, Any]:
    """Right/wrong/asked-back rates per kind, uncovered wrong rate, small talk, and German answered in German."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"right": 0, "wrong": 0, "asked": 0})
    errors = []
    german = german_right = several = 0
    for row in rows:
        reply = ask(model, row.text)
        result = outcome(model, row, row_reply := reply)
        several += len(answered(model, reply)) > 1
        groups = [row.kind]
        if row.expected not in ("uncovered", "smalltalk"):
            groups.append("covered")
            if row.lang != "en":
                groups.append(f"covered_{row.lang}")
        for group in groups:
            counts[group][result] += 1
        if row.lang == "de" and result == "right" and row.expected not in ("uncovered", "smalltalk"):
            german += 1
            german_right += in_language(model, row_reply, "de")
        if result != "right":
            errors.append(
                {
                    "kind": row.kind,
                    "expected": row.expected,
                    "result": result,
                    "text": row.text,
                    "reply": reply[:100].replace("\n", " "),
                }
            )
    rates = {
        group: {k: v / max(1, sum(c.values())) for k, v in c.items()} | {"n": sum(c.values())}
        for group, c in sorted(counts.items())
    }
    return {
        "rates": rates,
        "german_in_german": german_right / max(1, german),
        "german_n": german,
        "several_answers": several,
        "errors": errors,
    }


def read_dialogues(path: Path = DIALOGUES) -> list[tuple[list[str], str]]:
    """Scripted dialogues: the customer's turns and what the last reply must be."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            turns, expected = line.split("\t")
            out.append(([t.strip() for t in turns.split("||")], expected.strip()))
    return out


def dialogue_outcome(model: LocalChatModel, reply: str, expected: str) -> bool:
    """Whether the last reply is what the script wants."""
    got = answered(model, reply)
    if expected == "smalltalk":
        return model.is_small_talk(reply)
    if expected == "human":
        return not got and model.knowledge.shop.support_email in reply and "?" not in reply[-3:]
    if expected == "ask":
        return not got and "?" in reply
    # One of the accepted entries' answers, and only one answer.
    return len(got) == 1 and got <= set(expected.split("|"))


def evaluate_dialogues(model: LocalChatModel, dialogues: Sequence[tuple[list[str], str]]) -> dict[str, Any]:
    """Play each dialogue (the responder answers every turn) and check the last reply."""
    passed = 0
    failures = []
    for turns, expected in dialogues:
        history: list[ChatMessage] = []
        reply = ""
        for turn in turns:
            reply = ask(model, turn, history)
            history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply}]
        ok = dialogue_outcome(model, reply, expected)
        passed += ok
        if not ok:
            failures.append({"turns": " || ".join(turns), "expected": expected, "reply": reply[:100]})
    return {"passed": passed, "n": len(dialogues), "failures": failures}
