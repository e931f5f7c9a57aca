"""Every knob of ``finetune prepare`` in one picklable value, so worker processes see the same settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from finetune.pii import DEFAULT_ID_PATTERNS
from finetune.placeholders import PlaceholderMode
from finetune.sources import CsvSpec, Format, TranscriptSpec

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"


class SystemPromptMode(StrEnum):
    """``shop``: the server's rendered prompt replaces the source's; ``source``: keep it; ``none``: drop."""

    SHOP = "shop"
    SOURCE = "source"
    NONE = "none"


class OverLimit(StrEnum):
    """What happens to an example over the model's token limit."""

    DROP = "drop"
    TRUNCATE = "truncate"


class DedupMode(StrEnum):
    """``near`` = exact + MinHash near-duplicates, ``exact`` = normalised exact only, ``off`` = none."""

    NEAR = "near"
    EXACT = "exact"
    OFF = "off"


class DuplicatePolicy(StrEnum):
    """``drop`` rejects duplicates; ``same-split`` keeps them but in their original's split (no leakage)."""

    DROP = "drop"
    SAME_SPLIT = "same-split"


@dataclass(frozen=True, slots=True)
class PrepareSettings:
    """Settings of one ``prepare`` run; the defaults are the documented ones."""

    out_dir: Path
    inputs: tuple[Path, ...] = ()
    input_format: Format = Format.AUTO
    csv: CsvSpec = field(default_factory=CsvSpec)
    transcript: TranscriptSpec = field(default_factory=TranscriptSpec)
    model: str = DEFAULT_MODEL
    encoding: str | None = None
    max_tokens: int | None = None
    over_limit: OverLimit = OverLimit.DROP
    system_prompt_mode: SystemPromptMode = SystemPromptMode.SHOP
    system_prompt: str | None = None
    clean: bool = True
    redact_pii: bool = True
    id_patterns: tuple[tuple[str, str], ...] = DEFAULT_ID_PATTERNS
    placeholders: PlaceholderMode = PlaceholderMode.KEEP
    placeholder_values: tuple[tuple[str, tuple[str, ...]], ...] = ()
    dedup: DedupMode = DedupMode.NEAR
    near_threshold: float = 0.85
    num_perm: int = 64
    duplicates: DuplicatePolicy = DuplicatePolicy.DROP
    validation_ratio: float = 0.1
    seed: int = 42
    epochs: int | None = None
    price_per_million: float | None = None
    workers: int = 1
    batch_size: int = 256
    progress: bool = True
