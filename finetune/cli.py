"""``finetune prepare | validate | submit | status``; mounted by the server CLI as ``shopchat finetune``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from finetune.errors import ErrorCode, FinetuneError
from finetune.placeholders import PlaceholderFiller, PlaceholderMode
from finetune.settings import (
    DEFAULT_MODEL,
    DedupMode,
    DuplicatePolicy,
    OverLimit,
    PrepareSettings,
    SystemPromptMode,
)
from finetune.sources import CsvSpec, Format, RawRecord, TranscriptSpec

if TYPE_CHECKING:
    from finetune.tokens import Tokenizer

finetune_app = typer.Typer(
    name="finetune",
    help="Turn support transcripts into fine-tuning data, check it, estimate its cost and train on it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


def _fail(exc: FinetuneError) -> typer.Exit:
    typer.echo(f"error: {exc.message} [{exc.code}]", err=True)
    return typer.Exit(1)


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except FinetuneError as exc:
        raise _fail(exc) from None


def _pairs(values: Iterable[str], what: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise FinetuneError(ErrorCode.BAD_OPTION, f"{what} must look like NAME=VALUE, got {value!r}")
        out.append((name.strip(), rest.strip()))
    return out


def _placeholder_values(
    mode: PlaceholderMode, values_file: Path | None, shop_dir: Path | None
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if mode != PlaceholderMode.FILL:
        return ()
    from finetune.prompt import shop_placeholder_values

    defaults: dict[str, str | list[str]] = dict(shop_placeholder_values(shop_dir))
    filler = (
        PlaceholderFiller.from_file(values_file, defaults) if values_file else PlaceholderFiller(defaults)
    )
    return tuple((name, tuple(options)) for name, options in filler.values.items())


@finetune_app.command()
def prepare(
    inputs: Annotated[
        list[Path] | None, typer.Argument(help="Chat JSONL, CSV, or transcript JSON/JSONL files.")
    ] = None,
    out: Annotated[Path, typer.Option("-o", "--out", help="Output directory.")] = Path("finetune-data"),
    input_format: Annotated[
        Format, typer.Option("--format", help="Input format; auto detects it.")
    ] = Format.AUTO,
    instruction_column: Annotated[
        str | None, typer.Option(help="CSV column with the customer's message.")
    ] = None,
    response_column: Annotated[str | None, typer.Option(help="CSV column with the answer.")] = None,
    system_column: Annotated[
        str | None, typer.Option(help="CSV column with a per-row system prompt.")
    ] = None,
    speaker: Annotated[
        list[str] | None, typer.Option(help="Transcript speaker mapping NAME=ROLE (repeat).")
    ] = None,
    from_db: Annotated[
        str | None, typer.Option(help="Also read shopchat's conversation store at this URL.")
    ] = None,
    feedback: Annotated[str, typer.Option(help="Store conversations: any | positive.")] = "any",
    route: Annotated[
        str | None, typer.Option(help="Store conversations: only those answered by ROUTE.")
    ] = None,
    operator_answers: Annotated[
        bool,
        typer.Option(
            help="Store conversations: operators' answers as examples (else stop where a person joined)."
        ),
    ] = True,
    model: Annotated[str, typer.Option(help="Base model (token limit, tokenizer, price).")] = DEFAULT_MODEL,
    encoding: Annotated[str | None, typer.Option(help="tiktoken encoding; default: the model's.")] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Per-example token limit; default: the model's.")
    ] = None,
    over_limit: Annotated[
        OverLimit, typer.Option(help="Examples over the limit: drop or truncate.")
    ] = OverLimit.DROP,
    system_prompt: Annotated[
        SystemPromptMode, typer.Option(help="shop: the server's prompt; source: keep; none: remove.")
    ] = SystemPromptMode.SHOP,
    shop_dir: Annotated[Path | None, typer.Option(help="Shop directory for the system prompt.")] = None,
    prompts_dir: Annotated[Path | None, typer.Option(help="Prompt templates directory.")] = None,
    clean: Annotated[
        bool, typer.Option(help="Normalise text, drop empty turns, merge same-role turns.")
    ] = True,
    redact: Annotated[bool, typer.Option(help="Redact emails, phones, cards, IBANs, addresses, ids.")] = True,
    id_pattern: Annotated[
        list[str] | None,
        typer.Option(help="TYPE=REGEX for order/account numbers (repeat; replaces defaults)."),
    ] = None,
    placeholders: Annotated[PlaceholderMode, typer.Option(help="{{Slots}} in the data: keep or fill.")] = (
        PlaceholderMode.KEEP
    ),
    placeholder_values: Annotated[
        Path | None, typer.Option(help="JSON of slot name -> value(s) for fill.")
    ] = None,
    dedup: Annotated[DedupMode, typer.Option(help="near (MinHash) | exact | off.")] = DedupMode.NEAR,
    near_threshold: Annotated[
        float, typer.Option(help="Jaccard similarity counted as near-duplicate.")
    ] = 0.85,
    num_perm: Annotated[int, typer.Option(help="MinHash permutations.")] = 64,
    duplicates: Annotated[DuplicatePolicy, typer.Option(help="drop | same-split.")] = DuplicatePolicy.DROP,
    validation_ratio: Annotated[float, typer.Option(help="Share of conversations for validation.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 42,
    epochs: Annotated[
        int | None, typer.Option(help="Epochs for the estimate; default: the API's rule.")
    ] = None,
    price_per_million: Annotated[float | None, typer.Option(help="USD per 1M training tokens.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (0 = one per CPU).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Clean, redact, dedup, split and check training data; write train/validation/rejected and a report."""
    from finetune.database import FeedbackFilter, StoreQuery, read_store
    from finetune.pii import DEFAULT_ID_PATTERNS
    from finetune.pipeline import run_prepare
    from finetune.report import slots_warning, write_reports

    def go() -> dict[str, Any]:
        files = tuple(inputs or ())
        if not files and not from_db:
            raise FinetuneError(ErrorCode.BAD_OPTION, "give at least one input file or --from-db URL")
        if not 0 <= validation_ratio < 1:
            raise FinetuneError(ErrorCode.BAD_OPTION, "--validation-ratio must be in [0, 1)")
        if not 0 < near_threshold <= 1:
            raise FinetuneError(ErrorCode.BAD_OPTION, "--near-threshold must be in (0, 1]")
        try:
            feedback_filter = FeedbackFilter(feedback)
        except ValueError:
            raise FinetuneError(ErrorCode.BAD_OPTION, "--feedback must be any or positive") from None
        csv_spec = CsvSpec(
            instruction=(instruction_column,) if instruction_column else CsvSpec().instruction,
            response=(response_column,) if response_column else CsvSpec().response,
            system=system_column,
        )
        prompt_text = None
        if system_prompt == SystemPromptMode.SHOP:
            from finetune.prompt import shop_system_prompt

            prompt_text = shop_system_prompt(shop_dir, prompts_dir)
        settings = PrepareSettings(
            out_dir=out,
            inputs=files,
            input_format=input_format,
            csv=csv_spec,
            transcript=TranscriptSpec().with_speakers(dict(_pairs(speaker or (), "--speaker"))),
            model=model,
            encoding=encoding,
            max_tokens=max_tokens,
            over_limit=over_limit,
            system_prompt_mode=system_prompt,
            system_prompt=prompt_text,
            clean=clean,
            redact_pii=redact,
            id_patterns=tuple(_pairs(id_pattern, "--id-pattern")) if id_pattern else DEFAULT_ID_PATTERNS,
            placeholders=placeholders,
            placeholder_values=_placeholder_values(placeholders, placeholder_values, shop_dir),
            dedup=dedup,
            near_threshold=near_threshold,
            num_perm=num_perm,
            duplicates=duplicates,
            validation_ratio=validation_ratio,
            seed=seed,
            epochs=epochs,
            price_per_million=price_per_million,
            workers=workers if workers > 0 else max(1, os.cpu_count() or 1),
            progress=not quiet,
        )
        extra: list[tuple[str, Iterable[RawRecord]]] = []
        if from_db:
            extra.append(
                (
                    "store",
                    read_store(
                        StoreQuery(from_db, feedback_filter, route, operator_answers=operator_answers)
                    ),
                )
            )
        from finetune.tokens import Tokenizer

        tally, _ = run_prepare(settings, extra)
        return write_reports(settings, tally, Tokenizer.for_model(model, encoding).encoding.name)

    report = _run(go)
    counts = report["counts"]
    estimate = report["estimate"]
    typer.echo(
        f"{counts['records_in']:,} records: {counts['train']:,} train, {counts['validation']:,} validation, "
        f"{counts['rejected']:,} rejected"
    )
    for reason, n in report["rejected_by_reason"].items():
        typer.echo(f"  rejected {reason}: {n:,}")
    slots = slots_warning(report)
    if slots is not None:
        typer.echo(f"warning: {slots}", err=True)
    cost = estimate["estimated_cost_usd"]
    typer.echo(
        f"~{estimate['billed_tokens']:,} billed tokens over {estimate['epochs']} epochs"
        + (f", about ${cost:,.2f}" if cost is not None else "")
    )
    typer.echo(
        f"wrote {out}/: train.jsonl validation.jsonl rejected.jsonl report.md report.json token_lengths.png"
    )


def validation_targets(path: Path) -> list[Path]:
    """The files ``validate`` checks: the file itself, or a prepared folder's train and validation files."""
    from finetune.pipeline import TRAIN_FILE, VALIDATION_FILE

    if not path.is_dir():
        return [path]
    if not (path / TRAIN_FILE).is_file():
        raise FinetuneError(
            ErrorCode.INPUT_NOT_FOUND,
            f"{path} is a folder without {TRAIN_FILE}: give a JSONL file, or the folder `finetune prepare` wrote",
        )
    return [path / name for name in (TRAIN_FILE, VALIDATION_FILE) if (path / name).is_file()]


@finetune_app.command()
def validate(
    file: Annotated[
        Path,
        typer.Argument(
            help="A chat fine-tuning JSONL file, or a folder `prepare` wrote (train + validation)."
        ),
    ],
    model: Annotated[str, typer.Option(help="Base model (token limit and tokenizer).")] = DEFAULT_MODEL,
    encoding: Annotated[str | None, typer.Option(help="tiktoken encoding; default: the model's.")] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Per-example token limit; default: the model's.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (0 = one per CPU).")] = 0,
) -> None:
    """Run every check on a prepared file (or folder); exit 1 listing line, check and message if any fails."""
    from finetune.tokens import Tokenizer, token_limit

    limit = max_tokens or token_limit(model)
    processes = workers if workers > 0 else max(1, os.cpu_count() or 1)
    targets = _run(lambda: validation_targets(file))
    tokenizer = _run(lambda: Tokenizer.for_model(model, encoding))
    failed = [path for path in targets if not _validate_one(path, tokenizer, limit, model, processes)]
    if failed:
        raise typer.Exit(1)


def _validate_one(path: Path, tokenizer: Tokenizer, limit: int, model: str, processes: int) -> bool:
    """Check one file and print its report; False if any example failed."""
    from finetune.validator import validate_file

    report = _run(lambda: validate_file(path, tokenizer, limit, model=model, workers=processes))
    if not report.ok:
        typer.echo(
            f"{path}: {report.failed_examples:,} of {report.examples:,} examples failed checks", err=True
        )
        for problem in report.problems:
            typer.echo(f"  line {problem.line}: {problem.check}: {problem.message}", err=True)
        listed = len(report.problems)
        total = sum(report.checks.values())
        if total > listed:
            typer.echo(f"  … and {total - listed:,} more", err=True)
        for check, n in sorted(report.checks.items()):
            typer.echo(f"  {check}: {n:,}", err=True)
        return False
    summary = report.tokens.summary()
    typer.echo(f"{path}: {report.examples:,} examples, all checks passed")
    if report.examples:
        typer.echo(
            f"  tokens per example: min {summary['min']:,}, median {summary['median']:,.0f}, "
            f"p95 {summary['p95']:,.0f}, max {summary['max']:,} (limit {limit:,})"
        )
    for warning, n in sorted(report.warnings.items()):
        typer.echo(f"  warning {warning}: {n:,}")
    if report.estimate is not None:
        typer.echo(
            f"  ~{report.estimate.billed_tokens:,} billed tokens over {report.estimate.epochs} epochs"
            " if used for training"
        )
    return True


# Shared by every command that talks to the API.
BaseUrlOption = Annotated[str | None, typer.Option(help="API base URL (default: OPENAI_BASE_URL or OpenAI).")]
ApiKeyOption = Annotated[str | None, typer.Option(help="API key (default: OPENAI_API_KEY).")]
MaxRetriesOption = Annotated[int, typer.Option(help="SDK retries on 429/5xx/network errors.")]


def _client(base_url: str | None, api_key: str | None, max_retries: int) -> Any:
    from finetune.submit import make_client

    return make_client(base_url or os.environ.get("OPENAI_BASE_URL"), api_key, max_retries)


@finetune_app.command()
def submit(
    out_dir: Annotated[Path, typer.Argument(help="The directory `prepare` wrote.")],
    model: Annotated[str, typer.Option(help="Base model to fine-tune.")] = DEFAULT_MODEL,
    suffix: Annotated[str | None, typer.Option(help="Up to 64 characters added to the model name.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs; default: the API's choice.")] = None,
    seed: Annotated[int | None, typer.Option(help="Job seed.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the job until it ends.")] = False,
    poll_interval: Annotated[float, typer.Option(help="Seconds between status polls with --wait.")] = 15.0,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
    max_retries: MaxRetriesOption = 2,
) -> None:
    """Upload train/validation, create the fine-tuning job and print its id (and, with --wait, the model)."""
    from finetune.submit import follow_job, serve_settings, submit_job

    client = _run(lambda: _client(base_url, api_key, max_retries))
    submission = _run(lambda: submit_job(client, out_dir, model, suffix=suffix, epochs=epochs, seed=seed))
    typer.echo(
        f"uploaded {submission.training_file}"
        + (f" and {submission.validation_file}" if submission.validation_file else "")
    )
    typer.echo(f"job {submission.job.id} created ({submission.job.status})")
    if not wait:
        typer.echo(f"follow it with: finetune status {submission.job.id}")
        return

    def show(event: Any) -> None:
        typer.echo(f"  [{event.level}] {event.message}")

    job = _run(lambda: follow_job(client, submission.job.id, show, poll_interval=poll_interval))
    if job.status != "succeeded" or not job.fine_tuned_model:
        reason = job.error.message if job.error is not None and job.error.message else "no reason given"
        raise _fail(FinetuneError(ErrorCode.JOB_FAILED, f"job {job.id} {job.status}: {reason}"))
    typer.echo(f"fine-tuned model: {job.fine_tuned_model}")
    typer.echo("serve it with:")
    for line in serve_settings(job.fine_tuned_model):
        typer.echo(f"  {line}")


@finetune_app.command()
def status(
    job_id: Annotated[str, typer.Argument(help="Fine-tuning job id (ftjob-…).")],
    events: Annotated[int, typer.Option(help="How many recent events to show.")] = 20,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
    max_retries: MaxRetriesOption = 2,
) -> None:
    """Show a job's status, recent events and checkpoints."""
    from finetune.submit import job_status, serve_settings

    client = _run(lambda: _client(base_url, api_key, max_retries))
    info = _run(lambda: job_status(client, job_id, events))
    job = info.job
    typer.echo(f"job {job.id}: {job.status} (base model {job.model})")
    if job.trained_tokens:
        typer.echo(f"  trained tokens: {job.trained_tokens:,}")
    if job.error is not None and job.error.message:
        typer.echo(f"  error: {job.error.message}")
    if info.events:
        typer.echo("events:")
        for event in info.events:
            typer.echo(f"  [{event.level}] {event.message}")
    if info.checkpoints:
        typer.echo("checkpoints:")
        for checkpoint in info.checkpoints:
            metrics = checkpoint.metrics
            loss = f" train loss {metrics.train_loss:.4f}" if metrics.train_loss is not None else ""
            typer.echo(f"  step {checkpoint.step_number}: {checkpoint.fine_tuned_model_checkpoint}{loss}")
    if job.status == "succeeded" and job.fine_tuned_model:
        typer.echo(f"fine-tuned model: {job.fine_tuned_model}")
        for line in serve_settings(job.fine_tuned_model):
            typer.echo(f"  {line}")
    if job.status in ("failed", "cancelled"):
        raise typer.Exit(1)
