"""Fan-out of stored events to the sockets watching a conversation, behind a port.

The in-process implementation reaches the sockets of this process; a shared bus (Redis) can implement the
same port so a conversation's sockets may live in several processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from app.conversation.subscriber import Subscriber


class Broadcaster(Protocol):
    """Delivers each published event to every subscriber of its conversation."""

    def subscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Start delivering the conversation's events to ``subscriber``."""
        ...

    def unsubscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber`` (no error if it was not subscribed)."""
        ...

    def publish(self, conversation_id: str, seq: int, payload: str) -> None:
        """Deliver a stored event (its JSON) to the conversation's subscribers; never blocks."""
        ...

    def close(self) -> None:
        """Close every subscriber's outbox (shutdown)."""
        ...


class InProcessBroadcaster:
    """The embedded default: subscribers are the sockets of this process."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}

    def subscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Start delivering the conversation's events to ``subscriber``."""
        self._subscribers.setdefault(conversation_id, set()).add(subscriber)

    def unsubscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber``."""
        subscribers = self._subscribers.get(conversation_id)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self._subscribers[conversation_id]

    def publish(self, conversation_id: str, seq: int, payload: str) -> None:
        """Queue the event on every subscriber's outbox."""
        for subscriber in self._subscribers.get(conversation_id, ()):
            subscriber.deliver(seq, payload)

    def close(self) -> None:
        """Close every subscriber's outbox."""
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.close()


Control = dict[str, str]
"""A control message for the process generating a conversation's answer, e.g. {"cancel": message_id}."""


class Peers(Protocol):
    """The other server processes sharing the database (none in the embedded default)."""

    def send(self, conversation_id: str, message: Control) -> None:
        """Tell every other process (the one generating the conversation's answer acts on it); never blocks."""
        ...

    def listen(self, on_control: Callable[[str, Control], None], on_activity: Callable[[str], None]) -> None:
        """Call ``on_control`` for other processes' control messages, ``on_activity`` for their events."""
        ...
