"""prepare end to end: accounting, split, system prompt, placeholders, truncation and the report files."""

from __future__ import annotations

import json
from pathlib import Path

from app.llm.prompts import PromptLibrary
from app.shop.catalog import load_shop
from finetune.pipeline import run_prepare
from finetune.placeholders import PlaceholderMode
from finetune.prompt import shop_system_prompt
from finetune.report import HISTOGRAM_PNG, REPORT_JSON, REPORT_MD, write_reports
from finetune.settings import OverLimit, SystemPromptMode
from tests.finetune.conftest import FIXTURES, PrepareFactory, outputs, read_jsonl

ALL_FIXTURES = [
    FIXTURES / n
    for n in ("chat.jsonl", "invalid.jsonl", "support.csv", "transcripts.jsonl", "transcripts.json")
]


def _many(path: Path, n: int) -> Path:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"Question {i}: is item {i * 7919 % 10007} in stock?"},
                    {
                        "role": "assistant",
                        "content": f"Item {i * 7919 % 10007} ships in {i % 9 + 1} days, {i} left.",
                    },
                ]
            }
        )
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_record_is_accounted_for(make_settings: PrepareFactory) -> None:
    settings = make_settings(*ALL_FIXTURES)
    tally, _ = run_prepare(settings)
    train, validation, rejected = outputs(settings.out_dir)
    counts = tally.counts()
    assert counts["records_in"] == 3 + 15 + 5 + 3 + 2
    assert counts["records_in"] == len(train) + len(validation) + len(rejected)
    assert (counts["train"], counts["validation"], counts["rejected"]) == (
        len(train),
        len(validation),
        len(rejected),
    )
    assert sum(tally.rejected_by_reason.values()) == len(rejected)
    for record in rejected:
        assert {"source", "record", "reason", "detail"} <= record.keys()
    invalid = [r for r in rejected if r["source"].endswith("invalid.jsonl")]
    assert [r["line"] for r in invalid] == list(range(1, 16))
    assert invalid[-1]["reason"] == "invalid_json"
    assert invalid[0]["checks"][0]["check"] == "data_type"


def test_rejected_examples_are_redacted(make_settings: PrepareFactory, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"messages": [{"role": "user", "content": "I am a@example.com"}]}\n{"bad json a@example.com\n'
    )
    settings = make_settings(path)
    run_prepare(settings)
    text = (settings.out_dir / "rejected.jsonl").read_text()
    assert "a@example.com" not in text
    assert "[EMAIL_1]" in text


def test_split_is_deterministic_and_order_independent(make_settings: PrepareFactory, tmp_path: Path) -> None:
    path = _many(tmp_path / "many.jsonl", 400)
    reversed_path = tmp_path / "reversed.jsonl"
    reversed_path.write_text("\n".join(reversed(path.read_text().splitlines())) + "\n")
    run_prepare(make_settings(path, out_dir=tmp_path / "a"))
    run_prepare(make_settings(reversed_path, out_dir=tmp_path / "b"))
    a_validation = read_jsonl(tmp_path / "a" / "validation.jsonl")
    b_validation = read_jsonl(tmp_path / "b" / "validation.jsonl")
    assert sorted(map(json.dumps, a_validation)) == sorted(map(json.dumps, b_validation))
    assert 20 <= len(a_validation) <= 60


def test_split_ratio_and_seed_are_configurable(make_settings: PrepareFactory, tmp_path: Path) -> None:
    path = _many(tmp_path / "many.jsonl", 400)
    tally_a, _ = run_prepare(make_settings(path, validation_ratio=0.5, out_dir=tmp_path / "a"))
    run_prepare(make_settings(path, validation_ratio=0.5, seed=7, out_dir=tmp_path / "b"))
    assert 150 <= tally_a.counts()["validation"] <= 250
    assert read_jsonl(tmp_path / "a" / "validation.jsonl") != read_jsonl(tmp_path / "b" / "validation.jsonl")


def test_workers_give_the_same_output_as_one_process(make_settings: PrepareFactory, tmp_path: Path) -> None:
    inputs = [*ALL_FIXTURES, _many(tmp_path / "many.jsonl", 300)]
    for out, workers in (("one", 1), ("two", 2)):
        settings = make_settings(*inputs, out_dir=tmp_path / out, workers=workers, batch_size=16)
        tally, _ = run_prepare(settings)
        write_reports(settings, tally, "o200k_base")
    for name in ("train.jsonl", "validation.jsonl", "rejected.jsonl", REPORT_JSON, REPORT_MD):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_shop_system_prompt_is_the_servers(make_settings: PrepareFactory) -> None:
    prompt = shop_system_prompt()
    assert prompt == PromptLibrary().system_prompt(load_shop())
    settings = make_settings(
        FIXTURES / "chat.jsonl",
        system_prompt_mode=SystemPromptMode.SHOP,
        system_prompt=prompt,
        validation_ratio=0.0,
    )
    run_prepare(settings)
    train, _, _ = outputs(settings.out_dir)
    for example in train:
        assert example["messages"][0] == {"role": "system", "content": prompt}
        assert sum(m["role"] == "system" for m in example["messages"]) == 1


def test_source_system_prompt_can_be_kept(make_settings: PrepareFactory) -> None:
    settings = make_settings(
        FIXTURES / "chat.jsonl", system_prompt_mode=SystemPromptMode.SOURCE, validation_ratio=0.0
    )
    run_prepare(settings)
    train, _, _ = outputs(settings.out_dir)
    assert train[0]["messages"][0] == {"role": "system", "content": "Old prompt"}
    assert train[1]["messages"][0]["role"] == "user"


def test_placeholders_fill_and_keep(make_settings: PrepareFactory, tmp_path: Path) -> None:
    values = (("order number", ("#A100", "#B200")), ("website name", ("Hollybrook Gifts",)))
    filled = make_settings(
        FIXTURES / "support.csv",
        placeholders=PlaceholderMode.FILL,
        placeholder_values=values,
        validation_ratio=0.0,
        out_dir=tmp_path / "fill",
    )
    tally, _ = run_prepare(filled)
    answer = read_jsonl(tmp_path / "fill" / "train.jsonl")[0]["messages"][1]["content"]
    order = "#A100" if "#A100" in answer else "#B200"
    assert answer.count(order) == 2
    assert "{{Order Number}}" not in answer
    assert "Hollybrook Gifts" in answer
    assert "{{Order History}}" in answer
    assert tally.unfilled["Order History"] == 1
    kept = make_settings(FIXTURES / "support.csv", validation_ratio=0.0, out_dir=tmp_path / "keep")
    run_prepare(kept)
    assert "{{Order Number}}" in read_jsonl(tmp_path / "keep" / "train.jsonl")[0]["messages"][1]["content"]


def test_csv_redaction_keeps_product_codes_and_prices(make_settings: PrepareFactory) -> None:
    settings = make_settings(FIXTURES / "support.csv", validation_ratio=0.0)
    run_prepare(settings)
    train, _, _ = outputs(settings.out_dir)
    text = json.dumps(train, ensure_ascii=False)
    assert "jane.doe@example.com" not in text
    assert "[EMAIL_1]" in text
    assert "113542617735902" not in text
    assert "[ORDER_1]" in text
    assert "7946" not in text
    assert "[PHONE_1]" in text
    assert "(22423) costs £12.75" in text
    assert "2011-12-09" in text


def test_over_limit_examples_are_dropped_or_truncated(make_settings: PrepareFactory, tmp_path: Path) -> None:
    long_turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "word " * 300},
        {"role": "assistant", "content": "ok " * 300},
    ]
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"messages": long_turns}) + "\n")
    dropped, _ = run_prepare(make_settings(path, max_tokens=100, out_dir=tmp_path / "drop"))
    assert dict(dropped.rejected_by_reason) == {"over_token_limit": 1}
    truncated, _ = run_prepare(
        make_settings(
            path,
            max_tokens=100,
            over_limit=OverLimit.TRUNCATE,
            validation_ratio=0.0,
            out_dir=tmp_path / "cut",
        )
    )
    assert truncated.truncated == 1
    assert read_jsonl(tmp_path / "cut" / "train.jsonl")[0]["messages"] == long_turns[:2]


def test_report_files_add_up(make_settings: PrepareFactory) -> None:
    settings = make_settings(*ALL_FIXTURES)
    tally, _ = run_prepare(settings)
    report = write_reports(settings, tally, "o200k_base")
    on_disk = json.loads((settings.out_dir / REPORT_JSON).read_text())
    assert on_disk == json.loads(json.dumps(report))
    counts = on_disk["counts"]
    assert counts["records_in"] == counts["train"] + counts["validation"] + counts["rejected"]
    assert sum(on_disk["rejected_by_reason"].values()) == counts["rejected"]
    assert sum(s["records"] for s in on_disk["sources"]) == counts["records_in"]
    assert on_disk["checks_failed"]["data_type"] == 1
    assert on_disk["estimate"]["n_train_examples"] == counts["train"]
    assert (settings.out_dir / HISTOGRAM_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"{counts['records_in']:,} records in" in (settings.out_dir / REPORT_MD).read_text()


def test_slots_left_in_kept_examples_are_counted_and_reported(make_settings: PrepareFactory) -> None:
    settings = make_settings(FIXTURES / "support.csv", validation_ratio=0.0)
    tally, _ = run_prepare(settings)
    report = write_reports(settings, tally, "o200k_base")
    assert report["warnings"]["unfilled_placeholders"] == 2
    assert report["placeholders"]["examples_with_slots"] == {"train": 2, "validation": 0}
    assert report["placeholders"]["slots_left"] == {
        "Website Name": 2,
        "Order Number": 2,
        "Order History": 1,
        "Track Order": 1,
    }
    markdown = (settings.out_dir / REPORT_MD).read_text(encoding="utf-8")
    assert "| unfilled_placeholders | 2 |" in markdown
    assert "2 of 4 training and 0 of 0 validation examples still contain template slots" in markdown


def test_filled_slots_are_not_reported(make_settings: PrepareFactory) -> None:
    values = (
        ("order number", ("#A100",)),
        ("website name", ("Hollybrook Gifts",)),
        ("order history", ("My orders",)),
        ("track order", ("Track my order",)),
    )
    settings = make_settings(
        FIXTURES / "support.csv",
        placeholders=PlaceholderMode.FILL,
        placeholder_values=values,
        validation_ratio=0.0,
    )
    tally, _ = run_prepare(settings)
    report = write_reports(settings, tally, "o200k_base")
    assert "unfilled_placeholders" not in report["warnings"]
    assert "Template slots left" not in (settings.out_dir / REPORT_MD).read_text(encoding="utf-8")


def test_spaced_phone_numbers_never_reach_the_training_file(
    make_settings: PrepareFactory, tmp_path: Path
) -> None:
    source = tmp_path / "calls.jsonl"
    lines = [
        {
            "messages": [
                {"role": "user", "content": f"call me on {n}"},
                {"role": "assistant", "content": "Will do."},
            ]
        }
        for n in ("07700 900123", "+49 (0)30 12345678", "555.123.4567")
    ]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    settings = make_settings(source, validation_ratio=0.0, dedup="off")
    run_prepare(settings)
    train, _, _ = outputs(settings.out_dir)
    assert [e["messages"][0]["content"] for e in train] == ["call me on [PHONE_1]"] * 3
