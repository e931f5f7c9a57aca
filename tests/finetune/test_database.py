"""--from-db: conversations from shopchat's own store, filtered by feedback and route."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy.ext.asyncio import async_sessionmaker
from typer.testing import CliRunner

from app.store.migrate import upgrade
from app.store.store import Store
from app.store.tables import Conversation, Message
from finetune.cli import finetune_app
from finetune.database import FeedbackFilter, StoreQuery, read_store
from finetune.sources import Kind

runner = CliRunner()


async def _seed(url: str) -> None:
    store = Store.from_url(url)
    await upgrade(store.engine)
    async with async_sessionmaker(store.engine).begin() as session:
        rows: dict[str, list[tuple[str, str, str | None, int | None, str]]] = {
            "c4": [
                ("user", "Where is my refund?", None, None, "done"),
                ("assistant", "Let me check.", "llm", None, "done"),
                ("user", "human please", None, None, "done"),
                ("assistant", "", "chat", None, "held"),
                ("operator", "Hi, Anna here: your refund went out today.", None, None, "done"),
            ],
            "c1": [
                ("user", "Where is order 55501234?", None, None, "done"),
                ("assistant", "It ships today.", "llm", 1, "done"),
            ],
            "c2": [("user", "Hi", None, None, "done"), ("assistant", "Bad answer", "llm", -1, "done")],
            "c3": [
                ("user", "Recommend a mug", None, None, "done"),
                ("assistant", "Try 85123A.", "recommend", None, "done"),
                ("user", "More?", None, None, "done"),
                ("assistant", "partial", "llm", None, "stopped"),
            ],
        }
        for cid, messages in rows.items():
            session.add(Conversation(id=cid, customer_id=None))
            for i, (role, text, route, rating, status) in enumerate(messages):
                session.add(
                    Message(
                        conversation_id=cid,
                        client_id=f"m{i // 2}",
                        role=role,
                        text=text,
                        route=route,
                        feedback_rating=rating,
                        status=status,
                    )
                )
    await store.close()


def _url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{(tmp_path / 'chat.db').resolve()}"
    asyncio.run(_seed(url))
    return url


def test_reads_every_conversation_with_weights(tmp_path: Path) -> None:
    records = list(read_store(StoreQuery(_url(tmp_path), page_size=2)))
    assert [r.origin.key for r in records] == ["c1", "c2", "c3", "c4"]
    assert all(r.kind == Kind.CHAT for r in records)
    assert records[1].payload["messages"][1] == {"role": "assistant", "content": "Bad answer", "weight": 0}
    assert [m["content"] for m in records[2].payload["messages"]] == [
        "Recommend a mug",
        "Try 85123A.",
        "More?",
    ]


def test_positive_feedback_only(tmp_path: Path) -> None:
    records = list(read_store(StoreQuery(_url(tmp_path), FeedbackFilter.POSITIVE)))
    assert [r.origin.key for r in records] == ["c1"]


def test_route_filter(tmp_path: Path) -> None:
    records = list(read_store(StoreQuery(_url(tmp_path), route="recommend")))
    assert [r.origin.key for r in records] == ["c3"]


def test_cli_prepare_from_db_accounts_for_every_conversation(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [
        "prepare",
        "--from-db",
        _url(tmp_path),
        "-o",
        str(out),
        "-q",
        "--workers",
        "1",
        "--system-prompt",
        "none",
    ]
    result = runner.invoke(finetune_app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["counts"]["records_in"] == 4
    assert report["rejected_by_reason"] == {"failed_checks": 1}
    assert report["checks_failed"] == {"no_trainable_assistant_message": 1}
    assert "55501234" not in (out / "train.jsonl").read_text() + (out / "validation.jsonl").read_text()


def test_operators_answers_are_examples_and_held_answers_never_are(tmp_path: Path) -> None:
    [record] = [r for r in read_store(StoreQuery(_url(tmp_path))) if r.origin.key == "c4"]
    assert record.payload["messages"] == [
        {"role": "user", "content": "Where is my refund?"},
        {"role": "assistant", "content": "Let me check."},
        {"role": "user", "content": "human please"},
        {"role": "assistant", "content": "Hi, Anna here: your refund went out today."},
    ]


def test_without_operators_answers_a_conversation_stops_where_a_person_was_asked_for(tmp_path: Path) -> None:
    query = StoreQuery(_url(tmp_path), operator_answers=False)
    [record] = [r for r in read_store(query) if r.origin.key == "c4"]
    assert [m["content"] for m in record.payload["messages"]] == [
        "Where is my refund?",
        "Let me check.",
    ]
