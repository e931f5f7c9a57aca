"""The action evaluation (bench/actions.py): its scoring, its task file, and the built-in responder's pass rate."""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.actions import (
    CATEGORIES,
    TASKS,
    Expected,
    Task,
    TaskError,
    Transcript,
    TrialResult,
    base_settings,
    evaluate,
    load_tasks,
    main,
    pass_hat_k,
    state_problems,
    summarize,
)
from tests.test_server_e2e import ROOT, free_port

# pass^1 of the whole suite against the built-in responder when last measured was 51 of 51; two tasks of slack
# for a loaded CI machine (the handoff tasks wait on timers). A regression check, to be raised when the responder
# gets better. See README "Action evaluation".
MEASURED_PASS_1 = 49 / 51

ORDER = {"status": "pending", "address": {"line1": "1 Mill Road", "city": "York", "postcode": "YO1 6JJ"}}


def test_pass_hat_k_is_the_chance_that_k_of_n_trials_all_pass() -> None:
    assert pass_hat_k(3, 3, 3) == 1.0
    assert pass_hat_k(2, 3, 1) == pytest.approx(2 / 3)
    assert pass_hat_k(2, 3, 3) == 0.0
    assert pass_hat_k(2, 4, 2) == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="at least 3 trials"):
        pass_hat_k(1, 1, 3)


def test_summary_averages_pass_hat_k_over_tasks() -> None:
    one = Task(id="a", category="cancel", turns=("x",))
    two = Task(id="b", category="lookup", turns=("y",))
    results = [
        TrialResult(task, trial, passed, [], Transcript(), 0.0)
        for task, outcomes in ((one, [True, True, True]), (two, [True, False, True]))
        for trial, passed in enumerate(outcomes)
    ]
    summary = summarize(results, ks=[1, 3])
    assert summary.pass_1 == pytest.approx((1 + 2 / 3) / 2)
    assert summary.pass_k[3] == pytest.approx(0.5)
    count, rate = summary.by_category["lookup"]
    assert count == 1
    assert rate == pytest.approx(2 / 3)
    assert summary.failing == ["b"]


def test_an_unexpected_change_fails_and_an_expected_one_passes() -> None:
    before = {"1": {**ORDER, "returned": {}}, "2": {**ORDER, "returned": {}}}
    after = {"1": {**ORDER, "status": "cancelled", "returned": {}}, "2": {**ORDER, "returned": {}}}
    assert state_problems(before, after, {"1": Expected(status="cancelled")}) == []
    assert state_problems(before, after, {}) == ["1: status cancelled, expected pending"]
    assert state_problems(before, before, {"1": Expected(status="cancelled")}) == [
        "1: status pending, expected cancelled"
    ]


def test_an_address_is_compared_by_street_city_and_postcode() -> None:
    moved = {**ORDER, "address": {"line1": "10 Church Lane", "line2": "Flat 4", "city": "Norwich",
                                  "postcode": "NR2 1AB"}, "returned": {}}  # fmt: skip
    wanted = Expected(address={"street": "10 church lane", "city": "Norwich", "postcode": "NR2 1AB"})
    assert state_problems({"1": {**ORDER, "returned": {}}}, {"1": moved}, {"1": wanted}) == []
    elsewhere = Expected(address={"street": "10 Church Lane", "postcode": "NR2 9ZZ"})
    assert state_problems({"1": {**ORDER, "returned": {}}}, {"1": moved}, {"1": elsewhere}) != []


def test_the_task_file_has_at_least_40_tasks_in_every_category() -> None:
    tasks = load_tasks()
    assert len(tasks) >= 40
    assert {t.category for t in tasks} == set(CATEGORIES)


def test_a_misspelt_field_names_the_task(tmp_path: Path) -> None:
    bad = tmp_path / "tasks.toml"
    bad.write_text('[[task]]\nid = "x"\ncategory = "cancel"\nturns = ["hi"]\nconfrim = "approve"\n')
    with pytest.raises(TaskError, match="task 'x': unknown field\\(s\\) confrim"):
        load_tasks(bad)


def test_bad_arguments_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--tasks", "no-such-task"]) == 2
    assert capsys.readouterr().err == "error: --tasks: no task no-such-task\n"


@pytest.mark.slow
async def test_the_built_in_responder_passes_at_least_what_it_did(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own model settings must not reach this run.
    for name in ("SHOPCHAT_LLM_BACKEND", "OPENAI_BASE_URL", "SHOPCHAT_OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    tasks = load_tasks(TASKS)
    settings = base_settings(argparse.Namespace(base_url=None, model=None, api_key_env="OPENAI_API_KEY"))
    assert settings.llm_backend == "local"
    results = await evaluate(tasks, 1, settings)  # about 30 s: three trials at a time
    summary = summarize(results, ks=[1])
    assert summary.pass_1 >= MEASURED_PASS_1, f"failing: {summary.failing}"


@pytest.fixture
def upstream() -> Iterator[str]:
    """The fake OpenAI-compatible server of the end-to-end tests (it wants the key sk-fake)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.fake_openai_server", str(port)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.slow
def test_base_url_runs_the_tasks_against_an_openai_compatible_server(
    upstream: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BENCH_FAKE_KEY", "sk-fake")
    argv = ["--base-url", upstream, "--model", "fake-model", "--api-key-env", "BENCH_FAKE_KEY"]
    assert main([*argv, "--tasks", "lookup-delivered,refuse-cancel-delivered", "--trials", "1"]) == 0
    out = capsys.readouterr()
    assert "2 tasks x 1 trials, model fake-model" in out.out
    assert re.search(r"^pass\^1 = \d\.\d{3}$", out.out, flags=re.MULTILINE)
    # The fake model calls the first tool it is offered and repeats its result: the chat went through it.
    assert "assistant: The tool said:" in out.err


def test_a_key_variable_named_on_purpose_must_be_set(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "BENCH_UNSET_KEY_VARIABLE"]
    assert main(argv) == 2
    assert "BENCH_UNSET_KEY_VARIABLE: that environment variable is not set" in capsys.readouterr().err
