"""Helpers for websocket tests against FastAPI's TestClient."""

from __future__ import annotations

from typing import Any

from starlette.testclient import WebSocketTestSession

Frame = dict[str, Any]


def receive_until(ws: WebSocketTestSession, *types: str, limit: int = 2000) -> list[Frame]:
    """Frames up to and including the first whose type is one of ``types``."""
    frames: list[Frame] = []
    for _ in range(limit):
        frame: Frame = ws.receive_json()
        frames.append(frame)
        if frame["type"] in types:
            return frames
    raise AssertionError(f"no {types} frame within {limit} frames")


def answer_text(frames: list[Frame], message_id: str) -> str:
    """The streamed text of one answer, from its deltas."""
    return "".join(f["text"] for f in frames if f["type"] == "delta" and f["message_id"] == message_id)


def send_message(ws: WebSocketTestSession, message_id: str, text: str) -> None:
    """Send a ``message`` frame."""
    ws.send_json({"type": "message", "id": message_id, "text": text})
