"""The action evaluation: a scripted customer asks shopchat to look up, cancel, return and re-address orders.

Like tau-bench's retail domain, each task is scored on the final state of the order database (every order of
the customers it concerns, compared before and after, so an unexpected change fails) and on what the customer
was shown (required and forbidden text). Each trial runs the real app (uvicorn on a free port, the demo shop,
a fresh SQLite database) and talks to it over the websocket like a client; it prints the pass rate per category,
pass^1 and pass^k (the chance that all of k trials of a task pass, estimated from n trials as in tau-bench).

    .venv/bin/python bench/actions.py                       # the built-in responder, 3 trials per task
    .venv/bin/python bench/actions.py --base-url http://127.0.0.1:8080/v1 --model qwen2.5-7b-instruct \\
        --api-key-env MY_KEY                                 # any OpenAI-compatible server
    .venv/bin/python bench/actions.py --tasks cancel-button,return-de --trials 1 -v

Without ``--base-url`` the model comes from the environment as for ``shopchat serve`` (``SHOPCHAT_LLM_BACKEND``,
``SHOPCHAT_LLM_MODEL``, ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``). The tasks are in ``bench/data/action_tasks.toml``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import re
import socket
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlalchemy import select as sql_select  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from app.orders.backend import Order  # noqa: E402
from app.orders.demo import contact, demo_backend, demo_orders  # noqa: E402
from app.settings import Settings, load_settings  # noqa: E402
from app.shop.catalog import Shop, load_shop  # noqa: E402
from app.store.store import Store  # noqa: E402
from app.store.tables import HandoffRow  # noqa: E402
from app.web.application import create_app  # noqa: E402

TASKS = ROOT / "bench" / "data" / "action_tasks.toml"
CATEGORIES = ("lookup", "cancel", "return", "address", "refusal", "confirmation", "handoff")
MAX_CUSTOMER_TURNS = 8
# A rule of the scripted customer (give the order number, give the proof) fires at most this often per chat.
MAX_RULE_USES = 2
SECRET = "bench-actions-secret-key-0123456789abcdef"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


# What the assistant's answer asks for, in English or German.
_ASKS_PROOF = re.compile(r"e-?mail|post\s?code|postleitzahl|zip", re.IGNORECASE)
_ASKS_ORDER = re.compile(
    r"order (number|id|no)|which order|what order|welche[rn]? bestellung|bestellnummer", re.IGNORECASE
)


class TaskError(Exception):
    """The task file is not what this runner reads; the message names the task and the field."""


# ---- tasks -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """How one order must look afterwards; fields left None must be as they were."""

    status: str | None = None
    returned: dict[str, int] | None = None
    address: dict[str, str] | None = None


@dataclass(frozen=True)
class Task:
    """One scripted conversation and what must be true after it (bench/data/action_tasks.toml describes the fields)."""

    id: str
    category: str
    turns: tuple[str, ...]
    customer: str | None = None
    lang: Literal["en", "de"] = "en"
    order: str | None = None
    proves: str | None = None
    proof: str = "email"
    confirm: str = "approve"
    watch: tuple[str, ...] = ()
    expect: dict[str, Expected] = field(default_factory=dict)
    handoff: bool = False
    asked: bool = False
    require: tuple[tuple[str, ...], ...] = ()
    forbid: tuple[str, ...] = ()
    forbid_order: tuple[str, ...] = ()

    @property
    def watched(self) -> tuple[str, ...]:
        """Customers whose orders are compared before and after."""
        own = [c for c in (self.customer, self.proves) if c is not None]
        return tuple(dict.fromkeys([*own, *self.watch]))


_TASK_KEYS = {
    "id", "category", "turns", "customer", "lang", "order", "proves", "proof", "confirm", "watch", "expect",
    "handoff", "asked", "require", "forbid", "forbid_order",
}  # fmt: skip


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TaskError(f"{where}: expected a list of strings")
    return tuple(value)


def _expected(value: Any, where: str) -> Expected:
    if not isinstance(value, dict) or set(value) - {"status", "returned", "address"}:
        raise TaskError(f"{where}: expected a table with status, returned and/or address")
    returned = value.get("returned")
    if returned is not None and not (
        isinstance(returned, dict) and all(isinstance(q, int) and q > 0 for q in returned.values())
    ):
        raise TaskError(f"{where}.returned: expected {{item_id = quantity}}")
    address = value.get("address")
    if address is not None and not (
        isinstance(address, dict) and set(address) <= {"street", "city", "postcode"} and address
    ):
        raise TaskError(f"{where}.address: expected street, city and/or postcode")
    status = value.get("status")
    if status is not None and not isinstance(status, str):
        raise TaskError(f"{where}.status: expected a string")
    return Expected(status=status, returned=returned, address=address)


def parse_task(raw: dict[str, Any], index: int) -> Task:
    """One ``[[task]]`` table as a Task; anything missing or misspelt is a TaskError naming it."""
    name = raw.get("id", f"task #{index + 1}")
    where = f"task {name!r}"
    unknown = set(raw) - _TASK_KEYS
    if unknown:
        raise TaskError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        raise TaskError(f"{where}: id is required")
    if raw.get("category") not in CATEGORIES:
        raise TaskError(f"{where}: category must be one of {', '.join(CATEGORIES)}")
    turns = _strings(raw.get("turns"), f"{where}.turns")
    if not turns:
        raise TaskError(f"{where}.turns: at least one turn is required")
    confirm = raw.get("confirm", "approve")
    if not isinstance(confirm, str) or not (confirm in ("approve", "decline") or confirm.startswith("say:")):
        raise TaskError(f"{where}.confirm: expected approve, decline or say:<text>")
    lang = raw.get("lang", "en")
    if lang not in ("en", "de"):
        raise TaskError(f"{where}.lang: expected en or de")
    require: list[tuple[str, ...]] = []
    for i, entry in enumerate(raw.get("require", [])):
        require.append((entry,) if isinstance(entry, str) else _strings(entry, f"{where}.require[{i}]"))
    expect = raw.get("expect", {})
    if not isinstance(expect, dict):
        raise TaskError(f"{where}.expect: expected a table of order ids")
    for key in ("customer", "order", "proves", "proof"):
        if key in raw and not isinstance(raw[key], str):
            raise TaskError(f"{where}.{key}: expected a string")
    for key in ("handoff", "asked"):
        if not isinstance(raw.get(key, False), bool):
            raise TaskError(f"{where}.{key}: expected true or false")
    return Task(
        id=raw["id"],
        category=raw["category"],
        turns=turns,
        customer=raw.get("customer"),
        lang=lang,
        order=raw.get("order"),
        proves=raw.get("proves"),
        proof=raw.get("proof", "email"),
        confirm=confirm,
        watch=_strings(raw.get("watch", []), f"{where}.watch"),
        expect={oid: _expected(v, f"{where}.expect.{oid}") for oid, v in expect.items()},
        handoff=raw.get("handoff", False),
        asked=raw.get("asked", False),
        require=tuple(require),
        forbid=_strings(raw.get("forbid", []), f"{where}.forbid"),
        forbid_order=_strings(raw.get("forbid_order", []), f"{where}.forbid_order"),
    )


def load_tasks(path: Path = TASKS) -> list[Task]:
    """Every task of the file, checked; ids are unique."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TaskError(f"{path}: {exc}") from exc
    raw = data.get("task")
    if not isinstance(raw, list) or not raw:
        raise TaskError(f"{path}: no [[task]] tables")
    tasks = [parse_task(item, i) for i, item in enumerate(raw)]
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise TaskError(f"{path}: task id {task.id!r} is used twice")
        seen.add(task.id)
    return tasks


# ---- the scripted customer --------------------------------------------------------------------------------------


@dataclass
class Answer:
    """One answer as the customer saw it."""

    text: str = ""
    summaries: list[str] = field(default_factory=list)  # tool results and confirmations shown on the way
    confirms: list[str] = field(default_factory=list)  # action ids proposed in this answer
    error: str | None = None


@dataclass
class Transcript:
    """What was said, both ways, and what the customer was shown."""

    conversation_id: str = ""
    lines: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    @property
    def answer_text(self) -> str:
        return "\n".join(a.text for a in self.answers)

    @property
    def shown(self) -> str:
        return "\n".join(part for a in self.answers for part in (a.text, *a.summaries))


def _proof(task: Task) -> str | None:
    if task.proves is None:
        return None
    email, address = contact(task.proves)
    return {"email": email, "postcode": address.postcode}.get(task.proof, task.proof)


class Customer:
    """Decides the customer's next move from the last answer: confirm, prove, name the order, or go on."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.next_turn = 1
        self.uses: dict[str, int] = defaultdict(int)

    def _rule(self, name: str) -> bool:
        if self.uses[name] >= MAX_RULE_USES:
            return False
        self.uses[name] += 1
        return True

    def reply(self, answer: Answer) -> dict[str, Any] | str | None:
        """A confirm frame, a message, or None (the customer is done)."""
        task = self.task
        if answer.confirms:
            action_id = answer.confirms[-1]
            if task.confirm.startswith("say:"):
                return task.confirm[len("say:") :]
            return {"type": "confirm", "action_id": action_id, "approve": task.confirm == "approve"}
        proof = _proof(task)
        asks_proof = proof is not None and _ASKS_PROOF.search(answer.text) is not None
        asks_order = task.order is not None and _ASKS_ORDER.search(answer.text) is not None
        if asks_proof and self._rule("proof"):
            assert proof is not None
            if asks_order and task.order is not None:
                return (
                    f"Bestellung {task.order}, {proof}"
                    if task.lang == "de"
                    else f"Order {task.order}, {proof}"
                )
            return proof
        if asks_order and self._rule("order"):
            return f"Bestellung {task.order}." if task.lang == "de" else f"It's order {task.order}."
        if self.next_turn < len(task.turns):
            self.next_turn += 1
            return task.turns[self.next_turn - 1]
        return None


async def _answer(ws: ClientConnection, message_id: str, timeout_s: float) -> Answer:
    """Read frames until the answer to ``message_id`` ends (or the frame sent for it is refused)."""
    answer = Answer()
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            answer.error = "timeout"
            return answer
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        kind = frame.get("type")
        if kind == "tool_result" and frame.get("summary"):
            answer.summaries.append(str(frame["summary"]))
        elif kind == "confirm":
            answer.summaries.append(str(frame.get("summary", "")))
            answer.confirms.append(str(frame["action_id"]))
        elif kind == "done" and frame.get("message_id") == message_id:
            answer.text = str(frame.get("text", ""))
            return answer
        elif kind == "error" and (frame.get("reply_to") in (message_id, None)):
            answer.error = str(frame.get("code"))
            return answer


async def converse(url: str, task: Task, timeout_s: float) -> Transcript:
    """Play the task's customer against the server at ``url`` (``ws://…/ws/chat``)."""
    query = f"?customer_id={task.customer}" if task.customer is not None else ""
    transcript = Transcript()
    customer = Customer(task)
    async with connect(url + query, open_timeout=30, max_size=2**22) as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if ready.get("type") != "ready":
            raise RuntimeError(f"the server did not greet the chat: {ready}")
        transcript.conversation_id = str(ready["conversation_id"])
        move: dict[str, Any] | str | None = task.turns[0]
        for turn in range(MAX_CUSTOMER_TURNS):
            if move is None:
                break
            if isinstance(move, str):
                message_id = f"bench-{turn}"
                transcript.lines.append(f"customer: {move}")
                await ws.send(json.dumps({"type": "message", "id": message_id, "text": move}))
            else:
                message_id = f"confirm-{move['action_id']}"
                transcript.lines.append(f"customer: [{'confirm' if move['approve'] else 'cancel'}]")
                await ws.send(json.dumps(move))
            answer = await _answer(ws, message_id, timeout_s)
            transcript.answers.append(answer)
            for summary in answer.summaries:
                transcript.lines.append(f"  [{summary}]")
            transcript.lines.append(
                f"assistant: {answer.text}" if answer.error is None else f"error: {answer.error}"
            )
            if answer.error is not None:
                break
            move = customer.reply(answer)
    return transcript


# ---- scoring --------------------------------------------------------------------------------------------------------


def snapshot(order: Order) -> dict[str, Any]:
    """What of an order the evaluation compares: its status, its address and what is being returned."""
    return {
        "status": order.status,
        "address": order.address.as_dict(),
        "returned": {item.item_id: item.returned_quantity for item in order.items if item.returned_quantity},
    }


def _address_matches(address: dict[str, str], wanted: dict[str, str]) -> bool:
    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip().lower()

    street = norm(f"{address.get('line1', '')} {address.get('line2', '')}")
    return (
        ("street" not in wanted or norm(wanted["street"]) in street)
        and ("city" not in wanted or norm(wanted["city"]) == norm(address.get("city", "")))
        and ("postcode" not in wanted or norm(wanted["postcode"]) == norm(address.get("postcode", "")))
    )


def state_problems(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], expect: dict[str, Expected]
) -> list[str]:
    """How the orders after the chat differ from before plus the expected changes (empty: as expected)."""
    problems: list[str] = []
    for order_id in sorted(set(before) | set(after) | set(expect)):
        old, new = before.get(order_id), after.get(order_id)
        if old is None or new is None:
            problems.append(f"{order_id}: {'appeared' if old is None else 'disappeared'}")
            continue
        wanted = expect.get(order_id, Expected())
        status = wanted.status or old["status"]
        if new["status"] != status:
            problems.append(f"{order_id}: status {new['status']}, expected {status}")
        returned = {**old["returned"], **(wanted.returned or {})}
        if new["returned"] != returned:
            problems.append(f"{order_id}: returned {new['returned']}, expected {returned}")
        if wanted.address is None:
            if new["address"] != old["address"]:
                problems.append(f"{order_id}: address changed to {new['address']}")
        elif not _address_matches(new["address"], wanted.address):
            problems.append(f"{order_id}: address {new['address']}, expected {wanted.address}")
    return problems


def forbidden_texts(shop: Shop, task: Task) -> list[str]:
    """The task's forbidden strings, with the contents of its forbidden orders (item names, email, postcode)."""
    texts = list(task.forbid)
    today = datetime.now(UTC).date()
    for order_id in task.forbid_order:
        for order in demo_orders(shop, order_id[:-2], today):
            if order.order_id == order_id:
                texts += [item.name for item in order.items]
                texts += [order.email, order.address.postcode, order.address.line1]
    return texts


def text_problems(task: Task, transcript: Transcript, forbidden: Sequence[str]) -> list[str]:
    """Required text missing from the answers, forbidden text anywhere the customer looked."""
    answers, shown = transcript.answer_text.lower(), transcript.shown.lower()
    problems = [
        f"answers lack {' | '.join(repr(a) for a in alternatives)}"
        for alternatives in task.require
        if not any(a.lower() in answers for a in alternatives)
    ]
    problems += [f"shown {text!r}" for text in forbidden if text.lower() in shown]
    return problems


# ---- one trial: a fresh server and database ------------------------------------------------------------------------


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> Any:
    """The real app under uvicorn on a free port of this event loop; yields the chat's websocket URL."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_config=None, lifespan="on", ws_max_size=2**22)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the server stopped while starting")
            await asyncio.sleep(0.02)
        yield f"ws://127.0.0.1:{port}/ws/chat"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)
        sock.close()


@dataclass
class TrialResult:
    task: Task
    trial: int
    passed: bool
    problems: list[str]
    transcript: Transcript
    seconds: float


async def _orders_after(url: str, shop: Shop, customers: Sequence[str]) -> dict[str, dict[str, Any]]:
    store = Store.from_url(url)
    try:
        backend = demo_backend(store, shop)
        return {o.order_id: snapshot(o) for c in customers for o in await backend.find_customer_orders(c)}
    finally:
        await store.close()


async def _handoffs(url: str, conversation_id: str) -> int:
    store = Store.from_url(url)
    try:
        async with store.engine.connect() as conn:
            query = sql_select(func.count()).where(HandoffRow.conversation_id == conversation_id)
            return int((await conn.execute(query)).scalar_one())
    finally:
        await store.close()


async def run_trial(task: Task, trial: int, base: Settings, shop: Shop, workdir: Path) -> TrialResult:
    """Run one task once on a fresh database and score it."""
    started = time.monotonic()
    folder = workdir / f"{task.id}-{trial}"
    folder.mkdir(parents=True)
    database = f"sqlite+aiosqlite:///{(folder / 'shop.db').resolve()}"
    settings = base.model_copy(update={"database_url": database, "data_dir": folder})
    today = datetime.now(UTC).date()
    before = {o.order_id: snapshot(o) for c in task.watched for o in demo_orders(shop, c, today)}
    timeout_s = base.llm_answer_timeout_s + 30
    try:
        async with serving(settings) as url:
            transcript = await converse(url, task, timeout_s)
    except (OSError, RuntimeError, TimeoutError, ValueError) as exc:
        transcript = Transcript(lines=[f"error: {type(exc).__name__}: {exc}"])
        return TrialResult(
            task, trial, False, [f"the chat failed: {exc}"], transcript, time.monotonic() - started
        )
    after = await _orders_after(database, shop, task.watched)
    problems = state_problems(before, after, task.expect)
    problems += text_problems(task, transcript, forbidden_texts(shop, task))
    handoffs = await _handoffs(database, transcript.conversation_id)
    if task.handoff and handoffs == 0:
        problems.append("no handoff was recorded")
    elif not task.handoff and handoffs:
        problems.append(f"{handoffs} handoff(s) recorded, none expected")
    if task.asked and not any(a.confirms for a in transcript.answers):
        problems.append("the change was never proposed for confirmation")
    problems += [f"answer ended with error {a.error}" for a in transcript.answers if a.error is not None]
    return TrialResult(task, trial, not problems, problems, transcript, time.monotonic() - started)


# ---- the report ----------------------------------------------------------------------------------------------------


def pass_hat_k(successes: int, trials: int, k: int) -> float:
    """The chance that k trials drawn without replacement from ``trials`` all pass (tau-bench's pass^k)."""
    if k > trials:
        raise ValueError(f"pass^{k} needs at least {k} trials per task, not {trials}")
    return math.comb(successes, k) / math.comb(trials, k)


@dataclass(frozen=True)
class Summary:
    """Pass rates over tasks: overall pass^1 and pass^k, and pass^1 per category."""

    tasks: int
    trials: int
    pass_1: float
    pass_k: dict[int, float]
    by_category: dict[str, tuple[int, float]]
    failing: list[str]


def summarize(results: Sequence[TrialResult], ks: Sequence[int]) -> Summary:
    """Aggregate trial results (every task must have the same number of trials)."""
    per_task: dict[str, list[bool]] = defaultdict(list)
    categories: dict[str, str] = {}
    for result in results:
        per_task[result.task.id].append(result.passed)
        categories[result.task.id] = result.task.category
    counts = {len(v) for v in per_task.values()}
    if len(counts) != 1:
        raise ValueError("every task needs the same number of trials")
    n = counts.pop()

    def mean_over(ids: Sequence[str], k: int) -> float:
        return sum(pass_hat_k(sum(per_task[i]), n, k) for i in ids) / len(ids)

    ids = list(per_task)
    by_category: dict[str, tuple[int, float]] = {}
    for category in CATEGORIES:
        members = [i for i in ids if categories[i] == category]
        if members:
            by_category[category] = (len(members), mean_over(members, 1))
    return Summary(
        tasks=len(ids),
        trials=n,
        pass_1=mean_over(ids, 1),
        pass_k={k: mean_over(ids, k) for k in ks if k <= n},
        by_category=by_category,
        failing=[i for i in ids if not all(per_task[i])],
    )


def render(summary: Summary, model: str) -> str:
    """The summary as the table the command prints."""
    lines = [f"action evaluation: {summary.tasks} tasks x {summary.trials} trials, model {model}", ""]
    lines.append(f"{'category':<14}{'tasks':>6}{'pass^1':>9}")
    for category, (count, rate) in summary.by_category.items():
        lines.append(f"{category:<14}{count:>6}{rate:>9.3f}")
    lines.append("")
    lines.append(f"pass^1 = {summary.pass_1:.3f}")
    for k, rate in summary.pass_k.items():
        if k != 1:
            lines.append(f"pass^{k} = {rate:.3f}")
    if summary.failing:
        lines.append(f"failing tasks: {', '.join(summary.failing)}")
    return "\n".join(lines)


# ---- the command ---------------------------------------------------------------------------------------------------


def base_settings(args: argparse.Namespace) -> Settings:
    """The server's settings for every trial: demo mode, instant local streaming, the chosen model."""
    overrides: dict[str, Any] = {
        "secret_key": SECRET,
        "demo_mode": True,
        "local_stream_delay_ms": 0,
        "encoder_process": False,
        "freeze_heap": False,
        "log_level": "error",
        "rate_limit_per_minute": 10_000,
        "llm_early_start": False,
        "shop_dir": None,
        "orders_backend_file": None,
        "redis_url": None,
    }
    if args.base_url:
        # Local servers (llama.cpp, vLLM, Ollama) often take no key: only a variable named on purpose must exist.
        key = os.environ.get(args.api_key_env) or None
        if key is None and args.api_key_env != DEFAULT_KEY_ENV:
            raise TaskError(f"--api-key-env {args.api_key_env}: that environment variable is not set")
        overrides |= {"llm_backend": "openai", "openai_base_url": args.base_url, "openai_api_key": key}
    if args.model:
        overrides["llm_model"] = args.model
    return load_settings(**overrides)


def select(tasks: list[Task], ids: str | None, category: str | None) -> list[Task]:
    """The tasks named (comma-separated ids) or of one category; all by default."""
    chosen = tasks
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        known = {t.id for t in tasks}
        missing = [i for i in wanted if i not in known]
        if missing:
            raise TaskError(f"--tasks: no task {', '.join(missing)}")
        chosen = [t for t in tasks if t.id in wanted]
    if category:
        if category not in CATEGORIES:
            raise TaskError(f"--category: expected one of {', '.join(CATEGORIES)}")
        chosen = [t for t in chosen if t.category == category]
    return chosen


async def evaluate(
    tasks: Sequence[Task], trials: int, settings: Settings, *, parallel: int = 3, verbose: bool = False
) -> list[TrialResult]:
    """Run every task ``trials`` times, ``parallel`` trials at once (each its own server and database)."""
    shop = load_shop()
    gate = asyncio.Semaphore(parallel)

    async def one(task: Task, trial: int, workdir: Path) -> TrialResult:
        async with gate:
            result = await run_trial(task, trial, settings, shop, workdir)
        if verbose or not result.passed:
            mark = "pass" if result.passed else "FAIL"
            lines = [f"[{mark}] {task.id} (trial {trial + 1}, {result.seconds:.1f}s)"]
            if not result.passed:
                lines += _indent([*result.problems, "--", *result.transcript.lines])
            print("\n".join(lines), file=sys.stderr)
        return result

    with tempfile.TemporaryDirectory(prefix="shopchat-actions-") as tmp:
        runs = [one(task, trial, Path(tmp)) for trial in range(trials) for task in tasks]
        return list(await asyncio.gather(*runs))


def _indent(lines: Sequence[str]) -> Iterator[str]:
    for line in lines:
        yield "    " + line.replace("\n", "\n    ")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tasks-file", type=Path, default=TASKS)
    parser.add_argument("--tasks", help="comma-separated task ids (default: all)")
    parser.add_argument("--category", help="only this category")
    parser.add_argument("--trials", type=int, default=3, help="trials per task (default 3: pass^3)")
    parser.add_argument("--base-url", help="an OpenAI-compatible server's base URL (…/v1)")
    parser.add_argument("--model", help="the model name to ask for")
    parser.add_argument("--api-key-env", default=DEFAULT_KEY_ENV, help="the variable holding its API key")
    parser.add_argument("--parallel", type=int, default=3, help="trials run at once (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every trial, not only failures")
    args = parser.parse_args(argv)
    if args.trials < 1 or args.parallel < 1:
        parser.error("--trials and --parallel must be at least 1")
    # The app's start-up notes (demo mode, a guessed tokenizer) would repeat once per trial.
    logging.basicConfig(level=logging.ERROR)
    try:
        tasks = select(load_tasks(args.tasks_file), args.tasks, args.category)
        settings = base_settings(args)
    except TaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a ConfigError from the settings: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not tasks:
        print("error: no task selected", file=sys.stderr)
        return 2
    results = asyncio.run(
        evaluate(tasks, args.trials, settings, parallel=args.parallel, verbose=args.verbose)
    )
    model = "local (built-in responder)" if settings.llm_backend == "local" else settings.llm_model
    summary = summarize(results, ks=sorted({1, min(3, args.trials), args.trials}))
    print(render(summary, model))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "model": model,
                    "tasks": summary.tasks,
                    "trials": summary.trials,
                    "pass^1": summary.pass_1,
                    **{f"pass^{k}": v for k, v in summary.pass_k.items()},
                    "by_category": {
                        c: {"tasks": n, "pass^1": r} for c, (n, r) in summary.by_category.items()
                    },
                    "failing": summary.failing,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
