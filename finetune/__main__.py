"""``python -m finetune …``."""

from __future__ import annotations

from finetune.cli import finetune_app

if __name__ == "__main__":
    finetune_app(prog_name="finetune")
