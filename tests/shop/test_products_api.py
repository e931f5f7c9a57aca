"""``/api/products``: the shop's goods only, whatever sells."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.application import create_app
from tests.fakes import ScriptedModel
from tests.shop.conftest import ShopFolder

PRODUCTS = (
    "product_id,name,price,n_customers,kind\n"
    "POST,Postage,18.00,900,non-product\n"
    "1,Blue Mug,2.50,2,product\n"
    "2,Red Candle,3.95,1,product\n"
)


def test_best_sellers_leave_out_postage_even_when_it_sells_most(
    settings: Settings, shop_folder: ShopFolder
) -> None:
    folder = shop_folder({"products.csv": PRODUCTS})
    with TestClient(create_app(settings.model_copy(update={"shop_dir": folder}), model=ScriptedModel())) as c:
        listed = [p["product_id"] for p in c.get("/api/products").json()]
    assert listed == ["1", "2"]
