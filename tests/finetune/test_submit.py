"""submit and status through the real openai SDK against respx mocks of the fine-tuning API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from typer.testing import CliRunner

from finetune.cli import finetune_app
from finetune.errors import ErrorCode, FinetuneError
from finetune.submit import follow_job, job_status, make_client, submit_job

BASE = "http://testserver/v1"
runner = CliRunner()


def job(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "ftjob-1",
        "object": "fine_tuning.job",
        "created_at": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "fine_tuned_model": None,
        "organization_id": "org-1",
        "result_files": [],
        "status": status,
        "training_file": "file-train",
        "validation_file": "file-val",
        "hyperparameters": {"n_epochs": 3},
        "seed": 1,
        "error": None,
        "finished_at": None,
        "trained_tokens": None,
        **extra,
    }


def file_object(file_id: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": 10,
        "created_at": 1,
        "filename": "x.jsonl",
        "purpose": "fine-tune",
        "status": "processed",
    }


def events(*messages: str) -> dict[str, Any]:
    data = [
        {"id": f"ev{i}", "object": "fine_tuning.job.event", "created_at": i, "level": "info", "message": m}
        for i, m in enumerate(messages)
    ]
    return {"object": "list", "data": list(reversed(data)), "has_more": False}


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    (tmp_path / "train.jsonl").write_text('{"messages": []}\n')
    (tmp_path / "validation.jsonl").write_text('{"messages": []}\n')
    return tmp_path


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_submit_uploads_both_files_and_creates_the_job(api: respx.MockRouter, out_dir: Path) -> None:
    uploads = api.post("/files").mock(
        side_effect=[
            httpx.Response(200, json=file_object("file-train")),
            httpx.Response(200, json=file_object("file-val")),
        ]
    )
    create = api.post("/fine_tuning/jobs").mock(
        return_value=httpx.Response(200, json=job("validating_files"))
    )
    submission = submit_job(
        make_client(BASE, max_retries=0), out_dir, "gpt-4o-mini-2024-07-18", suffix="shop", epochs=2
    )
    assert submission.job.id == "ftjob-1"
    assert uploads.call_count == 2
    assert b'name="purpose"\r\n\r\nfine-tune' in uploads.calls[0].request.content
    body = json.loads(create.calls[0].request.content)
    assert body["training_file"] == "file-train"
    assert body["validation_file"] == "file-val"
    assert body["suffix"] == "shop"
    assert body["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2


def test_submit_without_validation_file(api: respx.MockRouter, out_dir: Path) -> None:
    (out_dir / "validation.jsonl").write_text("")
    api.post("/files").mock(return_value=httpx.Response(200, json=file_object("file-train")))
    create = api.post("/fine_tuning/jobs").mock(return_value=httpx.Response(200, json=job("queued")))
    submit_job(make_client(BASE, max_retries=0), out_dir, "gpt-4o-mini")
    assert "validation_file" not in json.loads(create.calls[0].request.content)


def test_follow_reports_events_once_until_success(api: respx.MockRouter) -> None:
    api.get("/fine_tuning/jobs/ftjob-1").mock(
        side_effect=[
            httpx.Response(200, json=job("running")),
            httpx.Response(200, json=job("succeeded", fine_tuned_model="ft:gpt-4o-mini:org::abc")),
        ]
    )
    api.get("/fine_tuning/jobs/ftjob-1/events").mock(
        side_effect=[
            httpx.Response(200, json=events("Job started")),
            httpx.Response(200, json=events("Job started", "Job succeeded")),
        ]
    )
    seen: list[str] = []
    final = follow_job(
        make_client(BASE, max_retries=0), "ftjob-1", lambda e: seen.append(e.message), sleep=lambda _: None
    )
    assert final.fine_tuned_model == "ft:gpt-4o-mini:org::abc"
    assert seen == ["Job started", "Job succeeded"]


@pytest.mark.parametrize(
    ("status", "code", "fragment"),
    [
        (401, ErrorCode.API_AUTH, "Incorrect API key provided"),
        (429, ErrorCode.API_RATE_LIMITED, "Rate limit reached"),
        (400, ErrorCode.API_BAD_REQUEST, "File has invalid format"),
        (500, ErrorCode.API_ERROR, "server exploded"),
    ],
)
def test_api_errors_carry_the_apis_message(
    api: respx.MockRouter, out_dir: Path, status: int, code: ErrorCode, fragment: str
) -> None:
    api.post("/files").mock(
        return_value=httpx.Response(status, json={"error": {"message": fragment, "type": "x"}})
    )
    with pytest.raises(FinetuneError) as info:
        submit_job(make_client(BASE, max_retries=0), out_dir, "gpt-4o-mini")
    assert info.value.code == code
    assert fragment in info.value.message


def test_network_error_is_reported(api: respx.MockRouter, out_dir: Path) -> None:
    api.post("/files").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(FinetuneError) as info:
        submit_job(make_client(BASE, max_retries=0), out_dir, "gpt-4o-mini")
    assert info.value.code == ErrorCode.API_CONNECTION
    assert "testserver" in info.value.message


def test_status_lists_events_and_checkpoints(api: respx.MockRouter) -> None:
    api.get("/fine_tuning/jobs/ftjob-1").mock(
        return_value=httpx.Response(200, json=job("running", trained_tokens=None))
    )
    api.get("/fine_tuning/jobs/ftjob-1/events").mock(return_value=httpx.Response(200, json=events("a", "b")))
    api.get("/fine_tuning/jobs/ftjob-1/checkpoints").mock(
        return_value=httpx.Response(
            200,
            json={
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": "ckpt-1",
                        "object": "fine_tuning.job.checkpoint",
                        "created_at": 5,
                        "fine_tuning_job_id": "ftjob-1",
                        "fine_tuned_model_checkpoint": "ft:gpt-4o-mini:org::abc:ckpt-step-10",
                        "step_number": 10,
                        "metrics": {"train_loss": 0.25},
                    }
                ],
            },
        )
    )
    info = job_status(make_client(BASE, max_retries=0), "ftjob-1")
    assert [e.message for e in info.events] == ["a", "b"]
    assert info.checkpoints[0].step_number == 10


CLI = ["--base-url", BASE, "--max-retries", "0"]


def test_cli_submit_wait_prints_model_and_setting(api: respx.MockRouter, out_dir: Path) -> None:
    api.post("/files").mock(return_value=httpx.Response(200, json=file_object("file-x")))
    api.post("/fine_tuning/jobs").mock(return_value=httpx.Response(200, json=job("queued")))
    api.get("/fine_tuning/jobs/ftjob-1").mock(
        return_value=httpx.Response(
            200, json=job("succeeded", fine_tuned_model="ft:gpt-4o-mini:org:shop:xyz")
        )
    )
    api.get("/fine_tuning/jobs/ftjob-1/events").mock(
        return_value=httpx.Response(200, json=events("Job succeeded"))
    )
    result = runner.invoke(finetune_app, ["submit", str(out_dir), "--wait", "--poll-interval", "0", *CLI])
    assert result.exit_code == 0, result.output
    assert "job ftjob-1 created" in result.output
    assert "[info] Job succeeded" in result.output
    assert "SHOPCHAT_LLM_MODEL=ft:gpt-4o-mini:org:shop:xyz" in result.output


def test_cli_submit_wait_on_failed_job_exits_1(api: respx.MockRouter, out_dir: Path) -> None:
    api.post("/files").mock(return_value=httpx.Response(200, json=file_object("file-x")))
    api.post("/fine_tuning/jobs").mock(return_value=httpx.Response(200, json=job("queued")))
    api.get("/fine_tuning/jobs/ftjob-1").mock(
        return_value=httpx.Response(
            200,
            json=job(
                "failed",
                error={
                    "code": "invalid_training_file",
                    "message": "Training file has 3 examples",
                    "param": None,
                },
            ),
        )
    )
    api.get("/fine_tuning/jobs/ftjob-1/events").mock(return_value=httpx.Response(200, json=events()))
    result = runner.invoke(finetune_app, ["submit", str(out_dir), "--wait", "--poll-interval", "0", *CLI])
    assert result.exit_code == 1
    assert "job ftjob-1 failed: Training file has 3 examples [job_failed]" in result.stderr
    assert "Traceback" not in result.output


def test_cli_submit_401_is_a_message_not_a_traceback(api: respx.MockRouter, out_dir: Path) -> None:
    api.post("/files").mock(
        return_value=httpx.Response(401, json={"error": {"message": "Incorrect API key provided"}})
    )
    result = runner.invoke(finetune_app, ["submit", str(out_dir), *CLI])
    assert result.exit_code == 1
    assert "authentication failed (401): Incorrect API key provided" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_submit_without_prepared_data(tmp_path: Path) -> None:
    result = runner.invoke(finetune_app, ["submit", str(tmp_path), *CLI])
    assert result.exit_code == 1
    assert "[nothing_to_submit]" in result.stderr


def test_cli_status_shows_checkpoints_and_model(api: respx.MockRouter) -> None:
    api.get("/fine_tuning/jobs/ftjob-1").mock(
        return_value=httpx.Response(
            200, json=job("succeeded", fine_tuned_model="ft:m:org::1", trained_tokens=1234)
        )
    )
    api.get("/fine_tuning/jobs/ftjob-1/events").mock(return_value=httpx.Response(200, json=events("done")))
    api.get("/fine_tuning/jobs/ftjob-1/checkpoints").mock(
        return_value=httpx.Response(200, json={"object": "list", "has_more": False, "data": []})
    )
    result = runner.invoke(finetune_app, ["status", "ftjob-1", *CLI])
    assert result.exit_code == 0, result.output
    assert "job ftjob-1: succeeded" in result.output
    assert "trained tokens: 1,234" in result.output
    assert "SHOPCHAT_LLM_MODEL=ft:m:org::1" in result.output
