"""``/metrics``: each metric moves when what it counts happens."""

from __future__ import annotations

import os

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from app.errors import ErrorCode, ModelError
from app.llm.model import ToolCall
from app.settings import Settings
from app.web.application import create_app
from tests.fakes import FakeTools, ScriptedModel
from tests.wsutil import receive_until, send_message

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_an_answer_moves_sockets_conversations_answers_latencies_and_commits(settings: Settings) -> None:
    with TestClient(create_app(settings, model=ScriptedModel())) as client:
        before = scrape(client)
        assert value(before, "shopchat_open_sockets") == 0
        with client.websocket_connect("/ws/chat") as ws:
            ws.receive_json()
            send_message(ws, "m1", "hello")
            receive_until(ws, "done")
            during = scrape(client)
        after = scrape(client)
    assert value(during, "shopchat_open_sockets") == 1
    assert value(during, "shopchat_active_conversations") == 1
    assert value(after, "shopchat_open_sockets") == 0
    assert value(after, "shopchat_answers_total", route="chat", outcome="done") == 1
    assert value(after, "shopchat_time_to_first_token_seconds_count") == 1
    assert value(after, "shopchat_answer_duration_seconds_count") == 1
    assert value(after, "shopchat_eventlog_commit_seconds_count") >= 2
    # accepted, three deltas and done at least once each, however they were batched
    assert value(after, "shopchat_eventlog_batch_events_sum") >= 3
    assert value(before, "shopchat_eventlog_batch_events_sum") == 0


def test_a_failing_model_is_counted_by_code_and_as_the_answer_outcome(settings: Settings) -> None:
    down = ScriptedModel(fail_after=0, error=ModelError("down", code=ErrorCode.MODEL_UNAVAILABLE))
    with TestClient(create_app(settings, model=down)) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ws.receive_json()
            send_message(ws, "m1", "where is my parcel?")
            receive_until(ws, "error")
        samples = scrape(client)
    assert value(samples, "shopchat_model_errors_total", code="model_unavailable") == 1
    assert value(samples, "shopchat_answers_total", route="chat", outcome="model_unavailable") == 1
    assert value(samples, "shopchat_time_to_first_token_seconds_count") == 0


def test_a_stopped_answer_is_counted_as_stopped(settings: Settings) -> None:
    slow = ScriptedModel(chunks=("a",) * 200, delay_s=0.02)
    with TestClient(create_app(settings, model=slow)) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ws.receive_json()
            send_message(ws, "m1", "tell me a long story")
            receive_until(ws, "delta")
            ws.send_json({"type": "cancel", "message_id": "m1"})
            assert receive_until(ws, "done")[-1]["stopped"] is True
        samples = scrape(client)
    assert value(samples, "shopchat_answers_total", route="chat", outcome="stopped") == 1
    assert value(samples, "shopchat_answers_total", route="chat", outcome="done") == 0


def test_tool_calls_and_handoffs_are_exported(settings: Settings) -> None:
    calls = [
        ToolCall("c1", "transfer_to_human_agents", '{"order_id": "1"}'),
        ToolCall("c2", "get_order_details", '{"order_id": "1"}'),
    ]
    model = ScriptedModel(turns=[calls, ["A colleague will take over."]])
    tools = FakeTools(names=("transfer_to_human_agents", "get_order_details"), failing=("get_order_details",))
    with TestClient(create_app(settings, model=model, tools=tools)) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ws.receive_json()
            send_message(ws, "m1", "I want a person")
            receive_until(ws, "done")
        samples = scrape(client)
    assert value(samples, "shopchat_tool_calls_total", tool="transfer_to_human_agents", outcome="ok") == 1
    assert value(samples, "shopchat_tool_calls_total", tool="get_order_details", outcome="failed") == 1
    assert value(samples, "shopchat_handoffs_total") == 1


def test_the_process_answering_is_named_by_its_pid(settings: Settings) -> None:
    with TestClient(create_app(settings, model=ScriptedModel())) as client:
        samples = scrape(client)
    assert value(samples, "shopchat_process_info", pid=str(os.getpid())) == 1
