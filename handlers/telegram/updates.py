"""Updates of different chats at once, the updates of one chat one after another.

PTB processes updates one at a time by default. That is safe but slow when many delegates tap
at once; its ``concurrent_updates=True`` is fast but lets two updates of one person race (a
tap and the reason typed after it). :class:`ChatOrderedUpdateProcessor` takes the middle road:
at most ``places`` updates handled at once, and each chat's updates in the order they
arrived, so a conversation is never reordered. Concurrent taps of different people are then
decided together by the services' group commit (:mod:`bot.services.batching`).

A reply can also be sent *after* its update (:func:`reply_later`). Telegram accepts about 30
messages a second in all, so when hundreds of delegates tap within a minute the confirmations
queue in the rate limiter. Were each tap to wait for its confirmation, the taps behind it
would wait too — and a tap not answered within seconds shows the person an endless spinner,
then fails ("query is too old"). So a tap is answered (``answerCallbackQuery`` is not
limited) and recorded at once, and its confirmation follows as fast as Telegram allows.

A chat that sends more updates than ``chat_updates_per_minute`` is flooding the bot (a script,
not a person: the default, 30, is far beyond what anyone taps or types): the updates over that
budget are dropped without a reply, together with its updates still waiting for their turn,
which would be answered at Telegram's one message a second per chat for minutes. Other chats
are not held up by it, and the flood is confirmed to Telegram at once rather than in hand.

Stopping (:meth:`ChatOrderedUpdateProcessor.stop_taking`) takes no update further: those that
have not begun — waiting for their chat's turn or for a place, or handed over later — are left
unhandled, for Telegram to deliver again, and only those being handled finish. Whoever handed an
update over learns how it ended from :meth:`ChatOrderedUpdateProcessor.outcome`: the poller
confirms an update to Telegram only once it is handled, the webhook answers 200 only then
(:mod:`handlers.telegram.receiving`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from handlers.telegram.context import Context
from schedules.ratelimit import forget_idle

log = logging.getLogger(__name__)

Reply = Coroutine[Any, Any, object]
# PTB's own concurrency limit, set out of reach: the processor's places are the real limit.
UNBOUNDED = 2**20
# Deferred replies being prepared and sent at once: a second of Telegram's ~30 messages/s.
REPLIES_AT_ONCE = 30


class _Verdict(Enum):
    """What an update waiting for its chat's turn or a place is told when its wait ends."""

    GO = "go"  # its turn, or a place: it may go on
    LEFT = "left"  # the bot is stopping: unhandled, for Telegram to deliver again
    DROPPED = "dropped"  # its chat went over its budget: done with, unanswered


@dataclass(eq=False)
class _Job:
    """An update on its way through the processor."""

    update: object
    chat: int | None
    waiting: asyncio.Future[_Verdict] | None = None  # while it waits for its turn or a place


@dataclass
class _Turn:
    """One chat's turn: held by one update at a time, the others queued in arrival order."""

    held: bool = False
    queue: deque[_Job] = field(default_factory=deque)


@dataclass
class _Later:
    """The replies an update's handlers left to be sent after them.

    ``closed`` once the handlers are done: a task they started may still hold this object (it
    copied the context variable) and call :func:`reply_later` after that; nobody would read
    the list then, so such a reply is sent at once.
    """

    context: Context | None = None
    update: object = None
    replies: list[Reply] = field(default_factory=list)
    closed: bool = False


_later: ContextVar[_Later | None] = ContextVar("hoinghi_replies_later", default=None)


async def reply_later(context: Context, update: object, reply: Reply) -> None:
    """Send ``reply`` once the update's handlers are done, before the chat's next update.

    Under :class:`ChatOrderedUpdateProcessor` (``hoinghi run``, polling or webhook) the update's
    place is freed for the next one while the reply waits for Telegram's rate limit; an error
    in the reply goes to the error handlers like any other. Anywhere else — a test or the
    rehearsal calling ``process_update`` directly, or a task that outlived its update — the
    reply is sent at once.
    """
    later = _later.get()
    if later is None or later.closed:
        await reply
        return
    later.context, later.update = context, update
    later.replies.append(reply)


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """At most ``places`` updates handled at once; one chat's updates strictly in turn.

    An update first waits for its chat's turn, then for a place, and gives the place back as
    soon as its handlers are done. The chat's turn ends later, when the replies the update left
    for after it (:func:`reply_later`) have been sent — which, while confirmations queue for
    Telegram's 30 a second, can take seconds. A person who taps twice in a surge therefore
    holds only their own chat, never a place another person's tap needs.

    PTB's own limit (``max_concurrent_updates``, taken before :meth:`do_process_update`, whose
    caller is final) is set so high that it never binds: were it the limit, an update waiting
    for its chat's turn would hold a place all that time.

    An update is *handled* once its handlers have run to the end (an error included: the error
    handlers have dealt with it); its deferred replies may still be on their way.

    With ``chat_updates_per_minute``, a chat's updates over that many a minute are dropped
    unanswered, and with them its updates not begun yet (see the module docstring); ``now`` is
    the budget's clock.
    """

    def __init__(
        self,
        places: int,
        *,
        chat_updates_per_minute: int = 0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(UNBOUNDED)
        if places < 1:
            raise ValueError("places must be at least 1")
        self.places = places
        self.left = 0  # updates not handled because the bot was stopping
        self.dropped = 0  # updates of a chat over its budget, dropped unanswered
        self._budget = _Budget(chat_updates_per_minute, now) if chat_updates_per_minute else None
        self._free = places
        self._place_queue: deque[_Job] = deque()
        self._outgoing = asyncio.Semaphore(REPLIES_AT_ONCE)
        self._turns: dict[int, _Turn] = {}
        self._sending: dict[asyncio.Task[None], _Later] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._outcomes: dict[int, deque[asyncio.Future[bool]]] = {}
        self._stopping = False

    def outcome(self, update_id: int) -> asyncio.Future[bool]:
        """How the update with this id, about to be handed over, ends: ``True`` once it is
        handled, ``False`` if the bot stopped before handling it."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._outcomes.setdefault(update_id, deque()).append(future)
        return future

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's turn and a place, run the update's handlers (``coroutine``), free
        the place, and leave the replies they deferred to a task that ends the turn once they
        are sent. An update of a chat over its budget is dropped; once stopping, an update that
        has not begun is left unhandled."""
        job = _Job(update, _chat_of(update))
        if not self._stopping and self._budget is not None and not self._budget.take(job.chat):
            self._drop_waiting(job.chat)
            verdict = _Verdict.DROPPED
        else:
            verdict = _Verdict.GO
        try:
            if verdict is _Verdict.GO:
                verdict = await self._admit(job)
        except BaseException:
            _close(coroutine)  # cancelled while it waited: it never ran
            self.left += 1
            self._settle(update, handled=False)
            raise
        if verdict is _Verdict.DROPPED:
            _close(coroutine)
            self.dropped += 1
            self._settle(update, handled=True)  # done with: Telegram may forget it
            return
        if verdict is _Verdict.LEFT:
            _close(coroutine)
            self.left += 1
            self._settle(update, handled=False)
            return
        later = _Later()
        token = _later.set(later)
        running = asyncio.current_task()
        assert running is not None
        self._running.add(running)
        try:
            await coroutine
        except BaseException as exc:
            _close(coroutine)
            for reply in later.replies:
                reply.close()
            self._free_place()
            self._pass_turn(job.chat)
            # Cut short while stopping (the grace ran out): Telegram delivers it again.
            cut = isinstance(exc, asyncio.CancelledError) and self._stopping
            if cut:
                self.left += 1
            self._settle(update, handled=not cut)
            raise
        finally:
            self._running.discard(running)
            later.closed = True
            _later.reset(token)
        self._free_place()
        self._settle(update, handled=True)
        if not later.replies or later.context is None:
            self._pass_turn(job.chat)
            return
        # A plain task, not Application.create_task: _send reports each reply's error itself,
        # and serve() waits for these tasks (drain) after Application.stop, when PTB would warn
        # that it does not.
        sending = asyncio.get_running_loop().create_task(self._send(later), name="hoinghi-replies")
        self._sending[sending] = later
        sending.add_done_callback(lambda task: self._sent(task, job.chat, later))

    def stop_taking(self) -> None:
        """Take no update further: those waiting for their turn or a place, and those handed
        over from now on, are left unhandled; the ones being handled go on."""
        self._stopping = True
        for turn in self._turns.values():
            while turn.queue:
                _tell(turn.queue.popleft(), _Verdict.LEFT)
        while self._place_queue:
            _tell(self._place_queue.popleft(), _Verdict.LEFT)

    async def finish(self, deadline: float) -> None:
        """Wait until the updates being handled are done, and cut short those still running at
        ``deadline`` (the event loop's time): they are left for Telegram to deliver again."""
        await _until(deadline, self._running)
        for task in list(self._running):
            task.cancel()
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def settle_rest(self) -> int:
        """After the application stopped: every update handed over that never reached the
        processor is left unhandled; returns how many."""
        rest = 0
        for futures in self._outcomes.values():
            for future in futures:
                if not future.done():
                    future.set_result(False)
                    rest += 1
        self._outcomes.clear()
        self.left += rest
        return rest

    async def drain(self, deadline: float | None = None) -> None:
        """Return once every deferred reply has been sent (or has failed); at ``deadline`` (the
        event loop's time), the replies not sent yet are given up."""
        if deadline is not None:
            await _until(deadline, self._sending.keys())
            unsent = sum(len(later.replies) for later in self._sending.values())
            if unsent:
                log.warning("stopping: %d deferred replies not sent in time, given up", unsent)
            for task in list(self._sending):
                task.cancel()
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing left to do: ``serve()`` already waited for the deferred replies."""
        if self._sending:
            log.warning("%d deferred replies were still pending at shutdown", len(self._sending))

    async def _send(self, later: _Later) -> None:
        assert later.context is not None
        # A reply is rendered and handed to the rate limiter only when it is among the next
        # to go: at a surge of 5,000 taps the others wait as unstarted coroutines, not as
        # 5,000 requests built in advance while taps still come in.
        async with self._outgoing:
            while later.replies:
                reply = later.replies.pop(0)
                try:
                    await reply
                except Exception as exc:  # each reply's error is reported on its own
                    await later.context.application.process_error(later.update, exc)

    def _sent(self, task: asyncio.Task[None], chat: int | None, later: _Later) -> None:
        """End the chat's turn, also when the task was cancelled before it ever ran."""
        self._sending.pop(task, None)
        for reply in later.replies:
            reply.close()  # those never sent: not "never awaited"
        self._pass_turn(chat)

    async def _admit(self, job: _Job) -> _Verdict:
        """The chat's turn, then a place; or why not."""
        if self._stopping:
            return _Verdict.LEFT
        verdict = await self._take_turn(job)
        if verdict is _Verdict.GO:
            try:
                verdict = await self._take_place(job)
            except BaseException:
                self._pass_turn(job.chat)
                raise
            if verdict is not _Verdict.GO:
                self._pass_turn(job.chat)
        return verdict

    async def _take_turn(self, job: _Job) -> _Verdict:
        if job.chat is None:  # an update of no chat and no user (a poll's state): no order to keep
            return _Verdict.GO
        turn = self._turns.setdefault(job.chat, _Turn())
        if not turn.held:
            turn.held = True
            return _Verdict.GO
        return await _queue(job, turn.queue, lambda: self._pass_turn(job.chat))

    def _pass_turn(self, chat: int | None) -> None:
        """Hand the chat's turn to its next waiting update, or end it."""
        if chat is None:
            return
        turn = self._turns[chat]
        while turn.queue:
            if _tell(turn.queue.popleft(), _Verdict.GO):
                return
        del self._turns[chat]

    async def _take_place(self, job: _Job) -> _Verdict:
        if self._free and not self._place_queue:
            self._free -= 1
            return _Verdict.GO
        return await _queue(job, self._place_queue, self._free_place)

    def _free_place(self) -> None:
        """Hand the place to the next update waiting for one, or free it."""
        while self._place_queue:
            if _tell(self._place_queue.popleft(), _Verdict.GO):
                return
        self._free += 1

    def _drop_waiting(self, chat: int | None) -> None:
        """Drop the chat's updates that have not begun: those waiting for its turn, and the
        one holding it while it waits for a place."""
        turn = self._turns.get(chat) if chat is not None else None
        if turn is not None:
            while turn.queue:
                _tell(turn.queue.popleft(), _Verdict.DROPPED)
        for job in [job for job in self._place_queue if job.chat == chat]:
            self._place_queue.remove(job)
            _tell(job, _Verdict.DROPPED)

    def _settle(self, update: object, *, handled: bool) -> None:
        if not isinstance(update, Update):
            return
        futures = self._outcomes.get(update.update_id)
        if not futures:
            return
        future = futures.popleft()
        if not futures:
            del self._outcomes[update.update_id]
        if not future.done():
            future.set_result(handled)


class _Budget:
    """How many updates each chat may still send: ``per_minute`` at once, refilled at
    ``per_minute`` a minute (a token bucket per chat).

    Past :attr:`KEPT` chats, a chat whose budget is whole again is forgotten (it is as if new).
    The chats are kept in the order of their last update, so the ones to forget are at the
    front: a chat not heard from for a minute is whole. Forgetting them takes a few steps a
    new chat, however many are remembered; a surge of 10,000 people tapping within a minute,
    none of them whole yet, once had every new chat look over every chat remembered."""

    KEPT = 4096  # chats remembered before those with a full budget are forgotten

    def __init__(self, per_minute: int, now: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self._now = now
        # chat -> (updates left, as of when), the chat heard from longest ago first
        self._chats: OrderedDict[int, tuple[float, float]] = OrderedDict()
        self._flooding: set[int] = set()

    def take(self, chat: int | None) -> bool:
        """Count one update of ``chat``; ``False`` if it is over the budget."""
        if chat is None:
            return True
        now = self._now()
        left = self._left(chat, now)
        if left >= 1:
            self._remember(chat, left - 1, now)
            self._flooding.discard(chat)
            return True
        self._remember(chat, left, now)
        if chat not in self._flooding:
            self._flooding.add(chat)
            log.info(
                "a chat sent more than %d updates within a minute: the ones over that are "
                "dropped without a reply", self.per_minute,
            )  # fmt: skip
        return False

    def _left(self, chat: int, now: float) -> float:
        left, since = self._chats.get(chat, (float(self.per_minute), now))
        return min(float(self.per_minute), left + (now - since) * self.per_minute / 60)

    def _remember(self, chat: int, left: float, now: float) -> None:
        chats = self._chats
        if chat in chats:
            chats.move_to_end(chat)  # heard from last
        else:
            # The front is the chat heard from longest ago: forget it while it is whole again.
            full = float(self.per_minute)
            whole = forget_idle(chats, self.KEPT, lambda old, _: self._left(old, now) >= full)
            self._flooding.difference_update(whole)
        chats[chat] = (left, now)


async def _queue(job: _Job, queue: deque[_Job], hand_on: Callable[[], None]) -> _Verdict:
    """Wait in ``queue`` until told; a wait cancelled just as it was let in hands it on."""
    job.waiting = asyncio.get_running_loop().create_future()
    queue.append(job)
    try:
        return await job.waiting
    except asyncio.CancelledError:
        waiting = job.waiting
        if waiting.done() and not waiting.cancelled() and waiting.result() is _Verdict.GO:
            hand_on()
        else:
            with contextlib.suppress(ValueError):
                queue.remove(job)
        raise
    finally:
        job.waiting = None


def _tell(job: _Job, verdict: _Verdict) -> bool:
    """End ``job``'s wait with ``verdict``; ``False`` if it no longer waits (cancelled)."""
    if job.waiting is None or job.waiting.done():
        return False
    job.waiting.set_result(verdict)
    return True


async def _until(deadline: float, tasks: Collection[asyncio.Task[Any]]) -> None:
    """Wait until ``tasks`` (which shrinks as they end) is empty, or ``deadline``."""
    loop = asyncio.get_running_loop()
    while tasks and (left := deadline - loop.time()) > 0:
        await asyncio.wait(set(tasks), timeout=left)


def _close(awaitable: Awaitable[Any]) -> None:
    """Close a coroutine that will never run, so Python does not warn it was never awaited."""
    if isinstance(awaitable, Coroutine):
        awaitable.close()


def _chat_of(update: object) -> int | None:
    """Whose updates must stay in order: the chat's, or the user's where there is no chat."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None
