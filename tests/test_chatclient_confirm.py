"""``shopchat chat`` asks the user to confirm a change the assistant proposes, against a real demo server."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from app.chatclient import CONFIRM_PROMPT
from tests.test_chatclient import RETURN_POLICY, Terminal
from tests.test_server_e2e import Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chatclient-confirm")


@pytest.fixture(scope="module")
def server(database: Path) -> Iterator[Server]:
    # Demo mode: demo customers without signatures, whose orders the demo shop derives from their history.
    srv = Server(database, SHOPCHAT_DEMO_MODE="true").start()
    yield srv
    srv.stop()


def order_status(database: Path, order_id: str) -> str | None:
    with closing(sqlite3.connect(database / "e2e.db")) as db:
        row = db.execute("SELECT status FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    return None if row is None else str(row[0])


async def asked_to_cancel(server: Server, customer: str, order_id: str) -> Terminal:
    """A chat whose assistant has just asked to confirm cancelling ``order_id`` (a pending order)."""
    term = Terminal(server.ws, customer=customer).start()
    await term.prompts(1)
    term.say(f"Please cancel my order {order_id}")
    out = await term.wait_for(lambda out: out.endswith(CONFIRM_PROMPT))
    assert f"[to confirm] Cancel order {order_id} (" in out
    assert out.count("You: ") == 1
    return term


async def test_y_confirms_and_the_order_is_cancelled(server: Server, database: Path) -> None:
    term = await asked_to_cancel(server, "12349", "1234901")
    assert order_status(database, "1234901") == "pending"

    term.say("y")

    out = await term.prompts(2)
    assert "order 1234901 is cancelled" in out.rsplit(CONFIRM_PROMPT, 1)[1]
    assert order_status(database, "1234901") == "cancelled"
    assert out.endswith("You: ")
    assert await term.finish() == 0


async def test_enter_alone_declines_and_the_order_stays_pending(server: Server, database: Path) -> None:
    term = await asked_to_cancel(server, "12350", "1235001")

    term.say("")

    out = await term.prompts(2)
    assert "cancelled" not in out.rsplit(CONFIRM_PROMPT, 1)[1]
    assert order_status(database, "1235001") == "pending"
    assert await term.finish() == 0


async def test_a_typed_yes_sentence_is_a_message_the_server_takes_as_the_answer(
    server: Server, database: Path
) -> None:
    term = await asked_to_cancel(server, "12357", "1235701")

    term.say("yes, go ahead")

    out = await term.prompts(2)
    assert "You: yes, go ahead" not in out  # echoed once, at the prompt, not as a message from elsewhere
    assert "order 1235701 is cancelled" in out.rsplit(CONFIRM_PROMPT, 1)[1]
    assert order_status(database, "1235701") == "cancelled"
    assert await term.finish() == 0


async def test_another_question_at_the_prompt_is_sent_and_the_change_is_not_made(
    server: Server, database: Path
) -> None:
    term = await asked_to_cancel(server, "12361", "1236101")

    term.say("what is your return policy?")

    out = await term.prompts(2)
    assert RETURN_POLICY in out.rsplit(CONFIRM_PROMPT, 1)[1]
    # The question was left behind: the next line is a message again, not its answer.
    assert out.endswith("You: ")
    assert order_status(database, "1236101") == "pending"
    assert await term.finish() == 0


async def test_a_resumed_chat_asks_the_open_question_again(server: Server, database: Path) -> None:
    first = await asked_to_cancel(server, "12426", "1242601")
    conversation, token = first.session.conversation_id, first.session.token
    assert await first.finish() == 0

    term = Terminal(server.ws, conversation=conversation, token=token).start()
    out = await term.wait_for(lambda out: out.endswith(CONFIRM_PROMPT))
    assert "[to confirm] Cancel order 1242601 (" in out
    term.say("y")

    out = await term.wait_for(lambda out: out.endswith("You: "))
    assert "order 1242601 is cancelled" in out.rsplit(CONFIRM_PROMPT, 1)[1]
    assert order_status(database, "1242601") == "cancelled"
    assert await term.finish() == 0
