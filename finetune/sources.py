"""Readers for every input format; each yields raw records with their origin and never loses one silently."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, cast

from finetune.errors import ErrorCode, FinetuneError
from finetune.records import Origin, Reason


class Format(StrEnum):
    """Input formats; ``auto`` picks one from the extension and the first record."""

    AUTO = "auto"
    CHAT = "chat"
    CSV = "csv"
    TRANSCRIPT = "transcript"


class Kind(StrEnum):
    """What a raw record's payload is: a JSON text still to parse, a parsed object, or a rejection."""

    CHAT_JSON = "chat_json"
    TRANSCRIPT_JSON = "transcript_json"
    CHAT = "chat"
    TRANSCRIPT = "transcript"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One input record before processing; for ``REJECTED`` the payload is the reason's detail."""

    origin: Origin
    kind: Kind
    payload: Any
    reason: Reason | None = None


DEFAULT_SPEAKERS: dict[str, str] = {
    **dict.fromkeys(("customer", "client", "user", "human", "buyer", "shopper", "visitor", "caller"), "user"),
    **dict.fromkeys(
        (
            "agent",
            "assistant",
            "bot",
            "support",
            "rep",
            "representative",
            "gpt",
            "ai",
            "operator",
            "staff",
            "shop",
        ),
        "assistant",
    ),
    "system": "system",
    "tool": "tool",
}


@dataclass(frozen=True, slots=True)
class TranscriptSpec:
    """Where turns, speakers and texts live in a transcript record, and which role each speaker gets."""

    turns_keys: tuple[str, ...] = (
        "turns",
        "transcript",
        "dialogue",
        "dialog",
        "conversation",
        "conversations",
        "utterances",
    )
    speaker_keys: tuple[str, ...] = ("speaker", "from", "role", "author", "sender", "party")
    text_keys: tuple[str, ...] = ("text", "value", "utterance", "content", "message", "body")
    speakers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SPEAKERS))

    def with_speakers(self, extra: Mapping[str, str]) -> TranscriptSpec:
        """A copy whose speaker map also has ``extra`` (names compared case-insensitively)."""
        merged = {**self.speakers, **{k.casefold(): v for k, v in extra.items()}}
        return TranscriptSpec(self.turns_keys, self.speaker_keys, self.text_keys, merged)


class TranscriptError(ValueError):
    """A transcript record that cannot be turned into messages; the message says why."""


def _first_key(obj: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    return next((k for k in keys if k in obj), None)


def transcript_to_example(record: object, spec: TranscriptSpec) -> dict[str, Any]:
    """Turn a speaker/text transcript into ``{"messages": [...]}``; unknown speakers are an error."""
    turns: object = record
    if isinstance(record, dict):
        key = _first_key(record, spec.turns_keys)
        if key is None:
            raise TranscriptError(f"no turns list (looked for {', '.join(spec.turns_keys)})")
        turns = record[key]
    if not isinstance(turns, list):
        raise TranscriptError("turns is not a list")
    messages: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise TranscriptError(f"turn {i} is not an object")
        speaker_key = _first_key(turn, spec.speaker_keys)
        text_key = _first_key(turn, spec.text_keys)
        if speaker_key is None or text_key is None:
            raise TranscriptError(f"turn {i} has no speaker or text")
        speaker = str(turn[speaker_key]).strip()
        role = spec.speakers.get(speaker.casefold())
        if role is None:
            raise TranscriptError(f"turn {i}: unknown speaker {speaker!r} (map it with --speaker NAME=ROLE)")
        text = turn[text_key]
        messages.append({"role": role, "content": text if isinstance(text, str) else json.dumps(text)})
    return {"messages": messages}


@dataclass(frozen=True, slots=True)
class CsvSpec:
    """Which CSV columns hold the user's message, the answer and (optionally) a system prompt."""

    instruction: tuple[str, ...] = ("instruction", "prompt", "question", "input", "query", "utterance")
    response: tuple[str, ...] = ("response", "completion", "answer", "output", "reply")
    system: str | None = None
    delimiter: str | None = None


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _stem_suffix(path: Path) -> str:
    return (path.with_suffix("") if path.suffix == ".gz" else path).suffix.lower()


def _looks_like_chat(obj: object) -> bool:
    return isinstance(obj, dict) and "messages" in obj


def detect_format(path: Path, transcript: TranscriptSpec | None = None) -> Format:
    """Guess a file's format from its extension and, for JSON, its first records.

    JSON is a transcript only when a record has a turns list and none has ``messages``; anything else is
    treated as chat so that the chat checks explain what is wrong with it.
    """
    suffix = _stem_suffix(path)
    if suffix in (".csv", ".tsv"):
        return Format.CSV
    if suffix not in (".jsonl", ".ndjson", ".json"):
        raise FinetuneError(ErrorCode.UNKNOWN_FORMAT, f"{path}: unknown extension; pass --format")
    turns_keys = (transcript or TranscriptSpec()).turns_keys
    with _open_binary(path) as fh:
        head = fh.read(1 << 16).decode("utf-8", errors="replace")
    candidates: list[object] = []
    stripped = head.lstrip()
    if suffix == ".json":
        try:
            document = json.loads(stripped)
            candidates = document[:20] if isinstance(document, list) else [document]
        except ValueError:
            # Larger than the sample: decide on the keys that appear in it.
            if '"messages"' in stripped:
                return Format.CHAT
            return Format.TRANSCRIPT if any(f'"{k}"' in stripped for k in turns_keys) else Format.CHAT
    else:
        for line in stripped.splitlines()[:20]:
            try:
                candidates.append(json.loads(line))
            except ValueError:
                continue
    dicts = [c for c in candidates if isinstance(c, dict)]
    if any("messages" in c for c in dicts):
        return Format.CHAT
    return Format.TRANSCRIPT if any(k in c for c in dicts for k in turns_keys) else Format.CHAT


ProgressFn = Callable[[int], None]


def _lines(fh: IO[bytes], progress: ProgressFn | None) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(fh, start=1):
        if progress is not None:
            progress(len(raw))
        yield number, raw


def read_jsonl(path: Path, kind: Kind, progress: ProgressFn | None = None) -> Iterator[RawRecord]:
    """One record per non-blank line; the JSON is parsed later (in a worker), so lines stay text."""
    source = str(path)
    record = 0
    with _open_binary(path) as fh:
        for number, raw in _lines(fh, progress):
            if not raw.strip():
                continue
            record += 1
            origin = Origin(source, record, number)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RawRecord(origin, Kind.REJECTED, f"not UTF-8: {exc}", Reason.INVALID_JSON)
                continue
            yield RawRecord(origin, kind, text)


def read_json_document(path: Path, kind: Kind, progress: ProgressFn | None = None) -> Iterator[RawRecord]:
    """A whole-file JSON array (a record per element) or one object; not streamed, so big data wants JSONL."""
    source = str(path)
    with _open_binary(path) as fh:
        data = fh.read()
    if progress is not None:
        progress(len(data))
    try:
        document = json.loads(data)
    except ValueError as exc:
        yield RawRecord(
            Origin(source, 1, 1), Kind.REJECTED, f"invalid JSON document: {exc}", Reason.INVALID_JSON
        )
        return
    items = document if isinstance(document, list) else [document]
    parsed = Kind.CHAT if kind == Kind.CHAT_JSON else Kind.TRANSCRIPT
    for index, item in enumerate(items, start=1):
        yield RawRecord(Origin(source, index), parsed, item)


def _pick(header: Sequence[str], wanted: Sequence[str], what: str, path: Path) -> str:
    lowered = {h.strip().casefold(): h for h in header}
    for name in wanted:
        if name.casefold() in lowered:
            return lowered[name.casefold()]
    raise FinetuneError(
        ErrorCode.UNKNOWN_FORMAT,
        f"{path}: no {what} column (looked for {', '.join(wanted)}; columns are {', '.join(header)})",
    )


def read_csv(path: Path, spec: CsvSpec, progress: ProgressFn | None = None) -> Iterator[RawRecord]:
    """One example per row: instruction → user, response → assistant, optional system column."""
    source = str(path)
    delimiter = spec.delimiter or ("\t" if _stem_suffix(path) == ".tsv" else ",")
    with _open_binary(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")

        def counted() -> Iterator[str]:
            for line in text:
                if progress is not None:
                    progress(len(line.encode("utf-8")))
                yield line

        reader = csv.reader(counted(), delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            return
        user_col = header.index(_pick(header, spec.instruction, "instruction", path))
        answer_col = header.index(_pick(header, spec.response, "response", path))
        system_col = header.index(_pick(header, (spec.system,), "system", path)) if spec.system else None
        record = 0
        start_line = reader.line_num + 1
        for row in reader:
            line = start_line
            start_line = reader.line_num + 1
            if not row:
                continue
            record += 1
            origin = Origin(source, record, line)
            if len(row) != len(header):
                yield RawRecord(
                    origin,
                    Kind.REJECTED,
                    f"row has {len(row)} fields, header has {len(header)}",
                    Reason.UNREADABLE_RECORD,
                )
                continue
            user, answer = row[user_col], row[answer_col]
            if not user.strip() or not answer.strip():
                yield RawRecord(
                    origin, Kind.REJECTED, "empty instruction or response", Reason.UNREADABLE_RECORD
                )
                continue
            messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
            if system_col is not None and row[system_col].strip():
                messages.insert(0, {"role": "system", "content": row[system_col]})
            yield RawRecord(origin, Kind.CHAT, {"messages": messages})


def read_file(
    path: Path, fmt: Format, csv_spec: CsvSpec, progress: ProgressFn | None = None
) -> tuple[Format, Iterator[RawRecord]]:
    """The records of one input file, with the format actually used."""
    if not path.is_file():
        raise FinetuneError(ErrorCode.INPUT_NOT_FOUND, f"input file {path} does not exist")
    resolved = detect_format(path) if fmt == Format.AUTO else fmt
    if resolved == Format.CSV:
        return resolved, read_csv(path, csv_spec, progress)
    kind = Kind.CHAT_JSON if resolved == Format.CHAT else Kind.TRANSCRIPT_JSON
    if _stem_suffix(path) == ".json":
        return resolved, read_json_document(path, kind, progress)
    return resolved, read_jsonl(path, kind, progress)
