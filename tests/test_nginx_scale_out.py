"""docs/scale-out.md's nginx configuration, as printed, in front of two shopchat instances (PostgreSQL + Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import fresh_redis_url, reset_database
from tests.test_server_e2e import ROOT, Server, free_port, recv, until

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ORIGIN = "https://www.your-shop.example"


def documented_config(upstreams: list[int], port: int) -> str:
    """The doc's nginx block, with its servers and TLS listener swapped for local ports (nothing else)."""
    doc = (ROOT / "docs" / "scale-out.md").read_text()
    block = re.search(r"```nginx\n(# /etc/nginx/conf\.d/shopchat\.conf\n.*?)```", doc, re.DOTALL)
    assert block is not None, "docs/scale-out.md has no nginx block for shopchat.conf"
    config = block[1]
    servers = re.findall(r"    server 10\.0\.0\.\d+:8000", config)
    assert len(servers) == len(upstreams)
    for line, upstream in zip(servers, upstreams, strict=True):
        config = config.replace(line, f"    server 127.0.0.1:{upstream}", 1)
    config = config.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};")
    return re.sub(r"\n\s*ssl_certificate\S* [^\n]*;", "", config)


@pytest.fixture
def behind_nginx(tmp_path: Path, postgres_url: str) -> Iterator[tuple[str, list[Server]]]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    redis_url = fresh_redis_url()
    asyncio.run(reset_database(postgres_url))
    env = {
        "SHOPCHAT_DATABASE_URL": postgres_url,
        "SHOPCHAT_REDIS_URL": redis_url,
        "SHOPCHAT_ALLOWED_ORIGINS": ORIGIN,
        "SHOPCHAT_TRUSTED_PROXIES": "127.0.0.1",  # nginx, as the instances see it
        "SHOPCHAT_MAX_SOCKETS_PER_IP": "2",
        "SHOPCHAT_ENCODER_PROCESS": "false",
        "SHOPCHAT_LOCAL_STREAM_DELAY_MS": "10",
    }
    instances = [Server(tmp_path / name, **env) for name in ("a", "b")]
    port = free_port()
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    (prefix / "nginx.conf").write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log warn;\nevents {{}}\n"
        f"http {{\naccess_log off;\n{documented_config([s.port for s in instances], port)}\n}}\n"
    )
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for instance in instances:
            instance.start(tmp_path / "instances.log")
        nginx = subprocess.Popen(
            [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while True:
            assert nginx.poll() is None, (nginx.stderr.read() if nginx.stderr else b"").decode()
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1),
            ):
                break
            assert time.monotonic() < deadline, "nginx did not answer"
            time.sleep(0.1)
        yield f"127.0.0.1:{port}", instances
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        for instance in instances:
            instance.stop()


async def chat_socket(
    address: str, client_ip: str, query: str = "", spoofed: str | None = None
) -> ClientConnection:
    """A widget's socket through nginx from ``client_ip`` (any 127.x address is this host)."""
    headers = {"X-Forwarded-For": spoofed} if spoofed else None
    return await connect(
        f"ws://{address}/ws/chat{query}",
        origin=ORIGIN,  # type: ignore[arg-type]
        additional_headers=headers,
        local_addr=(client_ip, 0),
    )


def pid_answering(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        found = re.search(r'shopchat_process_info\{pid="(\d+)"\}', response.read().decode())
    assert found is not None
    return found[1]


async def test_a_conversation_goes_on_through_nginx_whichever_instance_answers(
    behind_nginx: tuple[str, list[Server]],
) -> None:
    address, _ = behind_nginx
    # No affinity: requests through the one address reach both instances.
    assert len({pid_answering(address) for _ in range(8)}) == 2
    seen: list[list[dict[str, Any]]] = []
    query = ""
    for n in range(4):  # four page loads, each resuming the conversation where the last one stopped
        ws = await chat_socket(address, "127.0.0.2", query)
        async with ws:
            ready = await recv(ws)
            await ws.send(
                json.dumps({"type": "message", "id": f"m{n}", "text": "what is your return policy?"})
            )
            frames = await asyncio.wait_for(until(ws, "done"), 30)
        seen.append(frames)
        query = (
            f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={frames[-1]['seq']}"
        )
    assert all(frames[-1]["type"] == "done" for frames in seen)
    seqs = [f["seq"] for frames in seen for f in frames]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_the_socket_cap_counts_the_real_client_not_nginx_nor_a_forged_header(
    behind_nginx: tuple[str, list[Server]],
) -> None:
    address, _ = behind_nginx
    first = await chat_socket(address, "127.0.0.2", spoofed="198.51.100.1")
    second = await chat_socket(address, "127.0.0.2", spoofed="198.51.100.2")
    async with first, second:
        for ws in (first, second):
            assert (await recv(ws))["type"] == "ready"
        # A third from the same client is over the cap of 2, whatever it claims and whichever instance it reaches.
        async with await chat_socket(address, "127.0.0.2", spoofed="198.51.100.3") as third:
            refused = await recv(third)
            with contextlib.suppress(Exception):
                await third.recv()
        assert (refused["code"], third.close_code) == ("rate_limited", 4429)
        # Another client behind the same nginx is not counted with it.
        async with await chat_socket(address, "127.0.0.3") as other:
            assert (await recv(other))["type"] == "ready"
