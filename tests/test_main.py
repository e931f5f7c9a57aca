"""Application start-up with a shop of one's own."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.application import create_app
from tests.fakes import ScriptedModel
from tests.wsutil import receive_until, send_message

SHOP_TOML = """
[shop]
name = "Tiny Teas"
currency = "EUR"
currency_symbol = "€"
[[faq]]
id = "hours"
questions = ["When are you open?"]
answer = "Always."
"""


def write_shop(directory: Path) -> Path:
    directory.mkdir()
    (directory / "shop.toml").write_text(SHOP_TOML)
    (directory / "products.csv").write_text(
        "product_id,name,price,n_customers\nT1,Green Tea,3.50,3\nT2,Black Tea,2.50,3\nT3,Tea Pot,20.00,2\n"
        "T4,Tea Cup,4.00,2\n"
    )
    rows = ["customer_id,product_id,n_invoices,quantity,last_purchase"]
    for customer, products in {"a": "T1 T2 T3", "b": "T1 T2 T4", "c": "T1 T3", "d": "T2"}.items():
        rows += [f"{customer},{p},1,1,2024-01-0{i + 1}" for i, p in enumerate(products.split())]
    (directory / "purchases.csv").write_text("\n".join(rows) + "\n")
    return directory


def test_own_shop_without_a_prebuilt_model_recommends_from_its_history(
    settings: Settings, tmp_path: Path
) -> None:
    shop_dir = write_shop(tmp_path / "shop")
    app = create_app(
        settings.model_copy(update={"shop_dir": shop_dir, "demo_mode": True}), model=ScriptedModel()
    )
    with TestClient(app) as client, client.websocket_connect("/ws/chat?customer_id=d") as ws:
        ws.receive_json()
        send_message(ws, "m1", "recommend me something")
        frames = receive_until(ws, "done")
        shop = client.get("/api/shop").json()
    items = next(f for f in frames if f["type"] == "recommendations")["items"]
    assert shop["name"] == "Tiny Teas"
    assert items
    assert "T2" not in {i["product_id"] for i in items}
    assert {i["currency"] for i in items} == {"EUR"}


def test_start_up_freezes_the_long_lived_heap_out_of_the_collector(settings: Settings) -> None:
    before = gc.get_freeze_count()
    try:
        with TestClient(create_app(settings.model_copy(update={"freeze_heap": True}), model=ScriptedModel())):
            frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()
    assert frozen > before + 100_000
