"""Every input format becomes chat records with its origin; unreadable records are rejected, not lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune.errors import ErrorCode, FinetuneError
from finetune.pipeline import run_prepare
from finetune.sources import (
    CsvSpec,
    Format,
    Kind,
    TranscriptSpec,
    detect_format,
    read_file,
    transcript_to_example,
)
from tests.finetune.conftest import FIXTURES, PrepareFactory, outputs


def test_detects_formats() -> None:
    assert detect_format(FIXTURES / "chat.jsonl") == Format.CHAT
    assert detect_format(FIXTURES / "support.csv") == Format.CSV
    assert detect_format(FIXTURES / "transcripts.jsonl") == Format.TRANSCRIPT
    assert detect_format(FIXTURES / "transcripts.json") == Format.TRANSCRIPT


def test_chat_jsonl_records_keep_line_numbers_and_skip_blank_lines() -> None:
    _, records = read_file(FIXTURES / "chat.jsonl", Format.AUTO, CsvSpec())
    got = [(r.origin.record, r.origin.line, r.kind) for r in records]
    assert got == [(1, 1, Kind.CHAT_JSON), (2, 2, Kind.CHAT_JSON), (3, 4, Kind.CHAT_JSON)]


def test_csv_rows_become_user_assistant_pairs_with_start_lines() -> None:
    _, iterator = read_file(FIXTURES / "support.csv", Format.AUTO, CsvSpec())
    records = list(iterator)
    assert [r.origin.line for r in records] == [2, 3, 4, 5, 6]
    assert records[1].payload["messages"][0] == {"role": "user", "content": "I want to track my order"}
    assert records[3].kind == Kind.REJECTED


def test_csv_configurable_columns(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text("q,a,sys\nhello,hi there,be nice\n", encoding="utf-8")
    _, records = read_file(path, Format.AUTO, CsvSpec(instruction=("q",), response=("a",), system="sys"))
    assert next(iter(records)).payload["messages"] == [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi there"},
    ]


def test_csv_without_the_columns_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    _, records = read_file(path, Format.AUTO, CsvSpec())
    with pytest.raises(FinetuneError) as info:
        list(records)
    assert info.value.code == ErrorCode.UNKNOWN_FORMAT


def test_transcript_speakers_map_to_roles() -> None:
    example = transcript_to_example(
        {"turns": [{"speaker": "Kunde", "text": "Hallo"}, {"speaker": "Agent", "text": "Hi"}]},
        TranscriptSpec().with_speakers({"Kunde": "user"}),
    )
    assert example == {
        "messages": [{"role": "user", "content": "Hallo"}, {"role": "assistant", "content": "Hi"}]
    }


def test_transcripts_jsonl_end_to_end(make_settings: PrepareFactory) -> None:
    settings = make_settings(FIXTURES / "transcripts.jsonl", validation_ratio=0.0)
    run_prepare(settings)
    train, validation, rejected = outputs(settings.out_dir)
    assert validation == []
    assert train[0]["messages"] == [
        {"role": "user", "content": "Hi, my parcel has not arrived.\n\nIt was due on Monday."},
        {"role": "assistant", "content": "Sorry to hear that! Can you give me the order number?"},
        {"role": "user", "content": "It is order number [ORDER_1]."},
        {"role": "assistant", "content": "Thanks, order [ORDER_1] is with the courier and arrives tomorrow."},
    ]
    assert train[1]["messages"] == [
        {"role": "user", "content": "Do you ship to France?"},
        {"role": "assistant", "content": "Yes, in 3-5 working days."},
    ]
    assert [(r["line"], r["reason"]) for r in rejected] == [(3, "unreadable_record")]
    assert "Narrator" in rejected[0]["detail"]


def test_transcripts_json_array(make_settings: PrepareFactory) -> None:
    settings = make_settings(FIXTURES / "transcripts.json", validation_ratio=0.0)
    tally, _ = run_prepare(settings)
    train, _, _ = outputs(settings.out_dir)
    assert [m["role"] for m in train[1]["messages"]] == ["user", "assistant"]
    assert tally.counts() == {"records_in": 2, "train": 2, "validation": 0, "rejected": 0}


def test_missing_input_is_a_typed_error(make_settings: PrepareFactory) -> None:
    with pytest.raises(FinetuneError) as info:
        run_prepare(make_settings(FIXTURES / "nope.jsonl"))
    assert info.value.code == ErrorCode.INPUT_NOT_FOUND
