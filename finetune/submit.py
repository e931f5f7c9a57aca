"""Uploading prepared data and running an OpenAI-compatible fine-tuning job through the official SDK."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from openai import OpenAI
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint

from finetune.errors import ErrorCode, FinetuneError
from finetune.pipeline import TRAIN_FILE, VALIDATION_FILE

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else None
        if isinstance(message, str):
            return message
    return exc.message


@contextmanager
def api_errors(base_url: str | None) -> Iterator[None]:
    """Turn SDK exceptions into ``FinetuneError`` with a stable code and the API's own message."""
    where = base_url or "the OpenAI API"
    try:
        yield
    except openai.AuthenticationError as exc:
        raise FinetuneError(
            ErrorCode.API_AUTH, f"authentication failed (401): {_api_message(exc)}; check OPENAI_API_KEY"
        ) from exc
    except openai.PermissionDeniedError as exc:
        raise FinetuneError(
            ErrorCode.API_PERMISSION, f"permission denied (403): {_api_message(exc)}"
        ) from exc
    except openai.NotFoundError as exc:
        raise FinetuneError(ErrorCode.API_NOT_FOUND, f"not found (404): {_api_message(exc)}") from exc
    except openai.RateLimitError as exc:
        raise FinetuneError(
            ErrorCode.API_RATE_LIMITED, f"rate limited (429): {_api_message(exc)}; wait and try again"
        ) from exc
    except openai.BadRequestError as exc:
        raise FinetuneError(
            ErrorCode.API_BAD_REQUEST, f"the API rejected the request (400): {_api_message(exc)}"
        ) from exc
    except openai.APIStatusError as exc:
        raise FinetuneError(
            ErrorCode.API_ERROR, f"API error ({exc.status_code}): {_api_message(exc)}"
        ) from exc
    except openai.APITimeoutError as exc:
        raise FinetuneError(ErrorCode.API_TIMEOUT, f"request to {where} timed out") from exc
    except openai.APIConnectionError as exc:
        raise FinetuneError(
            ErrorCode.API_CONNECTION, f"cannot reach {where}: {exc.__cause__ or exc}"
        ) from exc
    except openai.OpenAIError as exc:
        raise FinetuneError(ErrorCode.API_ERROR, str(exc)) from exc


def make_client(
    base_url: str | None = None, api_key: str | None = None, max_retries: int = 2, timeout: float = 120.0
) -> OpenAI:
    """An SDK client; ``OPENAI_API_KEY``/``OPENAI_BASE_URL`` apply when the arguments are None."""
    try:
        return OpenAI(api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout)
    except openai.OpenAIError as exc:
        raise FinetuneError(
            ErrorCode.API_AUTH, f"no API key: set OPENAI_API_KEY or pass --api-key ({exc})"
        ) from exc


@dataclass(frozen=True, slots=True)
class Submission:
    """The files uploaded and the job created."""

    training_file: str
    validation_file: str | None
    job: FineTuningJob


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def submit_job(
    client: OpenAI,
    out_dir: Path,
    model: str,
    *,
    suffix: str | None = None,
    epochs: int | None = None,
    seed: int | None = None,
) -> Submission:
    """Upload train (and validation, if any) with purpose ``fine-tune`` and create the job."""
    train, validation = out_dir / TRAIN_FILE, out_dir / VALIDATION_FILE
    if not _nonempty(train):
        raise FinetuneError(
            ErrorCode.NOTHING_TO_SUBMIT, f"{train} is missing or empty; run `finetune prepare` first"
        )
    base_url = str(client.base_url)
    with api_errors(base_url):
        with train.open("rb") as fh:
            training_file = client.files.create(file=(train.name, fh), purpose="fine-tune").id
        validation_file = None
        if _nonempty(validation):
            with validation.open("rb") as fh:
                validation_file = client.files.create(file=(validation.name, fh), purpose="fine-tune").id
        extra: dict[str, Any] = {}
        if epochs is not None:
            extra["method"] = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs}}}
        if suffix:
            extra["suffix"] = suffix
        if validation_file:
            extra["validation_file"] = validation_file
        if seed is not None:
            extra["seed"] = seed
        job = client.fine_tuning.jobs.create(model=model, training_file=training_file, **extra)
    return Submission(training_file, validation_file, job)


def new_events(client: OpenAI, job_id: str, seen: set[str]) -> list[FineTuningJobEvent]:
    """Events not seen before, oldest first (the API lists newest first)."""
    page = client.fine_tuning.jobs.list_events(job_id, limit=50)
    fresh = [event for event in page.data if event.id not in seen]
    seen.update(event.id for event in fresh)
    return sorted(fresh, key=lambda e: e.created_at)


def follow_job(
    client: OpenAI,
    job_id: str,
    on_event: Callable[[FineTuningJobEvent], None],
    *,
    poll_interval: float = 15.0,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FineTuningJob:
    """Poll until the job ends, reporting each new event once; returns the final job."""
    seen: set[str] = set()
    started = time.monotonic()
    with api_errors(str(client.base_url)):
        while True:
            job = client.fine_tuning.jobs.retrieve(job_id)
            for event in new_events(client, job_id, seen):
                on_event(event)
            if job.status in TERMINAL_STATUSES:
                return job
            if timeout is not None and time.monotonic() - started > timeout:
                raise FinetuneError(
                    ErrorCode.API_TIMEOUT, f"job {job_id} still {job.status} after {timeout:.0f}s"
                )
            sleep(poll_interval)


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job with its recent events and checkpoints."""

    job: FineTuningJob
    events: list[FineTuningJobEvent]
    checkpoints: list[FineTuningJobCheckpoint]


def job_status(client: OpenAI, job_id: str, events: int = 20) -> JobStatus:
    """The job, its latest events (oldest first) and its checkpoints."""
    with api_errors(str(client.base_url)):
        job = client.fine_tuning.jobs.retrieve(job_id)
        listed = client.fine_tuning.jobs.list_events(job_id, limit=events).data
        checkpoints = client.fine_tuning.jobs.checkpoints.list(job_id).data
    return JobStatus(job, sorted(listed, key=lambda e: e.created_at), list(checkpoints))


def serve_settings(model_name: str) -> list[str]:
    """The environment settings that make the server answer with the fine-tuned model."""
    return ["SHOPCHAT_LLM_BACKEND=openai", f"SHOPCHAT_LLM_MODEL={model_name}"]
