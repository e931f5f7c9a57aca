"""Turning what the clients saw into figures: percentiles, tokens relayed, errors, added time to first token."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from loadkit.answer import TokenCounter, answer_text
from loadkit.client import Answer


def pct(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100, linear interpolation) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    """Median, min and max over repetitions, ignoring missing values."""
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(present), "min": min(present), "max": max(present)}


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


def summarize(
    answers: Sequence[Answer],
    *,
    expected: int,
    stray_errors: Sequence[str] = (),
    connect_failures: dict[str, int] | None = None,
    n_tokens: int | None = None,
    upstream_first: dict[str, Sequence[float]] | None = None,
    late_after_s: float | None = None,
) -> dict[str, Any]:
    """Figures for one measured run of ``expected`` answers; ``n_tokens`` is the upstream answer length.

    An answer that completed more than ``late_after_s`` after its question was sent counts as late.
    """
    outcomes = Counter(a.outcome for a in answers)
    errors = Counter(a.error_code for a in answers if a.error_code is not None)
    errors.update(stray_errors)
    counter = TokenCounter(n_tokens) if n_tokens else None
    full = answer_text(n_tokens) if n_tokens else None
    done = [a for a in answers if a.outcome == "done"]
    tokens = sum(counter.count(len(a.text)) for a in answers) if counter else sum(a.frames for a in answers)
    gaps = [g for a in answers for g in a.gaps]
    durations = [a.t_end - a.t_send for a in done if a.t_end is not None]
    late = sum(1 for d in durations if late_after_s is not None and d > late_after_s)
    ttft = [a.t_first - a.t_send for a in answers if a.t_first is not None]
    added: list[float] = []
    request_leg: list[float] = []
    response_leg: list[float] = []
    for a in answers:
        stamps = upstream_first.get(a.ref) if upstream_first and a.ref else None
        if a.t_first is None or stamps is None:
            continue
        t_recv, t_up_first = stamps[0], stamps[1]
        # Both processes read CLOCK_MONOTONIC, so the legs across processes are comparable too.
        added.append((a.t_first - a.t_send) - (t_up_first - t_recv))
        request_leg.append(t_recv - a.t_send)
        response_leg.append(a.t_first - t_up_first)
    starts = [a.t_send for a in answers]
    ends = [t for a in answers if (t := a.t_end or a.t_last) is not None]
    window = (max(ends) - min(starts)) if starts and ends else None
    return {
        "expected_answers": expected,
        "answers": len(answers),
        "done": outcomes.get("done", 0),
        "outcomes": dict(outcomes),
        "errors": dict(errors),
        "error_frames": sum(errors.values()),
        "connect_failures": dict(connect_failures or {}),
        "text_mismatch": sum(1 for a in done if a.done_text != a.text),
        "wrong_text": sum(1 for a in done if full is not None and a.text != full),
        "routes": dict(Counter(a.route for a in done)),
        "tokens_relayed": tokens,
        "delta_frames": sum(a.frames for a in answers),
        "window_s": window,
        "tokens_per_s": tokens / window if window else None,
        "answers_per_s": len(done) / window if window else None,
        "late": late,
        "late_after_s": late_after_s,
        "answer_s": {
            "p50": pct(durations, 50),
            "p99": pct(durations, 99),
            "max": max(durations, default=None),
        },
        "gap_ms": {
            "n": len(gaps),
            "p50": _ms(pct(gaps, 50)),
            "p99": _ms(pct(gaps, 99)),
            "max": _ms(max(gaps) if gaps else None),
        },
        "ttft_ms": {"n": len(ttft), "p50": _ms(pct(ttft, 50)), "p90": _ms(pct(ttft, 90))},
        "added_ttft_ms": {
            "n": len(added),
            "p50": _ms(pct(added, 50)),
            "p90": _ms(pct(added, 90)),
            "request_leg_p50": _ms(pct(request_leg, 50)),
            "response_leg_p50": _ms(pct(response_leg, 50)),
        },
    }
