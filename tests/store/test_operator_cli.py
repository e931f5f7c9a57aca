"""``shopchat operator add|list|remove|reset``: passwords printed once that then sign in, clear errors."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli, mount_subcommands
from app.store.operators import OperatorStore
from app.store.password import verify_password
from app.store.store import Store
from app.web.operator_auth import OperatorAuthConfig
from tests.conftest import sqlite_url
from tests.web.test_operator_routes import Clocks, make_app

mount_subcommands()

PASSWORD_LINE = re.compile(r"one-time password for (\S+): (\S+)")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """A new SQLite database; run from an empty directory so no ``.env`` is read."""
    monkeypatch.chdir(tmp_path)
    return {"SHOPCHAT_DATABASE_URL": sqlite_url(tmp_path / "chat.db"), "SHOPCHAT_DATA_DIR": str(tmp_path)}


def run(env: dict[str, str | None], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["operator", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def password_of(stdout: str) -> str:
    match = PASSWORD_LINE.search(stdout)
    assert match is not None, stdout
    return match[2]


def signs_in(env: dict[str, str | None], name: str, password: str) -> bool:
    """Whether the stored hash of ``name`` accepts ``password`` (what the login endpoint checks)."""

    async def check() -> bool:
        url = env["SHOPCHAT_DATABASE_URL"]
        assert url is not None
        store = Store.from_url(url)
        try:
            found = await OperatorStore(store).credentials(name)
        finally:
            await store.close()
        return found is not None and verify_password(password, found[1])

    return asyncio.run(check())


def test_add_prints_a_password_that_signs_in(env: dict[str, str | None]) -> None:
    code, stdout, stderr = run(env, "add", "Alice")
    assert (code, stderr) == (0, "")
    assert stdout.splitlines()[0] == "added operator alice"
    password = password_of(stdout)
    assert len(password) >= 16
    assert signs_in(env, "alice", password)
    assert not signs_in(env, "alice", password + "x")


def test_the_printed_password_signs_in_over_http(env: dict[str, str | None]) -> None:
    password = password_of(run(env, "add", "alice")[1])
    url = env["SHOPCHAT_DATABASE_URL"]
    assert url is not None
    with TestClient(make_app(url, Clocks(), OperatorAuthConfig())) as client:
        response = client.post("/api/operator/login", json={"name": "alice", "password": password})
        assert response.status_code == 200, response.text
        assert client.get("/api/operator/me").json()["name"] == "alice"


def test_the_password_is_never_logged(env: dict[str, str | None], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        _, stdout, _ = run(env, "add", "alice")
    password = password_of(stdout)
    assert caplog.records  # the migration logged: logging was on
    assert all(password not in record.getMessage() for record in caplog.records)


def test_list_shows_operators_and_their_sessions(env: dict[str, str | None]) -> None:
    assert run(env, "list")[:2] == (0, "no operators (`shopchat operator add NAME` creates one)\n")
    run(env, "add", "bob")
    run(env, "add", "alice")
    code, stdout, _ = run(env, "list")
    assert code == 0
    lines = stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["alice", "bob"]
    assert all(line.endswith("0 open session(s)") for line in lines)


def test_remove_stops_the_password_and_hides_the_operator(env: dict[str, str | None]) -> None:
    password = password_of(run(env, "add", "alice")[1])
    code, stdout, _ = run(env, "remove", "alice")
    assert (code, stdout) == (0, "removed operator alice; their sessions are ended\n")
    assert not signs_in(env, "alice", password)
    assert run(env, "list")[1].startswith("no operators")
    removed = run(env, "list", "--removed")[1]
    assert removed.startswith("alice")
    assert "removed " in removed


def test_reset_prints_a_new_password_and_the_old_one_stops(env: dict[str, str | None]) -> None:
    old = password_of(run(env, "add", "alice")[1])
    code, stdout, _ = run(env, "reset", "alice")
    assert code == 0
    assert stdout.splitlines()[0] == "reset the password of alice; their sessions are ended"
    new = password_of(stdout)
    assert new != old
    assert (signs_in(env, "alice", old), signs_in(env, "alice", new)) == (False, True)


def test_a_duplicate_name_exits_1(env: dict[str, str | None]) -> None:
    run(env, "add", "alice")
    code, stdout, stderr = run(env, "add", "ALICE")
    assert (code, stdout) == (1, "")
    assert stderr == "error: an operator named 'alice' already exists\n"


@pytest.mark.parametrize("command", ["remove", "reset"])
def test_an_unknown_name_exits_1(env: dict[str, str | None], command: str) -> None:
    code, stdout, stderr = run(env, command, "nobody")
    assert (code, stdout) == (1, "")
    assert stderr == "error: no operator named 'nobody' (`shopchat operator list` shows them)\n"


@pytest.mark.parametrize("command", ["add", "remove", "reset"])
def test_a_bad_name_exits_1_before_touching_the_database(env: dict[str, str | None], command: str) -> None:
    code, stdout, stderr = run(env, command, "not a name")
    assert (code, stdout) == (1, "")
    assert stderr.startswith("error: invalid operator name 'not a name'")
    assert not Path("chat.db").exists()


def test_an_unreachable_database_exits_2_in_one_line(env: dict[str, str | None]) -> None:
    env["SHOPCHAT_DATABASE_URL"] = "postgresql+asyncpg://u@127.0.0.1:1/x"
    code, _, stderr = run(env, "add", "alice")
    assert code == 2
    assert stderr.startswith("error: cannot connect to database")
    assert "Traceback" not in stderr
    assert "one-time password" not in stderr
