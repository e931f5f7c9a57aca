"""The checks of OpenAI's chat fine-tuning data-prep guide, extended to tools, tool calls and weights."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from finetune.placeholders import has_slots


class Check(StrEnum):
    """One validation rule; the first seven are the guide's own error types, named as it names them."""

    DATA_TYPE = "data_type"
    MISSING_MESSAGES_LIST = "missing_messages_list"
    MESSAGE_MISSING_KEY = "message_missing_key"
    MESSAGE_UNRECOGNIZED_KEY = "message_unrecognized_key"
    UNRECOGNIZED_ROLE = "unrecognized_role"
    MISSING_CONTENT = "missing_content"
    EXAMPLE_MISSING_ASSISTANT_MESSAGE = "example_missing_assistant_message"
    UNRECOGNIZED_EXAMPLE_KEY = "unrecognized_example_key"
    INVALID_TOOLS = "invalid_tools"
    INVALID_TOOL_CALLS = "invalid_tool_calls"
    INVALID_TOOL_CALL_ID = "invalid_tool_call_id"
    UNKNOWN_TOOL = "unknown_tool"
    INVALID_WEIGHT = "invalid_weight"
    NO_TRAINABLE_ASSISTANT_MESSAGE = "no_trainable_assistant_message"
    OVER_TOKEN_LIMIT = "over_token_limit"


class Notice(StrEnum):
    """Things the guide counts but does not reject."""

    MISSING_SYSTEM_MESSAGE = "missing_system_message"
    MISSING_USER_MESSAGE = "missing_user_message"
    # A model trained on "call {{Customer Support Phone Number}}" answers with the slot, not a number.
    UNFILLED_PLACEHOLDERS = "unfilled_placeholders"


ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MESSAGE_KEYS = frozenset({"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id"})
EXAMPLE_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})


@dataclass(frozen=True, slots=True)
class Issue:
    """One failed check; ``message_index`` is 0-based within ``messages`` when the issue is about one."""

    check: Check
    detail: str
    message_index: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The issue as rejected.jsonl records it."""
        out: dict[str, Any] = {"check": str(self.check), "detail": self.detail}
        if self.message_index is not None:
            out["message"] = self.message_index
        return out


def _has_text(content: object) -> bool:
    if isinstance(content, str):
        return bool(content.strip())
    if isinstance(content, list):
        # Content parts: text parts must carry text; other part types (images) count as content.
        return bool(content) and all(
            isinstance(part, dict)
            and (part.get("type") != "text" or (isinstance(part.get("text"), str) and part["text"].strip()))
            for part in content
        )
    return False


def _tool_names(tools: object, issues: list[Issue]) -> set[str] | None:
    if not isinstance(tools, list) or not tools:
        issues.append(Issue(Check.INVALID_TOOLS, "tools must be a non-empty list"))
        return None
    names: set[str] = set()
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if (
            not isinstance(tool, dict)
            or tool.get("type") != "function"
            or not isinstance(name, str)
            or not name
        ):
            issues.append(
                Issue(Check.INVALID_TOOLS, f"tools[{i}] must be {{type: function, function: {{name}}}}")
            )
            continue
        assert isinstance(function, dict)
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            issues.append(Issue(Check.INVALID_TOOLS, f"tools[{i}].function.parameters must be an object"))
        names.add(name)
    return names


def _check_tool_calls(
    index: int, calls: object, known_tools: set[str] | None, issues: list[Issue]
) -> Iterator[str]:
    """Yield the ids of well-formed calls, reporting malformed ones."""
    if not isinstance(calls, list) or not calls:
        issues.append(Issue(Check.INVALID_TOOL_CALLS, "tool_calls must be a non-empty list", index))
        return
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("id"), str)
            or not call["id"]
            or call.get("type", "function") != "function"
            or not isinstance(function, dict)
            or not isinstance(function.get("name"), str)
            or not isinstance(function.get("arguments"), str)
        ):
            issues.append(
                Issue(
                    Check.INVALID_TOOL_CALLS,
                    f"tool_calls[{j}] needs id, type 'function' and function.name/arguments strings",
                    index,
                )
            )
            continue
        try:
            json.loads(function["arguments"])
        except ValueError:
            issues.append(
                Issue(Check.INVALID_TOOL_CALLS, f"tool_calls[{j}].function.arguments is not JSON", index)
            )
        if known_tools is not None and function["name"] not in known_tools:
            issues.append(
                Issue(
                    Check.UNKNOWN_TOOL, f"tool_calls[{j}] calls undeclared tool {function['name']!r}", index
                )
            )
        yield call["id"]


_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})


def is_plain(example: object) -> bool:
    """``{"messages": [...]}`` of role/content text messages only, one an assistant's: passes every check.

    Nearly every example has this shape; recognising it costs a fraction of the full checks below, which
    would find nothing to report in it.
    """
    if type(example) is not dict or len(example) != 1:
        return False
    messages = example.get("messages")
    if type(messages) is not list or not messages:
        return False
    has_assistant = False
    for message in messages:
        if type(message) is not dict or len(message) != 2:
            return False
        role = message.get("role")
        content = message.get("content")
        if (
            type(role) is not str
            or role not in _PLAIN_ROLES
            or type(content) is not str
            or not content.strip()
        ):
            return False
        if role == "assistant":
            has_assistant = True
    return has_assistant


def check_example(example: object) -> list[Issue]:
    """Every structural check on one example; an empty list means it is well-formed."""
    if is_plain(example):
        return []
    if not isinstance(example, dict):
        return [Issue(Check.DATA_TYPE, f"example is a {type(example).__name__}, not an object")]
    messages = example.get("messages")
    if not messages or not isinstance(messages, list):
        return [Issue(Check.MISSING_MESSAGES_LIST, "no non-empty 'messages' list")]
    issues: list[Issue] = []
    extra = sorted(k for k in example if k not in EXAMPLE_KEYS)
    if extra:
        issues.append(Issue(Check.UNRECOGNIZED_EXAMPLE_KEY, f"unrecognized example keys: {', '.join(extra)}"))
    known_tools = _tool_names(example["tools"], issues) if "tools" in example else None
    open_calls: set[str] = set()
    has_assistant = False
    trainable = False
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            issues.append(Issue(Check.DATA_TYPE, "message is not an object", i))
            continue
        role = message.get("role")
        tool_calls = message.get("tool_calls")
        if "role" not in message or (
            "content" not in message and not (tool_calls or message.get("function_call"))
        ):
            issues.append(Issue(Check.MESSAGE_MISSING_KEY, "message needs 'role' and 'content'", i))
        unknown = sorted(str(k) for k in message if k not in MESSAGE_KEYS)
        if unknown:
            issues.append(
                Issue(Check.MESSAGE_UNRECOGNIZED_KEY, f"unrecognized keys: {', '.join(unknown)}", i)
            )
        # An unhashable role (a list, an object) must be reported, not crash the set lookup.
        if not isinstance(role, str) or role not in ROLES:
            issues.append(Issue(Check.UNRECOGNIZED_ROLE, f"unrecognized role {role!r}", i))
        content = message.get("content")
        if tool_calls is not None or message.get("function_call") is not None:
            if content is not None and not isinstance(content, str | list):
                issues.append(Issue(Check.MISSING_CONTENT, "content must be a string or null", i))
        elif not _has_text(content):
            issues.append(Issue(Check.MISSING_CONTENT, "content is empty or not text", i))
        if tool_calls is not None:
            if role != "assistant":
                issues.append(Issue(Check.INVALID_TOOL_CALLS, f"tool_calls on a {role!r} message", i))
            else:
                open_calls.update(_check_tool_calls(i, tool_calls, known_tools, issues))
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or call_id not in open_calls:
                issues.append(
                    Issue(Check.INVALID_TOOL_CALL_ID, f"tool_call_id {call_id!r} answers no earlier call", i)
                )
        elif "tool_call_id" in message:
            issues.append(Issue(Check.INVALID_TOOL_CALL_ID, f"tool_call_id on a {role!r} message", i))
        if "weight" in message:
            weight = message["weight"]
            if role != "assistant":
                issues.append(Issue(Check.INVALID_WEIGHT, f"weight on a {role!r} message", i))
            elif isinstance(weight, bool) or weight not in (0, 1):
                issues.append(Issue(Check.INVALID_WEIGHT, f"weight must be 0 or 1, not {weight!r}", i))
        if role == "assistant":
            has_assistant = True
            if message.get("weight", 1) != 0:
                trainable = True
    if not has_assistant:
        issues.append(Issue(Check.EXAMPLE_MISSING_ASSISTANT_MESSAGE, "no assistant message"))
    elif not trainable:
        issues.append(Issue(Check.NO_TRAINABLE_ASSISTANT_MESSAGE, "every assistant message has weight 0"))
    return issues


def warnings_for(messages: Sequence[dict[str, Any]]) -> list[Notice]:
    """The guide's non-fatal observations about a well-formed example, and template slots left in it."""
    roles = {m.get("role") for m in messages}
    out: list[Notice] = []
    if "system" not in roles and "developer" not in roles:
        out.append(Notice.MISSING_SYSTEM_MESSAGE)
    if "user" not in roles:
        out.append(Notice.MISSING_USER_MESSAGE)
    if has_slots(messages):
        out.append(Notice.UNFILLED_PLACEHOLDERS)
    return out
