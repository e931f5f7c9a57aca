"""A model request started before its message is stored and routed, to take routing off the first token's path.

Routing (an embedding) and storing the message take a few milliseconds each; a remote model's first token takes
longer still. Starting the chat request at once, beside both, and keeping its first event until the route is
known, hides them. If the route turns out not to be ``chat``, or the message is never acknowledged, the request
is dropped: nothing it produced was stored or sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from app.llm.model import ChatModel, ChatRequest, ModelEvent

log = logging.getLogger("shopchat.answer")

# Dropped requests close in the background; the loop holds only weak references to tasks.
_closing: set[asyncio.Task[None]] = set()


class Prefetch:
    """One early chat request: ``events()`` uses it (once), ``drop()`` abandons it; exactly one of them."""

    def __init__(
        self, model: ChatModel, build: Callable[[], Awaitable[tuple[ChatRequest, int]]], name: str
    ) -> None:
        self.prompt_tokens = 0
        self.request: ChatRequest | None = None
        self._model = model
        self._build = build
        self._stream: AsyncIterator[ModelEvent] | None = None
        self._first = asyncio.ensure_future(self._start())
        self._first.set_name(f"prefetch:{name}")
        self._claimed = False

    async def _start(self) -> ModelEvent | None:
        request, self.prompt_tokens = await self._build()
        self.request = request
        self._stream = self._model.stream(request)
        try:
            return await anext(self._stream)
        except StopAsyncIteration:
            return None

    async def events(self) -> AsyncIterator[ModelEvent]:
        """The model's events, the buffered first one included; errors surface here as from ``stream``."""
        if self._claimed:
            raise RuntimeError("a prefetched request is used once")
        self._claimed = True
        try:
            first = await self._first
            if first is None:
                return
            yield first
            assert self._stream is not None
            async for event in self._stream:
                yield event
        finally:
            await self._close_stream()

    def drop(self) -> None:
        """Abandon the request (the route is not chat, or the message was not stored); idempotent."""
        if self._claimed:
            return
        self._claimed = True
        self._first.cancel()
        task = asyncio.ensure_future(self._discard())
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    async def _discard(self) -> None:
        # The early request failing (the model is down) is not news: the real answer reports it, if there is one.
        with contextlib.suppress(BaseException):
            await self._first
        await self._close_stream()

    async def _close_stream(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is None:
            return
        try:
            await close()
        except Exception:
            log.debug("closing an early model request failed", exc_info=True)
