"""Fixtures of the fine-tune pipeline tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from finetune.pipeline import REJECTED_FILE, TRAIN_FILE, VALIDATION_FILE
from finetune.settings import PrepareSettings, SystemPromptMode

FIXTURES = Path(__file__).resolve().parent / "fixtures"

PrepareFactory = Callable[..., PrepareSettings]


def read_jsonl(path: Path) -> list[Any]:
    """Every record of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def outputs(out_dir: Path) -> tuple[list[Any], list[Any], list[Any]]:
    """(train, validation, rejected) records written by a prepare run."""
    return (
        read_jsonl(out_dir / TRAIN_FILE),
        read_jsonl(out_dir / VALIDATION_FILE),
        read_jsonl(out_dir / REJECTED_FILE),
    )


@pytest.fixture
def make_settings(tmp_path: Path) -> PrepareFactory:
    """Settings for a quiet, single-process run into ``tmp_path/out``, without a system prompt."""

    def factory(*inputs: Path, **overrides: Any) -> PrepareSettings:
        values: dict[str, Any] = {
            "out_dir": tmp_path / "out",
            "inputs": tuple(inputs),
            "system_prompt_mode": SystemPromptMode.NONE,
            "progress": False,
            "workers": 1,
        }
        values.update(overrides)
        return PrepareSettings(**values)

    return factory
