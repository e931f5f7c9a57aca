"""CLI exit codes and messages for prepare and validate."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from finetune.cli import finetune_app
from tests.finetune.conftest import FIXTURES

runner = CliRunner()


def test_validate_good_file_exits_0_with_summary() -> None:
    result = runner.invoke(finetune_app, ["validate", str(FIXTURES / "chat.jsonl")])
    assert result.exit_code == 0, result.output
    assert "3 examples, all checks passed" in result.output
    assert "warning missing_system_message: 2" in result.output


def test_validate_bad_file_lists_line_check_and_message() -> None:
    result = runner.invoke(finetune_app, ["validate", str(FIXTURES / "invalid.jsonl")])
    assert result.exit_code == 1
    assert "15 of 15 examples failed checks" in result.stderr
    assert "line 1: data_type: example is a list, not an object" in result.stderr
    assert "line 5: unrecognized_role: message 0: unrecognized role 'customer'" in result.stderr
    assert "line 15: invalid_json:" in result.stderr


def test_validate_token_limit_is_a_failure() -> None:
    result = runner.invoke(finetune_app, ["validate", str(FIXTURES / "chat.jsonl"), "--max-tokens", "30"])
    assert result.exit_code == 1
    assert "over_token_limit" in result.stderr


def test_validate_missing_file() -> None:
    result = runner.invoke(finetune_app, ["validate", "nope.jsonl"])
    assert result.exit_code == 1
    assert "[input_not_found]" in result.stderr


def test_prepare_writes_everything_and_summarises(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [
        "prepare",
        str(FIXTURES / "chat.jsonl"),
        str(FIXTURES / "support.csv"),
        "-o",
        str(out),
        "-q",
        "--workers",
        "1",
    ]
    result = runner.invoke(finetune_app, args)
    assert result.exit_code == 0, result.output
    assert "8 records:" in result.output
    for name in (
        "train.jsonl",
        "validation.jsonl",
        "rejected.jsonl",
        "report.json",
        "report.md",
        "token_lengths.png",
    ):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["records_in"] == 8
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["role"] == "system"
    assert "Hollybrook" in first["messages"][0]["content"]


def test_prepared_output_passes_validate(tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner.invoke(
        finetune_app, ["prepare", *map(str, FIXTURES.iterdir()), "-o", str(out), "-q", "--workers", "1"]
    )
    assert runner.invoke(finetune_app, ["validate", str(out / "train.jsonl")]).exit_code == 0


def test_prepare_without_inputs_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(finetune_app, ["prepare", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "give at least one input file" in result.stderr


def test_prepare_bad_speaker_mapping(tmp_path: Path) -> None:
    args = ["prepare", str(FIXTURES / "transcripts.jsonl"), "-o", str(tmp_path), "--speaker", "oops"]
    result = runner.invoke(finetune_app, args)
    assert result.exit_code == 1
    assert "[bad_option]" in result.stderr


def test_prepare_speaker_mapping_rescues_unknown_speakers(tmp_path: Path) -> None:
    args = [
        "prepare",
        str(FIXTURES / "transcripts.jsonl"),
        "-o",
        str(tmp_path),
        "-q",
        "--workers",
        "1",
        "--speaker",
        "Narrator=assistant",
        "--system-prompt",
        "none",
    ]
    assert runner.invoke(finetune_app, args).exit_code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["rejected_by_reason"] == {}


def test_prepare_rejects_unpaired_surrogates_and_keeps_real_pairs(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"messages":[{"role":"user","content":"hi \\ud800"},{"role":"assistant","content":"ok"}]}\n'
        '{"messages":[{"role":"user","content":"smile \\ud83d\\ude00"},{"role":"assistant","content":"ok"}]}\n'
    )
    result = runner.invoke(
        finetune_app, ["prepare", str(source), "-o", str(tmp_path / "out"), "--dedup", "off"]
    )
    assert result.exit_code == 0, result.output
    rejected = [json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    kept = (tmp_path / "out" / "train.jsonl").read_text() + (
        tmp_path / "out" / "validation.jsonl"
    ).read_text()
    assert [(r["record"], r["reason"]) for r in rejected] == [(1, "invalid_json")]
    assert "😀" in kept


def test_validate_flags_unpaired_surrogates(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"messages":[{"role":"user","content":"hi \\udc00"},{"role":"assistant","content":"ok"}]}\n'
    )
    result = runner.invoke(finetune_app, ["validate", str(source)])
    assert result.exit_code == 1
    assert "line 1: invalid_unicode" in result.stderr


def test_validate_a_prepared_folder_checks_train_and_validation(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prepared = runner.invoke(
        finetune_app,
        [
            "prepare",
            *map(str, FIXTURES.iterdir()),
            "-o",
            str(out),
            "-q",
            "--workers",
            "1",
            "--validation-ratio",
            "0.5",
        ],
    )
    assert prepared.exit_code == 0, prepared.output
    result = runner.invoke(finetune_app, ["validate", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert f"{out / 'train.jsonl'}: " in result.output
    assert f"{out / 'validation.jsonl'}: " in result.output


def test_validate_a_folder_with_a_bad_validation_file_fails(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text(
        (FIXTURES / "chat.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "validation.jsonl").write_text("not json\n", encoding="utf-8")
    result = runner.invoke(finetune_app, ["validate", str(tmp_path), "--workers", "1"])
    assert result.exit_code == 1
    assert f"{tmp_path / 'validation.jsonl'}: 1 of 1 examples failed checks" in result.stderr


def test_validate_a_folder_without_train_file_says_what_to_give(tmp_path: Path) -> None:
    result = runner.invoke(finetune_app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert "is a folder without train.jsonl" in result.stderr


def test_prepare_warns_about_template_slots_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        finetune_app, ["prepare", str(FIXTURES / "support.csv"), "-o", str(out), "-q", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr
    assert "still contain template slots such as {{" in result.stderr


def test_validate_counts_template_slots(tmp_path: Path) -> None:
    example = {
        "messages": [
            {"role": "user", "content": "What is your number?"},
            {"role": "assistant", "content": "Call {{Customer Support Phone Number}}."},
        ]
    }
    path = tmp_path / "slots.jsonl"
    path.write_text(json.dumps(example) + "\n", encoding="utf-8")
    result = runner.invoke(finetune_app, ["validate", str(path), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "warning unfilled_placeholders: 1" in result.output
