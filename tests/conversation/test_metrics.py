"""The conversation layer's measurements: once per answer, first text and commit, never per piece of text."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

from app.conversation.pipeline import ChatConfig
from app.conversation.subscriber import Subscriber
from app.errors import ErrorCode, ModelError
from app.llm.model import ToolCall
from app.store.migrate import upgrade
from app.store.store import Store
from tests.conftest import sqlite_url
from tests.conversation.rig import start_service
from tests.fakes import FakeTools, RecordingBroadcaster, ScriptedModel

CONFIG = ChatConfig(
    context_tokens=16_000,
    max_output_tokens=512,
    max_message_chars=2000,
    abandon_after_s=5,
    recommendations_n=4,
)


@dataclass
class RecordingMetrics:
    answers: list[tuple[str | None, str]] = field(default_factory=list)
    first_texts: list[float] = field(default_factory=list)
    model_errors: list[str] = field(default_factory=list)
    commits: list[int] = field(default_factory=list)
    tools: list[tuple[str, bool]] = field(default_factory=list)

    def answer_ended(self, route: str | None, outcome: str, seconds: float) -> None:
        assert seconds >= 0
        self.answers.append((route, outcome))

    def first_text(self, seconds: float) -> None:
        self.first_texts.append(seconds)

    def model_error(self, code: str) -> None:
        self.model_errors.append(code)

    def committed(self, seconds: float, events: int) -> None:
        assert seconds >= 0
        self.commits.append(events)

    def tool_called(self, name: str, ok: bool) -> None:
        self.tools.append((name, ok))


async def answer(
    tmp_path: Path, model: ScriptedModel, tools: FakeTools | None = None
) -> tuple[RecordingMetrics, RecordingBroadcaster]:
    store = Store.from_url(sqlite_url(tmp_path / "chat.db"))
    await upgrade(store.engine)
    metrics = RecordingMetrics()
    service, broadcaster = start_service(store, model, CONFIG, metrics=metrics, tools=tools)
    try:
        hub = service.new_hub(None)
        subscriber = Subscriber(last_seq=0)
        await service.attach(hub, subscriber)
        await service.submit(hub, subscriber, "m1", "hi")
        async with asyncio.timeout(10):
            while (payload := await subscriber.next()) is not None:
                if json.loads(payload)["type"] in ("done", "error"):
                    break
    finally:
        await service.close()
        await store.close()
    return metrics, broadcaster


async def test_a_long_answer_is_measured_once_and_its_commits_count_every_event(tmp_path: Path) -> None:
    metrics, broadcaster = await answer(tmp_path, ScriptedModel(chunks=("word ",) * 50))
    assert metrics.answers == [("chat", "done")]
    assert len(metrics.first_texts) == 1
    assert metrics.model_errors == []
    published = len(broadcaster.published)
    assert sum(metrics.commits) == published
    assert len(metrics.commits) <= published


async def test_a_model_failure_is_measured_by_its_code(tmp_path: Path) -> None:
    failing = ScriptedModel(fail_after=1, error=ModelError("boom", code=ErrorCode.MODEL_TIMEOUT))
    metrics, _ = await answer(tmp_path, failing)
    assert metrics.answers == [("chat", "model_timeout")]
    assert metrics.model_errors == ["model_timeout"]
    assert len(metrics.first_texts) == 1


async def test_tool_calls_are_counted_by_tool_and_outcome(tmp_path: Path) -> None:
    calls = [
        ToolCall("c1", "get_order_details", '{"order_id": "1"}'),
        ToolCall("c2", "cancel_pending_order", '{"order_id": "1"}'),
        ToolCall("c3", "made_up_tool", "{}"),
    ]
    model = ScriptedModel(turns=[calls, ["Done."]])
    tools = FakeTools(names=("get_order_details", "cancel_pending_order"), failing=("cancel_pending_order",))
    metrics, _ = await answer(tmp_path, model, tools)
    assert metrics.tools == [("get_order_details", True), ("cancel_pending_order", False), ("unknown", False)]
    assert metrics.answers == [("chat", "done")]
