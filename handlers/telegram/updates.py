"""Updates of different chats at once, the updates of one chat one after another.

PTB processes updates one at a time by default. That is safe but slow when many delegates tap
at once; its ``concurrent_updates=True`` is fast but lets two updates of one person race (a
tap and the reason typed after it). :class:`ChatOrderedUpdateProcessor` takes the middle road:
at most ``max_concurrent_updates`` updates in flight, and each chat's updates in the order they
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


@dataclass
class _Turn:
    """One chat's queue: a fair lock and how many updates hold or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holders: int = 0


@dataclass
class _Later:
    """The replies an update's handlers left to be sent after them."""

    context: Context | None = None
    update: object = None
    replies: list[Reply] = field(default_factory=list)


_later: ContextVar[_Later | None] = ContextVar("hoinghi_replies_later", default=None)


async def reply_later(context: Context, update: object, reply: Reply) -> None:
    """Send ``reply`` once the update's handlers are done, before the chat's next update.

    Under :class:`ChatOrderedUpdateProcessor` (``hoinghi run``, polling or webhook) the update's
    place is freed for the next one while the reply waits for Telegram's rate limit; an error
    in the reply goes to the error handlers like any other. Anywhere else — a test or the
    rehearsal calling ``process_update`` directly — the reply is sent at once.
    """
    later = _later.get()
    if later is None:
        await reply
        return
    later.context, later.update = context, update
    later.replies.append(reply)


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """At most ``max_concurrent_updates`` at once; one chat's updates strictly in turn.

    A chat's turn ends when the replies its update left for later (:func:`reply_later`) have
    been sent. PTB's concurrency limit is taken first (its ``process_update`` is final), so an
    update waiting for its chat's turn holds a place until then — while a confirmation waits
    in the rate limiter, that can be seconds. Known weakness: at a surge, people tapping twice
    can fill every place and hold up the others' taps; taking the turn before the place (an own
    semaphore) would fix it.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._turns: dict[int, _Turn] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's turn, run the update's handlers (``coroutine``), then leave the
        replies they deferred to a task that ends the turn once they are sent."""
        chat = _chat_of(update)
        await self._enter(chat)
        later = _Later()
        token = _later.set(later)
        try:
            await coroutine
        except BaseException:
            for reply in later.replies:
                reply.close()
            self._leave(chat)
            raise
        finally:
            _later.reset(token)
        if not later.replies or later.context is None:
            self._leave(chat)
            return
        sending = later.context.application.create_task(
            self._send(chat, later), update=later.update, name="hoinghi-replies"
        )
        self._sending.add(sending)
        sending.add_done_callback(self._sending.discard)

    async def drain(self) -> None:
        """Return once every deferred reply has been sent (or has failed)."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing left to do: ``Application.stop`` already waited for the deferred replies."""
        if self._sending:
            log.warning("%d deferred replies were still pending at shutdown", len(self._sending))

    async def _send(self, chat: int | None, later: _Later) -> None:
        assert later.context is not None
        try:
            for reply in later.replies:
                try:
                    await reply
                except Exception as exc:  # each reply's error is reported on its own
                    await later.context.application.process_error(later.update, exc)
        finally:
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


def _chat_of(update: object) -> int | None:
    """Whose updates must stay in order: the chat's, or the user's where there is no chat."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None
