from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import tiktoken

from app.errors import BudgetError
from app.llm.tokens import (
    ChatMessage,
    TokenCounter,
    encoding_name_for_model,
    fit_messages,
    install_offline_encodings,
)


def reference_count(messages: list[ChatMessage], model: str) -> int:
    """The OpenAI cookbook's num_tokens_from_messages, written out independently."""
    encoding = tiktoken.encoding_for_model(model)
    total = 0
    for message in messages:
        total += 3
        for key, value in message.items():
            total += len(encoding.encode(str(value)))
            if key == "name":
                total += 1
    return total + 3


def msg(role: str, content: str) -> ChatMessage:
    return {"role": role, "content": content}  # type: ignore[typeddict-item]


def test_offline_install_writes_files_under_url_sha1(tmp_path: Path) -> None:
    target = install_offline_encodings(tmp_path / "cache")
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    assert (target / hashlib.sha1(url.encode()).hexdigest()).stat().st_size > 1_000_000


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4", "gpt-3.5-turbo"])
def test_message_count_equals_cookbook_reference(model: str) -> None:
    messages = [
        msg("system", "You are a helpful shop assistant."),
        msg("user", "What's your return policy for a mug I bought on 3 March? 🙂"),
        msg("assistant", "You can return unused items within 30 days."),
    ]
    assert TokenCounter(model).count_messages(messages) == reference_count(messages, model)


def test_unknown_model_falls_back_to_o200k() -> None:
    assert encoding_name_for_model("llama3.1:8b") == "o200k_base"


def test_special_token_text_is_counted_not_rejected() -> None:
    assert TokenCounter("gpt-4o").count_text("<|endoftext|>") > 1


def fit(history: list[ChatMessage], latest: str, *, context_tokens: int, context: str | None = None):  # type: ignore[no-untyped-def]
    counter = TokenCounter("gpt-4o-mini")
    return fit_messages(
        counter,
        system=msg("system", "You are the assistant."),
        context=msg("system", context) if context else None,
        history=history,
        latest=msg("user", latest),
        context_tokens=context_tokens,
        max_output_tokens=50,
    )


def long_history(turns: int) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for i in range(turns):
        out.append(msg("user", f"question number {i} " + "word " * 20))
        out.append(msg("assistant", f"answer number {i} " + "word " * 20))
    return out


def test_short_history_is_kept_whole() -> None:
    history = long_history(2)
    fitted = fit(history, "hi", context_tokens=4000)
    assert fitted.messages[1:-1] == history
    assert fitted.dropped_history == 0


def test_long_history_drops_oldest_turns_first() -> None:
    history = long_history(40)
    fitted = fit(history, "latest question", context_tokens=600)
    kept = fitted.messages[1:-1]
    assert 0 < len(kept) < len(history)
    assert kept == history[-len(kept) :]
    assert fitted.messages[0]["content"] == "You are the assistant."
    assert fitted.messages[-1]["content"] == "latest question"


def test_fitted_prompt_fits_the_budget_exactly_as_counted() -> None:
    counter = TokenCounter("gpt-4o-mini")
    fitted = fit(long_history(40), "latest question", context_tokens=600)
    assert counter.count_messages(fitted.messages) == fitted.prompt_tokens
    assert fitted.prompt_tokens <= 600 - 50


def test_kept_history_never_starts_with_an_answer() -> None:
    fitted = fit(long_history(40), "latest", context_tokens=500)
    assert fitted.messages[1]["role"] == "user"


def test_context_is_dropped_before_failing_when_it_does_not_fit() -> None:
    fitted = fit([], "hi", context_tokens=200, context="customer facts " * 100)
    assert fitted.dropped_context
    assert len(fitted.messages) == 2


def test_message_alone_over_budget_raises_budget_error() -> None:
    with pytest.raises(BudgetError, match="too long"):
        fit([], "word " * 1000, context_tokens=300)
