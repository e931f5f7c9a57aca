"""``finetune validate``: the checks alone, streamed over a JSONL file prepared elsewhere."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from finetune.errors import ErrorCode, FinetuneError
from finetune.stats import CostEstimate, Distribution, estimate_cost
from finetune.tokens import Tokenizer
from finetune.validation import Check, check_example, warnings_for


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


def validate_file(
    path: Path,
    tokenizer: Tokenizer,
    limit: int,
    *,
    model: str,
    max_listed: int = 200,
    progress: Callable[[int], None] | None = None,
) -> FileReport:
    """Run every check on every line; over-limit examples fail ``over_token_limit``."""
    if not path.is_file():
        raise FinetuneError(ErrorCode.INPUT_NOT_FOUND, f"file {path} does not exist")
    report = FileReport()

    def fail(line: int, check: str, message: str) -> None:
        report.checks[check] += 1
        if len(report.problems) < max_listed:
            report.problems.append(Problem(line, check, message))

    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if progress is not None:
                progress(len(raw))
            if not raw.strip():
                continue
            report.examples += 1
            try:
                example = json.loads(raw)
            except ValueError as exc:
                report.failed_examples += 1
                fail(number, "invalid_json", f"not valid JSON: {exc}")
                continue
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
            if counts.total > limit:
                report.failed_examples += 1
                fail(number, str(Check.OVER_TOKEN_LIMIT), f"{counts.total} tokens > limit {limit}")
                continue
            report.warnings.update(str(w) for w in warnings_for(example["messages"]))
            report.tokens.add(counts.total)
            report.assistant_tokens.add(counts.assistant)
    report.estimate = estimate_cost(report.tokens, limit, model, None, None)
    return report
