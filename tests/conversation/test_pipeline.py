"""What the model sends us, through the answer pipeline: its errors, its characters, its length and its time."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import httpx
import httpx2
import pytest
import respx

from app.conversation.limits import output_cap
from app.conversation.service import ChatService
from app.errors import CUSTOMER_MESSAGES, ErrorCode
from app.events import EVENT, Delta, Done, Error, StoredEvent
from app.llm.model import ChatModel, ChatRequest, Finished, ModelEvent, TextDelta
from app.llm.openai import OpenAIChatModel
from app.store.migrate import upgrade
from app.store.records import AnswerFinished, NewEvent, Write
from app.store.store import Store
from tests.conftest import reset_database, sqlite_url
from tests.conversation.rig import start_service
from tests.conversation.test_service import CONFIG, connect
from tests.fakes import RecordingBroadcaster, ScriptedModel

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"
API_KEY = "sk-live-0123456789abcdef"
Database = Literal["sqlite", "postgres"]


@dataclass
class Rig:
    """A running service with any model, and what it talks to."""

    service: ChatService
    store: Store
    broadcaster: RecordingBroadcaster

    def events(self, conversation_id: str) -> list[StoredEvent]:
        """Everything published for a conversation, in order."""
        return self.broadcaster.events(conversation_id)

    async def ask(self, text: str = "hi", wait_s: float = 5.0) -> tuple[str, StoredEvent]:
        """Send one message in a new conversation; its conversation id and the event that ended its answer."""
        hub = self.service.new_hub(None)
        await self.service.submit(hub, await connect(self.service, hub), "m1", text)
        async with asyncio.timeout(wait_s):
            while True:
                ends = [e for e in self.events(hub.conversation_id) if isinstance(e, Done | Error)]
                if ends:
                    await asyncio.sleep(0.05)  # a second terminal event would show up here
                    return hub.conversation_id, ends[0]
                await asyncio.sleep(0.005)

    def terminals(self, conversation_id: str) -> list[StoredEvent]:
        """The ``done`` and ``error`` events of a conversation."""
        return [e for e in self.events(conversation_id) if isinstance(e, Done | Error)]

    async def answer_row(self, conversation_id: str) -> tuple[str, str]:
        """The stored answer's status and text."""
        rows = await self.store.messages(conversation_id)
        answer = next(m for m in rows if m.role == "assistant")
        return answer.status, answer.text


class RefusingStore(Store):
    """A store that refuses every write carrying ``poison`` in an event or an answer, as PostgreSQL refuses NUL."""

    poison = "POISON"

    async def write(self, writes: Sequence[Write]) -> None:
        """Refuse poisoned batches, else write."""
        for w in writes:
            if (isinstance(w, NewEvent) and self.poison in w.payload) or (
                isinstance(w, AnswerFinished) and self.poison in w.text
            ):
                raise ValueError("invalid byte sequence for encoding")
        await super().write(writes)


@dataclass
class RunawayModel:
    """Ignores max_tokens: streams words and never finishes."""

    name: str = "runaway"
    sent: int = 0
    closed: bool = False

    async def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        """Words, forever."""
        try:
            while True:
                await asyncio.sleep(0)
                self.sent += 1
                yield TextDelta(f" word{self.sent}")
        finally:
            self.closed = True

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass
class SlowModel:
    """Sends ``chunks``, each after ``delay_s``; hangs for good first when ``chunks`` is empty; may never finish."""

    chunks: Sequence[str] = ()
    delay_s: float = 0.0
    finish: bool = True
    name: str = "slow"
    requests: list[ChatRequest] = field(default_factory=list)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        """The script, slowly."""
        self.requests.append(request)
        if not self.chunks:
            await asyncio.Event().wait()
        for chunk in self.chunks:
            await asyncio.sleep(self.delay_s)
            yield TextDelta(chunk)
        if self.finish:
            yield Finished(finish_reason="stop")

    async def aclose(self) -> None:
        """Nothing to release."""


@pytest.fixture
async def make_rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., object]]:
    rigs: list[Rig] = []

    async def build(
        model: ChatModel, database: Database = "sqlite", store_class: type[Store] = Store, **config: float
    ) -> Rig:
        if database == "postgres":
            url = request.getfixturevalue("postgres_url")
            await reset_database(url)
        else:
            url = sqlite_url(tmp_path / "chat.db")
        store = store_class(Store.from_url(url).engine)
        await upgrade(store.engine)
        chat_config = replace(CONFIG, abandon_after_s=30.0, **config)  # type: ignore[arg-type]
        service, broadcaster = start_service(store, model, chat_config)
        rig = Rig(service, store, broadcaster)
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        await rig.service.close()
        await rig.store.close()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True) as router:
        yield router


def openai_model(*, timeout_s: float = 5.0, retries: int = 0) -> OpenAIChatModel:
    return OpenAIChatModel(
        model="test-model",
        api_key=API_KEY,
        base_url=BASE,
        timeout_s=timeout_s,
        max_retries=retries,
        http_client=httpx2.AsyncClient(),
    )


def sse_chunk(content: str | None = None, finish: str | None = None) -> bytes:
    body: dict[str, object] = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "test-model",
    }
    body["choices"] = [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]
    return f"data: {json.dumps(body)}\n\n".encode()


# ---- 5: what the model server says stays in the log --------------------------------------------------------


async def test_an_upstream_400_is_shown_in_our_words_and_its_detail_is_logged(
    make_rig: Callable[..., object], mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    upstream = f"Unsupported value <script>alert(1)</script> for key {API_KEY}\nsecond line"
    mock.post(URL).respond(400, json={"error": {"message": upstream, "type": "invalid_request_error"}})
    rig: Rig = await make_rig(openai_model())  # type: ignore[misc]
    with caplog.at_level(logging.WARNING, logger="shopchat"):
        cid, end = await rig.ask()
    assert isinstance(end, Error)
    assert end.code == ErrorCode.MODEL_BAD_REQUEST
    assert end.message == CUSTOMER_MESSAGES[ErrorCode.MODEL_BAD_REQUEST]
    stored = [p.payload for p in await rig.store.payloads_after(cid, 0)]
    assert not [p for p in stored if "script" in p or "Unsupported" in p]
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    detail = [line for line in logged if "Unsupported value <script>" in line]
    assert len(detail) == 1
    assert "\n" not in detail[0]
    assert API_KEY not in "".join(logged)


# ---- 7: characters no database takes ----------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_lone_surrogates_and_control_characters_from_the_model_are_cleaned_and_the_answer_ends(
    make_rig: Callable[..., object], database: Database
) -> None:
    model = ScriptedModel(chunks=("Bro\ud83d", "ken\x00 ", "ta\x07b\tle\r\n", "\ud800"))
    rig: Rig = await make_rig(model, database)  # type: ignore[misc]
    cid, end = await rig.ask()
    assert isinstance(end, Done)
    assert end.text == "Bro\ufffdken tab\tle\n\ufffd"
    assert "".join(e.text for e in rig.events(cid) if isinstance(e, Delta)) == end.text
    assert await rig.answer_row(cid) == ("done", end.text)
    replayed = [EVENT.validate_json(p.payload) for p in await rig.store.payloads_after(cid, 0)]
    assert replayed == rig.events(cid)


async def test_an_answer_the_database_refuses_still_ends_with_one_internal_error(
    make_rig: Callable[..., object],
) -> None:
    model = ScriptedModel(chunks=("Fine ", RefusingStore.poison, " more"))
    rig: Rig = await make_rig(model, store_class=RefusingStore)  # type: ignore[misc]
    cid, end = await rig.ask()
    assert isinstance(end, Error)
    assert (end.code, end.message) == (ErrorCode.INTERNAL, CUSTOMER_MESSAGES[ErrorCode.INTERNAL])
    assert len(rig.terminals(cid)) == 1
    assert await rig.answer_row(cid) == ("failed", "")


# ---- 11: runaway, hung, malformed and cut answers ---------------------------------------------------------


async def test_a_model_that_never_stops_is_cut_at_our_output_cap(make_rig: Callable[..., object]) -> None:
    model = RunawayModel()
    rig: Rig = await make_rig(model)  # type: ignore[misc]
    cid, end = await rig.ask()
    assert isinstance(end, Done)
    assert end.finish_reason == "length"
    cap = output_cap(CONFIG.max_output_tokens)
    assert cap < end.usage.completion_tokens <= cap + 8
    assert model.closed
    assert len(rig.terminals(cid)) == 1
    assert await rig.answer_row(cid) == ("done", end.text)


async def test_an_upstream_ignoring_max_tokens_is_cut_and_disconnected(
    make_rig: Callable[..., object], mock: respx.MockRouter
) -> None:
    closed = asyncio.Event()

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                while True:
                    await asyncio.sleep(0)
                    yield sse_chunk(" more")
            finally:
                closed.set()

    mock.post(URL).respond(200, headers={"content-type": "text/event-stream"}, stream=Endless())
    rig: Rig = await make_rig(openai_model(), max_output_tokens=64)  # type: ignore[misc]
    _, end = await rig.ask()
    assert isinstance(end, Done)
    assert end.finish_reason == "length"
    assert end.usage.completion_tokens <= output_cap(64) + 8
    await asyncio.wait_for(closed.wait(), 1)


async def test_a_model_that_says_nothing_ends_with_model_timeout_after_the_idle_timeout(
    make_rig: Callable[..., object],
) -> None:
    rig: Rig = await make_rig(SlowModel(), idle_timeout_s=0.2, answer_timeout_s=10)  # type: ignore[misc]
    started = asyncio.get_running_loop().time()
    cid, end = await rig.ask(wait_s=4)
    assert isinstance(end, Error)
    assert end.code == ErrorCode.MODEL_TIMEOUT
    assert asyncio.get_running_loop().time() - started < 2.0
    assert len(rig.terminals(cid)) == 1


async def test_a_model_that_talks_too_long_ends_with_model_timeout_and_keeps_its_text(
    make_rig: Callable[..., object],
) -> None:
    model = SlowModel(chunks=tuple(f"w{i} " for i in range(100)), delay_s=0.02)
    rig: Rig = await make_rig(model, idle_timeout_s=1, answer_timeout_s=0.3)  # type: ignore[misc]
    cid, end = await rig.ask(wait_s=4)
    assert isinstance(end, Error)
    assert end.code == ErrorCode.MODEL_TIMEOUT
    status, text = await rig.answer_row(cid)
    assert status == "failed"
    assert text == "".join(e.text for e in rig.events(cid) if isinstance(e, Delta))
    assert 0 < len(text) < len("".join(model.chunks))


async def test_a_hung_upstream_ends_within_the_answer_timeout_whatever_its_retries(
    make_rig: Callable[..., object],
) -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Reads the request, answers nothing, until the client hangs up.
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # Without our clock: 3 attempts of 2 s each, and backoff between them.
    model = OpenAIChatModel(
        model="m", api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/v1", timeout_s=2, max_retries=2
    )
    try:
        rig: Rig = await make_rig(model, idle_timeout_s=0.4, answer_timeout_s=0.6)  # type: ignore[misc]
        started = asyncio.get_running_loop().time()
        cid, end = await rig.ask(wait_s=4)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await model.aclose()
        server.close()
    assert isinstance(end, Error)
    assert end.code == ErrorCode.MODEL_TIMEOUT
    assert elapsed < 3.0
    assert len(rig.terminals(cid)) == 1


async def test_a_malformed_chunk_ends_the_answer_with_model_error_not_internal(
    make_rig: Callable[..., object], mock: respx.MockRouter
) -> None:
    content = sse_chunk("Par") + b'data: {"choices": [1]}\n\n' + b"data: [DONE]\n\n"
    mock.post(URL).respond(200, headers={"content-type": "text/event-stream"}, content=content)
    rig: Rig = await make_rig(openai_model())  # type: ignore[misc]
    cid, end = await rig.ask()
    assert isinstance(end, Error)
    assert end.code == ErrorCode.MODEL_ERROR
    assert await rig.answer_row(cid) == ("failed", "Par")


async def test_an_upstream_stream_that_stops_without_finishing_is_reported_cut(
    make_rig: Callable[..., object], mock: respx.MockRouter
) -> None:
    content = sse_chunk("Half an ") + sse_chunk("answer")  # no finish_reason, no [DONE]
    mock.post(URL).respond(200, headers={"content-type": "text/event-stream"}, content=content)
    rig: Rig = await make_rig(openai_model())  # type: ignore[misc]
    cid, end = await rig.ask()
    assert isinstance(end, Error)
    assert end.code == ErrorCode.MODEL_UNAVAILABLE
    assert await rig.answer_row(cid) == ("failed", "Half an answer")


async def test_a_model_stream_that_ends_without_finished_is_an_error(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig(SlowModel(chunks=("Half",), finish=False))  # type: ignore[misc]
    cid, end = await rig.ask()
    assert isinstance(end, Error)
    assert end.code == ErrorCode.MODEL_ERROR
    assert await rig.answer_row(cid) == ("failed", "Half")


async def test_a_length_finish_from_the_model_is_passed_on(make_rig: Callable[..., object]) -> None:
    @dataclass
    class Truncated(SlowModel):
        async def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
            yield TextDelta("Cut sho")
            yield Finished(finish_reason="length")

    rig: Rig = await make_rig(Truncated())  # type: ignore[misc]
    _, end = await rig.ask()
    assert isinstance(end, Done)
    assert (end.text, end.finish_reason) == ("Cut sho", "length")
