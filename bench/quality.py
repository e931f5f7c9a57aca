"""Measure what customers get from the intent router, on held-out messages written apart from its training data.

Run ``.venv/bin/python bench/quality.py`` (no network, no ``../shared``). It prints per-intent precision, recall
and F1, the confusion of ``recommend`` against everything else, ``recommend`` precision at each recall the
threshold allows, the recommendation checks, and what the built-in responder answers (right, wrong or asked back
per kind of message, topics the FAQ lacks, small talk, German answered in German, multi-turn carry-over) on
``bench/data/responder_heldout5.tsv``, the newest final slice (``--responder-set heldout`` … ``heldout4`` for the
earlier ones, ``dev`` … ``dev10`` for the development slices); it writes ``bench/results/quality.json`` and
``bench/results/quality.png``. The figures in the README come from this script's output on
``bench/data/intents_heldout.tsv`` (the untouched final slice; ``intents_dev.tsv`` and ``intents_tuning.tsv`` are
slices whose errors were read). How they were written: ``bench/data/README.md``.
"""

from __future__ import annotations

import os

# One BLAS thread, as the server runs the encoder; must be set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.llm.intents import (  # noqa: E402
    INTENTS,
    TRAIN_PATH,
    IntentClassifier,
    IntentGuess,
    read_examples,
)
from app.llm.local import LocalChatModel  # noqa: E402
from app.llm.prompts import PromptLibrary  # noqa: E402
from app.shop.catalog import Shop, load_shop, looks_like_a_charge  # noqa: E402
from app.shop.embedding import default_encoder  # noqa: E402
from app.shop.knowledge import KnowledgeBase  # noqa: E402
from app.shop.recommend.constraints import parse_constraints  # noqa: E402
from app.shop.recommend.service import DEFAULT_MODEL_PATH, ShopRecommender  # noqa: E402
from app.shop.recommender import Shown  # noqa: E402
from bench.responder import (  # noqa: E402
    RESPONDER_SETS,
    evaluate_dialogues,
    evaluate_responder,
    read_dialogues,
    read_rows,
)

DATA = ROOT / "bench" / "data"
SETS = {
    "heldout": DATA / "intents_heldout.tsv",
    "tuning": DATA / "intents_tuning.tsv",
    "dev": DATA / "intents_dev.tsv",
}
RESULTS = ROOT / "bench" / "results"
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Point 4 of the checks: what the recommender must never do, on the demo shop.
NOT_GOODS_QUERIES = (
    "postage",
    "what about postage?",
    "next day carriage",
    "bank charges",
    "the manual",
    "samples",
    "a discount",
    "a gift voucher",
    "packing charge",
)
NOT_GOODS_NAMES = ("Postage", "CARRIAGE", "Bank Charges", "Manual", "SAMPLES", "Discount", "Gift Voucher £20")
CHAT_WORD_QUERIES = (
    "what should I buy next?",
    "something nice please",
    "I sent you a message, any ideas?",
    "next one please",
    "can you help me pick something?",
)
CHEAPER_REPLIES = (
    "Can you recommend something cheaper?",
    "Cheaper",
    "Kannst du mir etwas Günstigeres empfehlen?",
)
CUSTOMERS = (None, "12347", "12748")


def per_intent(truth: Sequence[str], guess: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each intent."""
    out: dict[str, dict[str, float]] = {}
    for intent in INTENTS:
        tp = sum(t == intent and g == intent for t, g in zip(truth, guess, strict=True))
        fp = sum(t != intent and g == intent for t, g in zip(truth, guess, strict=True))
        fn = sum(t == intent and g != intent for t, g in zip(truth, guess, strict=True))
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[intent] = {"precision": p, "recall": r, "f1": f1, "support": float(tp + fn)}
    return out


def recommend_confusion(truth: Sequence[str], guess: Sequence[str]) -> dict[str, float]:
    """``recommend`` (product cards) against every other intent: counts, precision and recall."""
    pairs = list(zip(truth, guess, strict=True))
    tp = sum(t == "recommend" and g == "recommend" for t, g in pairs)
    fp = sum(t != "recommend" and g == "recommend" for t, g in pairs)
    fn = sum(t == "recommend" and g != "recommend" for t, g in pairs)
    tn = len(pairs) - tp - fp - fn
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
    }


def evaluate(classifier: IntentClassifier, rows: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Every figure for one labelled set, at the shipped threshold and across thresholds."""
    encoder = default_encoder()
    texts = [text for _, text in rows]
    truth = [label for label, _ in rows]
    vectors = encoder.encode(texts)
    shipped = classifier.recommend_threshold
    started = time.perf_counter()
    guesses: list[IntentGuess] = [classifier.decide(t, v) for t, v in zip(texts, vectors, strict=True)]
    decide_ms = (time.perf_counter() - started) * 1000 / len(rows)
    guess = [g.intent for g in guesses]
    sweep = []
    for threshold in THRESHOLDS:
        classifier.recommend_threshold = threshold
        at = [classifier.decide(t, v).intent for t, v in zip(texts, vectors, strict=True)]
        sweep.append({"threshold": threshold, **recommend_confusion(truth, at)})
    classifier.recommend_threshold = shipped
    started = time.perf_counter()
    for text in texts[:50]:
        encoder.encode([text])
    embed_ms = (time.perf_counter() - started) * 1000 / min(50, len(texts))
    errors = [
        {"truth": t, "guess": g.intent, "confidence": round(g.confidence, 3), "by_rule": g.by_rule, "text": x}
        for t, g, x in zip(truth, guesses, texts, strict=True)
        if t != g.intent
    ]
    scores = per_intent(truth, guess)
    return {
        "n": len(rows),
        "accuracy": sum(t == g for t, g in zip(truth, guess, strict=True)) / len(rows),
        "macro_f1": float(np.mean([s["f1"] for s in scores.values() if s["support"]])),
        "per_intent": scores,
        "recommend": recommend_confusion(truth, guess),
        "recommend_sweep": sweep,
        "by_rule": sum(g.by_rule for g in guesses) / len(rows),
        "confident_share": sum(g.confident for g in guesses) / len(rows),
        "confident_accuracy": sum(g.confident and g.intent == t for g, t in zip(guesses, truth, strict=True))
        / max(1, sum(g.confident for g in guesses)),
        "confident_recommend_precision": sum(
            g.confident and g.intent == "recommend" and t == "recommend"
            for g, t in zip(guesses, truth, strict=True)
        )
        / max(1, sum(g.confident and g.intent == "recommend" for g in guesses)),
        "decide_ms": decide_ms,
        "embed_ms": embed_ms,
        "confused": Counter(f"{e['truth']} -> {e['guess']}" for e in errors).most_common(10),
        "errors": errors,
    }


def recommendation_checks(shop: Shop) -> dict[str, Any]:
    """Point 4 on the demo shop: no non-goods, no chat words as keywords, "cheaper" cheaper, CF for "buy next"."""
    service = ShopRecommender(shop, DEFAULT_MODEL_PATH)
    vocabulary = {w for p in shop.products.values() for w in p.name.lower().split()}
    cards = [c for q in NOT_GOODS_QUERIES for who in CUSTOMERS for c in service.recommend(who, q, 10)]
    non_goods = sum(not shop.products[c.product_id].is_product for c in cards)
    named = sum(looks_like_a_charge("X", name) for name in NOT_GOODS_NAMES)
    keywords = {q: parse_constraints(q, vocabulary).keywords for q in CHAT_WORD_QUERIES}
    cheaper_ok = 0
    cheaper_n = 0
    for who in CUSTOMERS:
        first = service.recommend(who, "recommend me something", 4)
        shown = Shown(frozenset(c.product_id for c in first), tuple(c.price for c in first))
        for reply in CHEAPER_REPLIES:
            cheaper = service.recommend(who, reply, 4, shown)
            cheaper_n += 1
            cheaper_ok += bool(cheaper) and max(c.price for c in cheaper) < min(c.price for c in first)
    known = sorted({p.customer_id for p in shop.purchases if service.model.knows_user(p.customer_id)})[:50]
    personal = sum(
        all(
            c.reason.startswith("Customers who bought ")
            for c in service.recommend(who, "what should I buy next?", 4)
        )
        for who in known
    )
    return {
        "non_goods_cards": non_goods,
        "cards_checked": len(cards),
        "non_goods_names_recognised": f"{named}/{len(NOT_GOODS_NAMES)}",
        "chat_words_as_keywords": {q: list(k) for q, k in keywords.items() if k},
        "cheaper_lower_than_last_cards": f"{cheaper_ok}/{cheaper_n}",
        "buy_next_personal": f"{personal}/{len(known)}",
    }


def read_set(path: Path) -> list[tuple[str, str]]:
    """A held-out file: ``intent<TAB>text`` lines, ``#`` comments skipped."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, _, text = line.partition("\t")
            rows.append((label, text.strip()))
    return rows


def report(name: str, r: dict[str, Any], show_errors: bool) -> None:
    """Print one set's figures."""
    print(f"\n== {name}: {r['n']} messages ==")
    print(f"{'intent':<18}{'precision':>10}{'recall':>8}{'F1':>7}{'n':>5}")
    for intent, s in r["per_intent"].items():
        print(f"{intent:<18}{s['precision']:>10.2f}{s['recall']:>8.2f}{s['f1']:>7.2f}{int(s['support']):>5}")
    print(f"accuracy {r['accuracy']:.3f}  macro-F1 {r['macro_f1']:.3f}  decided by rules {r['by_rule']:.0%}")
    c = r["recommend"]
    print(
        f"recommend vs rest: TP {c['tp']} FP {c['fp']} FN {c['fn']} TN {c['tn']}  "
        f"precision {c['precision']:.3f} recall {c['recall']:.3f}"
    )
    print("recommend precision at recall (threshold on the learned probability; rules unchanged):")
    for s in r["recommend_sweep"]:
        print(f"  threshold {s['threshold']:.1f}: precision {s['precision']:.3f} at recall {s['recall']:.3f}")
    print(
        f"fast path (rules, or learned confidence >= 0.8): {r['confident_share']:.0%} of messages, "
        f"intent accuracy {r['confident_accuracy']:.3f}, recommend precision {r['confident_recommend_precision']:.3f}"
    )
    print(
        f"latency per message: embedding {r['embed_ms']:.1f} ms, intent on top of it {r['decide_ms']:.2f} ms"
    )
    print("most confused: " + ", ".join(f"{k} ({v})" for k, v in r["confused"]))
    if show_errors:
        for e in r["errors"]:
            print(f"  {e['truth']:>16} -> {e['guess']:<16} {e['confidence']:.2f} {e['text']}")


def plot(results: dict[str, Any], path: Path) -> None:
    """Per-intent F1 for each set, and recommend precision against recall across thresholds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / max(len(results), 1)
    xs = np.arange(len(INTENTS))
    for n, (name, r) in enumerate(results.items()):
        left.bar(xs + n * width, [r["per_intent"][i]["f1"] for i in INTENTS], width, label=name)
        sweep = r["recommend_sweep"]
        right.plot([s["recall"] for s in sweep], [s["precision"] for s in sweep], marker="o", label=name)
    left.set_xticks(xs + width / 2, INTENTS, rotation=60, ha="right")
    left.set_ylim(0, 1.05)
    left.set_title("F1 per intent (held-out messages)")
    left.legend(loc="lower left")
    right.axhline(0.95, color="grey", linestyle=":", label="precision 0.95")
    right.axvline(0.90, color="grey", linestyle="--", label="recall 0.90")
    right.set_xlabel("recommend recall")
    right.set_ylabel("recommend precision")
    right.set_title("Product cards: precision vs recall by threshold")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def responder_report(name: str, r: dict[str, Any], dialogues: dict[str, Any], show_errors: bool) -> None:
    """Print the built-in responder's figures on one set."""
    print(f"\n== built-in responder, {name}: what a customer gets ==")
    print(f"{'messages':<22}{'n':>5}{'right':>8}{'wrong':>8}{'asked back':>12}")
    labels = {
        "covered": "FAQ-covered, all",
        "single": "  one sentence",
        "multi": "  several sentences",
        "typo": "  with typos",
        "covered_de": "  German",
        "covered_fr": "  French",
        "uncovered": "topic the FAQ lacks",
        "smalltalk": "small talk",
    }
    for group, label in labels.items():
        if group in r["rates"]:
            g = r["rates"][group]
            print(f"{label:<22}{g['n']:>5}{g['right']:>8.0%}{g['wrong']:>8.0%}{g['asked']:>12.0%}")
    print(
        "(uncovered: 'right' = asked back or offered a person, 'wrong' = another topic's answer; small talk: "
        "'right' = a small-talk reply)"
    )
    print(
        f"German questions answered right that got the German text: {r['german_in_german']:.0%} of {r['german_n']}"
    )
    print(f"replies giving more than one entry's answer (never counted right): {r['several_answers']}")
    print(
        f"multi-turn carry-over (bench/data/responder_dialogues.tsv): {dialogues['passed']}/{dialogues['n']}"
    )
    if show_errors:
        for e in r["errors"]:
            print(f"  {e['kind']:<10}{e['expected']:<16}{e['result']:<6} {e['text']}  => {e['reply'][:60]}")
        for f in dialogues["failures"]:
            print(f"  dialogue {f['turns']} (wants {f['expected']}) => {f['reply'][:60]}")


def main() -> int:
    """Evaluate on the chosen held-out sets; print, and write JSON and PNG under bench/results/."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", help="which held-out slice")
    parser.add_argument("--errors", action="store_true", help="list every misrouted message")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--responder-set",
        choices=list(RESPONDER_SETS),
        default="heldout5",
        help="the built-in responder's slice",
    )
    args = parser.parse_args()
    names = list(SETS) if args.set == "all" else [args.set]
    started = time.perf_counter()
    classifier = IntentClassifier(default_encoder(), read_examples(TRAIN_PATH))
    print(f"trained on {len(read_examples(TRAIN_PATH))} examples in {time.perf_counter() - started:.1f} s")
    results = {name: evaluate(classifier, read_set(SETS[name])) for name in names}
    for name, r in results.items():
        report(name, r, args.errors)
    checks = recommendation_checks(load_shop())
    print("\n== recommendations on the demo shop ==")
    print(
        f"non-goods among {checks['cards_checked']} cards for postage/fee/voucher asks: {checks['non_goods_cards']}"
    )
    print(f"non-goods names recognised without a kind column: {checks['non_goods_names_recognised']}")
    print(f"chat words taken as product keywords: {checks['chat_words_as_keywords'] or 'none'}")
    print(
        f"'cheaper' (EN, quick reply, DE quick reply) below every card just shown: {checks['cheaper_lower_than_last_cards']}"
    )
    print(
        f"known customers whose 'what should I buy next?' cards are personal (CF): {checks['buy_next_personal']}"
    )
    responder = LocalChatModel(KnowledgeBase(load_shop(), default_encoder()), PromptLibrary(), delay_s=0)
    answered = evaluate_responder(responder, read_rows(RESPONDER_SETS[args.responder_set]))
    dialogues = evaluate_dialogues(responder, read_dialogues())
    # A final slice's per-message errors are never printed: reading them would make it a development slice.
    final = args.responder_set.startswith("heldout")
    if args.errors and final:
        print(f"(--errors lists no messages of the final slice {args.responder_set}; pick a dev slice)")
    responder_report(args.responder_set, answered, dialogues, args.errors and not final)
    RESULTS.mkdir(parents=True, exist_ok=True)
    slim: dict[str, Any] = {
        name: {k: v for k, v in r.items() if k != "errors"} for name, r in results.items()
    }
    slim["recommendations"] = checks
    slim["responder"] = {
        "set": args.responder_set,
        "rates": answered["rates"],
        "german_in_german": answered["german_in_german"],
        "several_answers": answered["several_answers"],
        "dialogues": f"{dialogues['passed']}/{dialogues['n']}",
    }
    (RESULTS / "quality.json").write_text(json.dumps(slim, indent=2) + "\n", encoding="utf-8")
    if not args.no_plot:
        plot(results, RESULTS / "quality.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
