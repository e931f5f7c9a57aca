"""Benchmark: ``finetune prepare`` against a plain reimplementation of the OpenAI guide's per-example loop.

Usage: .venv/bin/python bench/finetune.py [--sizes 50000,200000] [--workers N] [--out bench/results/finetune.json]

Both sides read the same files and count tokens with the same tiktoken encoding; the guide's loop runs its
format checks, token counting, distributions and epoch/billing estimate, while ``prepare`` runs everything
(cleaning, PII redaction, exact + near dedup, split, every check, report and histogram). Each run is a
separate process so peak memory (max RSS) is its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
BITEXT = SHARED / "data" / "bitext-customer-support" / "Bitext_Sample_Customer_Support_Training_Dataset.csv"
MODEL = "gpt-4o-mini-2024-07-18"


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def _system_prompt() -> str:
    from finetune.prompt import shop_system_prompt

    return shop_system_prompt()


def guide_loop(path: Path, fmt: str, system_prompt: str) -> int:
    """The cookbook's notebook as a script: load everything, check, count, estimate."""
    import numpy as np
    import tiktoken

    dataset: list[Any] = []
    with path.open(encoding="utf-8") as f:
        if fmt == "chat":
            dataset = [json.loads(line) for line in f]
        else:
            for row in csv.DictReader(f):
                dataset.append(
                    {
                        "messages": [
                            {"role": "system", "content": system_prompt},
                            {"role": "user", "content": row["instruction"]},
                            {"role": "assistant", "content": row["response"]},
                        ]
                    }
                )
    format_errors: defaultdict[str, int] = defaultdict(int)
    for ex in dataset:
        if not isinstance(ex, dict):
            format_errors["data_type"] += 1
            continue
        messages = ex.get("messages", None)
        if not messages:
            format_errors["missing_messages_list"] += 1
            continue
        for message in messages:
            if "role" not in message or "content" not in message:
                format_errors["message_missing_key"] += 1
            if any(k not in ("role", "content", "name", "function_call", "weight") for k in message):
                format_errors["message_unrecognized_key"] += 1
            if message.get("role", None) not in ("system", "user", "assistant", "function"):
                format_errors["unrecognized_role"] += 1
            content = message.get("content", None)
            function_call = message.get("function_call", None)
            if (not content and not function_call) or not isinstance(content, str):
                format_errors["missing_content"] += 1
        if not any(message.get("role", None) == "assistant" for message in messages):
            format_errors["example_missing_assistant_message"] += 1
    encoding = tiktoken.get_encoding("o200k_base")

    def num_tokens_from_messages(messages: list[dict[str, str]]) -> int:
        num_tokens = 0
        for message in messages:
            num_tokens += 3
            for key, value in message.items():
                num_tokens += len(encoding.encode(value))
                if key == "name":
                    num_tokens += 1
        return num_tokens + 3

    def num_assistant_tokens_from_messages(messages: list[dict[str, str]]) -> int:
        return sum(len(encoding.encode(m["content"])) for m in messages if m["role"] == "assistant")

    n_missing_system = n_missing_user = 0
    n_messages, convo_lens, assistant_message_lens = [], [], []
    for ex in dataset:
        messages = ex["messages"]
        n_missing_system += not any(m["role"] == "system" for m in messages)
        n_missing_user += not any(m["role"] == "user" for m in messages)
        n_messages.append(len(messages))
        convo_lens.append(num_tokens_from_messages(messages))
        assistant_message_lens.append(num_assistant_tokens_from_messages(messages))
    for values in (n_messages, convo_lens, assistant_message_lens):
        _ = (min(values), max(values), np.mean(values), np.median(values), np.quantile(values, [0.05, 0.95]))
    n_epochs = 3
    n_train = len(dataset)
    if n_train * 3 < 100:
        n_epochs = min(25, 100 // n_train)
    elif n_train * 3 > 25000:
        n_epochs = max(1, 25000 // n_train)
    _ = sum(min(65536, length) for length in convo_lens) * n_epochs
    return len(dataset)


def ours(path: Path, workers: int, out_dir: Path, system_prompt: str) -> int:
    """``finetune prepare`` with every stage on, as the CLI runs it."""
    from finetune.pipeline import run_prepare
    from finetune.report import write_reports
    from finetune.settings import PrepareSettings

    settings = PrepareSettings(
        out_dir=out_dir,
        inputs=(path,),
        model=MODEL,
        system_prompt=system_prompt,
        workers=workers,
        progress=False,
    )
    tally, _ = run_prepare(settings)
    write_reports(settings, tally, "o200k_base")
    counts = tally.counts()
    assert counts["records_in"] == counts["train"] + counts["validation"] + counts["rejected"]
    return counts["records_in"]


def validate(path: Path, workers: int) -> int:
    """``finetune validate``: the checks alone (guide's and extended), streamed, as the CLI runs it."""
    from finetune.tokens import Tokenizer, token_limit
    from finetune.validator import validate_file

    report = validate_file(path, Tokenizer.for_model(MODEL), token_limit(MODEL), model=MODEL, workers=workers)
    return report.examples


def to_chat_jsonl(csv_path: Path, out: Path) -> None:
    """The Bitext CSV as chat JSONL with the shop prompt, for the validate-only comparison."""
    prompt = _system_prompt()
    with csv_path.open(encoding="utf-8") as f, out.open("w", encoding="utf-8") as w:
        for row in csv.DictReader(f):
            messages = [
                {"role": "system", "content": prompt},
                {"role": "user", "content": row["instruction"]},
                {"role": "assistant", "content": row["response"]},
            ]
            w.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")


def generate(path: Path, n: int, seed: int = 7) -> None:
    """``n`` multi-turn conversations built from Bitext pairs with customer details, ~3% exact and ~2% near dups."""
    rng = random.Random(seed)
    with BITEXT.open(encoding="utf-8") as f:
        pairs = [(r["instruction"], r["response"]) for r in csv.DictReader(f)]
    prompt = _system_prompt()
    names = ["jane", "omar", "li", "sara", "tom", "ana", "raj", "eva"]
    recent: list[str] = []
    with path.open("w", encoding="utf-8") as out:
        for _ in range(n):
            roll = rng.random()
            if recent and roll < 0.03:
                line = rng.choice(recent)
            else:
                messages: list[dict[str, str]] = [{"role": "system", "content": prompt}]
                for _ in range(rng.randint(1, 3)):
                    question, answer = rng.choice(pairs)
                    if rng.random() < 0.3:
                        question += f" My order number is {rng.randint(10**7, 10**9)}."
                    if rng.random() < 0.2:
                        question += f" Email me at {rng.choice(names)}{rng.randint(1, 999)}@example.com"
                    if rng.random() < 0.2:
                        question += f" I bought {rng.randint(1, 48)} of {rng.randint(20000, 90000)} for £{rng.randint(1, 99)}.95"
                    messages.append({"role": "user", "content": question})
                    messages.append({"role": "assistant", "content": answer})
                if recent and roll < 0.05:
                    messages[-1]["content"] += " Have a lovely day!"
                line = json.dumps({"messages": messages}, ensure_ascii=False)
                if rng.random() < 0.01:
                    recent = [*recent[-50:], line]
            out.write(line + "\n")


def run_one(args: argparse.Namespace) -> None:
    from app.llm.tokens import get_encoding

    path = Path(args.file)
    # Rendering the shop prompt (loading the shop) and loading the encoding are start-up, not throughput.
    prompt = _system_prompt()
    get_encoding("o200k_base")
    started = time.perf_counter()
    if args.run == "guide":
        n = guide_loop(path, args.format, prompt)
    elif args.run == "validate":
        n = validate(path, args.workers)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            n = ours(path, args.workers, Path(tmp), prompt)
    elapsed = time.perf_counter() - started
    own, children = _peak_mb()
    print(json.dumps({"examples": n, "seconds": elapsed, "peak_mb": own, "worker_peak_mb": children}))


def measure(kind: str, path: Path, fmt: str, workers: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--run",
        kind,
        "--file",
        str(path),
        "--format",
        fmt,
        "--workers",
        str(workers),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{kind} run on {path} failed:\n{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    data["per_second"] = data["examples"] / data["seconds"]
    return data


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="50000,200000", help="generated conversation counts")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "finetune.json"))
    parser.add_argument("--run", choices=("guide", "ours", "validate"), help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--format", default="chat", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.run:
        run_one(args)
        return
    if not BITEXT.is_file():
        print(
            f"error: {BITEXT} not found; the benchmark needs ../shared (the Bitext dataset)", file=sys.stderr
        )
        raise SystemExit(2)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        bitext_jsonl = Path(tmp) / "bitext.jsonl"
        to_chat_jsonl(BITEXT, bitext_jsonl)
        datasets = [("bitext (4,514 rows, CSV)", BITEXT, "csv", bitext_jsonl)]
        for size in (int(s) for s in args.sizes.split(",") if s):
            path = Path(tmp) / f"generated-{size}.jsonl"
            generate(path, size)
            datasets.append((f"generated {size:,} conversations", path, "chat", path))
        for label, path, fmt, jsonl in datasets:
            guide = measure("guide", path, fmt, 1)
            checks = measure("validate", jsonl, "chat", args.workers)
            mine = measure("ours", path, fmt, args.workers)
            rows.append(
                {
                    "dataset": label,
                    "bytes": path.stat().st_size,
                    "guide": guide,
                    "validate": checks,
                    "prepare": mine,
                    "validate_speedup": checks["per_second"] / guide["per_second"],
                    "prepare_speedup": mine["per_second"] / guide["per_second"],
                }
            )
            print(
                f"{label:34} guide {guide['per_second']:7,.0f} ex/s {guide['peak_mb']:6,.0f} MB | "
                f"validate {checks['per_second']:7,.0f} ex/s {checks['peak_mb']:5,.0f} MB "
                f"{checks['per_second'] / guide['per_second']:4.1f}x | "
                f"prepare {mine['per_second']:7,.0f} ex/s {mine['peak_mb']:5,.0f} MB "
                f"(+workers {mine['worker_peak_mb']:4,.0f} MB) {mine['per_second'] / guide['per_second']:4.1f}x",
                flush=True,
            )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps({"workers": args.workers, "cpus": os.cpu_count(), "rows": rows}, indent=2) + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
