"""``shopchat chat``: a terminal client of the websocket protocol (docs/protocol.md).

It speaks plain JSON over the socket and imports nothing of the server: frames are read as dicts, so a frame
type it does not know (from a newer server) is shown as it is instead of breaking the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

DEFAULT_URL = "ws://127.0.0.1:8000/ws/chat"
HELP = "/quit (or Ctrl-D) leaves, /new starts a new conversation, Ctrl-C stops an answer (twice: leaves)."
CONFIRM_PROMPT = "Confirm? [y/N] "
# At the confirmation prompt these answer the question (Enter alone declines); any other line is a message.
_APPROVE_WORDS: Final = frozenset({"y", "yes", "j", "ja"})
_DECLINE_WORDS: Final = frozenset({"", "n", "no", "nein"})
_CONFIRM_PREFIX: Final = "confirm-"  # the server stores a confirm frame as the message confirm-<action_id>

# Close codes after which resuming the same conversation cannot succeed (docs/protocol.md, "Close codes").
_CLOSE_BAD_REQUEST: Final = 4400
_CLOSE_UNAUTHORIZED: Final = 4401
_FATAL_CLOSE_CODES: Final = frozenset({_CLOSE_BAD_REQUEST, _CLOSE_UNAUTHORIZED})
EXIT_INTERRUPTED: Final = 130
EXIT_FAILED: Final = 1


class Interrupt:
    """Ctrl-C, as an item of the input queue."""


class EndOfInput:
    """Ctrl-D (or the end of piped input), as an item of the input queue."""


INTERRUPT: Final = Interrupt()
END_OF_INPUT: Final = EndOfInput()
UserInput = str | Interrupt | EndOfInput
Write = Callable[[str], None]


@dataclass(frozen=True)
class ChatOptions:
    """Where to connect and as whom; ``conversation`` + ``token`` resume a conversation (history replayed)."""

    url: str = DEFAULT_URL
    customer: str | None = None
    customer_sig: str | None = None
    conversation: str | None = None
    token: str | None = None
    # Piped input is not echoed by a terminal: the client prints each line after its prompt itself.
    echo: bool = True
    open_timeout_s: float = 10.0
    # How long to keep trying after a dropped connection before giving up.
    reconnect_for_s: float = 120.0
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 5.0


class _LeaveError(Exception):
    """Leave the chat with ``code``, after printing ``message`` (if any) as one line."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _RetryableError(Exception):
    """A connection attempt failed in a way worth retrying (after ``after_s`` if the server said so)."""

    def __init__(self, reason: str, after_s: float | None = None) -> None:
        super().__init__(reason)
        self.after_s = after_s


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _format_price(value: Any, currency: Any) -> str:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    amount = f"{value:.2f}" if number else str(value)
    return f"{amount} {currency}" if isinstance(currency, str) and currency else amount


@dataclass(frozen=True)
class _Question:
    """A change the assistant proposed (``confirm`` event ``action_id``, asked in the answer to ``message_id``)."""

    action_id: str
    message_id: str


class ChatSession:
    """One terminal chat: reads ``inputs``, writes to ``write``, keeps the connection and the answer state."""

    def __init__(
        self,
        options: ChatOptions,
        inputs: asyncio.Queue[UserInput],
        write: Write,
        write_error: Write | None = None,
    ) -> None:
        self.options = options
        self.inputs = inputs
        self._write = write
        self._write_error = write_error
        self.conversation_id = options.conversation
        self.token = options.token
        # A resume from the command line replays the whole conversation: the terminal shows its history.
        self.last_seq = 0
        self.ws: ClientConnection | None = None
        self._recv: asyncio.Task[str | bytes] | None = None
        self._input: asyncio.Task[UserInput] | None = None
        self._pending: deque[UserInput] = deque()
        self._sent: set[str] = set()
        self._cancelled: set[str] = set()
        self.awaiting: str | None = None  # the message whose answer is on its way
        self._accepted = False
        self._cancel_sent = False
        self._speaking: str | None = None  # the message whose answer text is being printed
        self._at_line_start = True
        self._prompted = False
        self._retry_after_s: float | None = None
        self._replay_until = 0  # the newest event when the connection opened: the prompt waits for it
        self._texts: dict[str, str] = {}  # what was sent, for a resend after a reconnect
        self._spoken: dict[str, str] = {}  # answer text printed so far, per message
        self._frames: dict[str, dict[str, Any]] = {}  # confirm frames sent, for a resend after a reconnect
        self.confirming: _Question | None = None  # the change waiting for the user's yes or no
        self._asked = False  # the confirmation prompt is what the next line answers

    # ---- output --------------------------------------------------------------------------------------

    def _out(self, text: str, *, prompt: bool = False) -> None:
        if text:
            self._write(text)
            self._at_line_start = text.endswith("\n")
            # Whatever is printed after a prompt leaves it behind: it is shown again once idle.
            self._prompted = prompt

    def _line(self, text: str) -> None:
        """Print ``text`` on a line of its own."""
        self._break()
        self._out(text + "\n")
        self._speaking = None

    def _break(self) -> None:
        if not self._at_line_start:
            self._out("\n")

    def _prompt(self) -> None:
        replaying = self.last_seq < self._replay_until
        if self.awaiting is None and not self._pending and not self._prompted and not replaying:
            self._break()
            self._asked = self.confirming is not None
            self._out(CONFIRM_PROMPT if self._asked else "You: ", prompt=True)

    # ---- the loop ------------------------------------------------------------------------------------

    async def run(self) -> int:
        """Chat until the user leaves; returns the exit code (0 on /quit or end of input)."""
        try:
            self._check_url()
            await self._open(first=True)
            while True:
                self._prompt()
                await self._step()
        except _LeaveError as leaving:
            self._break()
            if leaving.message is not None:
                if self._write_error is not None:
                    self._write_error(leaving.message + "\n")
                else:
                    self._line(leaving.message)
            return leaving.code
        finally:
            await self._shutdown()

    async def _step(self) -> None:
        if self.awaiting is None and self._pending:
            await self._handle_input(self._pending.popleft())
            return
        assert self.ws is not None
        if self._recv is None:
            self._recv = asyncio.ensure_future(self.ws.recv())
        if self._input is None:
            self._input = asyncio.ensure_future(self.inputs.get())
        done, _ = await asyncio.wait({self._recv, self._input}, return_when=asyncio.FIRST_COMPLETED)
        if self._input in done:
            item = self._input.result()
            self._input = None
            if isinstance(item, Interrupt) or self.awaiting is None:
                await self._handle_input(item)
            else:
                self._pending.append(item)  # answered after the answer in progress
        if self._recv is not None and self._recv in done:
            receiving, self._recv = self._recv, None
            try:
                raw = receiving.result()
            except ConnectionClosed as closed:
                await self._reconnect(closed)
                return
            self._handle_frame(raw)

    async def _next_input(self, wait_s: float) -> UserInput | None:
        """The next input item within ``wait_s`` seconds, else None (nothing is lost when none comes)."""
        if self._input is None:
            self._input = asyncio.ensure_future(self.inputs.get())
        done, _ = await asyncio.wait({self._input}, timeout=wait_s)
        if not done:
            return None
        item = self._input.result()
        self._input = None
        return item

    async def _shutdown(self) -> None:
        for task in (self._recv, self._input):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._recv = self._input = None
        await self._close_socket()

    async def _close_socket(self) -> None:
        if self.ws is not None:
            ws, self.ws = self.ws, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)

    # ---- input ---------------------------------------------------------------------------------------

    async def _handle_input(self, item: UserInput) -> None:
        if isinstance(item, Interrupt):
            await self._interrupt()
            return
        if isinstance(item, EndOfInput):
            raise _LeaveError(0)
        line = item.strip()
        self._echo(item)
        if not line and not (self._asked and self.confirming is not None):
            return
        if line in ("/quit", "/exit"):
            raise _LeaveError(0)
        if line == "/new":
            await self._new_conversation()
            return
        if line == "/help":
            self._line(HELP)
            return
        if await self._answer_confirmation(line):
            return
        message_id = f"cli-{uuid.uuid4().hex[:16]}"
        self._sent.add(message_id)
        self._texts[message_id] = line
        self.awaiting, self._accepted, self._cancel_sent = message_id, False, False
        await self._send({"type": "message", "id": message_id, "text": line})

    def _echo(self, line: str) -> None:
        if not self._prompted:
            # A line typed while an answer was printed: show it where it is answered.
            self._break()
            self._out(f"You: {line}\n")
        elif self.options.echo:
            self._out(line + "\n")
        else:
            self._at_line_start = True  # the terminal echoed the line and its newline
        self._prompted = False

    async def _answer_confirmation(self, line: str) -> bool:
        """Send the answer to the confirmation just asked, if ``line`` is one (y/yes or n/no/Enter)."""
        question, asked = self.confirming, self._asked
        self._asked = False
        word = line.lower().rstrip(".!")
        if question is None or not asked or word not in _APPROVE_WORDS | _DECLINE_WORDS:
            return False
        approve = word in _APPROVE_WORDS
        frame = {"type": "confirm", "action_id": question.action_id, "approve": approve}
        message_id = _CONFIRM_PREFIX + question.action_id
        self.confirming = None
        self._frames[message_id] = frame
        self._sent.add(message_id)
        self.awaiting, self._accepted, self._cancel_sent = message_id, False, False
        await self._send(frame)
        return True

    async def _interrupt(self) -> None:
        if self.awaiting is None or self._cancel_sent:
            raise _LeaveError(EXIT_INTERRUPTED)
        self._cancel_sent = True
        self._cancelled.add(self.awaiting)
        self._line("[stopping the answer; Ctrl-C again leaves]")
        await self._send({"type": "cancel", "message_id": self.awaiting})

    async def _send(self, frame: dict[str, Any]) -> None:
        if self.ws is None:
            return
        # A closed socket is noticed by the receiving side, which reconnects and sends what is still due.
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(frame))

    async def _new_conversation(self) -> None:
        if self._recv is not None:
            self._recv.cancel()
            with contextlib.suppress(BaseException):
                await self._recv
            self._recv = None
        await self._close_socket()
        self.conversation_id = self.token = None
        self.last_seq = 0
        self.awaiting = None
        self._speaking = None
        await self._open(first=True)

    # ---- connecting ----------------------------------------------------------------------------------

    def _connect_url(self) -> str:
        query: dict[str, str] = {}
        if self.conversation_id is not None and self.token is not None:
            query.update(conversation_id=self.conversation_id, token=self.token, last_seq=str(self.last_seq))
        elif self.options.customer is not None:
            query["customer_id"] = self.options.customer
            if self.options.customer_sig is not None:
                query["customer_sig"] = self.options.customer_sig
        separator = "&" if "?" in self.options.url else "?"
        return f"{self.options.url}{separator}{urlencode(query)}" if query else self.options.url

    def _check_url(self) -> None:
        url = self.options.url
        try:
            parsed = urlsplit(url)
            valid = parsed.scheme in ("ws", "wss") and bool(parsed.hostname) and parsed.port != 0
        except ValueError:  # a port out of range, a malformed IPv6 address
            valid = False
        if not valid:
            raise _LeaveError(2, f"error: {url} is not a websocket URL (ws://HOST[:PORT]/ws/chat or wss://…)")

    async def _open(self, *, first: bool) -> None:
        """Connect and read ``ready``; a refusal raises ``_LeaveError`` (first) or ``_RetryableError`` (worth retrying)."""
        url = self._connect_url()
        where = self.options.url
        try:
            ws = await connect(url, open_timeout=self.options.open_timeout_s, max_size=2**20)
        except (InvalidURI, ValueError) as exc:
            raise _LeaveError(2, f"error: {where} is not a websocket URL (ws://… or wss://…)") from exc
        except InvalidStatus as exc:
            status = exc.response.status_code
            reason = f"the server at {where} refused the connection (HTTP {status})"
            if first or 400 <= status < 500:
                raise _LeaveError(EXIT_FAILED, f"error: {reason}") from exc
            raise _RetryableError(reason) from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            detail = str(exc) or type(exc).__name__
            if first:
                raise _LeaveError(EXIT_FAILED, f"error: cannot reach {where}: {detail}") from exc
            raise _RetryableError(detail) from exc
        try:
            ready = await self._read_ready(ws, first=first)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
            raise
        self.ws = ws
        self.conversation_id = _str(ready.get("conversation_id")) or self.conversation_id
        self.token = _str(ready.get("token")) or self.token  # every ready carries a fresh one
        self._replay_until = _int(ready.get("last_seq")) or 0
        if first:
            self._announce(ready)

    async def _read_ready(self, ws: ClientConnection, *, first: bool) -> dict[str, Any]:
        try:
            raw = await asyncio.wait_for(ws.recv(), self.options.open_timeout_s)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            reason = f"the server closed the connection ({code})"
            if first or code in _FATAL_CLOSE_CODES:
                raise _LeaveError(EXIT_FAILED, f"error: {reason}") from closed
            raise _RetryableError(reason) from closed
        except TimeoutError as exc:
            if first:
                raise _LeaveError(EXIT_FAILED, "error: the server did not greet the connection") from exc
            raise _RetryableError("no ready frame") from exc
        frame = self._parse(raw)
        kind = frame.get("type") if frame is not None else None
        if frame is not None and kind == "ready":
            return frame
        if frame is not None and kind == "error":
            error_code = _str(frame.get("code")) or "error"
            message = _str(frame.get("message")) or ""
            retry_after = frame.get("retry_after_s")
            if error_code == "rate_limited" and not first and isinstance(retry_after, int | float):
                raise _RetryableError(message, after_s=float(retry_after))
            raise _LeaveError(
                EXIT_FAILED, f"error: the server refused the connection: {error_code}: {message}"
            )
        raise _LeaveError(EXIT_FAILED, "error: the server did not answer with a ready frame")

    def _announce(self, ready: dict[str, Any]) -> None:
        who = ready.get("customer_id")
        parts = [f"conversation {self.conversation_id}"]
        if isinstance(who, str) and who:
            parts.append(f"customer {who}")
        if ready.get("resumed") is True:
            parts.append("resumed")
        self._line(f"[connected: {', '.join(parts)}. {HELP}]")
        state = ready.get("model_state")
        if state in ("unreachable", "error"):
            self._line(f"[the model is {state}: replies may be delayed]")

    async def _reconnect(self, closed: ConnectionClosed) -> None:
        """Resume the conversation after a dropped connection, with backoff, from ``last_seq``."""
        self.ws = None
        code = closed.rcvd.code if closed.rcvd is not None else None
        if code in _FATAL_CLOSE_CODES:
            raise _LeaveError(
                EXIT_FAILED, f"error: the server closed the conversation ({code}); start a new one"
            )
        self._line("[connection lost; reconnecting…]")
        deadline = time.monotonic() + self.options.reconnect_for_s
        delay = self._retry_after_s or self.options.backoff_initial_s
        self._retry_after_s = None
        while True:
            wait_until = time.monotonic() + delay
            while (remaining := wait_until - time.monotonic()) > 0:
                item = await self._next_input(remaining)
                if isinstance(item, Interrupt):
                    raise _LeaveError(EXIT_INTERRUPTED)
                if isinstance(item, EndOfInput) and self.awaiting is None and not self._pending:
                    raise _LeaveError(0)  # nothing is owed to the user: Ctrl-D need not wait for the server
                if item is not None:
                    self._pending.append(item)
            try:
                await self._open(first=False)
                break
            except _RetryableError as retry:
                if time.monotonic() >= deadline:
                    raise _LeaveError(
                        EXIT_FAILED, f"error: lost the connection to {self.options.url} and could not resume"
                    ) from retry
                delay = retry.after_s or min(delay * 2, self.options.backoff_max_s)
        self._line("[reconnected]")
        if self.awaiting is not None:
            if not self._accepted:
                # Resending an id is harmless: the server answers it once and repeats its acknowledgement.
                resend = self._frames.get(self.awaiting)
                await self._send(
                    resend or {"type": "message", "id": self.awaiting, "text": self._awaiting_text}
                )
            elif self._cancel_sent:
                await self._send({"type": "cancel", "message_id": self.awaiting})

    @property
    def _awaiting_text(self) -> str:
        return self._texts.get(self.awaiting or "", "")

    # ---- frames --------------------------------------------------------------------------------------

    def _parse(self, raw: str | bytes) -> dict[str, Any] | None:
        try:
            frame = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        return frame if isinstance(frame, dict) else None

    def _handle_frame(self, raw: str | bytes) -> None:
        frame = self._parse(raw)
        if frame is None:
            shown = raw if isinstance(raw, str) else f"<{len(raw)} bytes>"
            self._line(f"[unreadable frame] {shown[:200]}")
            return
        seq = _int(frame.get("seq"))
        if seq is not None:
            if seq <= self.last_seq:
                return  # already shown (a repeated acknowledgement, or a replay overlapping what we saw)
            self.last_seq = seq
        kind = frame.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None or not handler(self, frame):
            self._generic(frame)

    def _generic(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        rest = {k: v for k, v in frame.items() if k not in ("type", "seq", "message_id")}
        label = kind if isinstance(kind, str) else "frame"
        self._line(f"[{label}] {json.dumps(rest, ensure_ascii=False)}")

    def _on_accepted(self, frame: dict[str, Any]) -> bool:
        message_id, text = _str(frame.get("message_id")), _str(frame.get("text"))
        if message_id is None or text is None:
            return False
        if self.confirming is not None and message_id != self.confirming.message_id:
            self.confirming = None  # answered (here, in another tab, by a typed yes) or left behind
        if message_id == self.awaiting:
            self._accepted = True
        elif message_id not in self._sent:
            self._line(f"You: {text}")  # the conversation's history, or another tab's message
        return True

    def _on_delta(self, frame: dict[str, Any]) -> bool:
        message_id, text = _str(frame.get("message_id")), _str(frame.get("text"))
        if message_id is None or text is None:
            return False
        if self._speaking != message_id:
            self._break()
            self._out("Assistant: ")
            self._speaking = message_id
        self._out(text)
        self._spoken[message_id] = self._spoken.get(message_id, "") + text
        return True

    def _on_reset(self, frame: dict[str, Any]) -> bool:
        message_id = _str(frame.get("message_id"))
        if message_id is None:
            return False
        self._spoken.pop(message_id, None)
        self._line("[the server restarted mid-answer: discard the text above, the answer follows again]")
        return True

    def _on_recommendations(self, frame: dict[str, Any]) -> bool:
        items = frame.get("items")
        if not isinstance(items, list):
            return False
        self._break()
        for item in items:
            if not isinstance(item, dict):
                continue
            name = item.get("name", "?")
            self._out(f"  * {name} - {_format_price(item.get('price'), item.get('currency'))}\n")
            reason = item.get("reason")
            if isinstance(reason, str) and reason:
                self._out(f"    {reason}\n")
        self._speaking = None
        return True

    def _on_done(self, frame: dict[str, Any]) -> bool:
        message_id = _str(frame.get("message_id"))
        if message_id is None:
            return False
        text = _str(frame.get("text")) or ""
        if message_id not in self._spoken and text:
            self._line(f"Assistant: {text}")  # an answer that streamed no delta
        self._break()
        if frame.get("stopped") is True:
            self._line("[stopped]")
        elif frame.get("finish_reason") in ("length", "content_filter"):
            self._line(f"[the answer was cut short: {frame.get('finish_reason')}]")
        self._spoken.pop(message_id, None)
        self._speaking = None
        self._end(message_id)
        return True

    def _on_error(self, frame: dict[str, Any]) -> bool:
        code = _str(frame.get("code")) or "error"
        reply_to = _str(frame.get("reply_to"))
        if code == "not_found" and reply_to in self._cancelled and frame.get("seq") is None:
            return True  # our cancel came after the answer had ended: nothing to stop
        message = _str(frame.get("message")) or ""
        retry_after = frame.get("retry_after_s")
        tail = f" (retry in {retry_after:g}s)" if isinstance(retry_after, int | float) else ""
        self._line(f"error {code}: {message}{tail}")
        if reply_to is not None:
            self._spoken.pop(reply_to, None)
            self._end(reply_to)
        return True

    def _on_confirm(self, frame: dict[str, Any]) -> bool:
        action_id, message_id = _str(frame.get("action_id")), _str(frame.get("message_id"))
        summary = _str(frame.get("summary"))
        if action_id is None or message_id is None or summary is None:
            return False
        self._line(f"[to confirm] {summary}")
        self.confirming = _Question(action_id, message_id)
        return True

    def _on_quiet(self, frame: dict[str, Any]) -> bool:
        return True

    def _on_feedback_saved(self, frame: dict[str, Any]) -> bool:
        self._line("[feedback saved]")
        return True

    def _on_ready(self, frame: dict[str, Any]) -> bool:
        self.token = _str(frame.get("token")) or self.token
        return True

    def _end(self, message_id: str) -> None:
        if message_id == self.awaiting:
            self.awaiting = None
            self._texts.pop(message_id, None)
            self._frames.pop(message_id, None)

    _handlers: Final[dict[str, Callable[[ChatSession, dict[str, Any]], bool]]] = {
        "accepted": _on_accepted,
        "delta": _on_delta,
        "reset": _on_reset,
        "recommendations": _on_recommendations,
        "done": _on_done,
        "error": _on_error,
        "pong": _on_quiet,
        "feedback_saved": _on_feedback_saved,
        "ready": _on_ready,
        "confirm": _on_confirm,
    }


async def chat(
    options: ChatOptions, inputs: asyncio.Queue[UserInput], write: Write, write_error: Write | None = None
) -> int:
    """Run a chat over ``options.url``: lines from ``inputs``, shown through ``write`` (the reason it ended
    through ``write_error`` when given)."""
    return await ChatSession(options, inputs, write, write_error).run()


def _pump_stdin(loop: asyncio.AbstractEventLoop, inputs: asyncio.Queue[UserInput]) -> None:
    # A thread, so a blocked read never stalls the event loop; a daemon, so it never holds up the exit.
    def put(item: UserInput) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            loop.call_soon_threadsafe(inputs.put_nowait, item)

    try:
        for line in iter(sys.stdin.readline, ""):
            put(line.rstrip("\r\n"))
    except (OSError, ValueError):
        pass
    put(END_OF_INPUT)


def run_terminal(options: ChatOptions) -> int:
    """The ``shopchat chat`` command: stdin lines in, stdout out, Ctrl-C as an interrupt; returns the exit code."""

    def write(text: str) -> None:
        with contextlib.suppress(BrokenPipeError):
            sys.stdout.write(text)
            sys.stdout.flush()

    def write_error(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    async def main() -> int:
        loop = asyncio.get_running_loop()
        inputs: asyncio.Queue[UserInput] = asyncio.Queue()
        with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' loop
            loop.add_signal_handler(signal.SIGINT, inputs.put_nowait, INTERRUPT)
        threading.Thread(target=_pump_stdin, args=(loop, inputs), name="stdin", daemon=True).start()
        return await chat(options, inputs, write, write_error)

    with contextlib.suppress(AttributeError, ValueError):
        sys.stdin.reconfigure(errors="replace")  # type: ignore[union-attr]
    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return EXIT_INTERRUPTED
