"""The conversation service: the one entry point the web layer uses to open, watch and talk in conversations.

It owns the live hubs (one per conversation with a socket or work in this process), queues answers one at a
time per conversation, stops them on cancel, abandon or shutdown, and resumes answers a previous process left
unfinished. Events reach sockets only through the event log, so what is sent is what is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from app.conversation.broadcaster import Broadcaster, Control, InProcessBroadcaster, Peers
from app.conversation.checks import MessageChecks
from app.conversation.confirmations import frame_message, yes_or_no
from app.conversation.eventlog import EventLog, Journal
from app.conversation.handoff import HandoffDesk
from app.conversation.hub import Hub, Job, Running
from app.conversation.leases import Lease, Leases, LocalLeases
from app.conversation.metrics import Metrics
from app.conversation.owner import OWNER_STATES, Operator, Owner
from app.conversation.pipeline import AnswerPipeline, ChatConfig, Draft
from app.conversation.subscriber import Subscriber
from app.conversation.transcript import Transcript
from app.errors import ErrorCode, ShopchatError
from app.events import Accepted, Done, Error, Usage
from app.llm.asks import asks_for_human
from app.llm.phrases import OFFERS
from app.store.owners import OwnerStore
from app.store.records import (
    AnswerFinished,
    AnswerStarted,
    NewConversation,
    NewUserMessage,
    OwnerRecord,
    Write,
)
from app.store.store import Store
from app.store.tables import utcnow

log = logging.getLogger("shopchat.conversation")

# With other processes: how often conversations watched here are checked for answers whose process died, and
# for how long after another process's last event of a conversation.
TAKEOVER_CHECK_S = 5.0
TAKEOVER_WINDOW_S = 120.0


class ChatService:
    """Conversations in flight in this process (see the module docstring)."""

    def __init__(
        self,
        *,
        store: Store,
        pipeline: AnswerPipeline,
        config: ChatConfig,
        broadcaster: Broadcaster | None = None,
        metrics: Metrics | None = None,
        leases: Leases | None = None,
        peers: Peers | None = None,
        takeover_check_s: float = TAKEOVER_CHECK_S,
        desk: HandoffDesk | None = None,
    ) -> None:
        self.store = store
        self.owners = OwnerStore(store)
        self.desk = desk or HandoffDesk()
        self.desk.hubs = self._live_hub
        self.desk.changed = self._owner_changed
        self.peers = peers
        self.takeover_check_s = takeover_check_s
        self.leases: Leases = leases or LocalLeases()
        self.pipeline = pipeline
        self.config = config
        self.broadcaster = broadcaster or InProcessBroadcaster()
        self.eventlog = EventLog(store, self.broadcaster, metrics=metrics or pipeline.metrics)
        if self.desk.broadcaster is None:
            self.desk.broadcaster = self.broadcaster
        self.eventlog.on_idle = self._journal_idle
        self.checks = MessageChecks(
            pipeline.counter,
            max_chars=config.max_message_chars,
            max_tokens=config.context_tokens - config.max_output_tokens - pipeline.system_tokens,
        )
        self._hubs: dict[str, Hub] = {}
        self._opening: dict[str, asyncio.Future[Hub]] = {}
        self._closing = False
        self._watchdog: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the event log's writer (and, with other processes, the watch on their answers)."""
        self.eventlog.start()
        if self.peers is not None:
            self.peers.listen(self._on_control, self._on_activity)
            self._watchdog = asyncio.create_task(self._watch_others(), name="answers-elsewhere")

    @property
    def active_conversations(self) -> int:
        """Conversations with a live hub in this process (a socket, or an answer under way)."""
        return len(self._hubs)

    @property
    def model_name(self) -> str:
        """The chat model answering."""
        return self.pipeline.model.name

    # ---- connections -------------------------------------------------------------------------------

    def new_hub(self, customer_id: str | None) -> Hub:
        """A hub for a brand-new conversation; nothing is stored until its first message."""
        conversation_id = self.store.new_conversation_id()
        hub = Hub(
            conversation_id=conversation_id,
            customer_id=customer_id,
            journal=self.eventlog.journal(conversation_id, 0),
            persisted=False,
        )
        self._hubs[conversation_id] = hub
        return hub

    async def open(self, conversation_id: str, customer_id: str | None) -> Hub:
        """The hub of an existing conversation id; resumes answers a previous process left unfinished.

        A conversation the store has no record of (nothing was ever sent in it) continues as an empty one.
        ``customer_id`` must be the customer the conversation was created for (its token says which), never
        one a resuming client asks for: it is used only while nothing is stored, then the record's wins.
        """
        hub = self._hubs.get(conversation_id)
        if hub is not None and hub.abandoned:
            # Its last events are still being written: start afresh from the store once they are.
            await hub.journal.flushed()
            if self._hubs.get(conversation_id) is hub:
                del self._hubs[conversation_id]
            hub = self._hubs.get(conversation_id)
        if hub is not None:
            return hub
        opening = self._opening.get(conversation_id)
        if opening is not None:
            return await asyncio.shield(opening)
        future: asyncio.Future[Hub] = asyncio.get_running_loop().create_future()
        self._opening[conversation_id] = future
        try:
            record = await self.store.get_conversation(conversation_id)
            last_seq = await self.store.last_seq(conversation_id) if record is not None else 0
            # The turns so far, read once: prompts are built from memory from here on.
            messages = await self.store.messages(conversation_id) if record is not None else []
            stored_owner = await self.owners.get(conversation_id) if record is not None else None
            hub = Hub(
                conversation_id=conversation_id,
                customer_id=record.customer_id if record is not None else customer_id,
                journal=self.eventlog.journal(conversation_id, last_seq),
                persisted=record is not None,
                transcript=Transcript.from_records(messages),
                owner=_owner(stored_owner),
            )
            self._hubs[conversation_id] = hub
            if record is not None:
                for accepted in await self.store.pending_answers(conversation_id):
                    log.info("resuming unfinished answer to %s in %s", accepted.message_id, conversation_id)
                    self._enqueue(hub, Job(accepted=accepted, recovered=True))
            future.set_result(hub)
            return hub
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: concurrent openers get it through their own await
            raise
        finally:
            del self._opening[conversation_id]

    async def attach(self, hub: Hub, subscriber: Subscriber) -> None:
        """Subscribe a socket and replay what it missed (events after its ``last_seq``), each once, in order.

        The replay is read a page at a time as the socket takes it (see ``Subscriber``); the first page is read
        here, so an unreachable database fails the attach. A ``last_seq`` beyond the conversation's newest event
        is refused with an ``invalid_value`` error: those events would never reach the socket.
        """
        hub.sockets += 1
        if hub.abandon_timer is not None:
            hub.abandon_timer.cancel()
            hub.abandon_timer = None
        subscriber.source = functools.partial(self.store.payloads_after, hub.conversation_id)
        self.broadcaster.subscribe(hub.conversation_id, subscriber)
        newest = hub.journal.published_seq
        try:
            if subscriber.last_seq > newest and hub.persisted:
                # Another process may have stored newer events of this conversation: the store says.
                newest = max(newest, await self.store.last_seq(hub.conversation_id))
                if hub.journal.idle and newest > hub.journal.published_seq:
                    hub.journal.last_seq = hub.journal.published_seq = newest
            if subscriber.last_seq > newest:
                raise ShopchatError(
                    f"last_seq {subscriber.last_seq} is beyond this conversation's newest event ({newest}).",
                    code=ErrorCode.INVALID_VALUE,
                )
            if hub.persisted and subscriber.last_seq < newest:
                await subscriber.start_replay(
                    functools.partial(self.store.payloads_after, hub.conversation_id)
                )
            else:
                subscriber.finish_replay()
        except BaseException:
            self.detach(hub, subscriber)
            raise

    def detach(self, hub: Hub, subscriber: Subscriber) -> None:
        """Unsubscribe; when nobody is left while an answer is under way, start the abandon timer."""
        self.broadcaster.unsubscribe(hub.conversation_id, subscriber)
        hub.sockets -= 1
        if hub.sockets or self._closing:
            return
        if hub.running is not None or not hub.jobs.empty():
            loop = asyncio.get_running_loop()
            hub.abandon_timer = loop.call_later(self.config.abandon_after_s, self._abandon, hub)
            return
        self._release(hub)

    def _abandon(self, hub: Hub) -> None:
        hub.abandon_timer = None
        if hub.sockets:
            return
        loop = asyncio.get_running_loop()
        watched_for = loop.time() - hub.remote_watchers_at
        if hub.remote_watchers_at and watched_for < self.config.abandon_after_s:
            # A socket on another process watches this answer: wait as long again from its last word.
            hub.abandon_timer = loop.call_later(self.config.abandon_after_s - watched_for, self._abandon, hub)
            return
        log.info("conversation %s abandoned; stopping its answer", hub.conversation_id)
        hub.abandoned = True
        if hub.running is not None:
            hub.running.stop_reason = "abandoned"
            hub.running.task.cancel()
        # Unstarted messages stay stored without an answer; the next connection recovers them.
        hub.queued.clear()
        while not hub.jobs.empty():
            hub.jobs.get_nowait().drop()
        if hub.worker is not None:
            hub.worker.cancel()
        self._release(hub)

    def _release(self, hub: Hub) -> None:
        """Forget the hub once nothing needs it; a later socket reads the conversation back from the store."""
        if not hub.busy and self._hubs.get(hub.conversation_id) is hub:
            del self._hubs[hub.conversation_id]

    def _journal_idle(self, journal: Journal) -> None:
        hub = self._hubs.get(journal.conversation_id)
        if hub is not None and hub.journal is journal:
            self._release(hub)

    # ---- customer frames ---------------------------------------------------------------------------

    def check_message(self, text: str) -> Error | None:
        """Refuse a message before storing it when it can never be answered."""
        return self.checks.check(text)

    async def submit(self, hub: Hub, subscriber: Subscriber, message_id: str, text: str) -> None:
        """Store a customer message (idempotently by ``message_id``), acknowledge it and queue its answer."""
        pending = hub.accepting.get(message_id)
        if pending is not None:
            subscriber.send((await asyncio.shield(pending)).model_dump_json())
            return
        # The transcript knows every message this conversation has stored: only a resend reads the store.
        existing = (
            await self.store.find_accepted(hub.conversation_id, message_id)
            if hub.persisted and hub.transcript.has(message_id)
            else None
        )
        if existing is None and message_id in hub.accepting:
            existing = await asyncio.shield(hub.accepting[message_id])
        if existing is not None:
            # The client resent a message we have: repeat the acknowledgement to it alone.
            subscriber.send(existing.model_dump_json())
            return
        # With no answer before it, this message's prompt is known now: its model request may start at once.
        idle = hub.running is None and hub.jobs.empty() and not hub.accepting and hub.worker is None
        writes: list[Write] = [] if hub.persisted else [NewConversation(hub.conversation_id, hub.customer_id)]
        hub.persisted = True
        now = utcnow()
        writes.append(NewUserMessage(hub.conversation_id, message_id, text, now))
        future = hub.journal.event(
            lambda seq: Accepted(seq=seq, message_id=message_id, text=text, created_at=now.isoformat()),
            *writes,
        )
        stored: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        hub.accepting[message_id] = stored
        # Routing needs no database: it runs while the message is being stored.
        route = self.pipeline.classify(text)
        prefetch = self.pipeline.start_early(hub, message_id, text) if idle else None
        try:
            # Awaited directly, not through shield(): shield's extra callback is one more turn of a busy loop
            # between the commit and the answer. Only this call awaits ``future``; cancelling it leaves the
            # commit and the event untouched (the event log skips a future that is already done).
            accepted = await future
        except BaseException as exc:
            stored.set_exception(exc)
            stored.exception()
            route.cancel()
            if prefetch is not None:
                prefetch.drop()  # never acknowledged: nothing of its answer may appear
            raise
        else:
            assert isinstance(accepted, Accepted)
            stored.set_result(accepted)
            hub.transcript.asked(message_id, text)
            await self._who_answers(hub, message_id, text)
            self._enqueue(hub, Job(accepted=accepted, route=route, prefetch=prefetch))
        finally:
            del hub.accepting[message_id]
            self._release(hub)

    async def confirm(self, hub: Hub, subscriber: Subscriber, action_id: str, approve: bool) -> Error | None:
        """Take the customer's answer to a confirmation as their message; the error if it cannot be taken.

        The answer is stored as the message ``confirm-<action_id>``: a frame sent twice (or from two tabs) is
        one message, and its answer decides the action, once. Unknown, expired and answered actions are refused
        here, before anything is stored.
        """
        message_id, text = frame_message(action_id, approve)
        if not (hub.transcript.has(message_id) or message_id in hub.accepting):
            confirmations = self.pipeline.confirmations
            problem = (
                await confirmations.refusal(hub, action_id)
                if confirmations is not None
                else Error(
                    code=ErrorCode.NOT_FOUND,
                    message="There is no change waiting for your confirmation with that id.",
                )
            )
            if problem is not None:
                return problem.model_copy(update={"reply_to": message_id})
        await self.submit(hub, subscriber, message_id, text)
        return None

    def cancel(self, hub: Hub, message_id: str) -> bool:
        """Stop the answer to ``message_id`` if it is being generated or waiting; False if neither.

        With other processes, a message of this conversation whose answer is not here is asked of them: the
        one generating it stops it.
        """
        if self._cancel_here(hub, message_id):
            return True
        if self.peers is not None and hub.transcript.has(message_id):
            self.peers.send(hub.conversation_id, {"cancel": message_id})
            return True
        return False

    def _cancel_here(self, hub: Hub, message_id: str) -> bool:
        running = hub.running
        if running is not None and running.message_id == message_id:
            running.stop_reason = "cancel"
            running.task.cancel()
            return True
        if message_id in hub.queued:
            hub.queued.discard(message_id)
            return True
        return False

    # ---- other processes ---------------------------------------------------------------------------

    def _on_control(self, conversation_id: str, message: Control) -> None:
        hub = self._hubs.get(conversation_id)
        if hub is None:
            return
        if "cancel" in message:
            self._cancel_here(hub, message["cancel"])
        if "watching" in message:
            hub.remote_watchers_at = asyncio.get_running_loop().time()
        if "owner" in message:
            self._owner_elsewhere(hub, message)

    def _owner_changed(self, hub: Hub) -> None:
        """Tell the other processes who answers now (the one generating an answer stops it for a person)."""
        if self.peers is None:
            return
        owner = hub.owner
        message: Control = {"owner": owner.state}
        if owner.operator is not None:
            message |= {"operator_id": str(owner.operator.id), "operator_name": owner.operator.name}
        self.peers.send(hub.conversation_id, message)

    def _owner_elsewhere(self, hub: Hub, message: Control) -> None:
        state = message["owner"]
        if state not in OWNER_STATES:
            return
        operator_id = message.get("operator_id", "")
        operator = (
            Operator(int(operator_id), message.get("operator_name", "")) if operator_id.isdigit() else None
        )
        hub.owner = Owner(state=state, operator=operator)
        running = hub.running
        if state == "human" and running is not None and not running.task.done():
            running.stop_reason = "handoff"
            running.task.cancel()

    def _on_activity(self, conversation_id: str) -> None:
        hub = self._hubs.get(conversation_id)
        if hub is None:
            return
        now = asyncio.get_running_loop().time()
        hub.remote_events_at = now
        # The process answering stops when nobody watches it: tell it someone does, here (not every event).
        if (
            hub.sockets
            and self.peers is not None
            and now - hub.watch_sent_at >= self.config.abandon_after_s / 3
        ):
            hub.watch_sent_at = now
            self.peers.send(conversation_id, {"watching": "1"})

    async def _watch_others(self) -> None:
        """Take over answers whose process died: a conversation watched here, whose events came from another
        process lately, gets its unfinished answers queued; the lease lets only one process generate each."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.takeover_check_s)
            now = loop.time()
            for hub in list(self._hubs.values()):
                if not (hub.sockets and hub.persisted and hub.running is None and hub.jobs.empty()):
                    continue
                if not hub.remote_events_at or now - hub.remote_events_at > TAKEOVER_WINDOW_S:
                    continue
                try:
                    pending = await self.store.pending_answers(hub.conversation_id)
                except Exception as exc:
                    log.warning("could not check %s for unfinished answers: %s", hub.conversation_id, exc)
                    continue
                for accepted in pending:
                    if accepted.message_id not in hub.queued:
                        self._enqueue(hub, Job(accepted=accepted, recovered=True))

    async def feedback(self, hub: Hub, message_id: str, rating: int, comment: str | None) -> bool:
        """Store thumbs up/down on an answer; False if there is no such answer."""
        return await self.store.set_feedback(hub.conversation_id, message_id, rating, comment)

    # ---- answering ---------------------------------------------------------------------------------

    def _enqueue(self, hub: Hub, job: Job) -> None:
        hub.queued.add(job.accepted.message_id)
        hub.jobs.put_nowait(job)
        if hub.worker is None or hub.worker.done():
            hub.worker = asyncio.create_task(self._work(hub), name=f"answers:{hub.conversation_id}")

    async def _work(self, hub: Hub) -> None:
        try:
            while not hub.jobs.empty():
                job = hub.jobs.get_nowait()
                message_id = job.accepted.message_id
                if message_id not in hub.queued:
                    job.drop()
                    # Cancelled before it started: it still gets its one terminal event.
                    await self.pipeline.finish(hub, Draft(message_id=message_id), "stopped")
                    continue
                hub.queued.discard(message_id)
                lease = await self.leases.acquire(
                    f"{hub.conversation_id}/{message_id}",
                    on_lost=functools.partial(self._lost, hub, message_id),
                )
                if lease is None:
                    # Another process is generating it (and ends it with its one terminal event).
                    log.info("answer to %s/%s is generated elsewhere", hub.conversation_id, message_id)
                    hub.remote_events_at = asyncio.get_running_loop().time()  # watched: taken over if it dies
                    job.drop()
                    continue
                if (
                    job.recovered
                    and self.peers is not None
                    and not await self._still_pending(hub, message_id)
                ):
                    # Another process finished it between our look and the lease: it has its terminal event.
                    await lease.release()
                    job.drop()
                    continue
                if not hub.owner.bot_answers:
                    # A person owns the conversation: the message is theirs to answer, not the assistant's. (Held
                    # only under the lease: an answer another process is writing ends there, once.)
                    job.drop()
                    try:
                        await self._hold(hub, message_id)
                    finally:
                        await lease.release()
                    continue
                task = asyncio.create_task(self._answer_holding(lease, hub, job), name=f"answer:{message_id}")
                hub.running = Running(message_id=message_id, task=task)
                try:
                    await asyncio.shield(task)
                    await self._after_answer(hub)
                except Exception:
                    # Not even the error could be stored (the database is down): the message stays pending
                    # and the next process, or the next connection after a restart, answers it.
                    log.exception("answer to %s/%s could not be stored", hub.conversation_id, message_id)
                except asyncio.CancelledError:
                    current = asyncio.current_task()
                    if current is None or not current.cancelling():
                        continue  # only the answer was stopped (stop button): go on with the next message
                    # The worker itself is being cancelled (abandon/shutdown): stop the answer, wait for it.
                    if not task.done():
                        if hub.running.stop_reason is None:
                            hub.running.stop_reason = "shutdown"
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                    raise
                finally:
                    hub.running = None
        finally:
            hub.worker = None
            if not hub.sockets and hub.abandon_timer is not None and hub.jobs.empty():
                hub.abandon_timer.cancel()
                hub.abandon_timer = None
            self._release(hub)

    async def _hold(self, hub: Hub, message_id: str) -> None:
        """The one terminal event of a message the assistant does not answer: an empty ``done``, ``held``."""
        await hub.journal.event(
            lambda seq: Done(
                seq=seq,
                message_id=message_id,
                route="chat",
                text="",
                usage=Usage(prompt_tokens=0, completion_tokens=0),
                held=True,
            ),
            AnswerStarted(hub.conversation_id, message_id, "chat"),
            AnswerFinished(
                conversation_id=hub.conversation_id,
                client_id=message_id,
                text="",
                status="held",
                route="chat",
                prompt_tokens=0,
                completion_tokens=0,
            ),
        )

    async def _who_answers(self, hub: Hub, message_id: str, text: str) -> None:
        """A stored customer message may reopen a closed conversation, or ask for a person (in its own words,
        or with a yes to the assistant's offer of a colleague)."""
        try:
            if hub.owner.state == "closed":
                await self.desk.reopen(hub)
            if hub.owner.bot_answers and (asks_for_human(text) or self._accepts_offer(hub, message_id, text)):
                await self.desk.request(hub, text, "customer")
        except Exception:
            # The message is stored: it is answered (by the assistant) whatever became of the request.
            log.exception("could not hand %s to a person", hub.conversation_id)

    @staticmethod
    def _accepts_offer(hub: Hub, message_id: str, text: str) -> bool:
        if yes_or_no(text) is not True:
            return False
        turns = hub.transcript.before(message_id, limit=1)
        last = turns[-1].text.rstrip() if turns and turns[-1].role == "assistant" else ""
        return any(last.endswith(offer.rstrip()) for offer in OFFERS)

    async def _after_answer(self, hub: Hub) -> None:
        try:
            await self.desk.after_answer(hub)
        except Exception:
            log.exception("could not hand %s to a person after its fallbacks", hub.conversation_id)

    # ---- operators ---------------------------------------------------------------------------------

    def _live_hub(self, conversation_id: str) -> Hub | None:
        return self._hubs.get(conversation_id)

    async def operate(self, conversation_id: str) -> Hub:
        """The hub of a stored conversation for an operator's action; ``not_found`` if nothing is stored.

        Call ``done_operating`` after the action, so an unwatched hub is released.
        """
        hub = await self.open(conversation_id, None)
        if not hub.persisted:
            self._release(hub)
            raise ShopchatError("There is no such conversation.", code=ErrorCode.NOT_FOUND)
        return hub

    def done_operating(self, hub: Hub) -> None:
        """The operator's action on ``hub`` is over."""
        self._release(hub)

    async def take(self, conversation_id: str, operator: Operator) -> None:
        """``operator`` takes the conversation (its answer in progress stops)."""
        hub = await self.operate(conversation_id)
        try:
            await self.desk.take(hub, operator)
        finally:
            self.done_operating(hub)

    async def release(self, conversation_id: str, operator: Operator) -> None:
        """Hand the conversation back to the assistant."""
        hub = await self.operate(conversation_id)
        try:
            await self.desk.release(hub, operator)
        finally:
            self.done_operating(hub)

    async def close_conversation(self, conversation_id: str, operator: Operator) -> None:
        """Close the conversation."""
        hub = await self.operate(conversation_id)
        try:
            await self.desk.close(hub, operator)
        finally:
            self.done_operating(hub)

    async def say(self, conversation_id: str, operator: Operator, text: str) -> None:
        """Send the operator's message to the customer."""
        hub = await self.operate(conversation_id)
        try:
            await self.desk.say(hub, operator, text)
        finally:
            self.done_operating(hub)

    async def ticket(self, hub: Hub, email: str) -> None:
        """The customer leaves an email address for the team (no one could come)."""
        await self.desk.ticket(hub, email)

    def _lost(self, hub: Hub, message_id: str) -> None:
        """Another process took this answer over (our lease lapsed): stop it unfinished, as at a shutdown."""
        running = hub.running
        if running is not None and running.message_id == message_id and not running.task.done():
            running.stop_reason = "shutdown"
            running.task.cancel()

    async def _still_pending(self, hub: Hub, message_id: str) -> bool:
        try:
            return any(
                a.message_id == message_id for a in await self.store.pending_answers(hub.conversation_id)
            )
        except Exception:
            return True  # the lease is ours: generating it again beats leaving it unanswered

    async def _answer_holding(self, lease: Lease, hub: Hub, job: Job) -> None:
        try:
            await self.pipeline.answer(hub, job)
        finally:
            await lease.release()

    async def close(self) -> None:
        """Stop every answer in flight (the next process resumes them), store what is waiting, close sockets."""
        self._closing = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        workers = [
            hub.worker for hub in self._hubs.values() if hub.worker is not None and not hub.worker.done()
        ]
        for hub in self._hubs.values():
            if hub.abandon_timer is not None:
                hub.abandon_timer.cancel()
                hub.abandon_timer = None
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for hub in self._hubs.values():
            while not hub.jobs.empty():
                hub.jobs.get_nowait().drop()
        await self.eventlog.close()
        self.broadcaster.close()
        self._hubs.clear()


def _owner(record: OwnerRecord | None) -> Owner:
    """The hub's owner from its stored row (none: the assistant)."""
    if record is None or record.state not in OWNER_STATES:
        return Owner()
    operator = (
        Operator(record.operator_id, record.operator_name or "") if record.operator_id is not None else None
    )
    return Owner(
        state=record.state,
        operator=operator,
        reason=record.reason,
        source=record.source,  # type: ignore[arg-type]
        since=record.since,
        ticket_email=record.ticket_email,
    )
