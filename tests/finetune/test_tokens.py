"""Token counts and statistics checked against tiktoken and numpy directly."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from app.llm.tokens import get_encoding
from finetune.pipeline import run_prepare
from finetune.report import REPORT_JSON, write_reports
from finetune.stats import Distribution, default_epochs, estimate_cost
from finetune.tokens import Tokenizer, token_limit
from tests.finetune.conftest import FIXTURES, PrepareFactory, outputs


def guide_count(messages: list[dict[str, str]], encoding_name: str = "o200k_base") -> int:
    """The guide's num_tokens_from_messages, verbatim in behaviour."""
    encoding = get_encoding(encoding_name)
    total = 0
    for message in messages:
        total += 3
        for key, value in message.items():
            total += len(encoding.encode(value))
            if key == "name":
                total += 1
    return total + 3


def test_message_count_matches_the_guide() -> None:
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hello there, is 85123A in stock?", "name": "jane"},
        {"role": "assistant", "content": "Yes — £2.95 each."},
    ]
    counts = Tokenizer.for_model("gpt-4o-mini").example_tokens(messages)
    assert counts.total == guide_count(messages)
    assert counts.assistant == len(get_encoding("o200k_base").encode("Yes — £2.95 each."))


def test_cl100k_models_use_cl100k() -> None:
    messages = [
        {"role": "user", "content": "Bonjour, où est ma commande ?"},
        {"role": "assistant", "content": "Ici."},
    ]
    assert Tokenizer.for_model("gpt-3.5-turbo").example_tokens(messages).total == guide_count(
        messages, "cl100k_base"
    )


def test_token_limit_table_and_override() -> None:
    assert token_limit("gpt-4o-mini-2024-07-18") == 65_536
    assert token_limit("gpt-3.5-turbo-0125") == 16_385
    assert token_limit("some-local-model") == 4096
    assert token_limit("gpt-4o-mini", {"gpt-4o-mini": 1000}) == 1000


@pytest.mark.parametrize("q", [0.0, 0.05, 0.5, 0.95, 1.0])
def test_distribution_quantiles_match_numpy(q: float) -> None:
    rng = random.Random(3)
    values = [rng.randint(1, 400) for _ in range(1001)]
    dist = Distribution()
    for v in values:
        dist.add(v)
    assert dist.quantile(q) == pytest.approx(float(np.quantile(values, q)))


def test_default_epochs_follow_the_guide() -> None:
    assert default_epochs(10) == 10
    assert default_epochs(1) == 25
    assert default_epochs(1000) == 3
    assert default_epochs(20_000) == 1


def test_billed_tokens_cap_each_example_at_the_limit() -> None:
    dist = Distribution()
    for v in (100, 200, 5000):
        dist.add(v)
    estimate = estimate_cost(dist, 4096, "gpt-4o-mini", None, None)
    assert estimate.epochs == min(25, 100 // 3)
    assert estimate.billing_tokens_in_dataset == 100 + 200 + 4096
    assert estimate.billed_tokens == (100 + 200 + 4096) * estimate.epochs
    assert estimate.cost_usd == pytest.approx(estimate.billed_tokens / 1e6 * 3.0, abs=1e-4)


def test_report_token_stats_match_tiktoken(make_settings: PrepareFactory) -> None:
    settings = make_settings(FIXTURES / "chat.jsonl", validation_ratio=0.0, redact_pii=False, clean=False)
    tally, _ = run_prepare(settings)
    write_reports(settings, tally, "o200k_base")
    report = json.loads((settings.out_dir / REPORT_JSON).read_text())
    train, _, _ = outputs(settings.out_dir)
    encoding = get_encoding("o200k_base")
    expected = []
    for example in train:
        total = 3
        for m in example["messages"]:
            total += 3 + len(encoding.encode(m["role"]))
            if isinstance(m.get("content"), str):
                total += len(encoding.encode(m["content"]))
            for call in m.get("tool_calls", []):
                total += len(encoding.encode(call["function"]["name"])) + len(
                    encoding.encode(call["function"]["arguments"])
                )
            if "tool_call_id" in m:
                total += len(encoding.encode(m["tool_call_id"]))
        if "tools" in example:
            total += len(encoding.encode(json.dumps(example["tools"], separators=(",", ":"), sort_keys=True)))
        expected.append(total)
    stats = report["tokens"]["per_example"]
    assert (stats["min"], stats["max"], stats["sum"]) == (min(expected), max(expected), sum(expected))
    assert stats["median"] == pytest.approx(float(np.median(expected)))
    assert stats["p95"] == pytest.approx(float(np.quantile(expected, 0.95)))
