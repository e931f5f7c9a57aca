"""Adapter for any OpenAI-compatible chat completions server (OpenAI, vLLM, Ollama, llama.cpp server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2
import openai
import orjson
from openai import AsyncOpenAI, DefaultAioHttpClient
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)

from app.errors import ErrorCode, ModelError
from app.llm.model import ChatRequest, Finished, ModelEvent, TextDelta
from app.llm.overflow import context_overflow

# Local servers (Ollama, llama.cpp, vLLM without --api-key) accept any key, but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"
PROBE_TIMEOUT_S = 10.0


def _retry_after(error: openai.APIStatusError) -> float | None:
    value = error.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _messages(request: ChatRequest) -> list[ChatCompletionMessageParam]:
    out: list[ChatCompletionMessageParam] = []
    for message in request.messages:
        if message["role"] == "system":
            out.append(ChatCompletionSystemMessageParam(role="system", content=message["content"]))
        elif message["role"] == "assistant":
            out.append(ChatCompletionAssistantMessageParam(role="assistant", content=message["content"]))
        else:
            out.append(ChatCompletionUserMessageParam(role="user", content=message["content"]))
    return out


async def _sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined with newlines, as the SSE spec says)."""
    parts: list[str] = []
    async for line in lines:
        if not line:
            if parts:
                yield "\n".join(parts)
                parts = []
        elif line.startswith("data:"):
            parts.append(line[6:] if line.startswith("data: ") else line[5:])
    if parts:
        yield "\n".join(parts)


def _json(data: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ModelError("The assistant's model sent a malformed reply.", code=ErrorCode.MODEL_ERROR) from exc
    if not isinstance(value, dict):
        raise ModelError("The assistant's model sent a malformed reply.", code=ErrorCode.MODEL_ERROR)
    return value


def _refused(error: BaseException) -> bool:
    # The aiohttp transport reports a refused connection as a connect *timeout*; the cause tells them apart.
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False


def map_error(error: BaseException) -> ModelError:
    """Translate SDK and transport errors into our stable codes, with a message safe to show customers."""
    # Some servers (llama.cpp builds among them) refuse an over-long prompt with a 5xx: its body tells.
    if isinstance(error, openai.APIStatusError):
        overflow = context_overflow(error.message, error.body)
        if overflow is not None:
            return overflow
    if _refused(error):
        return ModelError(
            "The assistant's model cannot be reached right now.", code=ErrorCode.MODEL_UNAVAILABLE
        )
    if isinstance(error, openai.APITimeoutError):
        return ModelError(
            "The assistant took too long to answer. Please try again.", code=ErrorCode.MODEL_TIMEOUT
        )
    if isinstance(error, openai.RateLimitError):
        return ModelError(
            "The assistant is busy right now. Please try again in a moment.",
            code=ErrorCode.RATE_LIMITED,
            retry_after_s=_retry_after(error),
        )
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelError(
            "The assistant is not configured correctly (model access denied).", code=ErrorCode.MODEL_AUTH
        )
    if isinstance(error, openai.BadRequestError | openai.NotFoundError | openai.UnprocessableEntityError):
        detail = error.message if isinstance(error, openai.APIStatusError) else str(error)
        return ModelError(f"The model rejected the request: {detail}", code=ErrorCode.MODEL_BAD_REQUEST)
    if isinstance(error, openai.APIConnectionError | httpx2.TransportError):
        return ModelError(
            "The assistant's model cannot be reached right now.", code=ErrorCode.MODEL_UNAVAILABLE
        )
    if isinstance(error, openai.InternalServerError):
        return ModelError("The assistant's model failed. Please try again.", code=ErrorCode.MODEL_UNAVAILABLE)
    return ModelError("The assistant's model failed unexpectedly.", code=ErrorCode.MODEL_ERROR)


class OpenAIChatModel:
    """Streams chat completions through the official ``openai`` SDK."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None,
        timeout_s: float,
        max_retries: int,
        temperature: float = 0.3,
        streaming: bool = True,
        client: AsyncOpenAI | None = None,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.temperature = temperature
        self.streaming = streaming
        self._client = client or AsyncOpenAI(
            api_key=api_key or PLACEHOLDER_KEY,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            # The SDK's aiohttp transport reads a streamed token for about half the CPU of httpx's own.
            http_client=http_client or DefaultAioHttpClient(),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        """Stream one completion; a stream that breaks off raises ``ModelError`` after the text already sent."""
        if not self.streaming:
            async for event in self._complete(request):
                yield event
            return
        # The SDK sends the request (auth, retries, status errors); the event stream is read raw: building the
        # SDK's chunk models costs ~6x more CPU per token than parsing the JSON, and a token is the unit of load.
        try:
            async with self._client.chat.completions.with_streaming_response.create(
                model=self.model,
                messages=_messages(request),
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=request.max_output_tokens,
                temperature=self.temperature,
            ) as response:
                finish_reason = "stop"
                prompt_tokens: int | None = None
                completion_tokens: int | None = None
                async for data in _sse_data(response.iter_lines()):
                    if data == "[DONE]":
                        break
                    chunk = _json(data)
                    if chunk.get("error"):
                        raise context_overflow("", chunk) or ModelError(
                            "The assistant's model failed. Please try again.", code=ErrorCode.MODEL_ERROR
                        )
                    usage = chunk.get("usage")
                    if isinstance(usage, dict):
                        prompt_tokens = usage.get("prompt_tokens")
                        completion_tokens = usage.get("completion_tokens")
                    for choice in chunk.get("choices") or ():
                        content = (choice.get("delta") or {}).get("content")
                        if content:
                            yield TextDelta(content)
                        if choice.get("finish_reason"):
                            finish_reason = choice["finish_reason"]
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            raise map_error(exc) from exc
        yield Finished(
            finish_reason=finish_reason, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )

    async def _complete(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        # For servers or proxies that cannot stream: one request, the whole answer as a single delta.
        try:
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=_messages(request),
                max_tokens=request.max_output_tokens,
                temperature=self.temperature,
            )
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            raise map_error(exc) from exc
        choice = completion.choices[0] if completion.choices else None
        if choice is not None and choice.message.content:
            yield TextDelta(choice.message.content)
        usage = completion.usage
        yield Finished(
            finish_reason=(choice.finish_reason if choice is not None else None) or "stop",
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    async def probe(self) -> None:
        """Ask the server for its model list (cheap, no tokens); raises ``ModelError`` when it cannot answer."""
        try:
            await self._client.with_options(timeout=PROBE_TIMEOUT_S, max_retries=0).models.list()
        except openai.NotFoundError:
            return  # a server without /models still answered: reachable, and real requests tell the rest
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            raise map_error(exc) from exc

    async def aclose(self) -> None:
        """Close the SDK's connection pool."""
        await self._client.close()
