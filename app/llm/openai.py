"""Adapter for any OpenAI-compatible chat completions server (OpenAI, vLLM, Ollama, llama.cpp server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2
import openai
import orjson
from openai import AsyncOpenAI, DefaultAioHttpClient, Omit, omit
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionToolMessageParam,
    ChatCompletionUserMessageParam,
)

from app.errors import ErrorCode, ModelError, loggable
from app.llm.model import ChatRequest, Finished, ModelEvent, TextDelta, ToolCall
from app.llm.overflow import context_overflow

# Local servers (Ollama, llama.cpp, vLLM without --api-key) accept any key, but the SDK insists on one.
PLACEHOLDER_KEY = "not-needed"
PROBE_TIMEOUT_S = 10.0
# More parallel calls than this in one turn is a broken stream, not a plan (the answer loop runs 8 at most).
MAX_TOOL_CALLS = 128


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
            calls = message.get("tool_calls")
            if calls:
                out.append(
                    ChatCompletionAssistantMessageParam(
                        role="assistant",
                        # A turn that only called tools has no text: the API takes null, some servers no "".
                        content=message["content"] or None,
                        tool_calls=[
                            ChatCompletionMessageFunctionToolCallParam(
                                id=call["id"],
                                type="function",
                                function={
                                    "name": call["function"]["name"],
                                    "arguments": call["function"]["arguments"],
                                },
                            )
                            for call in calls
                        ],
                    )
                )
            else:
                out.append(ChatCompletionAssistantMessageParam(role="assistant", content=message["content"]))
        elif message["role"] == "tool":
            out.append(
                ChatCompletionToolMessageParam(
                    role="tool", tool_call_id=message.get("tool_call_id", ""), content=message["content"]
                )
            )
        else:
            out.append(ChatCompletionUserMessageParam(role="user", content=message["content"]))
    return out


def _tools(request: ChatRequest) -> list[ChatCompletionFunctionToolParam] | Omit:
    """The request's functions as the API takes them; none sends no ``tools`` (older servers refuse it)."""
    if not request.tools:
        return omit
    return [
        ChatCompletionFunctionToolParam(
            type="function",
            function={"name": t.name, "description": t.description, "parameters": t.parameters},
        )
        for t in request.tools
    ]


def _tool_choice(request: ChatRequest) -> Any:
    return request.tool_choice if request.tools else omit


def _body(request: ChatRequest, **fields: Any) -> dict[str, Any]:
    """The request's conversation and tools, as ``extra_body``: sent as they are.

    Given as ``create``'s own arguments, the SDK walks every message and tool against its typed schema before
    sending — about 6 ms of the event loop for 40 turns and 9 tools, on the first token's path, growing with the
    history. Our messages and tools are already in the API's shape (``_messages``, ``_tools``); ``Omit`` values
    are dropped by the SDK when it merges the body.
    """
    return {
        "messages": _messages(request),
        "tools": _tools(request),
        "tool_choice": _tool_choice(request),
        **fields,
    }


class _CallParts:
    """One streamed tool call being assembled: the id and name come once, the arguments in pieces."""

    __slots__ = ("arguments", "call_id", "name")

    def __init__(self) -> None:
        self.call_id = ""
        self.name = ""
        self.arguments: list[str] = []


def _string(value: object, what: str, data: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _malformed(f"{what} is not a string", data)
    return value


def _add_tool_calls(calls: dict[int, _CallParts], deltas: object, data: str) -> None:
    """Fold one chunk's ``delta.tool_calls`` into the calls being assembled, by their ``index``."""
    if not isinstance(deltas, list):
        raise _malformed("tool_calls is not a list", data)
    for position, delta in enumerate(deltas):
        if not isinstance(delta, dict):
            raise _malformed("a tool call is not an object", data)
        # Servers that send each call whole in one chunk may leave out its index: its place tells it then.
        index = delta.get("index", position)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MAX_TOOL_CALLS:
            raise _malformed("tool call index", data)
        parts = calls.setdefault(index, _CallParts())
        call_id = _string(delta.get("id"), "tool call id", data)
        if call_id and not parts.call_id:
            parts.call_id = call_id
        function = delta.get("function")
        if function is None:
            continue
        if not isinstance(function, dict):
            raise _malformed("tool call function is not an object", data)
        name = _string(function.get("name"), "tool call name", data)
        if name and not parts.name:
            parts.name = name
        arguments = _string(function.get("arguments"), "tool call arguments", data)
        if arguments:
            parts.arguments.append(arguments)


def _assembled(calls: dict[int, _CallParts]) -> list[ToolCall]:
    # A server that sends no id still needs one to pair the result with the call: its index gives one.
    return [
        ToolCall(
            call_id=parts.call_id or f"call_{index}", name=parts.name, arguments="".join(parts.arguments)
        )
        for index, parts in sorted(calls.items())
    ]


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


def _malformed(what: str, data: str) -> ModelError:
    return ModelError(code=ErrorCode.MODEL_ERROR, detail=f"malformed stream chunk ({what}): {loggable(data)}")


def _json(data: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            # orjson refuses an escaped lone surrogate, which some servers send for a broken character; the
            # standard parser takes it, and the pipeline replaces it.
            value = json.loads(data)
        except ValueError as exc:
            raise _malformed("not JSON", data) from exc
    if not isinstance(value, dict):
        raise _malformed("not an object", data)
    return value


def _count(usage: dict[str, Any], key: str, data: str) -> int | None:
    value = usage.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _malformed(f"usage.{key} is not a count", data)
    return value


def _refused(error: BaseException) -> bool:
    # The aiohttp transport reports a refused connection as a connect *timeout*; the cause tells them apart.
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False


def _detail(error: BaseException, secrets: tuple[str, ...]) -> str:
    if isinstance(error, openai.APIStatusError):
        text = error.message
    else:
        text = f"{type(error).__name__}: {error}"
        if error.__cause__ is not None:
            text += f" ({type(error.__cause__).__name__}: {error.__cause__})"
    return loggable(text, secrets=secrets)


def map_error(error: BaseException, *, secrets: tuple[str, ...] = ()) -> ModelError:
    """Translate SDK and transport errors into our stable codes; what the server said goes only in ``detail``."""
    detail = _detail(error, secrets)
    # Some servers (llama.cpp builds among them) refuse an over-long prompt with a 5xx: its body tells.
    if isinstance(error, openai.APIStatusError):
        overflow = context_overflow(error.message, error.body)
        if overflow is not None:
            overflow.detail = detail
            return overflow
    if _refused(error):
        return ModelError(code=ErrorCode.MODEL_UNAVAILABLE, detail=detail)
    if isinstance(error, openai.APITimeoutError):
        return ModelError(code=ErrorCode.MODEL_TIMEOUT, detail=detail)
    if isinstance(error, openai.RateLimitError):
        return ModelError(code=ErrorCode.RATE_LIMITED, retry_after_s=_retry_after(error), detail=detail)
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelError(code=ErrorCode.MODEL_AUTH, detail=detail)
    if isinstance(error, openai.BadRequestError | openai.NotFoundError | openai.UnprocessableEntityError):
        return ModelError(code=ErrorCode.MODEL_BAD_REQUEST, detail=detail)
    if isinstance(error, openai.APIConnectionError | httpx2.TransportError):
        return ModelError(code=ErrorCode.MODEL_UNAVAILABLE, detail=detail)
    if isinstance(error, openai.InternalServerError):
        return ModelError(code=ErrorCode.MODEL_UNAVAILABLE, detail=detail)
    return ModelError(code=ErrorCode.MODEL_ERROR, detail=detail)


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
        # Masked in every logged error detail, should a server echo it.
        self._secrets = (api_key,) if api_key else ()
        self._client = client or AsyncOpenAI(
            api_key=api_key or PLACEHOLDER_KEY,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
            # The SDK's aiohttp transport reads a streamed token for about half the CPU of httpx's own.
            http_client=http_client or DefaultAioHttpClient(),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        """Stream one completion; a stream that breaks off raises ``ModelError`` after the text already sent.

        A stream that ends without a finish reason or ``[DONE]`` was cut, not finished: ``model_unavailable``.
        """
        if not self.streaming:
            async for event in self._complete(request):
                yield event
            return
        # The SDK sends the request (auth, retries, status errors); the event stream is read raw: building the
        # SDK's chunk models costs ~6x more CPU per token than parsing the JSON, and a token is the unit of load.
        try:
            async with self._client.chat.completions.with_streaming_response.create(
                model=self.model,
                messages=[],  # the real ones are in the body (see _body)
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=request.max_output_tokens,
                temperature=self.temperature,
                extra_body=_body(request),
            ) as response:
                calls: dict[int, _CallParts] = {}
                finish_reason: str | None = None
                ended = False
                prompt_tokens: int | None = None
                completion_tokens: int | None = None
                async for data in _sse_data(response.iter_lines()):
                    if data == "[DONE]":
                        ended = True
                        break
                    chunk = _json(data)
                    if chunk.get("error"):
                        overflow = context_overflow("", chunk)
                        if overflow is not None:
                            overflow.detail = loggable(data, secrets=self._secrets)
                            raise overflow
                        raise ModelError(
                            code=ErrorCode.MODEL_ERROR,
                            detail=f"error event in the stream: {loggable(data, secrets=self._secrets)}",
                        )
                    choices = chunk.get("choices")
                    usage = chunk.get("usage")
                    if usage is not None:
                        if not isinstance(usage, dict):
                            raise _malformed("usage is not an object", data)
                        prompt_tokens = _count(usage, "prompt_tokens", data)
                        completion_tokens = _count(usage, "completion_tokens", data)
                    elif choices is None:
                        raise _malformed("no choices", data)
                    if choices is None:
                        continue  # a usage-only chunk
                    if not isinstance(choices, list):
                        raise _malformed("choices is not a list", data)
                    for choice in choices:
                        if not isinstance(choice, dict):
                            raise _malformed("a choice is not an object", data)
                        delta = choice.get("delta")
                        if delta is not None:
                            if not isinstance(delta, dict):
                                raise _malformed("delta is not an object", data)
                            content = delta.get("content")
                            if content:
                                if not isinstance(content, str):
                                    raise _malformed("content is not a string", data)
                                yield TextDelta(content)
                            tool_calls = delta.get("tool_calls")
                            if tool_calls is not None:
                                _add_tool_calls(calls, tool_calls, data)
                        reason = choice.get("finish_reason")
                        if reason:
                            if not isinstance(reason, str):
                                raise _malformed("finish_reason is not a string", data)
                            finish_reason = reason
                if not ended and finish_reason is None:
                    raise ModelError(
                        code=ErrorCode.MODEL_UNAVAILABLE,
                        detail="the stream ended without a finish reason or [DONE]: the answer was cut",
                    )
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            raise map_error(exc, secrets=self._secrets) from exc
        # A call's arguments are whole only once the stream ends.
        for call in _assembled(calls):
            yield call
        yield Finished(
            finish_reason=finish_reason or "stop",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )

    async def _complete(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        # For servers or proxies that cannot stream: one request, the whole answer as a single delta.
        try:
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=[],  # the real ones are in the body (see _body)
                max_tokens=request.max_output_tokens,
                temperature=self.temperature,
                extra_body=_body(request),
            )
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            raise map_error(exc, secrets=self._secrets) from exc
        # The SDK builds its models without validating them: a reply of the wrong shape fails here, not later.
        try:
            choice = completion.choices[0] if completion.choices else None
            content = choice.message.content if choice is not None else None
            reason = choice.finish_reason if choice is not None else None
            raw_calls = (choice.message.tool_calls if choice is not None else None) or []
            calls = [
                ToolCall(
                    call_id=call.id or f"call_{index}",
                    name=call.function.name or "",  # type: ignore[union-attr]
                    arguments=call.function.arguments or "",  # type: ignore[union-attr]
                )
                for index, call in enumerate(raw_calls)
            ]
            usage = completion.usage
            prompt_tokens = usage.prompt_tokens if usage else None
            completion_tokens = usage.completion_tokens if usage else None
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            raise ModelError(code=ErrorCode.MODEL_ERROR, detail=f"malformed completion: {exc}") from exc
        if not isinstance(content, str | None) or not isinstance(reason, str | None):
            raise ModelError(
                code=ErrorCode.MODEL_ERROR, detail="malformed completion: content or finish_reason"
            )
        if any(not isinstance(c.call_id, str) or not isinstance(c.name, str) for c in calls) or any(
            not isinstance(c.arguments, str) for c in calls
        ):
            raise ModelError(code=ErrorCode.MODEL_ERROR, detail="malformed completion: tool_calls")
        if content:
            yield TextDelta(content)
        for call in calls:
            yield call
        yield Finished(
            finish_reason=reason or "stop",
            prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
            completion_tokens=completion_tokens if isinstance(completion_tokens, int) else None,
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
