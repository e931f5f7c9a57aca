"""Settings, read once at start-up from ``SHOPCHAT_*`` environment variables and ``.env``."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_STATIC_DIR = PROJECT_ROOT / "static"
# The tiktoken encodings app.llm.tokens has offline (settings sit below every layer, so they are named here).
TIKTOKEN_ENCODINGS = ("cl100k_base", "o200k_base")


class Settings(BaseSettings):
    """Every knob of the server; see README "Configuration" for what each one does."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPCHAT_", env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    llm_backend: Literal["local", "openai"] = "local"
    llm_model: str = "gpt-4o-mini"
    llm_context_tokens: int = Field(default=16_000, ge=256)
    llm_max_output_tokens: int = Field(default=512, ge=16)
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_answer_timeout_s: float = Field(default=90.0, gt=0)
    llm_idle_timeout_s: float = Field(default=30.0, gt=0)
    llm_temperature: float = Field(default=0.3, ge=0, le=2)
    llm_stream: bool = True
    llm_early_start: bool = True
    llm_tools: bool = True
    # How long a customer has to confirm a change the assistant proposed (cancel, return, new address).
    confirm_ttl_s: float = Field(default=900.0, ge=10, le=86400)
    # A tiktoken encoding (cl100k_base, o200k_base) or a Hugging Face tokenizer.json (or its folder); unset: the
    # model's tiktoken encoding, a guess for models that are not OpenAI's.
    llm_tokenizer: str | None = None
    llm_health_interval_s: float = Field(default=30.0, ge=1)
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "SHOPCHAT_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "SHOPCHAT_OPENAI_BASE_URL")
    )
    database_url: str = ""
    data_dir: Path = Path("shopchat-data")
    prompts_dir: Path | None = None  # None: the templates shipped in prompts/
    shop_dir: Path | None = None
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    secret_key: SecretStr | None = None
    customer_signing_key: SecretStr | None = None
    # Unsigned customer ids and the customer list: for the demo shop only (anyone could read any history).
    demo_mode: bool = False
    token_ttl_days: float = Field(default=30.0, gt=0, le=3650)
    api_docs: bool = False
    max_message_chars: int = Field(default=2000, ge=1, le=100_000)
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    abandon_after_s: float = Field(default=60.0, gt=0)
    rate_limit_per_minute: int = Field(default=30, ge=1)
    rate_limit_per_ip_per_minute: int = Field(default=60, ge=1)
    max_sockets_per_ip: int = Field(default=50, ge=1)
    new_conversations_per_ip_per_minute: int = Field(default=20, ge=1)
    # Unset: everything stays in this process. Set (redis://host:6379/0): limits and live events are shared.
    redis_url: str | None = None
    ready_cache_s: float = Field(default=2.0, ge=0, le=60)
    # With Redis: how long a dead process's answer stays locked before another process takes it over.
    answer_lease_s: float = Field(default=15.0, ge=1, le=15)
    # None: uvicorn's default (FORWARDED_ALLOW_IPS or 127.0.0.1). SHOPCHAT_TRUSTED_PROXIES is the scale-out
    # issue's name for it; both are read.
    forwarded_allow_ips: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SHOPCHAT_TRUSTED_PROXIES", "SHOPCHAT_FORWARDED_ALLOW_IPS"),
    )
    # The shop's own order system (docs/shop-backend.md); unset: the demo shop's orders, none for other shops.
    orders_backend_file: Path | None = None
    # Operators (docs/operators.md): how long a login lasts, and where each handoff is posted (signed).
    operator_session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    handoff_webhook_url: str | None = None
    handoff_webhook_secret: SecretStr | None = None
    # Answers in a row that could not help before a person is asked for (0: never; docs/operators.md).
    handoff_after_fallbacks: int = Field(default=2, ge=0, le=20)
    # The address customers and operators reach this server at (links in webhook payloads).
    public_url: str | None = None
    local_stream_delay_ms: float = Field(default=15.0, ge=0, le=5000)
    local_confidence: float = Field(default=0.5, ge=0, le=1)
    recommendations_n: int = Field(default=4, ge=1, le=20)
    encoder_process: bool = True
    freeze_heap: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # Comma-separated in the environment, a list in code.
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("llm_tokenizer")
    @classmethod
    def _tokenizer_exists(cls, value: str | None) -> str | None:
        # Checked here so a wrong path is one line from `shopchat serve`, not a traceback from the lifespan.
        if not value:
            return None
        if value in TIKTOKEN_ENCODINGS:
            return value
        path = Path(value).expanduser()
        if not (path / "tokenizer.json" if path.is_dir() else path).is_file():
            raise ValueError(
                f"must be a tiktoken encoding ({', '.join(TIKTOKEN_ENCODINGS)}) or a tokenizer.json file "
                "(or a folder holding one)"
            )
        return value

    @field_validator("orders_backend_file")
    @classmethod
    def _backend_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_file():
            raise ValueError(f"{value} is not a file (see docs/shop-backend.md)")
        return value.expanduser() if value is not None else None

    @field_validator("handoff_webhook_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:", "postgresql:")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in ``data_dir``."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'shopchat.db').resolve()}"
        if self.database_url.startswith("postgresql:"):
            return "postgresql+asyncpg:" + self.database_url.removeprefix("postgresql:")
        return self.database_url

    def resolved_origins(self) -> frozenset[str]:
        """Origins allowed to open a websocket; by default the server's own."""
        if self.allowed_origins:
            return frozenset(self.allowed_origins)
        return frozenset({f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"})

    def resolved_secret(self) -> bytes:
        """The HMAC key for conversation tokens; generated and kept in ``data_dir`` on first run."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text(encoding="utf-8").strip().encode()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key + "\n", encoding="utf-8")
        return key.encode()


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value raises ``ConfigError`` naming the environment variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            env = field if field.isupper() else f"SHOPCHAT_{field.upper()}"
            problems.append(f"{env}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from exc
