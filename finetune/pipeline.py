"""``prepare``: stream every input through the processor, dedup, split and write; memory stays flat."""

from __future__ import annotations

import json
import multiprocessing
import sys
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from finetune.dedup import DedupIndex, MinHasher
from finetune.errors import ErrorCode, FinetuneError
from finetune.processor import Outcome, Processor
from finetune.records import Origin, Reason
from finetune.settings import DedupMode, DuplicatePolicy, PrepareSettings
from finetune.sources import RawRecord, read_file
from finetune.split import Split, split_for
from finetune.tally import Tally

TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
REJECTED_FILE = "rejected.jsonl"

_worker: Processor | None = None


def _init_worker(settings: PrepareSettings) -> None:
    global _worker
    _worker = Processor(settings)


def _work(batch: list[RawRecord]) -> list[Outcome]:
    assert _worker is not None
    return _worker.process_batch(batch)


def _batches(records: Iterable[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def process_batches(settings: PrepareSettings, batches: Iterable[list[RawRecord]]) -> Iterator[list[Outcome]]:
    """Outcome batches in input order; with workers at most ``2 × workers + 2`` batches are in flight."""
    if settings.workers <= 1:
        processor = Processor(settings)
        for batch in batches:
            yield processor.process_batch(batch)
        return
    # fork shares the loaded encodings with the workers; elsewhere they build their own.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    with context.Pool(settings.workers, _init_worker, (settings,)) as pool:
        pending: deque[AsyncResult[list[Outcome]]] = deque()
        for batch in batches:
            pending.append(pool.apply_async(_work, (batch,)))
            if len(pending) >= 2 * settings.workers + 2:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


@dataclass(slots=True)
class _Kept:
    """Where each kept example went, 7 bytes apiece: enough to name the original of a duplicate."""

    sources: list[str]
    source_ids: array[int]
    records: array[int]
    lines: array[int]
    splits: bytearray

    @classmethod
    def empty(cls) -> _Kept:
        return cls([], array("H"), array("i"), array("i"), bytearray())

    def add(self, origin: Origin, split: Split) -> None:
        if origin.source not in self.sources:
            self.sources.append(origin.source)
        self.source_ids.append(self.sources.index(origin.source))
        self.records.append(origin.record)
        self.lines.append(origin.line if origin.line is not None else -1)
        self.splits.append(0 if split == Split.TRAIN else 1)

    def origin(self, index: int) -> Origin:
        line = self.lines[index]
        return Origin(self.sources[self.source_ids[index]], self.records[index], line if line >= 0 else None)

    def split(self, index: int) -> Split:
        return Split.TRAIN if self.splits[index] == 0 else Split.VALIDATION


def rejected_line(outcome: Outcome, reason: str, detail: str, extra: dict[str, Any] | None = None) -> str:
    """One rejected.jsonl line: origin, reason, failed checks and the (redacted) example or excerpt."""
    meta: dict[str, Any] = {**outcome.origin.as_json(), "reason": reason, "detail": detail}
    if outcome.issues:
        meta["checks"] = outcome.issues
    if extra:
        meta.update(extra)
    if outcome.excerpt is not None:
        meta["excerpt"] = outcome.excerpt
    head = json.dumps(meta, ensure_ascii=False)
    if outcome.line is None:
        return head + "\n"
    return f'{head[:-1]}, "example": {outcome.line}}}\n'


class _Writer:
    """Routes outcomes to the three output files and keeps the tally."""

    def __init__(self, settings: PrepareSettings, files: dict[str, IO[str]], tally: Tally) -> None:
        self.settings = settings
        self.files = files
        self.tally = tally
        self.kept = _Kept.empty()
        self.index: DedupIndex | None = None
        if settings.dedup != DedupMode.OFF:
            bands = MinHasher(settings.num_perm, settings.near_threshold, settings.seed).bands
            self.index = DedupIndex(
                settings.near_threshold, settings.num_perm, bands, settings.dedup == DedupMode.NEAR
            )

    def reject(self, outcome: Outcome, reason: str, detail: str, extra: dict[str, Any] | None = None) -> None:
        self.files[REJECTED_FILE].write(rejected_line(outcome, reason, detail, extra))
        self.tally.record_rejected(outcome, reason)

    def keep(self, outcome: Outcome, split: Split) -> None:
        assert outcome.line is not None
        self.files[TRAIN_FILE if split == Split.TRAIN else VALIDATION_FILE].write(outcome.line + "\n")
        self.tally.record_kept(outcome, split)

    def write_batch(self, outcomes: list[Outcome]) -> None:
        candidates: list[Outcome] = []
        for outcome in outcomes:
            self.tally.record_common(outcome)
            if outcome.reason is not None:
                self.reject(outcome, str(outcome.reason), outcome.detail)
            else:
                candidates.append(outcome)
        if not candidates:
            return
        if self.index is None:
            for outcome in candidates:
                self.keep(
                    outcome, split_for(outcome.exact, self.settings.seed, self.settings.validation_ratio)
                )
            return
        verdicts = self.index.check_batch(
            [o.exact for o in candidates], [o.signature for o in candidates], [o.bands for o in candidates]
        )
        for outcome, verdict in zip(candidates, verdicts, strict=True):
            if verdict.kind is None:
                split = split_for(outcome.exact, self.settings.seed, self.settings.validation_ratio)
                self.kept.add(outcome.origin, split)
                self.keep(outcome, split)
                continue
            original = self.kept.origin(verdict.of)
            reason = Reason.EXACT_DUPLICATE if verdict.kind == "exact" else Reason.NEAR_DUPLICATE
            if self.settings.duplicates == DuplicatePolicy.SAME_SPLIT:
                self.tally.kept_duplicates[str(reason)] += 1
                self.keep(outcome, self.kept.split(verdict.of))
                continue
            detail = f"{verdict.kind} duplicate of {original.label()}"
            if verdict.kind == "near":
                detail += f" (estimated similarity {verdict.similarity:.2f})"
            self.reject(outcome, str(reason), detail, {"duplicate_of": original.as_json()})


ProgressFn = Callable[[int], None]


def _make_progress(settings: PrepareSettings, total_bytes: int) -> Progress:
    console = Console(stderr=True)
    return Progress(
        TextColumn("[bold]prepare[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bytes · {task.fields[records]} records"),
        TimeElapsedColumn(),
        console=console,
        disable=not settings.progress or not console.is_terminal,
        transient=False,
    )


def run_prepare(
    settings: PrepareSettings, extra_records: Iterable[tuple[str, Iterable[RawRecord]]] = ()
) -> tuple[Tally, dict[str, Path]]:
    """Run the pipeline over ``settings.inputs`` (and ``extra_records``, e.g. the conversation store)."""
    out_dir = settings.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    missing = [p for p in settings.inputs if not p.is_file()]
    if missing:
        raise FinetuneError(ErrorCode.INPUT_NOT_FOUND, f"input file {missing[0]} does not exist")
    total_bytes = sum(p.stat().st_size for p in settings.inputs)
    read_bytes = [0]

    def advance(n: int) -> None:
        read_bytes[0] += n

    def all_records() -> Iterator[RawRecord]:
        for path in settings.inputs:
            fmt, records = read_file(path, settings.input_format, settings.csv, advance)
            source = tally.source(str(path), str(fmt))
            for record in records:
                source.records += 1
                yield record
        for label, extra in extra_records:
            source = tally.source(label, "store")
            for record in extra:
                source.records += 1
                yield record

    paths = {name: out_dir / name for name in (TRAIN_FILE, VALIDATION_FILE, REJECTED_FILE)}
    with ExitStack() as stack, _make_progress(settings, total_bytes) as progress:
        files: dict[str, IO[str]] = {
            name: stack.enter_context(path.open("w", encoding="utf-8")) for name, path in paths.items()
        }
        writer = _Writer(settings, files, tally)
        task = progress.add_task("prepare", total=total_bytes or None, records=0)
        for outcomes in process_batches(settings, _batches(all_records(), settings.batch_size)):
            writer.write_batch(outcomes)
            progress.update(task, completed=read_bytes[0], records=tally.counts()["records_in"])
    counts = tally.counts()
    if counts["records_in"] != counts["train"] + counts["validation"] + counts["rejected"]:
        raise AssertionError(f"accounting invariant broken: {counts}")
    return tally, paths
