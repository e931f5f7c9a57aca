"""The system prompt of training examples: the server's own, rendered from the same ``prompts/`` templates."""

from __future__ import annotations

from pathlib import Path

from app.errors import ShopchatError
from app.llm.prompts import SHIPPED_PROMPTS_DIR, PromptLibrary
from app.shop.catalog import DEMO_SHOP_DIR, load_shop
from finetune.errors import ErrorCode, FinetuneError


def shop_system_prompt(shop_dir: Path | None = None, prompts_dir: Path | None = None) -> str:
    """The system prompt the server sends for the shop in ``shop_dir`` (the demo shop by default)."""
    try:
        shop = load_shop(shop_dir or DEMO_SHOP_DIR)
        return PromptLibrary(prompts_dir or SHIPPED_PROMPTS_DIR).system_prompt(shop)
    except ShopchatError as exc:
        raise FinetuneError(
            ErrorCode.TEMPLATE, f"cannot render the shop's system prompt: {exc.message}"
        ) from exc


def shop_placeholder_values(shop_dir: Path | None = None) -> dict[str, str]:
    """Values for the template slots common in support data (``{{Website Name}}`` …) taken from the shop."""
    try:
        shop = load_shop(shop_dir or DEMO_SHOP_DIR)
    except ShopchatError as exc:
        raise FinetuneError(ErrorCode.BAD_OPTION, f"cannot load the shop: {exc.message}") from exc
    values = {
        "Website Name": shop.name,
        "Company Name": shop.name,
        "Store Name": shop.name,
        "Customer Support Email": shop.support_email,
        "Customer Support Email Address": shop.support_email,
        "Email": shop.support_email,
        "Customer Support Hours": shop.support_hours,
        "Customer Support Availability": shop.support_hours,
        "Customer Service Hours": shop.support_hours,
    }
    return {k: v for k, v in values.items() if v}
