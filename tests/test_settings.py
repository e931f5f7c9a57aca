from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ConfigError
from app.settings import load_settings


def test_defaults_need_no_key_and_use_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.llm_backend == "local"
    assert settings.resolved_database_url().startswith("sqlite+aiosqlite:////")


def test_env_vars_are_read_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPCHAT_PORT", "9123")
    monkeypatch.setenv("SHOPCHAT_LLM_BACKEND", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    settings = load_settings()
    assert (settings.port, settings.llm_backend, settings.openai_base_url) == (
        9123,
        "openai",
        "http://127.0.0.1:11434/v1",
    )


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPCHAT_LLM_MAX_RETRIES", "many")
    with pytest.raises(ConfigError, match="SHOPCHAT_LLM_MAX_RETRIES"):
        load_settings()


def test_unknown_backend_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPCHAT_LLM_BACKEND", "gpt")
    with pytest.raises(ConfigError, match="SHOPCHAT_LLM_BACKEND"):
        load_settings()


def test_unsupported_database_url_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPCHAT_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigError, match="SHOPCHAT_DATABASE_URL"):
        load_settings()


def test_allowed_origins_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPCHAT_ALLOWED_ORIGINS", "https://shop.example/, https://www.shop.example")
    assert load_settings().resolved_origins() == {"https://shop.example", "https://www.shop.example"}


def test_default_origins_are_the_servers_own() -> None:
    assert load_settings(port=8123).resolved_origins() == {"http://127.0.0.1:8123", "http://localhost:8123"}


def test_secret_is_generated_once_and_persisted(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path).resolved_secret()
    second = load_settings(data_dir=tmp_path).resolved_secret()
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SHOPCHAT_MAX_MESSAGE_CHARS=123\n")
    assert load_settings().max_message_chars == 123


def test_a_tokenizer_that_is_no_encoding_and_no_file_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPCHAT_LLM_TOKENIZER", str(tmp_path / "missing" / "tokenizer.json"))
    with pytest.raises(ConfigError, match=r"SHOPCHAT_LLM_TOKENIZER: .*tiktoken encoding"):
        load_settings()


@pytest.mark.parametrize("value", ["o200k_base", "folder", "folder/tokenizer.json"])
def test_a_tokenizer_may_be_an_encoding_a_file_or_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "tokenizer.json").write_text("{}", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOPCHAT_LLM_TOKENIZER", value)
    assert load_settings().llm_tokenizer == value


@pytest.mark.parametrize("name", ["SHOPCHAT_TRUSTED_PROXIES", "SHOPCHAT_FORWARDED_ALLOW_IPS"])
def test_trusted_proxies_are_read_under_either_name(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "10.0.0.0/8")
    assert load_settings().forwarded_allow_ips == "10.0.0.0/8"
