"""Receiving Zalo's updates: long polling or a webhook, each update handled once, one person's
in the order they wrote.

Zalo's getUpdates returns ONE update per call and has no ``update_id`` and no offset: an update
is gone from the platform once it is returned, so nothing can be left there to come again on
the next start. :class:`Poller` therefore fetches only while fewer than ``in_hand`` chats have
updates being handled and fewer than ``held`` updates are in hand (the rest wait at Zalo, where
they are safe), and a stop waits for those in hand to finish (within a grace). It counts chats,
not updates, so that one chat whose answers keep failing — each waited for up to a minute
(:data:`handlers.zalo.app.REPLY_PATIENCE`), her next messages queued behind it — does not
stop the fetching of everyone else's: one queue of one chat takes one place. An idle poll
ends with HTTP 408, which is "nothing yet"; a failure backs off (1, 2, 4 … 30 seconds) and a
stop cuts a waiting poll at once.

In webhook mode (:class:`WebhookReceiver`, a route of the web server) each POST must carry the
secret in ``X-Bot-Api-Secret-Token`` (compared in constant time) and is answered 200 once its
update is handled, 503 once the bot is stopping (for the platform to try again later).

The platform may deliver a message twice (the same ``message_id``): :class:`Dispatcher` skips
an id it has handled (kept per bot in the ``handled_events`` table, as Telegram's update ids
are: :mod:`handlers.telegram.dedupe`). One chat's updates are handled strictly one after
another, different chats' at once (at most ``places``), as
:class:`handlers.telegram.updates.ChatOrderedUpdateProcessor` does for Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from handlers.zalo.client import ZaloClient, ZaloError
from handlers.zalo.events import chat_id

log = logging.getLogger(__name__)

Handle = Callable[[dict[str, Any]], Awaitable[None]]
SECRET_HEADER = "X-Bot-Api-Secret-Token"  # noqa: S105 (a header name, not a secret)
BACKOFF_MAX = 30.0  # seconds between failing polls, at most
PLACES = 16  # updates handled at once (different chats)
CHATS_IN_HAND = 2 * PLACES  # chats with updates in hand: the poller fetches while fewer
# Updates in hand at most, all chats together (one chat's queue included): what a stop could
# still cut, as Zalo keeps no copy of an update it has returned.
HELD = 8 * CHATS_IN_HAND


class Dispatcher:
    """Hands each update to ``handle``: one chat's in turn, at most ``places`` at once."""

    def __init__(self, handle: Handle, *, places: int = PLACES) -> None:
        self._handle = handle
        self._places = asyncio.Semaphore(places)
        self._tails: dict[str, asyncio.Task[bool]] = {}
        self._running: set[asyncio.Task[bool]] = set()
        self.cut = 0  # updates cut short by a stop's grace
        self.finished = 0  # updates taken and done with (handled, skipped or cut)
        self.progress = asyncio.Event()  # set each time one is done with
        self._freed = asyncio.Event()  # (the poller's own: tests clear and wait on progress)

    @property
    def in_hand(self) -> int:
        """Updates taken and not finished."""
        return len(self._running)

    @property
    def chats_in_hand(self) -> int:
        """Chats with updates taken and not finished."""
        return len(self._tails)

    async def room(self, chats: int, held: int) -> None:
        """Return once fewer than ``chats`` chats and fewer than ``held`` updates are in hand."""
        while self.chats_in_hand >= chats or self.in_hand >= held:
            self._freed.clear()
            await self._freed.wait()

    def submit(self, update: dict[str, Any]) -> asyncio.Task[bool]:
        """Take ``update``; the task ends True once it is handled (False: cut by a stop)."""
        chat = chat_id(update) or ""
        previous = self._tails.get(chat)
        task = asyncio.get_running_loop().create_task(self._run(previous, update))
        self._tails[chat] = task
        self._running.add(task)

        def done(finished: asyncio.Task[bool]) -> None:
            self._running.discard(finished)
            if self._tails.get(chat) is finished:
                del self._tails[chat]
            self.finished += 1
            self.progress.set()
            self._freed.set()

        task.add_done_callback(done)
        return task

    async def _run(self, previous: asyncio.Task[bool] | None, update: dict[str, Any]) -> bool:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own; only its end matters
        async with self._places:
            try:
                await self._handle(update)
            except asyncio.CancelledError:
                self.cut += 1
                return False
            except Exception:  # nobody awaits the task to hear of it: said here, never lost
                log.exception("unexpected error while handling a zalo update")
        return True

    async def finish(self, deadline: float) -> None:
        """Wait for the updates in hand until ``deadline`` (the loop's time), then cut the rest."""
        loop = asyncio.get_running_loop()
        while self._running and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._running), timeout=left)
        for task in list(self._running):
            task.cancel()
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


class Poller:
    """Long polling: one update per getUpdates, fetched only while there is room in hand
    (fewer than ``in_hand`` chats, fewer than ``held`` updates)."""

    def __init__(
        self,
        client: ZaloClient,
        dispatcher: Dispatcher,
        *,
        in_hand: int = CHATS_IN_HAND,
        held: int = HELD,
        timeout: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._dispatcher = dispatcher
        self._chats = in_hand
        self._held = held
        self._timeout = timeout
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.failures = 0  # polls that failed in a row

    async def start(self) -> None:
        """Make sure no webhook is set (getUpdates does not work beside one), then poll."""
        await self._client.delete_webhook()
        self._task = asyncio.create_task(self._run(), name="hoinghi-zalo-polling")

    async def stop(self) -> None:
        """Fetch no more: a poll or a back-off under way is cut (a poll holds nothing yet)."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await self._dispatcher.room(self._chats, self._held)
            try:
                if self._timeout is None:
                    update = await self._client.get_update()
                else:
                    update = await self._client.get_update(self._timeout)
            except ZaloError as exc:
                self.failures += 1
                wait = min(BACKOFF_MAX, 2.0 ** (self.failures - 1))
                log.warning(
                    "zalo getUpdates failed (%s): again in %.0f s", type(exc).__name__, wait
                )
                await self._sleep(wait)
                continue
            self.failures = 0
            if update is not None:  # (None: 408, nothing yet)
                self._dispatcher.submit(update)


class WebhookReceiver:
    """Zalo's webhook POSTs, each answered once its update is handled."""

    def __init__(self, dispatcher: Dispatcher, secret: str) -> None:
        self._dispatcher = dispatcher
        self._secret = secret.encode()
        self._stopping = False
        self.refused = 0  # requests answered 503 because the bot was stopping

    def stop(self) -> None:
        """Take no more updates (the platform tries them again later)."""
        self._stopping = True

    async def answer(self, headers: Mapping[str, str], body: bytes) -> int:
        """The status for one POST: 403 without the right secret, 400 for a body that is no
        update, 200 once handled, 503 while stopping."""
        token = headers.get(SECRET_HEADER, "") or ""
        if not hmac.compare_digest(token.encode(), self._secret):
            return int(HTTPStatus.FORBIDDEN)
        if self._stopping:
            self.refused += 1
            return int(HTTPStatus.SERVICE_UNAVAILABLE)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        update = payload.get("result") if isinstance(payload, dict) else None
        if not isinstance(update, dict):
            log.warning("a zalo webhook request that is no update was refused")
            return int(HTTPStatus.BAD_REQUEST)
        if await self._dispatcher.submit(update):
            return int(HTTPStatus.OK)
        self.refused += 1
        return int(HTTPStatus.SERVICE_UNAVAILABLE)
