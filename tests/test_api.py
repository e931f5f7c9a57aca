"""REST endpoints, static files and error bodies."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.errors import ErrorCode, ModelError
from app.llm.openai import OpenAIChatModel
from app.settings import Settings, load_settings
from app.shop.embedding import Encoder
from app.web.application import build_counter, create_app
from tests.fakes import ScriptedModel
from tests.wsutil import Frame, receive_until, send_message


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # Demo mode: the storefront's customer list is served.
    with TestClient(create_app(settings.model_copy(update={"demo_mode": True}), model=ScriptedModel())) as c:
        yield c


@pytest.fixture
def conversation(client: TestClient) -> Frame:
    with client.websocket_connect("/ws/chat") as ws:
        ready: Frame = ws.receive_json()
        send_message(ws, "m1", "hi")
        receive_until(ws, "done")
    return ready


def test_healthz_reports_model_and_database(client: TestClient) -> None:
    assert client.get("/healthz").json() == {
        "status": "ok",
        "model": {"name": "scripted", "state": "unknown", "checked_at": None, "code": None},
        "database": "sqlite",
    }


def test_conversation_with_bearer_token(client: TestClient, conversation: Frame) -> None:
    response = client.get(
        f"/api/conversations/{conversation['conversation_id']}",
        headers={"Authorization": f"Bearer {conversation['token']}"},
    )
    body = response.json()
    assert response.status_code == 200
    assert [(m["role"], m["text"]) for m in body["messages"]] == [
        ("user", "hi"),
        ("assistant", "Hello there!"),
    ]
    assert body["messages"][1]["route"] == "chat"


def test_conversation_without_token_is_401(client: TestClient, conversation: Frame) -> None:
    response = client.get(f"/api/conversations/{conversation['conversation_id']}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_conversation_with_wrong_token_is_403(client: TestClient, conversation: Frame) -> None:
    response = client.get(f"/api/conversations/{conversation['conversation_id']}?token=wrong")
    assert response.status_code == 403


def test_malformed_authorization_header_is_401(client: TestClient, conversation: Frame) -> None:
    response = client.get(
        f"/api/conversations/{conversation['conversation_id']}", headers={"Authorization": "Basic abc"}
    )
    assert response.status_code == 401


def test_conversation_without_messages_is_404(client: TestClient) -> None:
    signer = client.app.state.signer  # type: ignore[attr-defined]
    conversation_id = "a" * 32
    response = client.get(f"/api/conversations/{conversation_id}?token={signer.issue(conversation_id)}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_products_search_and_limit(client: TestClient) -> None:
    found = client.get("/api/products?q=lunch box&limit=3").json()
    assert len(found) == 3
    assert all("Lunch Box" in p["name"] for p in found)


def test_bad_query_parameter_is_422_with_message(client: TestClient) -> None:
    response = client.get("/api/products?limit=0")
    assert response.status_code == 422
    assert "limit" in response.json()["error"]["message"]


def test_customers_have_purchase_counts(client: TestClient) -> None:
    customers = client.get("/api/customers?limit=5").json()
    assert len(customers) == 5
    assert customers[0]["n_products"] >= customers[-1]["n_products"] > 0


def test_unknown_path_is_404_json(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_index_is_the_demo_storefront_and_answers_head(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "widget.js" in page.text
    assert client.head("/").status_code == 200


def test_widget_script_revalidates_with_etag(client: TestClient) -> None:
    first = client.get("/static/widget.js")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-cache"
    again = client.get("/static/widget.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert "/api/conversations/{conversation_id}" in client.get("/openapi.json").json()["paths"]


def test_non_ascii_token_is_403_not_a_crash(client: TestClient, conversation: Frame) -> None:
    response = client.get(f"/api/conversations/{conversation['conversation_id']}?token=t%C3%B6ken")
    assert response.status_code == 403


def test_healthz_stays_200_and_reports_a_model_that_cannot_be_reached(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    down = ScriptedModel(fail_after=0, error=ModelError("down", code=ErrorCode.MODEL_UNAVAILABLE))
    with TestClient(create_app(settings, model=down)) as client:
        with client.websocket_connect("/ws/chat") as ws:
            assert ws.receive_json()["model_state"] == "unknown"  # nothing known yet
            send_message(ws, "m1", "where is my parcel 4711?")
            assert receive_until(ws, "error")[-1]["code"] == "model_unavailable"
        response = client.get("/healthz")
        assert response.status_code == 200
        model = response.json()["model"]
        assert (model["state"], model["code"]) == ("unreachable", "model_unavailable")
        assert model["checked_at"] is not None
        # The next visitor's widget learns it from its first frame.
        with client.websocket_connect("/ws/chat") as ws:
            assert ws.receive_json()["model_state"] == "unreachable"
    failures = [
        r for r in caplog.records if r.levelno >= logging.WARNING and "model_unavailable" in r.getMessage()
    ]
    assert failures
    assert all("4711" not in r.getMessage() for r in caplog.records)


def test_healthz_reports_a_model_that_answers_as_ok(client: TestClient, conversation: Frame) -> None:
    assert client.get("/healthz").json()["model"]["state"] == "ok"


def test_the_local_responder_is_always_ok(settings: Settings, encoder: Encoder) -> None:
    with TestClient(create_app(settings, encoder=encoder)) as client:
        model = client.get("/healthz").json()["model"]
    assert (model["name"], model["state"]) == ("local", "ok")


def test_a_guessed_tokenizer_is_one_warning_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    guessed = load_settings(llm_backend="openai", llm_model="smollm2", data_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="shopchat"):
        build_counter(guessed)
    assert len(caplog.records) == 1
    assert "SHOPCHAT_LLM_TOKENIZER" in caplog.records[0].getMessage()
    caplog.clear()
    (tmp_path / "tokenizer.json").write_text(
        '{"version": "1.0", "model": {"type": "WordLevel", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"}}',
        encoding="utf-8",
    )
    known = load_settings(
        llm_backend="openai", llm_model="smollm2", llm_tokenizer=str(tmp_path / "tokenizer.json")
    )
    with caplog.at_level(logging.WARNING, logger="shopchat"):
        build_counter(known)
    assert caplog.records == []


def test_a_model_server_that_is_down_is_found_by_the_background_probe(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens here once the socket is closed
    down = OpenAIChatModel(
        model="qwen2.5-0.5b-instruct",
        api_key=None,
        base_url=f"http://127.0.0.1:{port}/v1",
        timeout_s=5,
        max_retries=0,
    )
    with TestClient(create_app(settings, model=down)) as client:
        deadline = time.monotonic() + 10
        while (model := client.get("/healthz").json()["model"])["state"] == "unknown":
            assert time.monotonic() < deadline, "the probe never ran"
            time.sleep(0.05)
    assert (model["state"], model["code"]) == ("unreachable", "model_unavailable")
