"""Capacity benchmark: shopchat against a bare relay and a relay with one INSERT per delta, over one fake upstream.

Run ``.venv/bin/python bench/load.py`` (about 15–20 minutes on 2 cores) or ``--quick`` for a short pass. It
prints a table, and writes ``bench/results/load.json`` (every raw figure) and ``bench/results/load.png``.
See ``docs/load-benchmark.md`` for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH))

try:
    import orjson  # noqa: F401  (the load generator parses every frame with it)
except ImportError:
    sys.exit(
        "error: bench/load.py needs orjson: run it with the project's venv (.venv/bin/python bench/load.py)"
    )

from loadkit import procs  # noqa: E402
from loadkit.answer import tag  # noqa: E402
from loadkit.client import Answer, Fleet  # noqa: E402
from loadkit.measure import spread, summarize  # noqa: E402
from loadkit.peers import (  # noqa: E402
    LOCAL,
    PEERS,
    SCALE,
    Context,
    PeerSpec,
    Server,
    postgres_problem,
    redis_problem,
    running,
    sockets_per_worker,
)

SCENARIOS = ("cpu", "ttft", "held", "saturation", "local", "scale")
# `scale` needs Redis and runs its own peers (one process, then two): only when asked for.
DEFAULT_SCENARIOS = ("cpu", "ttft", "held", "saturation", "local")
GAP_LIMIT_MS = 250.0
TARGETS = {
    "held_sqlite": 300,
    "cpu_ratio": 2.0,
    "added_ttft_p50_ms": 10.0,
    "local_old_answers_per_s": 6.4,
    "scale_ratio": 1.6,
}
HARNESS_BUSY = 0.8  # a harness process above this share of a core may be what limits the figures
# Plain chat questions of a shop's FAQ. None asks for recommendations, suggestions or gifts: those take the
# recommend route, which is not what these scenarios measure.
QUESTIONS = (
    "hello, can you tell me about your shop?",
    "How do I return an item I bought last week?",
    "How long does delivery take?",
    "Which payment methods do you accept?",
    "What are your opening hours?",
    "Where is my order? I ordered three days ago.",
    "Can I change my delivery address after ordering?",
    "Do you ship internationally?",
    "How much does shipping cost?",
    "Can I pay with PayPal?",
    "How do I get a refund?",
    "Is there a warranty on your products?",
    "How can I track my parcel?",
    "Can I cancel my order?",
    "Do you have a physical store I can visit?",
    "How do I reset my account password?",
    "My item arrived damaged, what can I do?",
    "Do you offer discounts for students?",
    "How can I reach customer service by phone?",
    "Are your prices including VAT?",
)


@dataclass(frozen=True)
class Plan:
    """Every knob of a run; ``--quick`` shrinks it."""

    reps: int = 3
    rate: float = 50.0
    stagger_s: float = 1.0
    cpu_conversations: int = 50
    cpu_tokens: int = 50
    cpu_rounds: int = 4
    cpu_max_s: float = 25.0
    held_tokens: int = 200
    held_levels: tuple[int, ...] = (5, 10, 25, 50, 100, 150, 200, 300, 400, 500, 600, 800)
    held_refine: int = 1
    # An answer "completes" only if it keeps pace with the upstream: done within this multiple of the
    # upstream's streaming time plus 1 s. A server that falls behind can keep every gap under 250 ms while
    # its answers take several times as long as the model's, and that is not holding the stream.
    held_pace: float = 1.25
    held_cap_s: float = 150.0
    sat_conversations: int = 600
    sat_tokens: int = 200
    sat_window_s: float = 15.0
    local_clients: int = 20
    local_seconds: float = 15.0
    # Closed loop: each conversation asks again as soon as its answer is done, far more than two processes
    # carry, so both configurations run saturated and answers/s is what each can complete.
    scale_conversations: int = 400
    scale_tokens: int = 100
    scale_rate: float = 100.0
    scale_window_s: float = 20.0
    # A client starts a new conversation after this many answers: a faster configuration must not be handed
    # longer conversations (a longer history costs more per answer), and shop chats are short.
    scale_turns: int = 4
    time_limit_s: float = 40 * 60.0


QUICK = Plan(
    reps=1,
    cpu_rounds=2,
    held_levels=(5, 10, 25, 50, 100),
    held_cap_s=60.0,
    sat_conversations=200,
    sat_window_s=10.0,
    local_seconds=5.0,
    scale_conversations=100,
    scale_window_s=8.0,
)


def chat_question(client: int, k: int) -> tuple[str, str | None]:
    """A plain question tagged so the upstream can report its own first-token time for it."""
    ref = f"c{client}k{k}"
    return QUESTIONS[(client + k) % len(QUESTIONS)] + tag(ref), ref


def local_question(client: int, k: int) -> tuple[str, str | None]:
    """An untagged question: the local backend answers from the FAQ, where a tag would only add noise."""
    return QUESTIONS[(client + k) % len(QUESTIONS)], None


def fail(message: str) -> NoReturn:
    """Exit with a clear message and status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def git_commit(path: Path) -> dict[str, Any]:
    """The commit checked out at ``path`` and whether the work tree has changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": head, "dirty": bool(status.strip())}


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def fmt(stats: dict[str, float | None] | None, digits: int = 1, unit: str = "") -> str:
    """``median [min–max]`` for a spread."""
    if not stats or stats.get("median") is None:
        return "—"
    med = stats["median"]
    low = stats["min"] if stats.get("min") is not None else med
    high = stats["max"] if stats.get("max") is not None else med
    if low == high:
        return f"{med:,.{digits}f}{unit}"
    return f"{med:,.{digits}f}{unit} [{low:,.{digits}f}–{high:,.{digits}f}]"


def held_failure(s: dict[str, Any], level: int) -> str | None:
    """Why a held-streams level failed, or None when every answer completed in time, smoothly, without errors."""
    reasons = []
    if s["connect_failures"]:
        reasons.append(f"connect failures {s['connect_failures']}")
    if s["done"] < level:
        others = {k: v for k, v in s["outcomes"].items() if k != "done"}
        reasons.append(f"{level - s['done']}/{level} answers incomplete {others}")
    if s["late"]:
        reasons.append(
            f"{s['late']}/{level} answers late (> {s['late_after_s']:.1f} s; slowest {s['answer_s']['max']:.1f} s)"
        )
    if s["error_frames"]:
        reasons.append(f"error frames {s['errors']}")
    p99 = s["gap_ms"]["p99"]
    if p99 is not None and p99 > GAP_LIMIT_MS:
        reasons.append(f"p99 gap {p99:.0f} ms")
    if s["text_mismatch"] or s["wrong_text"]:
        reasons.append(f"wrong text ({s['text_mismatch']} done≠deltas, {s['wrong_text']} ≠ upstream)")
    return "; ".join(reasons) or None


@dataclass
class Bench:
    """One benchmark run: the upstream, the peers, and everything measured."""

    plan: Plan
    ctx: Context
    upstream: procs.Child
    peers: list[PeerSpec]
    started: float = field(default_factory=time.monotonic)
    results: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def log(self, message: str) -> None:
        """One progress line."""
        print(f"[{time.monotonic() - self.started:6.0f}s] {message}", flush=True)

    def out_of_time(self) -> bool:
        """Whether the run's overall time limit is spent (later steps are then skipped)."""
        return time.monotonic() - self.started > self.plan.time_limit_s

    async def configure(self, tokens: int, rate: float | None = None) -> None:
        """Set the upstream's answer length and rate (default the plan's) for the requests that follow."""
        body = json.dumps({"tokens": tokens, "rate": rate or self.plan.rate, "ttft_ms": 0}).encode()
        status, _ = await procs.http_request(self.ctx.upstream_port, "POST", "/config", body)
        if status != 200:
            raise RuntimeError(f"upstream /config answered {status}")

    async def upstream_stats(self) -> dict[str, Any]:
        """The upstream's counters since the last call (which resets them)."""
        status, body = await procs.http_request(self.ctx.upstream_port, "GET", "/stats?reset=1")
        if status != 200:
            raise RuntimeError(f"upstream /stats answered {status}")
        stats: dict[str, Any] = json.loads(body)
        return stats

    async def measure(
        self,
        server: Server,
        fleet: Fleet,
        question: Callable[[int, int], tuple[str, str | None]],
        *,
        n_tokens: int | None,
        messages: int,
        answer_timeout_s: float,
        until_s: float | None = None,
        late_after_s: float | None = None,
        turns: int | None = None,
    ) -> dict[str, Any]:
        """Run one measured conversation round over ``fleet``; the figures plus CPU use of every process."""
        await self.upstream_stats()
        earlier_log = server.new_log_problems()
        server_cpu, upstream_cpu, own_cpu = (
            server.cpu(),
            procs.cpu_seconds(self.upstream.pid),
            procs.own_cpu_seconds(),
        )
        t0 = time.monotonic()
        answers: list[Answer] = await fleet.converse(
            question,
            messages=messages,
            stagger_s=self.plan.stagger_s,
            answer_timeout_s=answer_timeout_s,
            until=t0 + until_s if until_s is not None else None,
            turns=turns,
        )
        wall = time.monotonic() - t0
        server.check()
        server_cpu = server.cpu() - server_cpu
        upstream_cpu = procs.cpu_seconds(self.upstream.pid) - upstream_cpu
        own_cpu = procs.own_cpu_seconds() - own_cpu
        up = await self.upstream_stats()
        expected = len(fleet.conns) * messages if until_s is None else len(answers)
        s = summarize(
            answers,
            expected=expected,
            stray_errors=fleet.stray_errors(),
            connect_failures=fleet.connect_failures,
            n_tokens=n_tokens,
            upstream_first=up.pop("first_token"),
            late_after_s=late_after_s,
        )
        s.update(
            server_log=server.new_log_problems(),
            server_log_before=earlier_log,
            conversations=len(fleet.conns),
            wall_s=wall,
            server_cpu_s=server_cpu,
            server_util=server_cpu / wall,
            upstream_util=upstream_cpu / wall,
            loadgen_util=own_cpu / wall,
            cpu_per_delta_us=server_cpu / s["tokens_relayed"] * 1e6 if s["tokens_relayed"] else None,
            upstream=up,
        )
        if s["server_log"]:
            self.log(f"  {server.spec.label} logged: {s['server_log']}")
        for who in ("upstream", "loadgen"):
            if s[f"{who}_util"] > HARNESS_BUSY:
                note = f"{who} used {s[f'{who}_util']:.0%} of a core while measuring {server.spec.label}"
                self.warnings.append(note)
                self.log(f"  warning: {note}: the harness may be the limit")
        return s

    def scenario_start(self, name: str) -> None:
        """Record and print the load average as a scenario starts."""
        self.results.setdefault("loadavg", {})[name] = {"start": loadavg()}
        self.log(f"== {name}: load average {loadavg()}")

    def scenario_end(self, name: str) -> None:
        """Record and print the load average as a scenario ends."""
        self.results["loadavg"][name]["end"] = loadavg()
        self.log(f"== {name} finished: load average {loadavg()}")

    def record_error(self, scenario: str, peer: str, exc: BaseException) -> None:
        """Keep going after one peer fails, noting why."""
        text = f"{type(exc).__name__}: {exc}"
        self.results.setdefault("errors", []).append({"scenario": scenario, "peer": peer, "error": text})
        self.log(f"  {peer}: FAILED: {text}")

    # ---- scenarios ---------------------------------------------------------------------------------

    async def moderate(self) -> None:
        """CPU per streamed delta and added time to first token, at a fixed moderate load, all peers."""
        plan = self.plan
        name = "cpu+ttft"
        self.scenario_start(name)
        await self.configure(plan.cpu_tokens)
        runs: dict[str, list[dict[str, Any]]] = {p.key: [] for p in self.peers}
        async with contextlib.AsyncExitStack() as stack:
            servers: dict[str, Server] = {}
            # All peers stay up and take turns, so slow drifts in the shared machine's load hit them alike.
            for spec in self.peers:
                try:
                    servers[spec.key] = await stack.enter_async_context(running(spec, self.ctx))
                    self.log(f"  started {spec.label} in {servers[spec.key].startup_s:.1f} s")
                except Exception as exc:
                    self.record_error(name, spec.key, exc)
            for rep in range(plan.reps):
                for key, server in servers.items():
                    if self.out_of_time():
                        break
                    try:
                        fleet = await Fleet.open("127.0.0.1", server.port, plan.cpu_conversations)
                        try:
                            # A warm-up round: connection pools, caches and first-use imports are not steady state.
                            await fleet.converse(
                                chat_question, messages=1, stagger_s=plan.stagger_s, answer_timeout_s=30
                            )
                            s = await self.measure(
                                server,
                                fleet,
                                chat_question,
                                n_tokens=plan.cpu_tokens,
                                messages=plan.cpu_rounds,
                                answer_timeout_s=30,
                                # A server far slower than the load bounds the time, not the figure: CPU and
                                # tokens are counted over whatever was answered.
                                until_s=plan.cpu_max_s,
                            )
                        finally:
                            await fleet.close()
                    except Exception as exc:
                        self.record_error(name, key, exc)
                        continue
                    runs[key].append(s)
                    self.log(
                        f"  rep {rep + 1}/{plan.reps} {server.spec.label:24} "
                        f"{s['cpu_per_delta_us'] or 0:7.1f} µs CPU/delta  server {s['server_util']:4.0%}  "
                        f"added TTFT p50 {s['added_ttft_ms']['p50'] or 0:6.1f} ms  "
                        f"done {s['done']}/{s['expected_answers']}  errors {s['errors'] or 0}"
                    )
        self.results.setdefault("scenarios", {})["cpu"] = {
            key: {
                "runs": reps,
                "cpu_per_delta_us": spread([r["cpu_per_delta_us"] for r in reps]),
                "server_util": spread([r["server_util"] for r in reps]),
            }
            for key, reps in runs.items()
        }
        self.results["scenarios"]["ttft"] = {
            key: {
                "added_p50_ms": spread([r["added_ttft_ms"]["p50"] for r in reps]),
                "added_p90_ms": spread([r["added_ttft_ms"]["p90"] for r in reps]),
                "client_p50_ms": spread([r["ttft_ms"]["p50"] for r in reps]),
                "request_leg_p50_ms": spread([r["added_ttft_ms"]["request_leg_p50"] for r in reps]),
                "response_leg_p50_ms": spread([r["added_ttft_ms"]["response_leg_p50"] for r in reps]),
            }
            for key, reps in runs.items()
        }
        self.scenario_end(name)

    async def held_level(self, server: Server, level: int) -> dict[str, Any]:
        """One step of the held-streams search: ``level`` conversations, one 200-token answer each."""
        plan = self.plan
        fleet = await Fleet.open("127.0.0.1", server.port, level)
        try:
            s = await self.measure(
                server,
                fleet,
                chat_question,
                n_tokens=plan.held_tokens,
                messages=1,
                answer_timeout_s=plan.held_tokens / plan.rate * 2 + 10,
                late_after_s=plan.held_tokens / plan.rate * plan.held_pace + 1.0,
            )
        finally:
            await fleet.close()
        s["level"] = level
        s["failure"] = (
            held_failure(s, level) if len(fleet.conns) == level else f"only {len(fleet.conns)} connected"
        )
        verdict = "ok" if s["failure"] is None else f"FAIL: {s['failure']}"
        self.log(
            f"    {level:4d} streams: p99 gap {s['gap_ms']['p99'] or 0:5.0f} ms  "
            f"slowest answer {s['answer_s']['max'] or 0:4.1f} s  server {s['server_util']:4.0%}  upstream {s['upstream_util']:4.0%}  "
            f"loadgen {s['loadgen_util']:4.0%}  {verdict}"
        )
        return s

    async def held_once(self, spec: PeerSpec) -> dict[str, Any]:
        """Climb the ladder of concurrent conversations until a level fails, then narrow the gap."""
        plan = self.plan
        levels: list[dict[str, Any]] = []
        held, failed_at, stopped_by = 0, None, "ladder end"
        began = time.monotonic()

        def out_of_time() -> bool:
            return time.monotonic() - began > plan.held_cap_s or self.out_of_time()

        async with running(spec, self.ctx) as server:
            for level in plan.held_levels:
                if out_of_time():
                    stopped_by = "time cap"
                    break
                s = await self.held_level(server, level)
                levels.append(s)
                if s["failure"] is not None:
                    failed_at, stopped_by = level, "failure"
                    break
                held = level
                # Answers a slow server still finishes after its clients left must not load the next level.
                await asyncio.sleep(0.5)
        for _ in range(plan.held_refine):
            if failed_at is None or out_of_time():
                break
            gap = failed_at - held
            mid = held + (round(gap / 2 / 5) * 5 if gap >= 20 else gap // 2)
            if mid in (held, failed_at):
                break
            # A failed level can leave a server busy for a minute (answers whose clients left), so the
            # in-between level gets a fresh server, warmed up by a few conversations first.
            async with running(spec, self.ctx) as server:
                fleet = await Fleet.open("127.0.0.1", server.port, 5)
                try:
                    await fleet.converse(chat_question, messages=1, stagger_s=0.5, answer_timeout_s=30)
                finally:
                    await fleet.close()
                s = await self.held_level(server, mid)
            s["refine"] = True
            levels.append(s)
            if s["failure"] is None:
                held = mid
            else:
                failed_at = mid
        return {"held": held, "failed_at": failed_at, "stopped_by": stopped_by, "levels": levels}

    async def held(self) -> None:
        """The most concurrent 200-token streams each peer holds with every answer complete and smooth."""
        plan = self.plan
        name = "held"
        self.scenario_start(name)
        await self.configure(plan.held_tokens)
        runs: dict[str, list[dict[str, Any]]] = {p.key: [] for p in self.peers}
        for rep in range(plan.reps):
            for spec in self.peers:
                if self.out_of_time():
                    break
                self.log(f"  rep {rep + 1}/{plan.reps} {spec.label}")
                try:
                    result = await self.held_once(spec)
                except Exception as exc:
                    self.record_error(name, spec.key, exc)
                    continue
                runs[spec.key].append(result)
                self.log(
                    f"  → {spec.label} held {result['held']} streams (stopped by {result['stopped_by']})"
                )
        self.results.setdefault("scenarios", {})[name] = {
            key: {"runs": reps, "held": spread([r["held"] for r in reps])} for key, reps in runs.items()
        }
        self.scenario_end(name)

    async def saturation(self) -> None:
        """Far more conversations than any peer holds: what is delivered, and which errors come back."""
        plan = self.plan
        name = "saturation"
        self.scenario_start(name)
        await self.configure(plan.sat_tokens)
        runs: dict[str, list[dict[str, Any]]] = {p.key: [] for p in self.peers}
        for rep in range(plan.reps):
            for spec in self.peers:
                if self.out_of_time():
                    break
                try:
                    async with running(spec, self.ctx) as server:
                        fleet = await Fleet.open(
                            "127.0.0.1", server.port, plan.sat_conversations, timeout_s=60
                        )
                        try:
                            s = await self.measure(
                                server,
                                fleet,
                                chat_question,
                                n_tokens=plan.sat_tokens,
                                messages=1,
                                answer_timeout_s=plan.sat_window_s,
                            )
                        finally:
                            await fleet.close()
                except Exception as exc:
                    self.record_error(name, spec.key, exc)
                    continue
                runs[spec.key].append(s)
                self.log(
                    f"  rep {rep + 1}/{plan.reps} {spec.label:24} {s['tokens_per_s'] or 0:8,.0f} deltas/s  "
                    f"done {s['done']}/{s['expected_answers']}  outcomes {s['outcomes']}  errors {s['errors'] or 0}"
                )
        self.results.setdefault("scenarios", {})[name] = {
            key: {
                "runs": reps,
                "deltas_per_s": spread([r["tokens_per_s"] for r in reps]),
                "internal_errors": spread([r["errors"].get("internal", 0) for r in reps]),
                "error_frames": spread([r["error_frames"] for r in reps]),
                "done": spread([r["done"] for r in reps]),
            }
            for key, reps in runs.items()
        }
        self.scenario_end(name)

    async def local(self) -> None:
        """Answers per second of shopchat's own (no-model) backend, clients asking one question after another."""
        plan = self.plan
        name = "local"
        self.scenario_start(name)
        reps: list[dict[str, Any]] = []
        try:
            async with running(LOCAL, self.ctx) as server:
                self.log(f"  started {LOCAL.label} in {server.startup_s:.1f} s")
                for rep in range(plan.reps):
                    if self.out_of_time():
                        break
                    fleet = await Fleet.open("127.0.0.1", server.port, plan.local_clients)
                    try:
                        await fleet.converse(local_question, messages=1, stagger_s=0.2, answer_timeout_s=30)
                        s = await self.measure(
                            server,
                            fleet,
                            local_question,
                            n_tokens=None,
                            messages=1_000_000,
                            answer_timeout_s=30,
                            until_s=plan.local_seconds,
                        )
                    finally:
                        await fleet.close()
                    reps.append(s)
                    self.log(
                        f"  rep {rep + 1}/{plan.reps} {s['answers_per_s'] or 0:6.1f} answers/s  "
                        f"({s['done']} answers in {s['window_s'] or 0:.1f} s, server {s['server_util']:.0%}, "
                        f"errors {s['errors'] or 0})"
                    )
        except Exception as exc:
            self.record_error(name, LOCAL.key, exc)
        self.results.setdefault("scenarios", {})[name] = {
            LOCAL.key: {"runs": reps, "answers_per_s": spread([r["answers_per_s"] for r in reps])}
        }
        self.scenario_end(name)

    async def scale(self) -> None:
        """Answers/s of one process, then of two on one port (PostgreSQL + Redis), under the same load."""
        plan = self.plan
        name = "scale"
        self.scenario_start(name)
        problem = await postgres_problem(self.ctx.pg_url) or await redis_problem(self.ctx.redis_url)
        if problem is not None:
            self.log(f"  skipping scale: {problem}")
            self.results["skipped"]["scale"] = problem
            self.scenario_end(name)
            return
        await self.configure(plan.scale_tokens, plan.scale_rate)
        runs: dict[str, list[dict[str, Any]]] = {p.key: [] for p in SCALE}
        # Alternating one and two processes, so drifts in a shared machine's load hit both alike.
        for rep in range(plan.reps):
            for spec in SCALE:
                if self.out_of_time():
                    break
                try:
                    s = await self.scale_once(spec)
                except Exception as exc:
                    self.record_error(name, spec.key, exc)
                    continue
                runs[spec.key].append(s)
                self.log(
                    f"  rep {rep + 1}/{plan.reps} {spec.label:34} {s['answers_per_s'] or 0:6.1f} answers/s  "
                    f"{s['tokens_per_s'] or 0:7,.0f} deltas/s  done {s['done']}  errors {s['errors'] or 0}  "
                    f"{s['cpu_ms_per_answer'] or 0:.1f} ms server CPU/answer  "
                    f"CPU: server {s['server_util']:4.0%}, upstream {s['upstream_util']:4.0%}, "
                    f"load generator {s['loadgen_util']:4.0%}, "
                    + ", ".join(f"{name} {util:4.0%}" for name, util in s["services_util"].items())
                    + f", other processes {s['others_util']:4.0%}, machine {s['machine_util']:4.0%} of "
                    f"{os.cpu_count()} cores  "
                    f"sockets per worker {sorted(s['sockets_per_worker'].values())}  load {s['loadavg']}"
                )
                self.log_breakdown(s)
        self.results.setdefault("scenarios", {})[name] = {
            key: {
                "runs": reps,
                "answers_per_s": spread([r["answers_per_s"] for r in reps]),
                "deltas_per_s": spread([r["tokens_per_s"] for r in reps]),
                "machine_util": spread([r["machine_util"] for r in reps]),
                "cpu_ms_per_answer": spread([r["cpu_ms_per_answer"] for r in reps]),
                "cpu_breakdown_ms": {
                    role: spread([r["cpu_breakdown_ms"].get(role) for r in reps])
                    for role in (reps[0]["cpu_breakdown_ms"] if reps else {})
                },
                "ceiling": spread([r["ceiling"] for r in reps]),
            }
            for key, reps in runs.items()
        }
        self.scenario_end(name)

    def cpu_snapshot(self, server: Server) -> dict[str, float]:
        """Cumulative CPU seconds of every process taking part in a scale run, by role."""
        roles = procs.server_cpu_by_role(server.child.pid, server.spec.workers)
        database = self.ctx.pg_url.rpartition("/")[2].partition("?")[0]
        postgres = procs.postgres_cpu_seconds(database)
        return {
            "server loop": roles["loop"],
            "server encoder": roles["encoder"],
            "server supervisor": roles["supervisor"] + roles["other"],
            "upstream": procs.cpu_seconds(self.upstream.pid),
            "load generator": procs.own_cpu_seconds(),
            "postgres backends": postgres["backends"],
            "postgres background": postgres["background"],
            "redis": procs.service_cpu_seconds("redis-server"),
        }

    async def scale_once(self, spec: PeerSpec) -> dict[str, Any]:
        """One configuration on a fresh database: warm up, then a closed-loop window of questions."""
        plan = self.plan
        async with running(spec, self.ctx) as server:
            self.log(f"  started {spec.label} in {server.startup_s:.1f} s")
            fleet = await Fleet.open("127.0.0.1", server.port, plan.scale_conversations, timeout_s=60)
            try:
                spread_over = await sockets_per_worker(server.port, spec.workers)
                await fleet.converse(chat_question, messages=1, stagger_s=plan.stagger_s, answer_timeout_s=60)
                busy, total = procs.machine_cpu_seconds()
                before = self.cpu_snapshot(server)
                s = await self.measure(
                    server,
                    fleet,
                    chat_question,
                    n_tokens=plan.scale_tokens,
                    messages=1_000_000,
                    answer_timeout_s=60,
                    until_s=plan.scale_window_s,
                    turns=plan.scale_turns or None,
                )
                after = self.cpu_snapshot(server)
                busy_after, total_after = procs.machine_cpu_seconds()
            finally:
                await fleet.close()
        cores = os.cpu_count() or 1
        machine = (busy_after - busy) / max(total_after - total, 1e-9) * cores
        used = {role: after[role] - before[role] for role in before}
        ours = sum(used.values())
        done = s["done"]
        per_answer = {role: cpu / done * 1000 for role, cpu in used.items()} if done else {}
        loop_ms = per_answer.get("server loop")
        s.update(
            machine_util=machine,
            # What the machine spent on anything else (other users of a shared host): a busy one here means the
            # two processes had fewer cores than the machine has.
            others_util=max(0.0, machine - ours / s["wall_s"]),
            # Whatever the machine lets each configuration use, what one answer costs the server.
            cpu_ms_per_answer=s["server_cpu_s"] / done * 1000 if done else None,
            # Every process's CPU per completed answer, and its share of a core over the window.
            cpu_breakdown_ms=per_answer,
            cpu_breakdown_util={role: cpu / s["wall_s"] for role, cpu in used.items()},
            loop_util=used["server loop"] / s["wall_s"] / spec.workers,
            # With its loop saturated, one process completes 1/loop answers per second, while N processes on C
            # cores complete at most C/total: the ratio cannot pass C·loop/total (nor N).
            ceiling=(
                min(SCALE[-1].workers, cores * loop_ms / sum(per_answer.values()))
                if loop_ms and per_answer
                else None
            ),
            sockets_per_worker=spread_over,
            services_util={
                "postgres": (used["postgres backends"] + used["postgres background"]) / s["wall_s"],
                "redis-server": used["redis"] / s["wall_s"],
            },
            loadavg=loadavg(),
        )
        return s

    def log_breakdown(self, s: dict[str, Any]) -> None:
        """Print one run's CPU per completed answer, process by process."""
        parts = ", ".join(f"{role} {ms:.2f}" for role, ms in s["cpu_breakdown_ms"].items())
        total = sum(s["cpu_breakdown_ms"].values())
        loop = s["cpu_breakdown_ms"].get("server loop") or 0.0
        self.log(
            f"      CPU ms per answer: {parts}; total {total:.2f} ({(total - loop) / loop if loop else 0:.0%} of "
            f"the loops' outside them); loops busy {s['loop_util']:.0%} each; "
            f"ceiling of N processes ÷ one on {os.cpu_count()} cores from these costs: "
            f"{s['ceiling'] or 0:.2f}×"
        )


# ---- report ----------------------------------------------------------------------------------------


def _median(results: dict[str, Any], scenario: str, peer: str, metric: str) -> float | None:
    value = results.get("scenarios", {}).get(scenario, {}).get(peer, {}).get(metric, {}).get("median")
    return float(value) if value is not None else None


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Each shopchat figure divided by the same figure of each relay peer measured in this run."""
    out: dict[str, Any] = {}
    metrics = (
        ("cpu", "cpu_per_delta_us"),
        ("held", "held"),
        ("ttft", "added_p50_ms"),
        ("saturation", "deltas_per_s"),
    )
    for scenario, metric in metrics:
        for mine in ("shopchat-sqlite", "shopchat-postgres"):
            for theirs in ("relay", "relay-insert"):
                a = _median(results, scenario, mine, metric)
                b = _median(results, scenario, theirs, metric)
                if a is not None and b:
                    out[f"{scenario}.{metric}: {mine} ÷ {theirs}"] = a / b
    two, one = (_median(results, "scale", spec.key, "answers_per_s") for spec in reversed(SCALE))
    if two is not None and one:
        out[f"scale.answers_per_s: {SCALE[1].key} ÷ {SCALE[0].key}"] = two / one
    return out


def verdicts(results: dict[str, Any]) -> list[str]:
    """The issue's targets, each with the measured figure and whether it is met."""
    lines = []
    cpu_ratio = results["ratios"].get("cpu.cpu_per_delta_us: shopchat-sqlite ÷ relay")
    if cpu_ratio is not None:
        ok = "met" if cpu_ratio <= TARGETS["cpu_ratio"] else "NOT met"
        lines.append(f"CPU per delta, shopchat (SQLite) ÷ bare relay = {cpu_ratio:.2f}× (target ≤ 2×): {ok}")
    held = _median(results, "held", "shopchat-sqlite", "held")
    if held is not None:
        ok = "met" if held >= TARGETS["held_sqlite"] else "NOT met"
        lines.append(f"held streams, shopchat (SQLite) = {held:.0f} (target ≥ 300): {ok}")
    added = _median(results, "ttft", "shopchat-sqlite", "added_p50_ms")
    if added is not None:
        ok = "met" if added <= TARGETS["added_ttft_p50_ms"] else "NOT met"
        lines.append(f"added TTFT p50, shopchat (SQLite) = {added:.1f} ms (target ≤ 10 ms): {ok}")
    for peer in ("shopchat-sqlite", "shopchat-postgres"):
        sat = results.get("scenarios", {}).get("saturation", {}).get(peer, {})
        internal = sat.get("internal_errors")
        if internal and internal.get("max") is not None:
            ok = "met" if internal["max"] == 0 else "NOT met"
            logged = sum(n for run in sat["runs"] for n in run["server_log"].values())
            lines.append(
                f"saturation 'internal' error frames, {PEERS[peer].label} = {internal['max']:.0f} (target 0): {ok}"
                f" (its log had {logged} error lines)"
            )
    for peer in ("shopchat-sqlite", "shopchat-postgres"):
        seen = []
        for scenario in ("cpu", "held", "saturation"):
            for run in results.get("scenarios", {}).get(scenario, {}).get(peer, {}).get("runs", []):
                for level in run.get("levels", [run]):
                    if level["errors"].get("internal"):
                        where = scenario if "level" not in level else f"held at {level['level']}"
                        seen.append(f"{level['errors']['internal']} in {where}")
        if seen:
            lines.append(f"'internal' error frames of {PEERS[peer].label} in any scenario: {', '.join(seen)}")
    scale = results["ratios"].get(f"scale.answers_per_s: {SCALE[1].key} ÷ {SCALE[0].key}")
    if scale is not None:
        ok = "met" if scale >= TARGETS["scale_ratio"] else "NOT met"
        lines.append(
            f"answers/s, two processes ÷ one = {scale:.2f}× (target ≥ {TARGETS['scale_ratio']}×): {ok}"
        )
    local = _median(results, "local", LOCAL.key, "answers_per_s")
    if local is not None:
        lines.append(
            f"local backend = {local:.1f} answers/s (old figure {TARGETS['local_old_answers_per_s']})"
        )
    return lines


def _section(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """One scenario's table: a title, then the peers' rows in aligned columns."""
    if not rows:
        return
    widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
    print(f"\n{title}")
    print(
        "  "
        + "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths, strict=True))
        )
    )
    for row in rows:
        print(
            "  "
            + "  ".join(
                str(v).ljust(w) if i == 0 else str(v).rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def print_table(results: dict[str, Any], peers: Sequence[PeerSpec]) -> None:
    """The human-readable summary, one table per scenario."""
    sc = results.get("scenarios", {})
    plan = results["plan"]
    machine = results["machine"]
    print(
        f"\nshopchat load benchmark — {machine['cpus']} CPUs, {machine['memory_gib']} GiB; values: median [min–max]"
    )
    print(f"checkout {results['checkout']['path']} @ {str(results['checkout']['commit'])[:12]}")

    def runs(scenario: str, key: str) -> list[dict[str, Any]]:
        runs_: list[dict[str, Any]] = sc.get(scenario, {}).get(key, {}).get("runs", [])
        return runs_

    rows = []
    for spec in peers:
        cpu = sc.get("cpu", {}).get(spec.key)
        if cpu and cpu["runs"]:
            util = spread([r["server_util"] * 100 for r in cpu["runs"]])
            rows.append([spec.label, fmt(cpu["cpu_per_delta_us"], 0), fmt(util, 0, "%")])
    _section(
        f"CPU per streamed delta ({plan['cpu_conversations']} conversations × {plan['cpu_tokens']}-token answers "
        f"at {plan['rate']:g} tok/s)",
        ["peer", "server CPU µs/delta", "server CPU"],
        rows,
    )
    rows = []
    for spec in peers:
        t = sc.get("ttft", {}).get(spec.key)
        if t and runs("cpu", spec.key):
            rows.append(
                [
                    spec.label,
                    fmt(t["added_p50_ms"]),
                    fmt(t["added_p90_ms"]),
                    fmt(t["request_leg_p50_ms"]),
                    fmt(t["response_leg_p50_ms"]),
                ]
            )
    _section(
        f"Added time to first token at {plan['cpu_conversations']} conversations, ms "
        "(client TTFT − the upstream's own, per answer)",
        ["peer", "p50", "p90", "request leg p50", "response leg p50"],
        rows,
    )
    rows = []
    for spec in peers:
        h = sc.get("held", {}).get(spec.key)
        if h and h["runs"]:
            per_rep = ", ".join(
                f"{r['held']} (failed at {r['failed_at']})"
                if r["failed_at"]
                else f"{r['held']} ({r['stopped_by']})"
                for r in h["runs"]
            )
            rows.append([spec.label, fmt(h["held"], 0), per_rep])
    _section(
        f"Held streams ({plan['held_tokens']}-token answers at {plan['rate']:g} tok/s: every answer done within "
        f"{plan['held_pace']:g}× the upstream's time + 1 s, p99 gap ≤ {GAP_LIMIT_MS:.0f} ms, no error frame)",
        ["peer", "held", "per repetition"],
        rows,
    )
    rows = []
    for spec in peers:
        sat = sc.get("saturation", {}).get(spec.key)
        if sat and sat["runs"]:
            errors: dict[str, int] = {}
            for run in sat["runs"]:
                for code, n in run["errors"].items():
                    errors[code] = max(errors.get(code, 0), n)
            rows.append(
                [
                    spec.label,
                    fmt(sat["deltas_per_s"], 0),
                    fmt(sat["done"], 0),
                    json.dumps(errors) if errors else "0",
                ]
            )
    _section(
        f"Saturation ({plan['sat_conversations']} conversations, {plan['sat_tokens']}-token answers, "
        f"{plan['sat_window_s']:g} s window)",
        ["peer", "deltas/s", "answers done", "error frames by code (max)"],
        rows,
    )
    local = sc.get("local", {}).get(LOCAL.key)
    if local and local["runs"]:
        _section(
            f"Local backend ({plan['local_clients']} clients, {plan['local_seconds']:g} s)",
            ["peer", "answers/s", "old figure"],
            [[LOCAL.label, fmt(local["answers_per_s"]), f"{TARGETS['local_old_answers_per_s']}"]],
        )
    rows = []
    for spec in SCALE:
        scaled = sc.get("scale", {}).get(spec.key)
        if scaled and scaled["runs"]:
            server = spread([r["server_util"] * 100 for r in scaled["runs"]])
            others = spread([r["others_util"] * 100 for r in scaled["runs"]])
            load = ", ".join(f"{r['loadavg'][0]:.2f}" for r in scaled["runs"])
            rows.append(
                [
                    spec.label,
                    fmt(scaled["answers_per_s"]),
                    fmt(scaled["deltas_per_s"], 0),
                    fmt(server, 0, "%"),
                    fmt(scaled.get("cpu_ms_per_answer")),
                    fmt(others, 0, "%"),
                    load,
                ]
            )
    _section(
        f"Scale ({plan.get('scale_conversations')} conversations asking back to back, "
        f"{plan.get('scale_tokens')}-token answers at {plan.get('scale_rate', 0):g} tok/s, "
        f"{plan.get('scale_window_s', 0):g} s window, a new conversation every {plan.get('scale_turns') or '∞'} "
        "answers; PostgreSQL + Redis)",
        [
            "configuration",
            "answers/s",
            "deltas/s",
            "server CPU",
            "server CPU ms/answer",
            "other users' CPU",
            "load average (1 min) after each run",
        ],
        rows,
    )
    rows = []
    roles: list[str] = []
    for spec in SCALE:
        breakdown = sc.get("scale", {}).get(spec.key, {}).get("cpu_breakdown_ms", {})
        roles = roles or list(breakdown)
        if breakdown and all("cpu_breakdown_ms" in r for r in sc["scale"][spec.key]["runs"]):
            total = spread([sum(r["cpu_breakdown_ms"].values()) for r in sc["scale"][spec.key]["runs"]])
            rows.append([spec.label, *(fmt(breakdown[role], 2) for role in roles), fmt(total, 2)])
    _section(
        "Scale: CPU ms per completed answer, process by process",
        ["configuration", *roles, "total"],
        rows,
    )
    one, two = (sc.get("scale", {}).get(spec.key, {}).get("runs", []) for spec in SCALE)
    # Results files from before the breakdown have none.
    if one and two and all("cpu_breakdown_ms" in r for r in [*one, *two]):
        loop = spread([r["cpu_breakdown_ms"]["server loop"] for r in one])["median"]
        total = spread([sum(r["cpu_breakdown_ms"].values()) for r in two])["median"]
        if loop and total:
            print(
                f"  ceiling on {machine['cpus']} cores: one process's loop {loop:.2f} ms per answer, everything "
                f"two processes' runs spend {total:.2f} ms → at most {machine['cpus'] * loop / total:.2f}×"
            )
    print()
    for spec in [*peers, *SCALE]:
        logged: dict[str, int] = {}
        for scenario in ("cpu", "held", "saturation", "scale"):
            for run in sc.get(scenario, {}).get(spec.key, {}).get("runs", []):
                for level in run.get("levels", [run]):
                    for what, n in level.get("server_log", {}).items():
                        logged[what] = logged.get(what, 0) + n
        if logged:
            print(f"{spec.label}: its log had (all scenarios)")
            for what, n in sorted(logged.items(), key=lambda kv: -kv[1])[:6]:
                print(f"  {n:6d} × {what}")
    for key, reason in results.get("skipped", {}).items():
        print(f"skipped {key}: {reason}")
    if results.get("ratios"):
        print("\nratios (medians, same run):")
        for name, value in results["ratios"].items():
            print(f"  {name:58} {value:8.3g}×")
    print("\ntargets:")
    for line in verdicts(results) or ["(no scenario that has a target was run)"]:
        print(f"  {line}")
    for note in results.get("warnings", []):
        print(f"warning: {note}")
    for err in results.get("errors", []):
        print(f"error in {err['scenario']} / {err['peer']}: {err['error'].splitlines()[0]}")
    la = results["loadavg"]
    print(
        f"load average: start {la['start']}, end {la['end']} (the machine may be shared: re-run for final figures)"
    )


def plot(results: dict[str, Any], peers: Sequence[PeerSpec], path: Path) -> None:
    """Bar charts with min–max error bars: held streams, CPU per delta, added TTFT, saturation throughput."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("held", "held", "held streams (200 tok @ 50 tok/s)", TARGETS["held_sqlite"]),
        ("cpu", "cpu_per_delta_us", "server CPU µs per streamed delta", None),
        ("ttft", "added_p50_ms", "added time to first token p50, ms", TARGETS["added_ttft_p50_ms"]),
        ("saturation", "deltas_per_s", "deltas/s delivered at saturation", None),
    )
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    labels = [p.label.replace(" (", "\n(").replace(" + ", "\n+ ") for p in peers]
    for ax, (scenario, metric, title, target) in zip(axes.flat, panels, strict=True):
        med, lo, hi = [], [], []
        for spec in peers:
            stats = results.get("scenarios", {}).get(scenario, {}).get(spec.key, {}).get(metric, {})
            m = stats.get("median")
            med.append(m or 0.0)
            lo.append((m - stats["min"]) if m is not None else 0.0)
            hi.append((stats["max"] - m) if m is not None else 0.0)
        colors = ["#4c72b0" if p.kind == "shopchat" else "#999999" for p in peers]
        ax.bar(labels, med, yerr=[lo, hi], capsize=4, color=colors)
        ax.set_ylim(0, max([m + h for m, h in zip(med, hi, strict=True)] + [target or 0]) * 1.12 or 1)
        if target is not None:
            ax.axhline(target, color="#c44e52", linestyle="--", linewidth=1, label=f"target {target:g}")
            ax.legend(loc="upper right", fontsize=8)
        if scenario == "cpu":
            relay = _median(results, "cpu", "relay", metric)
            if relay:
                ax.axhline(
                    2 * relay, color="#c44e52", linestyle="--", linewidth=1, label="target: 2× bare relay"
                )
                ax.legend(loc="upper right", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        for x, (value, above) in enumerate(zip(med, hi, strict=True)):
            ax.annotate(
                f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:.1f}",
                (x, value + above),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    local = _median(results, "local", LOCAL.key, "answers_per_s")
    machine = results["machine"]
    subtitle = f"{machine['cpus']} CPUs ({machine['cpu_model']}), shared machine; median, bars = min–max"
    if local is not None:
        subtitle += f"; local backend {local:.1f} answers/s"
    fig.suptitle(f"shopchat load benchmark\n{subtitle}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- main --------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_SCENARIOS),
        help=f"scenarios, comma-separated: {','.join(SCENARIOS)} (default: all but scale)",
    )
    parser.add_argument("--peers", default=",".join(PEERS), help=f"peers, comma-separated: {','.join(PEERS)}")
    parser.add_argument(
        "--reps", type=int, default=None, help="repetitions of each scenario (default 3; 1 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="a short pass: small scales, one repetition")
    parser.add_argument(
        "--checkout", type=Path, default=ROOT, help="the shopchat source to run (default: this repo)"
    )
    parser.add_argument("--python", default=sys.executable, help="the Python that runs the servers")
    parser.add_argument(
        "--pg-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/shopchat_bench",
        help="PostgreSQL database for shopchat (emptied before every start)",
    )
    parser.add_argument(
        "--held-levels", default=None, help="conversation counts to climb, e.g. 10,50,100,300"
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/0",
        help="Redis for the scale scenario (nothing in it is deleted)",
    )
    parser.add_argument("--saturation-conversations", type=int, default=None)
    parser.add_argument("--scale-conversations", type=int, default=None)
    parser.add_argument("--scale-window-s", type=float, default=None)
    parser.add_argument(
        "--scale-turns",
        type=int,
        default=None,
        help="answers per conversation in the scale scenario (0: unbounded)",
    )
    parser.add_argument(
        "--time-limit-min", type=float, default=None, help="skip remaining steps after this long"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="where to write the raw results (default bench/results/load.json; scale.json for --only scale)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        help="where to write the chart (default bench/results/load.png; none for --only scale)",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        help="run nothing: re-derive ratios and targets, print the table and draw the chart from an earlier --json",
    )
    return parser.parse_args()


def build_plan(args: argparse.Namespace) -> Plan:
    """The plan the flags ask for."""
    plan = QUICK if args.quick else Plan()
    if args.reps is not None:
        if args.reps < 1:
            fail("--reps must be at least 1")
        plan = replace(plan, reps=args.reps)
    if args.held_levels:
        try:
            levels = tuple(sorted(int(x) for x in args.held_levels.split(",") if x.strip()))
        except ValueError:
            fail(f"--held-levels must be comma-separated integers, not {args.held_levels!r}")
        plan = replace(plan, held_levels=levels)
    if args.saturation_conversations:
        plan = replace(plan, sat_conversations=args.saturation_conversations)
    if args.scale_conversations:
        plan = replace(plan, scale_conversations=args.scale_conversations)
    if args.scale_window_s:
        plan = replace(plan, scale_window_s=args.scale_window_s)
    if args.scale_turns is not None:
        plan = replace(plan, scale_turns=args.scale_turns)
    if args.time_limit_min:
        plan = replace(plan, time_limit_s=args.time_limit_min * 60)
    return plan


def check_checkout(checkout: Path, python: str) -> None:
    """Exit with a clear message unless ``python`` can run shopchat from ``checkout``."""
    if not (checkout / "app" / "__main__.py").is_file():
        fail(f"{checkout} is not a shopchat checkout (no app/__main__.py); pass --checkout PATH")
    if not Path(python).exists():
        fail(f"--python {python} does not exist")
    probe = "import app.web.application, openai, uvicorn, fastapi, sqlalchemy, aiosqlite"
    try:
        done = subprocess.run(
            [python, "-c", probe], cwd=checkout, capture_output=True, text=True, timeout=180
        )
    except (OSError, subprocess.SubprocessError) as exc:
        fail(f"cannot run {python}: {exc}")
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-3:])
        fail(
            f"{python} cannot import shopchat's dependencies from {checkout}:\n{tail}\n(install with pip install -e '.[dev]')"
        )


async def run(
    args: argparse.Namespace, plan: Plan, scenarios: list[str], peers: list[PeerSpec]
) -> dict[str, Any]:
    """Start the upstream, run the chosen scenarios, and return the results."""
    results: dict[str, Any] = {
        "benchmark": "load",
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            **procs.machine_info(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "checkout": {"path": str(args.checkout), **git_commit(args.checkout)},
        "bench": git_commit(BENCH),
        "plan": asdict(plan),
        "scenarios_run": scenarios,
        "peers": {p.key: p.label for p in peers},
        "skipped": {},
        "loadavg": {"start": loadavg()},
        "targets": TARGETS,
    }
    if any(p.database == "postgres" for p in peers):
        problem = await postgres_problem(args.pg_url)
        if problem is not None:
            print(f"skipping shopchat (PostgreSQL): {problem}", flush=True)
            results["skipped"]["shopchat-postgres"] = problem
            peers = [p for p in peers if p.database != "postgres"]
            if not peers and any(s not in ("local", "scale") for s in scenarios):
                results["errors"] = [
                    {"scenario": "all", "peer": "-", "error": f"no peer left to measure: {problem}"}
                ]
    tmp = procs.make_tempdir("shopchat-bench-upstream-")
    port = procs.free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(BENCH)}
    upstream = procs.spawn(
        "upstream",
        [sys.executable, "-m", "loadkit.upstream", "--port", str(port)],
        env=env,
        cwd=BENCH,
        log_path=tmp / "upstream.log",
    )
    await procs.wait_healthy(upstream, port, "/healthz", 30)
    ctx = Context(
        checkout=args.checkout.resolve(),
        python=args.python,
        bench_dir=BENCH,
        upstream_port=port,
        pg_url=args.pg_url,
        redis_url=args.redis_url,
    )
    bench = Bench(plan=plan, ctx=ctx, upstream=upstream, peers=peers, results=results)
    bench.log(
        f"upstream on :{port}; peers {', '.join(p.label for p in peers)}; scenarios {', '.join(scenarios)}"
    )
    try:
        if "cpu" in scenarios or "ttft" in scenarios:
            await bench.moderate()
        if "held" in scenarios:
            await bench.held()
        if "saturation" in scenarios:
            await bench.saturation()
        if "local" in scenarios:
            await bench.local()
        if "scale" in scenarios:
            await bench.scale()
    finally:
        results["duration_s"] = time.monotonic() - bench.started
        results["loadavg"]["end"] = loadavg()
        results["warnings"] = bench.warnings
        upstream.stop()
        procs.remove_tempdir(tmp)
    results["ratios"] = ratios(results)
    results["verdicts"] = verdicts(results)
    return results


def report_only(args: argparse.Namespace) -> None:
    """Report an earlier run again (e.g. after changing the report), rewriting only its derived figures."""
    try:
        results = json.loads(args.from_json.read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read {args.from_json}: {exc}")
    peers = [PEERS[k] for k in results.get("peers", {}) if k in PEERS and k not in results.get("skipped", {})]
    results["ratios"] = ratios(results)
    results["verdicts"] = verdicts(results)
    args.json = args.json or RESULTS / "load.json"
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    if results.get("scenarios_run") != ["scale"]:
        args.plot = args.plot or RESULTS / "load.png"
        plot(results, peers, args.plot)
    print_table(results, peers)
    print(f"\nwrote {args.json}" + (f" and {args.plot}" if args.plot is not None else ""))


def main() -> None:
    """Parse flags, check prerequisites, run, report; children and temp dirs are removed whatever happens."""
    args = parse_args()
    if args.from_json is not None:
        report_only(args)
        return
    plan = build_plan(args)
    scenarios = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown or not scenarios:
        fail(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    keys = [p.strip() for p in args.peers.split(",") if p.strip()]
    if not keys or any(k not in PEERS for k in keys):
        fail(f"unknown peer(s) in {args.peers!r}; choose from {', '.join(PEERS)}")
    args.checkout = args.checkout.resolve()
    check_checkout(args.checkout, args.python)
    # local and scale start peers of their own.
    peers = [PEERS[k] for k in keys] if set(scenarios) - {"local", "scale"} else []
    only_scale = scenarios == ["scale"]
    if args.json is None:
        args.json = RESULTS / ("scale.json" if only_scale else "load.json")
    if args.plot is None and not only_scale:
        args.plot = RESULTS / "load.png"

    def terminate(_signum: int, _frame: object) -> None:
        # Unwinds the event loop from wherever it is; the context managers and cleanup() stop the children.
        raise KeyboardInterrupt

    # Our own handlers, installed before asyncio.run: asyncio's SIGINT handler only cancels the main task, and
    # a cancellation can be lost in a race (asyncio.wait_for on 3.11), leaving the run going after Ctrl-C.
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    try:
        results = asyncio.run(run(args, plan, scenarios, peers))
    except KeyboardInterrupt:
        print("\ninterrupted: stopping servers", file=sys.stderr)
        sys.exit(130)
    finally:
        procs.cleanup()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    if args.plot is not None:
        plot(results, [p for p in peers if p.key not in results["skipped"]], args.plot)
    print_table(results, [p for p in peers if p.key not in results["skipped"]])
    print(f"\nwrote {args.json}" + (f" and {args.plot}" if args.plot is not None else ""))
    if results.get("errors"):
        sys.exit(1)


if __name__ == "__main__":
    main()
