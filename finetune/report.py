"""report.json, report.md and token_lengths.png for a prepare run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finetune.settings import PrepareSettings
from finetune.split import Split
from finetune.stats import estimate_cost
from finetune.tally import Tally
from finetune.tokens import token_limit

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
HISTOGRAM_PNG = "token_lengths.png"


def build_report(settings: PrepareSettings, tally: Tally, encoding: str) -> dict[str, Any]:
    """Everything the run counted, as one JSON-able object."""
    limit = settings.max_tokens or token_limit(settings.model)
    estimate = estimate_cost(
        tally.train_tokens, limit, settings.model, settings.epochs, settings.price_per_million
    )
    return {
        "counts": tally.counts(),
        "sources": tally.sources_json(),
        "rejected_by_reason": dict(sorted(tally.rejected_by_reason.items())),
        "checks_failed": dict(sorted(tally.checks.items())),
        "warnings": dict(sorted(tally.notices.items())),
        "cleaning": dict(sorted(tally.cleaning.items())),
        "pii_redacted": dict(sorted(tally.pii.items())),
        "placeholders": {
            "mode": str(settings.placeholders),
            "filled": tally.placeholders_filled,
            "unfilled": dict(tally.unfilled.most_common(50)),
            # Kept examples that still hold {{slots}}, per output file, and the slots by name.
            "examples_with_slots": {
                "train": tally.examples_with_slots[str(Split.TRAIN)],
                "validation": tally.examples_with_slots[str(Split.VALIDATION)],
            },
            "slots_left": dict(tally.slots_left.most_common(50)),
        },
        "dedup": {
            "mode": str(settings.dedup),
            "threshold": settings.near_threshold,
            "num_perm": settings.num_perm,
            "duplicates": str(settings.duplicates),
            "kept_in_same_split": dict(tally.kept_duplicates),
        },
        "truncated": tally.truncated,
        "tokens": {
            "model": settings.model,
            "encoding": encoding,
            "max_tokens_per_example": limit,
            "per_example": tally.tokens.summary(),
            "assistant_per_example": tally.assistant_tokens.summary(),
            "messages_per_example": tally.messages.summary(),
            "train_per_example": tally.train_tokens.summary(),
        },
        "estimate": estimate.as_json(),
        "settings": {
            "system_prompt": str(settings.system_prompt_mode),
            "redact_pii": settings.redact_pii,
            "validation_ratio": settings.validation_ratio,
            "seed": settings.seed,
            "over_limit": str(settings.over_limit),
        },
    }


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(rows: dict[str, Any], header: tuple[str, str]) -> list[str]:
    if not rows:
        return ["(none)", ""]
    lines = [f"| {header[0]} | {header[1]} |", "| --- | ---: |"]
    lines += [f"| {key} | {_fmt(value)} |" for key, value in rows.items()]
    return [*lines, ""]


def slots_warning(report: dict[str, Any]) -> str | None:
    """One sentence on the kept examples that still hold template slots, or None if none do."""
    counts = report["counts"]
    with_slots = report["placeholders"]["examples_with_slots"]
    if not with_slots["train"] and not with_slots["validation"]:
        return None
    names = list(report["placeholders"]["slots_left"])
    example = f" such as {{{{{names[0]}}}}}" if names else ""
    return (
        f"{with_slots['train']:,} of {counts['train']:,} training and {with_slots['validation']:,} of"
        f" {counts['validation']:,} validation examples still contain template slots{example}: a model trained"
        " on them answers with the slot, not the value. Fill them with --placeholders fill (the shop's name,"
        " email and hours from shop.toml) and --placeholder-values FILE.json for the rest."
    )


def _slots_section(report: dict[str, Any]) -> list[str]:
    sentence = slots_warning(report)
    if sentence is None:
        return []
    return [
        "## Template slots left",
        "",
        sentence,
        "",
        *_table(report["placeholders"]["slots_left"], ("slot", "occurrences")),
    ]


def render_markdown(report: dict[str, Any]) -> str:
    """The human-readable report."""
    counts = report["counts"]
    tokens = report["tokens"]
    estimate = report["estimate"]
    out = [
        "# Fine-tune data report",
        "",
        f"{counts['records_in']:,} records in = {counts['train']:,} train"
        f" + {counts['validation']:,} validation"
        f" + {counts['rejected']:,} rejected.",
        "",
        "## Inputs",
        "",
        "| source | format | records | train | validation | rejected |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {s['source']} | {s['format']} | {s['records']:,} | {s['train']:,} | {s['validation']:,}"
            f" | {s['rejected']:,} |"
            for s in report["sources"]
        ),
        "",
        "## Rejected, by reason",
        "",
        *_table(report["rejected_by_reason"], ("reason", "records")),
        "## Failed checks",
        "",
        *_table(report["checks_failed"], ("check", "examples")),
        "## Warnings (kept examples)",
        "",
        *_table(report["warnings"], ("warning", "examples")),
        *_slots_section(report),
        "## Cleaning and redaction",
        "",
        *_table(
            {
                **report["cleaning"],
                **{f"PII {k}": v for k, v in report["pii_redacted"].items()},
                "placeholders filled": report["placeholders"]["filled"],
                "examples truncated": report["truncated"],
            },
            ("what", "count"),
        ),
        f"## Tokens ({tokens['model']}, {tokens['encoding']}, "
        f"limit {tokens['max_tokens_per_example']:,} per example)",
        "",
        "| per example | min | p5 | median | mean | p95 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, key in (
        ("total tokens", "per_example"),
        ("assistant tokens", "assistant_per_example"),
        ("messages", "messages_per_example"),
    ):
        s = tokens[key]
        if s.get("count"):
            out.append(
                f"| {label} | {s['min']:,} | {s['p5']:,.1f} | {s['median']:,.1f} | {s['mean']:,.1f} |"
                f" {s['p95']:,.1f} | {s['max']:,} |"
            )
    cost = estimate["estimated_cost_usd"]
    out += [
        "",
        "![token lengths](token_lengths.png)",
        "",
        "## Estimate",
        "",
        f"- training examples: {estimate['n_train_examples']:,}",
        f"- epochs: {estimate['epochs']} ({estimate['epochs_source']})",
        f"- tokens charged per epoch: ~{estimate['billing_tokens_in_dataset']:,}",
        f"- billed tokens: ~{estimate['billed_tokens']:,}",
        "- estimated cost: "
        + (
            f"${cost:,.2f}"
            if cost is not None
            else "unknown (no price for this model; pass --price-per-million)"
        ),
        "",
    ]
    return "\n".join(out)


def plot_histogram(tally: Tally, limit: int, path: Path) -> None:
    """Histogram of tokens per kept example, with the assistant's share, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for dist, label, colour in (
        (tally.tokens, "whole example", "#4C72B0"),
        (tally.assistant_tokens, "assistant messages", "#DD8452"),
    ):
        if dist.n:
            values = sorted(dist.counts)
            ax.hist(
                values,
                weights=[dist.counts[v] for v in values],
                bins=50,
                alpha=0.65,
                label=label,
                color=colour,
            )
    if tally.tokens.n and max(tally.tokens.counts) >= limit * 0.8:
        ax.axvline(limit, color="#C44E52", linestyle="--", label=f"limit {limit:,}")
    ax.set_xlabel("tokens per example")
    ax.set_ylabel("examples")
    ax.set_title(f"Token lengths of {tally.tokens.n:,} kept examples")
    if tally.tokens.n:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_reports(settings: PrepareSettings, tally: Tally, encoding: str) -> dict[str, Any]:
    """Write report.json, report.md and token_lengths.png into the output directory."""
    report = build_report(settings, tally, encoding)
    out = settings.out_dir
    (out / REPORT_JSON).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / REPORT_MD).write_text(render_markdown(report), encoding="utf-8")
    plot_histogram(tally, report["tokens"]["max_tokens_per_example"], out / HISTOGRAM_PNG)
    return report
