"""``finetune validate``: the checks alone, streamed over a JSONL file prepared elsewhere.

The file is cut into chunks of whole lines; each chunk is checked on its own (in worker processes when there
are several) and the chunk reports are merged in file order, so the result does not depend on the number of
workers and memory stays flat whatever the file's size.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path

from finetune.errors import ErrorCode, FinetuneError
from finetune.fastjson import has_lone_surrogate, loads
from finetune.stats import CostEstimate, Distribution, estimate_cost
from finetune.tokens import Tokenizer
from finetune.validation import Check, check_example, is_plain, warnings_for

# Large enough that per-chunk overhead (a task, a pickled report) is noise, small enough that two workers
# share even the 17 MB Bitext file evenly and the in-flight chunks take a few MB.
CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Problem:
    """One failed check at one line."""

    line: int
    check: str
    message: str


@dataclass(slots=True)
class FileReport:
    """The outcome of validating one file; ``problems`` keeps the first ``max_listed`` in full."""

    examples: int = 0
    failed_examples: int = 0
    checks: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    tokens: Distribution = field(default_factory=Distribution)
    assistant_tokens: Distribution = field(default_factory=Distribution)
    estimate: CostEstimate | None = None

    @property
    def ok(self) -> bool:
        """True when no example failed any check."""
        return self.failed_examples == 0


@dataclass(slots=True)
class ChunkReport:
    """What one chunk of lines contributes; ``problems`` carry line numbers relative to the chunk (1-based)."""

    lines: int = 0
    nbytes: int = 0
    examples: int = 0
    failed_examples: int = 0
    checks: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    tokens: Counter[int] = field(default_factory=Counter)
    assistant_tokens: Counter[int] = field(default_factory=Counter)


def _json_error(raw: bytes) -> str:
    try:
        json.loads(raw)
    except ValueError as exc:
        return str(exc)
    return "unparseable"


class ChunkChecker:
    """Checks and counts the examples of one chunk of a JSONL file."""

    def __init__(self, tokenizer: Tokenizer, limit: int, max_listed: int) -> None:
        self.tokenizer = tokenizer
        self.limit = limit
        self.max_listed = max_listed

    def check(self, data: bytes) -> ChunkReport:
        """The report of ``data``: whole lines, the last one with or without its newline."""
        lines = data.split(b"\n")
        ends_with_newline = lines[-1] == b""
        if ends_with_newline:
            lines.pop()
        report = ChunkReport(lines=len(lines), nbytes=len(data))
        checks = report.checks
        problems = report.problems

        def fail(line: int, check: str, message: str) -> None:
            checks[check] += 1
            if len(problems) < self.max_listed:
                problems.append(Problem(line, check, message))

        tokenizer = self.tokenizer
        limit = self.limit
        last = len(lines)
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            report.examples += 1
            try:
                example = loads(raw)
            except ValueError:
                report.failed_examples += 1
                # The message must be the one ``json`` gives for the line as the file has it.
                original = raw + b"\n" if number < last or ends_with_newline else raw
                fail(number, "invalid_json", f"not valid JSON: {_json_error(original)}")
                continue
            if b"\\u" in raw and has_lone_surrogate(raw, example):
                report.failed_examples += 1
                fail(
                    number,
                    "invalid_unicode",
                    "text holds an unpaired UTF-16 surrogate escape (not valid Unicode)",
                )
                continue
            if is_plain(example):
                total, assistant = tokenizer.plain_example_tokens(example["messages"])
            else:
                issues = check_example(example)
                if issues:
                    report.failed_examples += 1
                    seen: set[Check] = set()
                    for issue in issues:
                        where = f"message {issue.message_index}: " if issue.message_index is not None else ""
                        if issue.check not in seen:
                            seen.add(issue.check)
                            fail(number, str(issue.check), where + issue.detail)
                    continue
                counts = tokenizer.example_tokens(example["messages"], example.get("tools"))
                total, assistant = counts.total, counts.assistant
            if total > limit:
                report.failed_examples += 1
                fail(number, str(Check.OVER_TOKEN_LIMIT), f"{total} tokens > limit {limit}")
                continue
            for warning in warnings_for(example["messages"]):
                report.warnings[str(warning)] += 1
            report.tokens[total] += 1
            report.assistant_tokens[assistant] += 1
        return report


def chunk_ranges(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, int]]:
    """``(start, end)`` byte ranges of about ``chunk_bytes`` that cover the file and end after a newline."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        start = 0
        while start < size:
            fh.seek(min(size, start + chunk_bytes))
            fh.readline()
            end = min(size, fh.tell())
            yield start, end
            start = end


def _read(path: Path, start: int, end: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(start)
        return fh.read(end - start)


_checker: ChunkChecker | None = None


def _init_worker(checker: ChunkChecker) -> None:
    global _checker
    _checker = checker


def _check_range(path: Path, start: int, end: int) -> ChunkReport:
    assert _checker is not None
    # Workers read their own bytes: shipping the file through pipes would cost the parent a core.
    return _checker.check(_read(path, start, end))


def _chunk_reports(
    path: Path, checker: ChunkChecker, workers: int, chunk_bytes: int
) -> Iterator[ChunkReport]:
    ranges = chunk_ranges(path, chunk_bytes)
    if workers <= 1:
        with path.open("rb") as fh:
            for start, end in ranges:
                yield checker.check(fh.read(end - start))
        return
    # fork shares the loaded encoding with the workers; elsewhere they rebuild it from the pickle.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    with context.Pool(workers, _init_worker, (checker,)) as pool:
        pending: deque[AsyncResult[ChunkReport]] = deque()
        for start, end in ranges:
            pending.append(pool.apply_async(_check_range, (path, start, end)))
            # A bounded window keeps memory flat and the results in file order.
            if len(pending) >= 2 * workers + 2:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def validate_file(
    path: Path,
    tokenizer: Tokenizer,
    limit: int,
    *,
    model: str,
    max_listed: int = 200,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    chunk_bytes: int = CHUNK_BYTES,
) -> FileReport:
    """Run every check on every line; over-limit examples fail ``over_token_limit``.

    ``workers`` > 1 spreads the chunks over that many processes; the report is the same either way.
    """
    if not path.is_file():
        raise FinetuneError(ErrorCode.INPUT_NOT_FOUND, f"file {path} does not exist")
    report = FileReport()
    checker = ChunkChecker(tokenizer, limit, max_listed)
    line_offset = 0
    for chunk in _chunk_reports(path, checker, workers, chunk_bytes):
        if progress is not None:
            progress(chunk.nbytes)
        report.examples += chunk.examples
        report.failed_examples += chunk.failed_examples
        report.checks.update(chunk.checks)
        report.warnings.update(chunk.warnings)
        room = max_listed - len(report.problems)
        report.problems.extend(
            Problem(p.line + line_offset, p.check, p.message) for p in chunk.problems[:room]
        )
        report.tokens.add_counts(chunk.tokens)
        report.assistant_tokens.add_counts(chunk.assistant_tokens)
        line_offset += chunk.lines
    report.estimate = estimate_cost(report.tokens, limit, model, None, None)
    return report
