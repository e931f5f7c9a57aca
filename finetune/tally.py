"""Running totals of a prepare or validate run: everything report.json counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from finetune.processor import Outcome
from finetune.split import Split
from finetune.stats import Distribution


@dataclass(slots=True)
class SourceTally:
    """Per input: records read and where they went."""

    format: str
    records: int = 0
    train: int = 0
    validation: int = 0
    rejected: int = 0


@dataclass(slots=True)
class Tally:
    """Counts, check failures and distributions; the accounting invariant is checked on these."""

    sources: dict[str, SourceTally] = field(default_factory=dict)
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    notices: Counter[str] = field(default_factory=Counter)
    pii: Counter[str] = field(default_factory=Counter)
    unfilled: Counter[str] = field(default_factory=Counter)
    slots_left: Counter[str] = field(default_factory=Counter)
    examples_with_slots: Counter[str] = field(default_factory=Counter)
    cleaning: Counter[str] = field(default_factory=Counter)
    kept_duplicates: Counter[str] = field(default_factory=Counter)
    placeholders_filled: int = 0
    truncated: int = 0
    tokens: Distribution = field(default_factory=Distribution)
    assistant_tokens: Distribution = field(default_factory=Distribution)
    messages: Distribution = field(default_factory=Distribution)
    train_tokens: Distribution = field(default_factory=Distribution)

    def source(self, name: str, fmt: str) -> SourceTally:
        """The tally of one input, created on first use."""
        tally = self.sources.get(name)
        if tally is None:
            tally = self.sources[name] = SourceTally(fmt)
        return tally

    def record_common(self, outcome: Outcome) -> None:
        """What every record contributes, whatever its fate."""
        special, empty, merged = outcome.cleaning
        self.cleaning.update(
            {"special_tokens_removed": special, "empty_turns_dropped": empty, "turns_merged": merged}
        )
        self.pii.update(outcome.pii)
        self.unfilled.update(outcome.unfilled)
        self.placeholders_filled += outcome.filled

    def record_rejected(self, outcome: Outcome, reason: str) -> None:
        """A record that went to rejected.jsonl."""
        self.sources[outcome.origin.source].rejected += 1
        self.rejected_by_reason[reason] += 1
        self.checks.update({issue["check"] for issue in outcome.issues})

    def record_kept(self, outcome: Outcome, split: Split) -> None:
        """A record written to train or validation."""
        source = self.sources[outcome.origin.source]
        if split == Split.TRAIN:
            source.train += 1
            self.train_tokens.add(outcome.tokens)
        else:
            source.validation += 1
        self.truncated += outcome.truncated
        self.notices.update(outcome.notices)
        if outcome.slots:
            self.slots_left.update(outcome.slots)
            self.examples_with_slots[str(split)] += 1
        self.tokens.add(outcome.tokens)
        self.assistant_tokens.add(outcome.assistant_tokens)
        self.messages.add(outcome.messages)

    def counts(self) -> dict[str, int]:
        """records_in = train + validation + rejected, summed over inputs."""
        out = {
            "records_in": sum(s.records for s in self.sources.values()),
            "train": sum(s.train for s in self.sources.values()),
            "validation": sum(s.validation for s in self.sources.values()),
            "rejected": sum(s.rejected for s in self.sources.values()),
        }
        return out

    def sources_json(self) -> list[dict[str, Any]]:
        """Per-input counts for the report."""
        return [
            {
                "source": name,
                "format": s.format,
                "records": s.records,
                "train": s.train,
                "validation": s.validation,
                "rejected": s.rejected,
            }
            for name, s in self.sources.items()
        ]
