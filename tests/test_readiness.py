"""``/readyz`` and the readiness check: cached pings, the model's known state, which component is down."""

from __future__ import annotations

import asyncio

from starlette.testclient import TestClient

from app.errors import ErrorCode, ModelError
from app.llm.health import ModelHealth
from app.settings import Settings
from app.web.application import create_app
from app.web.readiness import ReadinessCheck
from tests.fakes import ScriptedModel
from tests.wsutil import receive_until, send_message


class CountingPing:
    def __init__(self, fail: bool = False, hang: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.hang = hang

    async def __call__(self) -> None:
        self.calls += 1
        if self.hang:
            await asyncio.sleep(10)
        if self.fail:
            raise ConnectionRefusedError("nobody listens")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_all_up_is_ready_and_pings_are_cached_for_their_ttl() -> None:
    ping, clock = CountingPing(), Clock()
    check = ReadinessCheck({"database": ping}, ModelHealth("m"), ttl_s=2.0, clock=clock)
    results = await asyncio.gather(*(check.check() for _ in range(5)))
    assert all(r.ready for r in results)
    assert results[0].components == {"database": "ok", "model": "ok"}
    assert ping.calls == 1
    clock.now += 2.5
    await check.check()
    assert ping.calls == 2


async def test_a_failing_ping_names_the_component_and_its_cause() -> None:
    check = ReadinessCheck({"database": CountingPing(), "redis": CountingPing(fail=True)}, ModelHealth("m"))
    result = await check.check()
    assert not result.ready
    assert result.down == ["redis"]
    assert result.components["redis"] == "down: ConnectionRefusedError"


async def test_a_ping_that_hangs_is_down_after_the_timeout() -> None:
    check = ReadinessCheck({"database": CountingPing(hang=True)}, ModelHealth("m"), timeout_s=0.05)
    result = await check.check()
    assert result.down == ["database"]
    assert "no answer within" in result.components["database"]


async def test_an_unreachable_model_is_down_without_calling_it() -> None:
    health = ModelHealth("m")
    health.failed(ModelError("down", code=ErrorCode.MODEL_UNAVAILABLE))
    result = await ReadinessCheck({"database": CountingPing()}, health).check()
    assert result.down == ["model"]
    assert result.components["model"] == "down: unreachable (model_unavailable)"


def test_readyz_is_200_when_ready_and_503_naming_the_model_when_it_is_down(settings: Settings) -> None:
    down = ScriptedModel(fail_after=0, error=ModelError("down", code=ErrorCode.MODEL_UNAVAILABLE))
    with TestClient(create_app(settings, model=down)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "components": {"database": "ok", "model": "ok"},
            "down": [],
        }
        with client.websocket_connect("/ws/chat") as ws:
            ws.receive_json()
            send_message(ws, "m1", "hello")
            receive_until(ws, "error")
        unready = client.get("/readyz")
        # Liveness is not readiness: the process is still alive.
        assert client.get("/healthz").status_code == 200
    assert unready.status_code == 503
    assert unready.json()["status"] == "unready"
    assert unready.json()["down"] == ["model"]


def test_readyz_is_503_naming_the_database_when_it_cannot_be_reached(settings: Settings) -> None:
    with TestClient(
        create_app(settings.model_copy(update={"ready_cache_s": 0}), model=ScriptedModel())
    ) as client:
        store = client.app.state.store  # type: ignore[attr-defined]

        async def broken() -> None:
            raise OSError("disk gone")

        store.ping = broken
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
    assert response.json()["components"]["database"] == "down: OSError"


def test_readyz_checks_redis_when_it_is_configured(settings: Settings, redis_url: str) -> None:
    with TestClient(
        create_app(settings.model_copy(update={"redis_url": redis_url}), model=ScriptedModel())
    ) as c:
        response = c.get("/readyz")
    assert response.status_code == 200
    assert response.json()["components"] == {"database": "ok", "redis": "ok", "model": "ok"}


def test_readyz_is_readable_by_the_widget_on_another_origin_and_never_cached(settings: Settings) -> None:
    with TestClient(create_app(settings, model=ScriptedModel())) as client:
        response = client.get("/readyz", headers={"Origin": "https://shop.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "no-store"
