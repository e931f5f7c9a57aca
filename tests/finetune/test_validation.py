"""Every check of the data-prep guide and its extensions, one fixture line per error category."""

from __future__ import annotations

import json

import pytest

from finetune.validation import Check, Notice, check_example, warnings_for
from tests.finetune.conftest import FIXTURES

EXPECTED_BY_LINE = {
    1: Check.DATA_TYPE,
    2: Check.MISSING_MESSAGES_LIST,
    3: Check.MESSAGE_MISSING_KEY,
    4: Check.MESSAGE_UNRECOGNIZED_KEY,
    5: Check.UNRECOGNIZED_ROLE,
    6: Check.MISSING_CONTENT,
    7: Check.EXAMPLE_MISSING_ASSISTANT_MESSAGE,
    8: Check.UNRECOGNIZED_EXAMPLE_KEY,
    9: Check.INVALID_TOOLS,
    10: Check.INVALID_TOOL_CALLS,
    11: Check.INVALID_TOOL_CALL_ID,
    12: Check.UNKNOWN_TOOL,
    13: Check.INVALID_WEIGHT,
    14: Check.NO_TRAINABLE_ASSISTANT_MESSAGE,
}


def _fixture_lines() -> list[str]:
    return (FIXTURES / "invalid.jsonl").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(("line", "check"), sorted(EXPECTED_BY_LINE.items()))
def test_each_invalid_fixture_line_fails_its_check(line: int, check: Check) -> None:
    issues = check_example(json.loads(_fixture_lines()[line - 1]))
    assert check in {issue.check for issue in issues}


def test_valid_examples_pass_every_check() -> None:
    for line in (FIXTURES / "chat.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            assert check_example(json.loads(line)) == []


def test_missing_content_message_index_is_reported() -> None:
    issues = check_example(
        {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "x"}]}
    )
    assert [(i.check, i.message_index) for i in issues] == [(Check.MISSING_CONTENT, 0)]


def test_assistant_with_tool_calls_may_have_null_content() -> None:
    example = {
        "messages": [
            {"role": "user", "content": "track it"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "track", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "shipped"},
            {"role": "assistant", "content": "It shipped."},
        ]
    }
    assert check_example(example) == []


def test_weight_on_user_message_is_invalid() -> None:
    issues = check_example(
        {"messages": [{"role": "user", "content": "a", "weight": 1}, {"role": "assistant", "content": "b"}]}
    )
    assert {i.check for i in issues} == {Check.INVALID_WEIGHT}


def test_boolean_weight_is_invalid() -> None:
    issues = check_example(
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b", "weight": True},
            ]
        }
    )
    assert {i.check for i in issues} == {Check.INVALID_WEIGHT}


def test_tool_calls_on_user_message_are_invalid() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    issues = check_example(
        {
            "messages": [
                {"role": "user", "content": "a", "tool_calls": [call]},
                {"role": "assistant", "content": "b"},
            ]
        }
    )
    assert Check.INVALID_TOOL_CALLS in {i.check for i in issues}


def test_tool_call_arguments_must_be_json() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}
    example = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
            {"role": "assistant", "content": "b"},
        ]
    }
    assert {i.check for i in check_example(example)} == {Check.INVALID_TOOL_CALLS}


def test_guide_warnings_for_missing_system_and_user() -> None:
    assert warnings_for([{"role": "assistant", "content": "x"}]) == [
        Notice.MISSING_SYSTEM_MESSAGE,
        Notice.MISSING_USER_MESSAGE,
    ]


def test_template_slots_left_are_a_warning() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "phone?"},
        {"role": "assistant", "content": "Call {{Customer Support Phone Number}}."},
    ]
    assert warnings_for(messages) == [Notice.UNFILLED_PLACEHOLDERS]
