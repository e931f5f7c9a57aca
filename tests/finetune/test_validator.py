"""``finetune validate`` over chunks and worker processes: the same report however the file is cut up."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from finetune.fastjson import has_lone_surrogate, loads
from finetune.tokens import Tokenizer
from finetune.validation import check_example
from finetune.validator import FileReport, chunk_ranges, validate_file
from tests.finetune.conftest import FIXTURES

MODEL = "gpt-4o-mini-2024-07-18"

# Lines the fast paths (orjson, plain examples) must treat exactly as the general ones do.
EDGE_LINES = [
    '{"messages": [{"role": ["x"], "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", '
    '"weight": 99999999999999999999999}]}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "weight": NaN}]}',
    '{"messages": [{"role": "user", "content": "\\ud800 lone"}, {"role": "assistant", "content": "yo"}]}',
    '{"messages": [{"role": "developer", "content": "be nice"}, {"role": "user", "content": "hi"}, '
    '{"role": "assistant", "content": "yo"}]}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "   "}]}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": 1.5}]}',
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}], "tools": '
    '[{"type": "function", "function": {"name": "f", "parameters": {"maximum": 123456789012345678901234567890}}}]}',
    '\ufeff{"messages": [{"role": "user", "content": "bom"}, {"role": "assistant", "content": "b"}]}',
    '{"messages": [{"role": "assistant", "content": "only an answer"}]}',
    '{"messages": [{"role": "user", "content": "'
    + "word " * 400
    + '"}, {"role": "assistant", "content": "b"}]}',
    "[1, 2]",
    "12",
    "{}",
    "",
    "   ",
]


def _mixed_file(path: Path) -> Path:
    good = [line for line in (FIXTURES / "chat.jsonl").read_text(encoding="utf-8").splitlines() if line]
    bad = (FIXTURES / "invalid.jsonl").read_text(encoding="utf-8").splitlines()
    lines = [*good, *bad, *EDGE_LINES] * 3
    data = b"".join(
        line.encode("utf-8", "surrogatepass") + (b"\r\n" if i % 7 == 0 else b"\n")
        for i, line in enumerate(lines)
    )
    # Not UTF-8, and a last line cut off without its newline.
    path.write_bytes(data + b"\xff\xfe not utf-8\n" + b'{"messages": [{"role": "user", "content": "a"}')
    return path


def _as_dict(report: FileReport) -> dict[str, Any]:
    out = asdict(report)
    out["tokens"] = sorted(report.tokens.counts.items())
    out["assistant_tokens"] = sorted(report.assistant_tokens.counts.items())
    return out


@pytest.mark.parametrize("limit", [65_536, 120])
def test_workers_and_chunks_give_the_same_report(tmp_path: Path, limit: int) -> None:
    path = _mixed_file(tmp_path / "mixed.jsonl")
    tokenizer = Tokenizer.for_model(MODEL)
    whole = validate_file(path, tokenizer, limit, model=MODEL, workers=1, chunk_bytes=1 << 30)
    assert whole.examples > 50
    assert whole.failed_examples > 20
    assert whole.tokens.n > 10
    for workers, chunk_bytes in ((1, 97), (2, 97), (2, 1 << 20), (3, 500)):
        other = validate_file(path, tokenizer, limit, model=MODEL, workers=workers, chunk_bytes=chunk_bytes)
        assert _as_dict(other) == _as_dict(whole), (workers, chunk_bytes)


def test_report_matches_checking_line_by_line(tmp_path: Path) -> None:
    path = _mixed_file(tmp_path / "mixed.jsonl")
    tokenizer = Tokenizer.for_model(MODEL)
    report = validate_file(path, tokenizer, 65_536, model=MODEL, workers=2, chunk_bytes=200)
    expected: list[tuple[int, str]] = []
    totals: list[int] = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            example = json.loads(raw)
        except ValueError:
            expected.append((number, "invalid_json"))
            continue
        assert repr(loads(raw)) == repr(example)
        if has_lone_surrogate(raw, example):
            expected.append((number, "invalid_unicode"))
            continue
        issues = check_example(example)
        if issues:
            expected.extend((number, c) for c in dict.fromkeys(str(i.check) for i in issues))
            continue
        totals.append(tokenizer.example_tokens(example["messages"], example.get("tools")).total)
    assert [(p.line, p.check) for p in report.problems] == expected
    assert sorted(report.tokens.counts.elements()) == sorted(totals)


def test_chunks_cover_the_file_on_line_boundaries(tmp_path: Path) -> None:
    path = _mixed_file(tmp_path / "mixed.jsonl")
    data = path.read_bytes()
    ranges = list(chunk_ranges(path, 300))
    assert ranges[0][0] == 0
    assert ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(data[end - 1 : end] == b"\n" for _, end in ranges[:-1])
