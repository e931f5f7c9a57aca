"""The model's health: real requests' outcomes, a background probe while there are none, one log line each."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.errors import ContextOverflowError, ErrorCode, ModelError
from app.llm.health import ModelHealth, MonitoredModel
from app.llm.model import ChatRequest, TextDelta
from tests.fakes import ScriptedModel

REQUEST = ChatRequest(messages=[{"role": "user", "content": "my secret order 4711"}], route="chat", query="q")
DOWN = ModelError("down", code=ErrorCode.MODEL_UNAVAILABLE)


class FakeProbe:
    """A probe that fails with ``error`` while it is set, and counts its calls."""

    def __init__(self) -> None:
        self.error: ModelError | None = None
        self.calls = 0
        self.called = asyncio.Event()

    async def __call__(self) -> None:
        self.calls += 1
        self.called.set()
        if self.error is not None:
            raise self.error


async def drain(model: MonitoredModel) -> list[object]:
    return [event async for event in model.stream(REQUEST)]


def test_the_state_is_unknown_until_learned_and_always_ok_for_the_local_responder() -> None:
    assert ModelHealth("m").report().state == "unknown"
    assert ModelHealth("m").report().checked_at is None
    local = ModelHealth("local", always_ok=True).report()
    assert local.state == "ok"
    assert local.checked_at is not None


async def test_an_answered_request_makes_the_model_ok() -> None:
    health = ModelHealth("m")
    assert [TextDelta("Hello")] == (await drain(MonitoredModel(ScriptedModel(chunks=("Hello",)), health)))[:1]
    assert health.report().state == "ok"


async def test_a_failed_request_is_logged_once_with_its_code_and_never_the_customers_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    health = ModelHealth("m")
    model = MonitoredModel(ScriptedModel(fail_after=0, error=DOWN), health)
    with caplog.at_level(logging.INFO, logger="shopchat.model"), pytest.raises(ModelError):
        await drain(model)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "model_unavailable" in warnings[0].getMessage()
    assert all("4711" not in r.getMessage() for r in caplog.records)
    assert health.report().state == "unreachable"
    assert health.report().code == ErrorCode.MODEL_UNAVAILABLE
    # Going down is an ERROR line of its own, once.
    assert [r.levelno for r in caplog.records].count(logging.ERROR) == 1


async def test_a_refusal_by_a_reachable_server_is_an_error_state() -> None:
    health = ModelHealth("m")
    model = MonitoredModel(
        ScriptedModel(fail_after=0, error=ModelError("no", code=ErrorCode.MODEL_AUTH)), health
    )
    with pytest.raises(ModelError):
        await drain(model)
    assert health.report().state == "error"


async def test_an_over_long_prompt_says_nothing_about_the_models_health() -> None:
    health = ModelHealth("m")
    model = MonitoredModel(ScriptedModel(fail_after=0, error=ContextOverflowError("long")), health)
    with pytest.raises(ContextOverflowError):
        await drain(model)
    assert health.report().state == "unknown"


async def test_the_probe_tells_unreachable_and_back() -> None:
    probe = FakeProbe()
    health = ModelHealth("m", probe)
    probe.error = DOWN
    await health.check()
    assert health.report().state == "unreachable"
    probe.error = None
    await health.check()
    assert health.report().state == "ok"


async def test_a_probe_does_not_clear_an_error_a_real_request_saw() -> None:
    health = ModelHealth("m", FakeProbe())
    health.failed(ModelError("wrong model", code=ErrorCode.MODEL_BAD_REQUEST))
    await health.check()
    assert health.report().state == "error"
    health.succeeded()
    assert health.report().state == "ok"


async def test_the_background_checker_probes_on_its_own_and_skips_while_requests_tell() -> None:
    probe = FakeProbe()
    now = [0.0]
    health = ModelHealth("m", probe, interval_s=0.01, clock=lambda: now[0])
    probe.error = DOWN
    health.start()
    try:
        await asyncio.wait_for(probe.called.wait(), 2)
        assert health.report().state == "unreachable"
        # A real answer just now: the probe waits (the clock stands still, so it stays recent).
        health.succeeded()
        calls = probe.calls
        await asyncio.sleep(0.05)
        assert probe.calls == calls
        assert health.report().state == "ok"
    finally:
        await health.stop()
    assert probe.calls >= 1


async def test_the_local_responder_is_never_probed() -> None:
    probe = FakeProbe()
    health = ModelHealth("local", probe, always_ok=True, interval_s=0.01)
    health.start()
    await asyncio.sleep(0.03)
    await health.stop()
    assert probe.calls == 0


async def test_closing_the_monitored_stream_closes_the_models_stream_at_once() -> None:
    inner = ScriptedModel(chunks=("a", "b", "c"))
    stream = MonitoredModel(inner, ModelHealth("scripted")).stream(
        ChatRequest(messages=[], route="chat", query="hi")
    )
    assert await anext(stream) == TextDelta("a")
    await stream.aclose()  # type: ignore[attr-defined]
    assert len(inner.abandoned) == 1
