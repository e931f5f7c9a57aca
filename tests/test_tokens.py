from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import tiktoken

from app.errors import BudgetError, ConfigError
from app.llm.model import ToolSpec
from app.llm.tokens import (
    BUNDLED_ENCODINGS,
    Calibration,
    ChatMessage,
    TokenCounter,
    encoding_name_for_model,
    fit_messages,
    install_offline_encodings,
    load_tokenizer,
)
from app.settings import TIKTOKEN_ENCODINGS


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


# ---- the model's own tokenizer ---------------------------------------------------------------------


def build_tokenizer_json(path: Path) -> Path:
    """A tiny word-level Hugging Face tokenizer, built here: one token per known word, one per unknown word."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.save(str(path))
    return path


def test_counts_come_from_a_tokenizer_json(tmp_path: Path) -> None:
    path = build_tokenizer_json(tmp_path / "tokenizer.json")
    counter = TokenCounter("qwen2.5-0.5b-instruct", tokenizer=str(path))
    # Word-level: one token per whitespace-separated word, whatever tiktoken would make of it.
    text = "Donaudampfschifffahrtsgesellschaftskapitän hello world"
    assert counter.count_text(text) == 3
    assert TokenCounter("qwen2.5-0.5b-instruct").count_text(text) > 3
    assert not counter.guessed
    # Wrapper 3, the role "user" 1 (unknown word), the text 2, reply priming 3.
    assert counter.count_messages([msg("user", "hello world")]) == 3 + 1 + 2 + 3


def test_a_model_folder_holding_tokenizer_json_is_accepted(tmp_path: Path) -> None:
    build_tokenizer_json(tmp_path / "tokenizer.json")
    assert TokenCounter("smollm2", tokenizer=str(tmp_path)).count_text("hello there world") == 3


def test_a_tiktoken_encoding_can_be_named() -> None:
    counter = TokenCounter("llama3.1:8b", tokenizer="cl100k_base")
    assert counter.tokenizer.name == "cl100k_base"
    assert not counter.guessed


@pytest.mark.parametrize(("model", "guessed"), [("gpt-4o-mini", False), ("llama3.1:8b", True)])
def test_an_unknown_model_without_a_tokenizer_is_a_guess(model: str, guessed: bool) -> None:
    assert TokenCounter(model).guessed is guessed


def test_an_unreadable_tokenizer_json_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="SHOPCHAT_LLM_TOKENIZER"):
        TokenCounter("smollm2", tokenizer=str(path))


def test_an_unknown_tokenizer_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither a tiktoken encoding"):
        load_tokenizer(str(tmp_path / "missing.json"), "smollm2")


def test_settings_know_the_bundled_encodings() -> None:
    assert TIKTOKEN_ENCODINGS == BUNDLED_ENCODINGS


# ---- calibration from the server's counts ------------------------------------------------------------


def test_a_larger_reported_count_tightens_the_budget_at_once() -> None:
    calibration = Calibration()
    before = calibration.budget(2048, 256)
    calibration.observe(estimated=1000, reported=1500)
    assert calibration.factor == pytest.approx(1.5)
    assert calibration.budget(2048, 256) == int((2048 - 256) / 1.5) < before


def test_calibrated_fitting_keeps_fewer_turns() -> None:
    counter = TokenCounter("gpt-4o-mini")
    history = long_history(40)
    before = fit_messages(
        counter, system=msg("system", "S"), context=None, history=history, latest=msg("user", "hi"),
        context_tokens=1000, max_output_tokens=50,
    )  # fmt: skip
    counter.calibration.observe(estimated=before.prompt_tokens, reported=before.prompt_tokens * 2)
    after = fit_messages(
        counter, system=msg("system", "S"), context=None, history=history, latest=msg("user", "hi"),
        context_tokens=1000, max_output_tokens=50,
    )  # fmt: skip
    assert after.prompt_tokens * 2 <= 1000 - 50
    assert len(after.messages) < len(before.messages)


def test_the_factor_relaxes_slowly_never_below_one_never_above_the_bound() -> None:
    calibration = Calibration()
    calibration.observe(estimated=100, reported=200)
    calibration.observe(estimated=100, reported=100)
    assert 1.0 < calibration.factor < 2.0
    for _ in range(500):
        calibration.observe(estimated=100, reported=50)
    assert calibration.factor == pytest.approx(1.0)
    calibration.observe(estimated=100, reported=10_000)
    assert calibration.factor == Calibration.MAX_FACTOR


def test_short_prompts_teach_nothing() -> None:
    calibration = Calibration()
    calibration.observe(estimated=10, reported=30)
    assert calibration.factor == 1.0


def test_a_stated_context_window_smaller_than_configured_is_kept() -> None:
    calibration = Calibration()
    calibration.overflowed(3000, context_tokens=2048, prompt_tokens=None)
    assert calibration.budget(16_000, 512) == 2048 - 512
    calibration.overflowed(3000, context_tokens=4096, prompt_tokens=None)
    assert calibration.context_tokens == 2048


def test_an_overflow_without_numbers_bounds_the_window_by_what_did_not_fit() -> None:
    calibration = Calibration()
    calibration.observe(estimated=1000, reported=2000)
    calibration.overflowed(3000, context_tokens=None, prompt_tokens=None)
    assert calibration.context_tokens == 6000  # the refused prompt, in the server's tokens as best we know
    assert calibration.budget(16_000, 512) < 3000


def test_the_limit_caps_the_budget() -> None:
    fitted = fit(long_history(40), "latest question", context_tokens=4000)
    counter = TokenCounter("gpt-4o-mini")
    limited = fit_messages(
        counter, system=msg("system", "You are the assistant."), context=None, history=long_history(40),
        latest=msg("user", "latest question"), context_tokens=4000, max_output_tokens=50, limit=300,
    )  # fmt: skip
    assert limited.prompt_tokens <= 300 < fitted.prompt_tokens


# ---- tools ------------------------------------------------------------------------------------------------

ORDER_TOOL = ToolSpec(
    name="get_order_details",
    description="The status and items of one order.",
    parameters={
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "description": "The order number."},
            "carrier": {"type": "string", "description": "Who ships it", "enum": ["dhl", "ups"]},
        },
    },
)


def cookbook_tools_count(tools: list[ToolSpec], model: str) -> int:
    """The OpenAI cookbook's num_tokens_for_tools (gpt-4o figures), written out independently."""
    encoding = tiktoken.encoding_for_model(model)
    total = 0
    for tool in tools:
        total += 7
        total += len(encoding.encode(tool.name + ":" + tool.description.rstrip(".")))
        properties = tool.parameters["properties"]
        if properties:
            total += 3
            for key, prop in properties.items():
                total += 3
                if "enum" in prop:
                    total += -3
                    for item in prop["enum"]:
                        total += 3 + len(encoding.encode(item))
                line = f"{key}:{prop['type']}:{prop['description'].rstrip('.')}"
                total += len(encoding.encode(line))
    return total + 12


def test_tool_definitions_count_as_the_cookbook_counts_them() -> None:
    counter = TokenCounter("gpt-4o-mini")
    assert counter.count_tools([ORDER_TOOL]) == cookbook_tools_count([ORDER_TOOL], "gpt-4o-mini")
    assert counter.count_tools([]) == 0


def test_a_tool_call_and_its_result_count_their_name_arguments_and_content() -> None:
    counter = TokenCounter("gpt-4o-mini")
    arguments = '{"order_id": "536365"}'
    call: ChatMessage = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_x",
                "type": "function",
                "function": {"name": "get_order_details", "arguments": arguments},
            }
        ],
    }
    result: ChatMessage = {
        "role": "tool",
        "tool_call_id": "call_" + "x" * 50,
        "content": '{"status": "shipped"}',
    }
    bare = counter.count_message(msg("assistant", ""))
    assert counter.count_message(call) == bare + 3 + counter.count_text(
        "get_order_details"
    ) + counter.count_text(arguments)
    # The id pairs the result with its call for the API; the model never reads it, so it costs nothing.
    assert counter.count_message(result) == 3 + counter.count_text("tool") + counter.count_text(
        result["content"]
    )


def test_fitting_counts_the_tools_and_the_tail_and_drops_history_for_them() -> None:
    history = long_history(10)
    tail: list[ChatMessage] = [{"role": "tool", "tool_call_id": "c", "content": "x " * 300}]
    counter = TokenCounter("gpt-4o-mini")
    common = {
        "system": msg("system", "You are the assistant."),
        "context": None,
        "history": history,
        "latest": msg("user", "hi"),
        "context_tokens": 700,
        "max_output_tokens": 50,
    }
    plain = fit_messages(counter, **common)  # type: ignore[arg-type]
    with_tools = fit_messages(counter, **common, tools=[ORDER_TOOL], tail=tail)  # type: ignore[arg-type]
    assert with_tools.messages[-1] == tail[0]
    assert with_tools.prompt_tokens == counter.count_messages(with_tools.messages) + counter.count_tools(
        [ORDER_TOOL]
    )
    assert with_tools.dropped_history > plain.dropped_history


def _spec(name: str, description: str) -> ToolSpec:
    return ToolSpec(
        name=name,
        description=description,
        parameters={
            "type": "object",
            "properties": {"order_id": {"type": "string", "description": "The order."}},
        },
    )


def test_a_tool_set_counted_again_gives_the_same_count() -> None:
    counter = TokenCounter("gpt-4o")
    tools = [_spec("get_order", "Look an order up."), _spec("cancel_order", "Cancel a pending order.")]
    first = counter.count_tools(tools)
    assert first > 0
    assert counter.count_tools(list(tools)) == first  # a new list of the same specs
    assert TokenCounter("gpt-4o").count_tools(tools) == first


def test_another_tool_set_is_counted_afresh_not_taken_from_the_cache() -> None:
    counter = TokenCounter("gpt-4o")
    short = [_spec("get_order", "Look an order up.")]
    longer = [_spec("get_order", "Look an order up by its number, with every item, price and parcel in it.")]
    assert counter.count_tools(longer) > counter.count_tools(short)
    assert counter.count_tools(longer) == TokenCounter("gpt-4o").count_tools(longer)
