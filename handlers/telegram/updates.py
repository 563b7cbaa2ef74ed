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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from handlers.telegram.context import Context

log = logging.getLogger(__name__)

Reply = Coroutine[Any, Any, object]
# PTB's own concurrency limit, set out of reach: the processor's places are the real limit.
UNBOUNDED = 2**20
# Deferred replies being prepared and sent at once: a second of Telegram's ~30 messages/s.
REPLIES_AT_ONCE = 30


@dataclass
class _Turn:
    """One chat's queue: a fair lock and how many updates hold or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0


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
    """

    def __init__(self, places: int) -> None:
        super().__init__(UNBOUNDED)
        if places < 1:
            raise ValueError("places must be at least 1")
        self.places = places
        self._free = asyncio.Semaphore(places)
        self._outgoing = asyncio.Semaphore(REPLIES_AT_ONCE)
        self._turns: dict[int, _Turn] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's turn and a place, run the update's handlers (``coroutine``), free
        the place, and leave the replies they deferred to a task that ends the turn once they
        are sent."""
        chat = _chat_of(update)
        try:
            await self._enter(chat)
        except BaseException:
            _close(coroutine)
            raise
        later = _Later()
        token = _later.set(later)
        try:
            async with self._free:
                await coroutine
        except BaseException:
            _close(coroutine)  # cancelled while it waited for a place: it never ran
            for reply in later.replies:
                reply.close()
            self._leave(chat)
            raise
        finally:
            later.closed = True
            _later.reset(token)
        if not later.replies or later.context is None:
            self._leave(chat)
            return
        # A plain task, not Application.create_task: _send reports each reply's error itself,
        # and serve() waits for these tasks (drain) after Application.stop, when PTB would warn
        # that it does not.
        sending = asyncio.get_running_loop().create_task(self._send(later), name="hoinghi-replies")
        self._sending.add(sending)
        sending.add_done_callback(lambda task: self._sent(task, chat, later))

    async def drain(self) -> None:
        """Return once every deferred reply has been sent (or has failed)."""
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
            for reply in later.replies:
                try:
                    await reply
                except Exception as exc:  # each reply's error is reported on its own
                    await later.context.application.process_error(later.update, exc)

    def _sent(self, task: asyncio.Task[None], chat: int | None, later: _Later) -> None:
        """End the chat's turn, also when the task was cancelled before it ever ran."""
        self._sending.discard(task)
        for reply in later.replies:
            reply.close()  # no-op for those sent; a cancelled one is not "never awaited"
        self._leave(chat)

    async def _enter(self, chat: int | None) -> None:
        if chat is None:  # an update of no chat and no user (a poll's state): no order to keep
            return
        turn = self._turns.setdefault(chat, _Turn())
        turn.holders += 1
        try:
            await turn.lock.acquire()
        except BaseException:
            self._release(chat, turn, held=False)
            raise

    def _leave(self, chat: int | None) -> None:
        if chat is not None:
            self._release(chat, self._turns[chat], held=True)

    def _release(self, chat: int, turn: _Turn, *, held: bool) -> None:
        if held:
            turn.lock.release()
        turn.holders -= 1
        if not turn.holders:
            del self._turns[chat]


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
