"""Exact and near-duplicate detection, and no duplicate on both sides of the split."""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import numpy as np

from finetune.dedup import DedupIndex, HashTable, MinHasher, exact_key
from finetune.pipeline import run_prepare
from finetune.settings import DedupMode, DuplicatePolicy
from tests.finetune.conftest import PrepareFactory, outputs

BASE = (
    "Thanks for reaching out about your parcel. Orders placed before two pm ship the same working day "
    "and usually arrive within three to five working days. You can follow the courier from the link in "
    "your confirmation email, and if anything looks wrong just reply here and we will sort it out quickly."
)


def _example(question: str, answer: str) -> str:
    return json.dumps(
        {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
    )


def test_hash_table_round_trip_and_growth() -> None:
    table = HashTable(capacity=16)
    keys = np.arange(1, 5001, dtype=np.uint64) * np.uint64(2654435761)
    table.put(keys, np.arange(5000, dtype=np.int32))
    assert len(table) == 5000
    assert (table.get(keys) == np.arange(5000)).all()
    assert (table.get(keys + np.uint64(1)) == -1).all()


def test_near_duplicates_are_found_and_different_texts_are_not() -> None:
    hasher = MinHasher(64, 0.8)
    index = DedupIndex(0.8, 64, hasher.bands)
    texts = [
        BASE,
        BASE.replace("quickly", "fast"),
        "A completely different answer about refunds and returns of mugs.",
    ]
    sigs = [hasher.signature(t.casefold()) for t in texts]
    verdicts = index.check_batch([exact_key(t) for t in texts], sigs, [hasher.band_keys(s) for s in sigs])
    assert [v.kind for v in verdicts] == [None, "near", None]
    assert verdicts[1].of == 0


def _answer(i: int) -> str:
    rng = random.Random(i)
    words = BASE.split()
    return " ".join(rng.choice(words) for _ in range(40))


def _write_dataset(path: Path, n: int) -> None:
    lines = []
    for i in range(n):
        lines.append(_example(f"Question {i}?", _answer(i)))
        lines.append(_example(f"QUESTION   {i}?", _answer(i)))  # exact after normalising
        lines.append(_example(f"Question {i}?", _answer(i) + " Cheers."))  # near
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_duplicates_are_rejected_with_their_original(tmp_path: Path, make_settings: PrepareFactory) -> None:
    path = tmp_path / "dups.jsonl"
    path.write_text(
        "\n".join([_example("Hi", BASE), _example("hi ", BASE), _example("Hi", BASE + " Thanks!")]) + "\n",
        encoding="utf-8",
    )
    settings = make_settings(path, redact_pii=False)
    tally, _ = run_prepare(settings)
    _, _, rejected = outputs(settings.out_dir)
    assert [(r["line"], r["reason"], r["duplicate_of"]["line"]) for r in rejected] == [
        (2, "exact_duplicate", 1),
        (3, "near_duplicate", 1),
    ]
    assert tally.counts()["train"] + tally.counts()["validation"] == 1


def test_no_duplicate_in_both_train_and_validation(tmp_path: Path, make_settings: PrepareFactory) -> None:
    path = tmp_path / "many.jsonl"
    _write_dataset(path, 60)
    for policy in (DuplicatePolicy.DROP, DuplicatePolicy.SAME_SPLIT):
        settings = make_settings(
            path, validation_ratio=0.5, duplicates=policy, redact_pii=False, near_threshold=0.7
        )
        run_prepare(settings)
        train, validation, _ = outputs(settings.out_dir)
        hasher = MinHasher(64, 0.7)
        train_sigs = [hasher.signature(e["messages"][1]["content"].casefold()) for e in train]
        for example in validation:
            sig = hasher.signature(example["messages"][1]["content"].casefold())
            best = max(float(np.mean(sig == other)) for other in train_sigs)
            assert best < 0.7, (policy, example)
        assert len(validation) > 0


def test_same_split_policy_keeps_duplicates(tmp_path: Path, make_settings: PrepareFactory) -> None:
    path = tmp_path / "many.jsonl"
    _write_dataset(path, 20)
    settings = make_settings(path, duplicates=DuplicatePolicy.SAME_SPLIT, redact_pii=False)
    tally, _ = run_prepare(settings)
    assert tally.counts()["rejected"] == 0
    assert tally.kept_duplicates["exact_duplicate"] == 20


def test_exact_mode_keeps_near_duplicates(tmp_path: Path, make_settings: PrepareFactory) -> None:
    path = tmp_path / "many.jsonl"
    _write_dataset(path, 10)
    tally, _ = run_prepare(make_settings(path, dedup=DedupMode.EXACT, redact_pii=False))
    assert dict(tally.rejected_by_reason) == {"exact_duplicate": 10}


def test_batched_signatures_equal_one_at_a_time() -> None:
    hasher = MinHasher(64, 0.85, 42)
    texts = ["", "one", "two words", *(f"user:word {i} " * (i % 40 + 1) for i in range(300))]
    batch = hasher.signatures(texts)
    assert batch.shape == (len(texts), 64)
    for text, row in zip(texts, batch, strict=True):
        # The textbook computation, text by text: crc32 of each word, 3-gram mix, min over a*x + b.
        words = np.array([zlib.crc32(w.encode()) for w in text.split() or [""]], dtype=np.uint32)
        with np.errstate(over="ignore"):
            if len(words) >= 3:
                words = words[:-2] * np.uint32(0x9E3779B1) + words[1:-1] * np.uint32(0x85EBCA77) + words[2:]
            expected = (words[:, None] * hasher._a + hasher._b).min(axis=0)
        assert (expected == row).all()
        assert (hasher.signature(text) == row).all()
    keys = hasher.band_keys_of(batch)
    assert all((hasher.band_keys(row) == k).all() for row, k in zip(batch, keys, strict=True))
