"""Servers' context-length errors, in the formats they really send, and what they state."""

from __future__ import annotations

import pytest

from app.llm.overflow import context_overflow

LLAMA_CPP = {
    "code": 400,
    "message": "request (1407 tokens) exceeds the available context size (256 tokens), try increasing it",
    "type": "exceed_context_size_error",
    "n_prompt_tokens": 1407,
    "n_ctx": 256,
}


@pytest.mark.parametrize(
    ("message", "body", "context", "prompt"),
    [
        pytest.param("", {"error": LLAMA_CPP}, 256, 1407, id="llama.cpp-body"),
        pytest.param(
            "Error code: 500",
            {
                "code": 500,
                "message": "the request exceeds the available context size. try increasing the context size "
                "or enable context shift",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": 4476,
                "n_ctx": 4096,
            },
            4096,
            4476,
            id="llama.cpp-500",
        ),
        pytest.param(
            "the request exceeds the available context size, try increasing it",
            None,
            None,
            None,
            id="llama.cpp-old",
        ),
        pytest.param(
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 8227 tokens. "
            "Please reduce the length of the messages.",
            {"type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"},
            8192,
            8227,
            id="openai-messages",
        ),
        pytest.param(
            "This model's maximum context length is 4097 tokens. However, you requested 4120 tokens (3120 in the "
            "messages, 1000 in the completion). Please reduce the length of the messages or completion.",
            None,
            4097,
            3120,
            id="openai-requested",
        ),
        pytest.param(
            "'max_tokens' or 'max_completion_tokens' is too large: 8000. This model's maximum context length is "
            "4096 tokens and your request has 2778 input tokens (8000 > 4096 - 2778). None",
            {"type": "BadRequestError", "param": None, "code": 400},
            4096,
            2778,
            id="vllm-max-tokens",
        ),
        pytest.param(
            "This model's maximum context length is 2048 tokens. However, your request has 3000 input tokens. "
            "Please reduce the length of the input messages.",
            {"object": "error", "type": "BadRequestError", "code": 400},
            2048,
            3000,
            id="vllm-input",
        ),
        pytest.param(
            "The decoder prompt (length 17772) is longer than the maximum model length of 16384.",
            None,
            16384,
            17772,
            id="vllm-decoder-prompt",
        ),
    ],
)
def test_overflows_state_what_the_server_said(
    message: str, body: object, context: int | None, prompt: int | None
) -> None:
    found = context_overflow(message, body)
    assert found is not None
    assert (found.context_tokens, found.prompt_tokens) == (context, prompt)


@pytest.mark.parametrize(
    "message",
    [
        "The model `gpt-5` does not exist or you do not have access to it.",
        "Invalid value for 'temperature': must be between 0 and 2.",
        "Error code: 400 - {'error': {'message': 'messages: at least one message is required'}}",
    ],
)
def test_other_errors_are_not_overflows(message: str) -> None:
    assert context_overflow(message, {"type": "invalid_request_error"}) is None
