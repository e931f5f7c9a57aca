"""``shopchat orders show``: a demo customer's orders, as text or JSON; clear errors otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli, mount_subcommands
from app.orders.demo import contact
from tests.conftest import sqlite_url

mount_subcommands()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """The demo shop and a new SQLite database; run from an empty directory so no ``.env`` is read."""
    monkeypatch.chdir(tmp_path)
    return {
        "SHOPCHAT_DATABASE_URL": sqlite_url(tmp_path / "chat.db"),
        "SHOPCHAT_DATA_DIR": str(tmp_path / "data"),
        "SHOPCHAT_SHOP_DIR": None,
    }


def test_show_prints_the_customer_s_orders_and_how_to_verify(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(cli, ["orders", "show", "--customer", "12347"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("12347")
    email, address = contact("12347")
    assert lines[-1] == f"verify with: {email} or postcode {address.postcode}"


def test_show_json_is_the_same_orders_every_time(env: dict[str, str | None]) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["orders", "show", "--customer", "12347", "--json"], env=env)
    again = runner.invoke(cli, ["orders", "show", "--customer", "12347", "--json"], env=env)
    assert first.exit_code == 0, first.output
    orders = json.loads(first.stdout)
    assert orders
    assert all(o["order_id"].startswith("12347") for o in orders)
    assert {"status", "items", "total", "address"} <= set(orders[0])
    assert json.loads(again.stdout) == orders


def test_unknown_customer_is_an_error(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(cli, ["orders", "show", "--customer", "nobody"], env=env)
    assert result.exit_code == 1
    assert result.stderr == "error: no customer 'nobody' in the shop's purchase history\n"


def test_unreachable_database_exits_2_in_one_line(env: dict[str, str | None]) -> None:
    env["SHOPCHAT_DATABASE_URL"] = "postgresql+asyncpg://u@127.0.0.1:1/x"
    result = CliRunner().invoke(cli, ["orders", "show", "--customer", "12347"], env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot connect to database")
    assert "Traceback" not in result.output


def test_customer_is_required(env: dict[str, str | None]) -> None:
    result = CliRunner().invoke(cli, ["orders", "show"], env=env)
    assert result.exit_code == 2
    assert "--customer" in result.output
