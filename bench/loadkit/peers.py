"""The systems measured side by side, and how each is started on a fresh database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from loadkit.procs import (
    Child,
    free_port,
    http_request,
    make_tempdir,
    remove_tempdir,
    spawn,
    tree_cpu_seconds,
    wait_healthy,
)

STARTUP_TIMEOUT_S = 180.0
# shopchat's log format is "time LEVEL logger: message"; uvicorn's own is "LEVEL:    message".
_LOGGED_ERROR = re.compile(
    r"^(?:\S+ \S+ (?P<level>ERROR|CRITICAL) (?P<logger>\S+): |(?P<level2>ERROR|CRITICAL):\s+)(?P<message>.*)"
)
# The last line of a traceback: the exception's qualified name and message, unindented.
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Timeout|Exit)\b.*")
SECRET = "bench-secret-key-0123456789abcdef"
_PROCESS_PID = re.compile(r'^shopchat_process_info\{pid="(\d+)"\}', re.MULTILINE)
_OPEN_SOCKETS = re.compile(r"^shopchat_open_sockets (\S+)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class PeerSpec:
    """One system under test."""

    key: str
    label: str
    kind: Literal["shopchat", "relay"]
    database: Literal["sqlite", "postgres", "none"]
    backend: Literal["openai", "local"] = "openai"
    workers: int = 1  # `shopchat serve --workers N`
    redis: bool = False  # SHOPCHAT_REDIS_URL from the context


PEERS: dict[str, PeerSpec] = {
    p.key: p
    for p in (
        PeerSpec("shopchat-sqlite", "shopchat (SQLite)", "shopchat", "sqlite"),
        PeerSpec("shopchat-postgres", "shopchat (PostgreSQL)", "shopchat", "postgres"),
        PeerSpec("relay", "bare relay", "relay", "none"),
        PeerSpec("relay-insert", "relay + INSERT/delta", "relay", "sqlite"),
    )
}
LOCAL = PeerSpec("shopchat-local", "shopchat (local backend)", "shopchat", "sqlite", backend="local")
# The scale scenario: the same deployment (PostgreSQL + Redis) with one process, then two on one port.
SCALE = (
    PeerSpec("shopchat-x1", "shopchat ×1 (PostgreSQL + Redis)", "shopchat", "postgres", redis=True),
    PeerSpec("shopchat-x2", "shopchat ×2 (--workers 2)", "shopchat", "postgres", workers=2, redis=True),
)


@dataclass(frozen=True, slots=True)
class Context:
    """What every peer needs to start."""

    checkout: Path
    python: str
    bench_dir: Path
    upstream_port: int
    pg_url: str
    redis_url: str | None = None


@dataclass(slots=True)
class Server:
    """A running peer."""

    spec: PeerSpec
    port: int
    child: Child
    startup_s: float
    log_offset: int = 0

    def cpu(self) -> float:
        """CPU seconds the server process and its children (e.g. the encoder process) have used so far."""
        return tree_cpu_seconds(self.child.pid)

    def check(self) -> None:
        """Raise with its log when the server has died."""
        if not self.child.alive():
            raise RuntimeError(
                f"{self.spec.label} exited with {self.child.proc.returncode}:\n{self.child.tail()}"
            )

    def new_log_problems(self) -> dict[str, int]:
        """Errors the server logged since the last call, counted by kind.

        A failure inside an answer task may never reach the client as an error frame (the client just waits),
        so the server's own log is the only place it shows.
        """
        try:
            with self.child.log_path.open("rb") as log:
                log.seek(self.log_offset)
                data = log.read()
        except OSError:
            return {}
        self.log_offset += len(data)
        problems: Counter[str] = Counter()
        for line in data.decode(errors="replace").splitlines():
            if (m := _LOGGED_ERROR.match(line)) is not None:
                level, logger = m["level"] or m["level2"], m["logger"] or "uvicorn"
                problems[f"logged {level} {logger}: {m['message'][:70]}"] += 1
            elif (m := _EXCEPTION.match(line)) is not None:
                problems[f"exception {m[0][:110]}"] += 1
            elif "exception was never retrieved" in line:
                problems["asyncio: task exception was never retrieved"] += 1
        return dict(problems)


def clean_env() -> dict[str, str]:
    """This process's environment without any shopchat or OpenAI settings that would leak into a peer."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SHOPCHAT_", "OPENAI_")) and k not in ("PYTHONPATH", "PYTHONSTARTUP")
    }


async def reset_postgres(url: str) -> None:
    """Create the benchmark database if needed and empty it, so every run starts from no rows."""
    import asyncpg  # type: ignore[import-untyped]

    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    base, _, name = dsn.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres", timeout=5)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


async def redis_problem(url: str | None) -> str | None:
    """Why Redis cannot be used (None if it can)."""
    if not url:
        return "no --redis-url"
    try:
        from redis.asyncio import Redis
    except ImportError:
        return "the redis package is not installed in the benchmark's Python"
    client = Redis.from_url(url, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as exc:
        return f"Redis at {url} is unreachable ({type(exc).__name__}: {exc})"
    finally:
        await client.aclose()
    return None


async def wait_workers(child: Child, port: int, workers: int, timeout_s: float) -> None:
    """Scrape ``/metrics`` until ``workers`` different processes have answered (each names its pid)."""
    seen: set[str] = set()
    started = time.monotonic()
    while len(seen) < workers:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"only {len(seen)} of {workers} workers answered in {timeout_s:.0f} s")
        with contextlib.suppress(OSError, TimeoutError, ValueError, IndexError):
            status, body = await http_request(port, "GET", "/metrics", timeout_s=2.0)
            if status == 200 and (m := _PROCESS_PID.search(body.decode(errors="replace"))) is not None:
                seen.add(m[1])
        await asyncio.sleep(0.05)


async def sockets_per_worker(port: int, workers: int, timeout_s: float = 30.0) -> dict[str, int]:
    """Open chat sockets of each worker (``shopchat_open_sockets``), scraping until every worker answered."""
    seen: dict[str, int] = {}
    started = time.monotonic()
    while len(seen) < workers and time.monotonic() - started < timeout_s:
        with contextlib.suppress(OSError, TimeoutError, ValueError, IndexError):
            status, body = await http_request(port, "GET", "/metrics", timeout_s=2.0)
            text = body.decode(errors="replace")
            pid, sockets = _PROCESS_PID.search(text), _OPEN_SOCKETS.search(text)
            if status == 200 and pid is not None and sockets is not None:
                seen[pid[1]] = int(float(sockets[1]))
    return seen


async def postgres_problem(url: str) -> str | None:
    """Why PostgreSQL cannot be used (None if it can)."""
    try:
        await reset_postgres(url)
    except ImportError:
        return "asyncpg is not installed in the benchmark's Python"
    except Exception as exc:
        return f"PostgreSQL at {url.rpartition('@')[2]} is unreachable ({type(exc).__name__}: {exc})"
    return None


@contextlib.asynccontextmanager
async def running(spec: PeerSpec, ctx: Context) -> AsyncIterator[Server]:
    """Start ``spec`` on a fresh database, wait until it is healthy, and stop it afterwards."""
    tmp = make_tempdir(f"shopchat-bench-{spec.key}-")
    port = free_port()
    env = clean_env()
    upstream = f"http://127.0.0.1:{ctx.upstream_port}/v1"
    sqlite_url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    child: Child | None = None
    try:
        if spec.kind == "shopchat":
            if spec.database == "postgres":
                await reset_postgres(ctx.pg_url)
            env.update(
                SHOPCHAT_PORT=str(port),
                SHOPCHAT_HOST="127.0.0.1",
                SHOPCHAT_DATA_DIR=str(tmp / "data"),
                SHOPCHAT_DATABASE_URL=ctx.pg_url if spec.database == "postgres" else sqlite_url,
                SHOPCHAT_SECRET_KEY=SECRET,
                SHOPCHAT_LLM_BACKEND=spec.backend,
                SHOPCHAT_LLM_MODEL="fake-model",
                SHOPCHAT_LOG_LEVEL="warning",
                SHOPCHAT_RATE_LIMIT_PER_MINUTE="100000",
                # Every simulated customer connects from 127.0.0.1: lift the per-address caps.
                SHOPCHAT_RATE_LIMIT_PER_IP_PER_MINUTE="10000000",
                SHOPCHAT_MAX_SOCKETS_PER_IP="100000",
                SHOPCHAT_NEW_CONVERSATIONS_PER_IP_PER_MINUTE="10000000",
                SHOPCHAT_LLM_TIMEOUT_S="120",
                SHOPCHAT_LOCAL_STREAM_DELAY_MS="0",
                OPENAI_BASE_URL=upstream,
                OPENAI_API_KEY="sk-fake",
            )
            if spec.redis:
                assert ctx.redis_url is not None, f"{spec.key} needs a Redis URL"
                env["SHOPCHAT_REDIS_URL"] = ctx.redis_url
            argv = [ctx.python, "-m", "app", "serve"]
            if spec.workers > 1:
                argv += ["--workers", str(spec.workers)]
            cwd = ctx.checkout
        else:
            env["PYTHONPATH"] = str(ctx.bench_dir)
            argv = [ctx.python, "-m", "loadkit.relay", "--port", str(port), "--upstream", upstream]
            if spec.database == "sqlite":
                argv += ["--db", sqlite_url]
            cwd = ctx.bench_dir
        child = spawn(spec.key, argv, env=env, cwd=cwd, log_path=tmp / "server.log")
        startup = await wait_healthy(child, port, "/healthz", STARTUP_TIMEOUT_S)
        if spec.workers > 1:
            # One worker answering is not all of them: the load must meet every worker ready.
            await wait_workers(child, port, spec.workers, STARTUP_TIMEOUT_S)
        yield Server(spec, port, child, startup)
    finally:
        if child is not None:
            child.stop()
        remove_tempdir(tmp)
