"""Child processes that are always cleaned up, their CPU time, and a tiny HTTP client for health and control."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
# The client part of a PostgreSQL backend's process title: "127.0.0.1(51234)" or "[local]".
_BACKEND_CLIENT = re.compile(r"^(?:\S+\(\d+\)|\[local\])$")
_children: list[Child] = []
_tempdirs: list[Path] = []


def _die_with_parent() -> None:
    # Runs in the child before exec: if the benchmark is killed outright (SIGKILL), the kernel sends the
    # child SIGTERM instead of leaving it serving on a port.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads included (``/proc/PID/stat``)."""
    data = Path(f"/proc/{pid}/stat").read_bytes()
    # The command name may hold spaces and parentheses; the fields after its last ')' are fixed.
    fields = data[data.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and every live descendant (a server's worker processes count as its own)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError, ValueError):
            total += cpu_seconds(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    pending.extend(int(child) for child in (task / "children").read_text().split())
    return total


def _child_pids(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def server_cpu_by_role(pid: int, workers: int) -> dict[str, float]:
    """CPU seconds of a shopchat server's processes by role: event loops, encoders, supervisor, the rest.

    With one worker the server process runs the event loop itself; with ``--workers N`` it supervises N
    worker processes, each running an event loop. A child a loop process spawned by ``multiprocessing``
    (other than its resource tracker) is that worker's sentence encoder.
    """
    roles = {"loop": 0.0, "encoder": 0.0, "supervisor": 0.0, "other": 0.0}
    loop_depth = 0 if workers <= 1 else 1
    pending = [(pid, 0)]
    while pending:
        current, depth = pending.pop()
        with contextlib.suppress(OSError, ValueError):
            used = cpu_seconds(current)
            if depth == loop_depth:
                role = "loop"
            elif depth < loop_depth:
                role = "supervisor"
            elif depth == loop_depth + 1 and "spawn_main" in (command := _cmdline(current)):
                role = "encoder" if "resource_tracker" not in command else "other"
            else:
                role = "other"
            roles[role] += used
        pending.extend((child, depth + 1) for child in _child_pids(current))
    return roles


def backend_database(title: str) -> str | None:
    """The database a PostgreSQL backend is connected to, from its process title; None for other processes.

    A backend's title is "postgres: [CLUSTER:] USER DATABASE HOST(PORT) STATE"; a background process's is
    "postgres: [CLUSTER:] walwriter"; the postmaster shows its own command line.
    """
    words = title.split()
    if words[:1] != ["postgres:"]:
        return None
    words = words[1:]
    if words and words[0].endswith(":"):
        words = words[1:]
    if len(words) >= 3 and _BACKEND_CLIENT.match(words[2]):
        return words[1]
    return None


def postgres_cpu_seconds(database: str) -> dict[str, float]:
    """CPU seconds of PostgreSQL: the backends connected to ``database``, and its shared background processes.

    Backends of other databases (other users of a shared server) are left out.
    """
    out = {"backends": 0.0, "background": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError):
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            used = cpu_seconds(int(entry.name))
            connected = backend_database(_cmdline(int(entry.name)))
            if connected is None:
                out["background"] += used
            elif connected == database:
                out["backends"] += used
    return out


def machine_cpu_seconds() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine, over every core, since boot (``/proc/stat``)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already counted in user).
    total = sum(fields[:8])
    idle = fields[3] + fields[4]
    return (total - idle) / CLK_TCK, total / CLK_TCK


def service_cpu_seconds(command: str) -> float:
    """CPU seconds of every live process whose command name is ``command`` (e.g. ``postgres``), summed."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError):
            if (entry / "comm").read_text().strip() == command:
                total += cpu_seconds(int(entry.name))
    return total


def own_cpu_seconds() -> float:
    """CPU seconds of this (load generator) process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_tempdir(prefix: str) -> Path:
    """A temporary directory removed by ``cleanup()`` whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _tempdirs.append(path)
    return path


def remove_tempdir(path: Path) -> None:
    """Remove a directory made by ``make_tempdir`` now."""
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(ValueError):
        _tempdirs.remove(path)


@dataclass
class Child:
    """A started process and where its output goes."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        """The process id (the server itself: it is exec'd directly, with no shell or wrapper)."""
        return self.proc.pid

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``grace_s``."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        with contextlib.suppress(ValueError):
            _children.remove(self)

    def tail(self, lines: int = 25) -> str:
        """The last lines of its output, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def spawn(name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log_path: Path) -> Child:
    """Start ``argv`` with output to ``log_path``; it is stopped by ``cleanup()`` at the latest."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C reaches only the benchmark, which then stops children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    child = Child(name, proc, log_path)
    _children.append(child)
    return child


def cleanup() -> None:
    """Stop every child still running and remove every temporary directory."""
    for child in list(_children):
        with contextlib.suppress(Exception):
            child.stop()
    for path in list(_tempdirs):
        remove_tempdir(path)


async def http_request(
    port: int, method: str, path: str, body: bytes = b"", timeout_s: float = 5.0
) -> tuple[int, bytes]:
    """One HTTP/1.1 request to 127.0.0.1 with ``Connection: close``; the status and the body."""

    async def go() -> tuple[int, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        status_line, _, rest = data.partition(b"\r\n")
        _, _, payload = rest.partition(b"\r\n\r\n")
        return int(status_line.split()[1]), payload

    return await asyncio.wait_for(go(), timeout_s)


async def wait_healthy(child: Child, port: int, path: str, timeout_s: float) -> float:
    """Poll ``path`` until it answers 200; the seconds it took. Raises if the child dies or time runs out."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
        with contextlib.suppress(OSError, TimeoutError, ValueError, IndexError):
            status, _ = await http_request(port, "GET", path, timeout_s=2.0)
            if status == 200:
                return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{child.name} not healthy after {timeout_s:.0f} s:\n{child.tail()}")


def machine_info() -> dict[str, object]:
    """CPU model, core count and memory, for the results file."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": os.uname().release,
    }
