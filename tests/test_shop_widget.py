"""What a shop tells its chat widget: greeting, suggestion chips and clickable link domains (shop.toml, /api/shop)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.errors import ConfigError
from app.settings import Settings
from app.shop.catalog import DEMO_SHOP_DIR, Shop, load_shop
from app.web.application import create_app
from tests.fakes import ScriptedModel

PLAIN_TOML = '[shop]\nname = "Tiny Teas"\nsupport_email = "hi@tinyteas.example"\n'


def shop_dir(tmp_path: Path, toml: str) -> Path:
    directory = tmp_path / "shop"
    directory.mkdir(exist_ok=True)
    (directory / "shop.toml").write_text(toml)
    shutil.copyfile(DEMO_SHOP_DIR / "products.csv", directory / "products.csv")
    return directory


def load(tmp_path: Path, toml: str) -> Shop:
    return load_shop(shop_dir(tmp_path, toml))


def test_greeting_suggestions_and_domains_are_read_from_the_widget_table(tmp_path: Path) -> None:
    shop = load(
        tmp_path,
        PLAIN_TOML
        + 'website = "https://www.tinyteas.example/shop"\n'
        + '[widget]\ngreeting = " Welcome to **Tiny Teas**! "\nsuggestions = ["Which tea for a cold?", "Delivery?"]\n'
        + 'link_domains = ["TinyTeas.example", "https://help.teahouse.example/faq"]\n',
    )
    assert shop.greeting == "Welcome to **Tiny Teas**!"
    assert shop.suggestions == ("Which tea for a cold?", "Delivery?")
    assert shop.link_domains == ("tinyteas.example", "help.teahouse.example")
    assert shop.site_domain() == "tinyteas.example"


def test_a_shop_without_widget_settings_gets_none(tmp_path: Path) -> None:
    shop = load(tmp_path, PLAIN_TOML)
    assert (shop.greeting, shop.suggestions, shop.link_domains, shop.site_domain()) == ("", (), (), None)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[widget]\nsuggestions = "Delivery?"\n',
            r"\[widget\] suggestions must be a list of non-empty strings",
        ),
        (
            '[widget]\nsuggestions = ["ok", ""]\n',
            r"\[widget\] suggestions must be a list of non-empty strings",
        ),
        ("[widget]\ngreeting = 3\n", r"\[widget\] greeting must be text"),
        ('[widget]\nlink_domains = ["not a domain"]\n', r"link_domains: 'not a domain' is not a domain name"),
        ('widget = "yes"\n', r"'widget' must be a table"),
    ],
)
def test_bad_widget_settings_name_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, extra + PLAIN_TOML)


def test_a_website_that_is_not_a_web_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[shop\] website .* is not an http\(s\) address"):
        load(tmp_path, PLAIN_TOML + 'website = "tinyteas.example"\n')


def test_api_shop_serves_the_demo_shops_greeting_and_default_link_domains(settings: Settings) -> None:
    with TestClient(create_app(settings, model=ScriptedModel())) as client:
        response = client.get("/api/shop")
    body = response.json()
    demo = load_shop()
    assert body["greeting"] == demo.greeting
    assert body["suggestions"] == list(demo.suggestions)
    # This server's own host and the shop's website.
    assert body["link_domains"] == ["testserver", "hollybrook.example"]
    # The widget reads it from the storefront's origin.
    assert response.headers["access-control-allow-origin"] == "*"


def test_api_shop_without_widget_settings_leaves_the_widget_its_defaults(
    settings: Settings, tmp_path: Path
) -> None:
    app = create_app(
        settings.model_copy(update={"shop_dir": shop_dir(tmp_path, PLAIN_TOML)}), model=ScriptedModel()
    )
    with TestClient(app) as client:
        body = client.get("/api/shop").json()
    assert (body["greeting"], body["suggestions"], body["link_domains"]) == (None, [], ["testserver"])


def test_api_shop_link_domains_from_shop_toml_replace_the_defaults(
    settings: Settings, tmp_path: Path
) -> None:
    toml = (
        PLAIN_TOML + 'website = "https://tinyteas.example"\n[widget]\nlink_domains = ["teahouse.example"]\n'
    )
    app = create_app(
        settings.model_copy(update={"shop_dir": shop_dir(tmp_path, toml)}), model=ScriptedModel()
    )
    with TestClient(app) as client:
        assert client.get("/api/shop").json()["link_domains"] == ["teahouse.example"]
