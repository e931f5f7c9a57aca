"""A conversation never dies of its own length: server-stated overflows are retried once with a shorter
history, and the server's reported usage calibrates later budgets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import respx

from app.conversation.hub import Hub
from app.conversation.pipeline import ChatConfig
from app.conversation.service import ChatService
from app.conversation.subscriber import Subscriber
from app.errors import ErrorCode
from app.events import Done, Error, StoredEvent
from app.llm.model import ChatModel
from app.llm.openai import OpenAIChatModel
from app.llm.tokens import TokenCounter
from app.store.migrate import upgrade
from app.store.store import Store
from tests.conftest import sqlite_url
from tests.conversation.rig import start_service
from tests.fakes import RecordingBroadcaster, ScriptedModel

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"
ANSWER = "Gerne helfe ich Ihnen weiter, die Lieferung dauert in der Regel zwei bis drei Werktage. " * 3
# Long customer messages, as in a German conversation our tokenizer under-counts.
QUESTION = (
    "Könnten Sie mir bitte genau erklären, wie die Rücksendung meiner beschädigten Bestellung abläuft? " * 3
)


def server_count(messages: list[dict[str, str]]) -> int:
    """The server's own tokenizer: twice as many tokens as tiktoken finds in this German text, roughly."""
    return sum(len(m["content"]) // 2 + 4 for m in messages) + 3


def sse_answer(prompt_tokens: int) -> bytes:
    words = [w + " " for w in ANSWER.split(" ")]
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"choices": [], "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(words)}})
    return ("".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n").encode()


def llama_cpp_overflow(prompt: int, n_ctx: int) -> httpx.Response:
    message = (
        f"request ({prompt} tokens) exceeds the available context size ({n_ctx} tokens), try increasing it"
    )
    body = {"code": 400, "message": message, "type": "exceed_context_size_error"}
    return httpx.Response(400, json={"error": {**body, "n_prompt_tokens": prompt, "n_ctx": n_ctx}})


def vllm_overflow(prompt: int, n_ctx: int, max_tokens: int) -> httpx.Response:
    message = (
        f"This model's maximum context length is {n_ctx} tokens. However, you requested {prompt + max_tokens} "
        f"tokens ({prompt} in the messages, {max_tokens} in the completion). Please reduce the length of the "
        "messages or completion."
    )
    return httpx.Response(
        400, json={"object": "error", "message": message, "type": "BadRequestError", "code": 400}
    )


class SmallServer:
    """An OpenAI-compatible server with a small context window that counts tokens its own way."""

    def __init__(self, n_ctx: int, style: str = "llama.cpp") -> None:
        self.n_ctx = n_ctx
        self.style = style
        self.requests: list[dict[str, Any]] = []
        self.refused: list[int] = []  # indexes into requests

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        prompt = server_count(body["messages"])
        if prompt + body["max_tokens"] > self.n_ctx:
            self.refused.append(len(self.requests) - 1)
            if self.style == "vllm":
                return vllm_overflow(prompt, self.n_ctx, body["max_tokens"])
            if self.style == "no numbers":  # llama.cpp builds before exceed_context_size_error
                message = "the request exceeds the available context size, try increasing it"
                return httpx.Response(400, json={"error": {"code": 400, "message": message}})
            return llama_cpp_overflow(prompt, self.n_ctx)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse_answer(prompt))


class Rig:
    """A running service over one model."""

    def __init__(
        self, service: ChatService, broadcaster: RecordingBroadcaster, counter: TokenCounter
    ) -> None:
        self.service = service
        self.broadcaster = broadcaster
        self.counter = counter

    async def ask(self, hub: Hub, subscriber: Subscriber, message_id: str, text: str) -> StoredEvent:
        await self.service.submit(hub, subscriber, message_id, text)
        for _ in range(2000):
            for event in self.broadcaster.events(hub.conversation_id):
                if isinstance(event, Done) and event.message_id == message_id:
                    return event
                if isinstance(event, Error) and event.reply_to == message_id:
                    return event
            await asyncio.sleep(0.005)
        raise AssertionError(f"no terminal event for {message_id}")


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    built: list[tuple[ChatService, Store]] = []

    async def build(model: ChatModel, context_tokens: int = 16_000) -> Rig:
        store = Store.from_url(sqlite_url(tmp_path / "chat.db"))
        await upgrade(store.engine)
        config = ChatConfig(
            context_tokens=context_tokens,
            max_output_tokens=256,
            max_message_chars=4000,
            abandon_after_s=5,
            recommendations_n=4,
        )
        counter = TokenCounter("qwen2.5-0.5b-instruct")
        service, broadcaster = start_service(store, model, config, counter=counter)
        built.append((service, store))
        return Rig(service, broadcaster, counter)

    yield build
    for service, store in built:
        await service.close()
        await store.close()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True) as router:
        yield router


def openai_model() -> OpenAIChatModel:
    return OpenAIChatModel(
        model="qwen2.5-0.5b-instruct",
        api_key=None,
        base_url=BASE,
        timeout_s=5,
        max_retries=0,
        http_client=httpx2.AsyncClient(),
    )


async def open_conversation(rig: Rig) -> tuple[Hub, Subscriber]:
    hub = rig.service.new_hub(None)
    subscriber = Subscriber(last_seq=0)
    await rig.service.attach(hub, subscriber)
    return hub, subscriber


@pytest.mark.parametrize("style", ["llama.cpp", "vllm", "no numbers"])
async def test_a_long_conversation_at_a_small_context_answers_every_message(
    make_rig: Callable[..., Any], mock: respx.MockRouter, style: str
) -> None:
    server = SmallServer(n_ctx=4096, style=style)
    mock.post(URL).mock(side_effect=server)
    rig: Rig = await make_rig(openai_model())
    hub, subscriber = await open_conversation(rig)
    for turn in range(10):
        end = await rig.ask(hub, subscriber, f"m{turn}", f"{turn}: {QUESTION}")
        assert isinstance(end, Done), end
        assert end.text.strip() == ANSWER.strip()
    assert server.refused, "the conversation never outgrew the server's window: the test proves nothing"
    for index in server.refused:
        # Exactly one retry, with fewer messages, and it was answered.
        assert index + 1 not in server.refused
        assert len(server.requests[index + 1]["messages"]) < len(server.requests[index]["messages"])
    # What the server stated (or what it refused) is kept, so refusals do not recur every message.
    if style != "no numbers":
        assert rig.counter.calibration.context_tokens == 4096
    assert len(server.refused) <= 2


async def test_an_overflow_retries_once_with_fewer_messages_and_the_answer_completes(
    make_rig: Callable[..., Any], mock: respx.MockRouter
) -> None:
    server = SmallServer(n_ctx=4096)
    route = mock.post(URL).mock(side_effect=server)
    rig: Rig = await make_rig(openai_model())
    hub, subscriber = await open_conversation(rig)
    # Build a history the server cannot take in one go, without it seeing the requests.
    for turn in range(8):
        hub.transcript.asked(f"old{turn}", QUESTION)
        hub.transcript.answered(f"old{turn}", ANSWER)
    end = await rig.ask(hub, subscriber, "m1", QUESTION)
    assert isinstance(end, Done)
    assert route.call_count == 2
    first, retry = (len(r["messages"]) for r in server.requests)
    assert server.refused == [0]
    assert retry < first


async def test_a_message_alone_too_long_for_the_stated_window_is_a_typed_error(
    make_rig: Callable[..., Any], mock: respx.MockRouter
) -> None:
    server = SmallServer(n_ctx=1200)  # the system prompt alone takes most of it, in the server's tokens
    route = mock.post(URL).mock(side_effect=server)
    rig: Rig = await make_rig(openai_model())
    hub, subscriber = await open_conversation(rig)
    end = await rig.ask(hub, subscriber, "m1", QUESTION * 3)
    assert isinstance(end, Error)
    assert end.code == ErrorCode.MESSAGE_TOO_MANY_TOKENS
    assert "too long" in end.message
    assert route.call_count == 1  # the refit could not fit: nothing hopeless is sent again


async def test_reported_prompt_tokens_larger_than_our_count_tighten_the_next_budget(
    make_rig: Callable[..., Any],
) -> None:
    model = ScriptedModel(usage=(10_000, 5))  # the server counts far more than we did
    rig: Rig = await make_rig(model, context_tokens=6000)
    hub, subscriber = await open_conversation(rig)
    for turn in range(5):
        hub.transcript.asked(f"old{turn}", "question " * 100)
        hub.transcript.answered(f"old{turn}", "answer " * 100)
    await rig.ask(hub, subscriber, "m1", "first question")
    first = model.requests[0]
    assert len(first.messages) == 1 + 10 + 1  # everything fitted before we knew better
    assert rig.counter.calibration.factor == 4.0  # bounded
    await rig.ask(hub, subscriber, "m2", "second question")
    second = model.requests[1]
    assert rig.counter.count_messages(list(second.messages)) <= (6000 - 256) // 4
    assert len(second.messages) < len(first.messages)  # older turns were dropped to make room
