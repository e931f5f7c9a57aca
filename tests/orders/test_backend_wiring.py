"""The server takes its orders from the shop's own system when ``SHOPCHAT_ORDERS_BACKEND_FILE`` names one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from app.conversation.eventlog import EventLog
from app.conversation.hub import Hub
from app.llm.model import ToolCall
from app.settings import Settings
from app.web.application import create_app
from tests.fakes import RecordingBroadcaster
from tests.orders.fakeshop import ENV, FakeShop, running, woo_order


@pytest.fixture
def shop() -> Iterator[FakeShop]:
    """The fake WooCommerce shop, served from a thread of its own (the app's client blocks this one)."""
    fake = FakeShop()
    fake.woo = {"101": woo_order(101, "pending"), "201": woo_order(201, "pending", customer_id=8)}
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()

    async def serve() -> None:
        async with running(fake):
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield fake
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def hub(customer_id: str) -> Hub:
    log = EventLog(None, RecordingBroadcaster(), lanes=1)  # type: ignore[arg-type]  # nothing is written here
    return Hub(
        conversation_id="c" * 32, customer_id=customer_id, journal=log.journal("c" * 32, 0), persisted=False
    )


def test_order_tools_read_the_shops_own_system(
    shop: FakeShop, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    configured = settings.model_copy(update={"orders_backend_file": shop.config(tmp_path, "woocommerce")})
    with TestClient(create_app(configured)) as client:
        tools = client.app.state.chat.pipeline.tools  # type: ignore[attr-defined]
        assert "get_order_details" in {spec.name for spec in tools.specs(hub("7"))}
        mine = client.portal.call(  # type: ignore[union-attr]
            tools.run, hub("7"), ToolCall("1", "get_order_details", '{"order_id": "101"}')
        )
        theirs = client.portal.call(  # type: ignore[union-attr]
            tools.run, hub("7"), ToolCall("2", "get_order_details", '{"order_id": "201"}')
        )
    assert mine.ok
    assert orjson.loads(mine.content)["order_id"] == "101"
    assert not theirs.ok
    assert orjson.loads(theirs.content)["error"] == "not_found"
    assert any(seen.path.endswith("/orders/101") for seen in shop.seen)


def test_a_missing_backend_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a file"):
        Settings(orders_backend_file=tmp_path / "nope.toml")
