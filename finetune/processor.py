"""Per-example work (parse, clean, redact, prompt, check, count, fingerprint); runs in worker processes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from finetune.cleaning import CleaningStats, clean_messages, map_contents
from finetune.dedup import MinHasher, exact_key, normalised_text
from finetune.fastjson import has_lone_surrogate, loads
from finetune.pii import Redaction, Redactor, default_detectors
from finetune.placeholders import PlaceholderFiller, PlaceholderMode, count_placeholders, slots_in
from finetune.records import Origin, Reason
from finetune.settings import DedupMode, OverLimit, PrepareSettings, SystemPromptMode
from finetune.sources import Kind, RawRecord, TranscriptError, transcript_to_example
from finetune.tokens import Tokenizer, token_limit
from finetune.validation import Notice, check_example, warnings_for

_EXCERPT_CHARS = 500


@dataclass(slots=True)
class Outcome:
    """What became of one record; ``reason`` is None for a keeper, and ``line`` is the JSON written out."""

    origin: Origin
    reason: Reason | None = None
    detail: str = ""
    issues: list[dict[str, Any]] = field(default_factory=list)
    line: str | None = None
    excerpt: str | None = None
    exact: int = 0
    signature: npt.NDArray[np.uint32] | None = None
    bands: npt.NDArray[np.uint64] | None = None
    tokens: int = 0
    assistant_tokens: int = 0
    messages: int = 0
    notices: tuple[str, ...] = ()
    truncated: bool = False
    pii: dict[str, int] = field(default_factory=dict)
    cleaning: tuple[int, int, int] = (0, 0, 0)
    filled: int = 0
    unfilled: dict[str, int] = field(default_factory=dict)
    slots: dict[str, int] = field(default_factory=dict)


def _is_system(message: object) -> bool:
    return isinstance(message, dict) and message.get("role") in ("system", "developer")


class Processor:
    """Turns raw records into outcomes; one per worker process, built from the settings."""

    def __init__(self, settings: PrepareSettings) -> None:
        self.settings = settings
        self.tokenizer = Tokenizer.for_model(settings.model, settings.encoding)
        self.limit = settings.max_tokens or token_limit(settings.model)
        self.redactor = Redactor(default_detectors(settings.id_patterns)) if settings.redact_pii else None
        self.filler = (
            PlaceholderFiller({k: list(v) for k, v in settings.placeholder_values})
            if settings.placeholders == PlaceholderMode.FILL
            else None
        )
        self._system_message = {"role": "system", "content": settings.system_prompt or ""}
        # The shop prompt is most of every example's bytes; encode it to JSON once.
        self._system_json = json.dumps(self._system_message, ensure_ascii=False)
        self.hasher = (
            MinHasher(settings.num_perm, settings.near_threshold, settings.seed)
            if settings.dedup == DedupMode.NEAR
            else None
        )
        # Examples of the batch being processed that still need their MinHash (None outside a batch).
        self._pending: list[tuple[Outcome, str]] | None = None

    def process_batch(self, records: Sequence[RawRecord]) -> list[Outcome]:
        """Outcomes in input order, exactly one per record."""
        self._pending = []
        outcomes = [self.process(record) for record in records]
        if self.hasher is not None and self._pending:
            # MinHash for the whole batch at once: one pass of numpy per batch instead of per example.
            signatures = self.hasher.signatures([text for _, text in self._pending])
            bands = self.hasher.band_keys_of(signatures)
            for (outcome, _), signature, keys in zip(self._pending, signatures, bands, strict=True):
                outcome.signature = signature
                outcome.bands = keys
        self._pending = None
        return outcomes

    def _excerpt(self, text: str) -> str:
        text = text[:_EXCERPT_CHARS]
        # Rejected records are kept for inspection; they must not leak what the kept ones had redacted.
        return self.redactor.redact(text, Redaction()) if self.redactor is not None else text

    def _parse(self, record: RawRecord) -> Any:
        if record.kind in (Kind.CHAT_JSON, Kind.TRANSCRIPT_JSON):
            value = loads(record.payload)
            # JSON may escape half of a UTF-16 pair ("\ud800"); such text cannot be written back as UTF-8.
            if has_lone_surrogate(record.payload, value):
                raise ValueError(
                    "the text holds an unpaired UTF-16 surrogate escape, which is not valid Unicode"
                )
            if record.kind == Kind.CHAT_JSON:
                return value
            return transcript_to_example(value, self.settings.transcript)
        if record.kind == Kind.TRANSCRIPT:
            return transcript_to_example(record.payload, self.settings.transcript)
        return record.payload

    def process(self, record: RawRecord) -> Outcome:
        """Everything that can be decided about one record without seeing the others."""
        out = Outcome(record.origin)
        if record.kind == Kind.REJECTED:
            out.reason = record.reason or Reason.UNREADABLE_RECORD
            out.detail = str(record.payload)
            return out
        try:
            example = self._parse(record)
        except ValueError as exc:
            is_transcript = isinstance(exc, TranscriptError)
            out.reason = Reason.UNREADABLE_RECORD if is_transcript else Reason.INVALID_JSON
            out.detail = str(exc) if is_transcript else f"invalid JSON: {exc}"
            if isinstance(record.payload, str):
                out.excerpt = self._excerpt(record.payload)
            return out
        if isinstance(example, dict) and isinstance(example.get("messages"), list):
            example = dict(example)
            self._transform(example, out)
        issues = check_example(example)
        if issues:
            out.reason = Reason.FAILED_CHECKS
            out.issues = [issue.as_json() for issue in issues]
            out.detail = "; ".join(f"{i.check}: {i.detail}" for i in issues)
            out.line = json.dumps(example, ensure_ascii=False, default=str)
            return out
        messages: list[dict[str, Any]] = example["messages"]
        counts = self.tokenizer.example_tokens(messages, example.get("tools"))
        if counts.total > self.limit:
            if self.settings.over_limit == OverLimit.TRUNCATE:
                kept = self._truncate(
                    messages, counts.per_message, self.tokenizer.tools_tokens(example.get("tools"))
                )
                if kept is not None:
                    example["messages"] = messages = kept
                    counts = self.tokenizer.example_tokens(messages, example.get("tools"))
                    out.truncated = True
            if counts.total > self.limit:
                out.reason = Reason.OVER_TOKEN_LIMIT
                out.detail = f"{counts.total} tokens > limit {self.limit} for {self.settings.model}"
                out.issues = [{"check": "over_token_limit", "detail": out.detail}]
                out.line = json.dumps(example, ensure_ascii=False)
                return out
        out.tokens, out.assistant_tokens, out.messages = counts.total, counts.assistant, len(messages)
        notices = warnings_for(messages)
        out.notices = tuple(str(n) for n in notices)
        if Notice.UNFILLED_PLACEHOLDERS in notices:
            out.slots = dict(slots_in(messages))
        text = normalised_text(messages)
        out.exact = exact_key(text)
        if self.hasher is not None:
            if self._pending is not None:
                self._pending.append((out, text))
            else:
                out.signature = self.hasher.signature(text)
                out.bands = self.hasher.band_keys(out.signature)
        out.line = self._dumps(example)
        return out

    def _dumps(self, example: dict[str, Any]) -> str:
        """``json.dumps(example)`` with messages first, splicing in the pre-encoded shop prompt."""
        messages = example["messages"]
        if not messages or messages[0] is not self._system_message:
            return json.dumps(example, ensure_ascii=False)
        rest = json.dumps(messages[1:], ensure_ascii=False)
        head = f'{{"messages": [{self._system_json}' + (f", {rest[1:]}" if len(messages) > 1 else "]")
        extras = {k: v for k, v in example.items() if k != "messages"}
        return head + (f", {json.dumps(extras, ensure_ascii=False)[1:]}" if extras else "}")

    def _transform(self, example: dict[str, Any], out: Outcome) -> None:
        settings = self.settings
        messages: list[Any] = example["messages"]
        if settings.clean:
            stats = CleaningStats()
            messages = clean_messages(messages, stats)
            out.cleaning = (stats.special_tokens, stats.empty_turns_dropped, stats.turns_merged)
        else:
            messages = [dict(m) if isinstance(m, dict) else m for m in messages]
        if settings.system_prompt_mode != SystemPromptMode.SOURCE:
            messages = [m for m in messages if not _is_system(m)]
            if settings.system_prompt_mode == SystemPromptMode.SHOP and settings.system_prompt:
                messages.insert(0, self._system_message)
        source_messages = [m for m in messages if not _is_system(m)] if settings.system_prompt else messages
        if self.redactor is not None:
            state = self.redactor.redact_messages(source_messages)
            out.pii = dict(state.per_kind)
        # After redaction: filled values are synthetic and must not be mistaken for customers' data.
        if self.filler is not None:
            conversation = str(exact_key(normalised_text(source_messages)))
            before = sum(
                count_placeholders(m.get("content") or "")
                for m in source_messages
                if isinstance(m, dict) and isinstance(m.get("content"), str)
            )
            filler = self.filler
            map_contents(source_messages, lambda t: filler.fill(t, conversation, out.unfilled))
            after = sum(
                count_placeholders(m.get("content") or "")
                for m in source_messages
                if isinstance(m, dict) and isinstance(m.get("content"), str)
            )
            out.filled = before - after
        example["messages"] = messages

    def _truncate(
        self, messages: list[dict[str, Any]], per_message: Sequence[int], fixed: int
    ) -> list[dict[str, Any]] | None:
        """The longest prefix within the limit that ends on a trainable assistant answer, or None."""
        budget = self.limit - 3 - fixed
        used = 0
        best: int | None = None
        for i, (message, cost) in enumerate(zip(messages, per_message, strict=True)):
            used += cost
            if used > budget:
                break
            if (
                message.get("role") == "assistant"
                and not message.get("tool_calls")
                and message.get("weight", 1) != 0
            ):
                best = i + 1
        return messages[:best] if best is not None else None
