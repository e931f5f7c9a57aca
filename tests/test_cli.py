from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli, mount_subcommands
from tests.liveserver import free_port

mount_subcommands()
runner = CliRunner()


def test_help_lists_every_command() -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "config", "recommend", "db", "finetune"):
        assert command in result.output


def test_config_prints_effective_settings() -> None:
    result = runner.invoke(cli, ["config"])
    assert result.exit_code == 0
    assert "llm_backend = local" in result.output


def test_config_with_bad_value_exits_2_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPCHAT_PORT", "eighty")
    result = runner.invoke(cli, ["config"])
    assert result.exit_code == 2
    assert "SHOPCHAT_PORT" in result.output


def test_serve_refuses_bad_settings_before_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPCHAT_LLM_TIMEOUT_S", "-1")
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "SHOPCHAT_LLM_TIMEOUT_S" in result.output


def test_serve_refuses_an_unreachable_database_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPCHAT_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/shopchat")
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "cannot connect to database" in result.output
    assert "Traceback" not in result.output


def test_plugin_command_groups_are_mounted_from_entry_points() -> None:
    result = runner.invoke(cli, ["finetune", "--help"])
    assert result.exit_code == 0
    assert "prepare" in result.output


def test_secret_key_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPCHAT_SECRET_KEY", "do-not-print-this-secret-value")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-print")
    result = runner.invoke(cli, ["config"])
    assert "do-not-print" not in result.output


def test_serve_refuses_an_unreachable_redis_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHOPCHAT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHOPCHAT_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "SHOPCHAT_REDIS_URL: cannot reach Redis" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_several_workers_without_redis(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHOPCHAT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHOPCHAT_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/shopchat")
    monkeypatch.delenv("SHOPCHAT_REDIS_URL", raising=False)
    result = runner.invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers 2 needs PostgreSQL and Redis" in result.output
    assert "missing: Redis (SHOPCHAT_REDIS_URL" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_several_workers_on_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHOPCHAT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SHOPCHAT_DATABASE_URL", raising=False)
    # Never reached: the refusal comes before anything is contacted.
    monkeypatch.setenv("SHOPCHAT_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    result = runner.invoke(cli, ["serve", "--workers", "3"])
    assert result.exit_code == 2
    assert "missing: PostgreSQL (SHOPCHAT_DATABASE_URL" in result.output
    assert "SHOPCHAT_REDIS_URL" not in result.output
    assert not (tmp_path / "shopchat.db").exists()


def test_serve_refuses_zero_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(cli, ["serve", "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output
