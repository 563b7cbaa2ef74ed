"""Group commit: callers that arrive while a transaction is being written share the next one.

A tap costs one SQLite write transaction, and most of that cost is the round trips, not the
data. When many delegates tap at once (the invitation has just gone out), the taps that arrive
while one transaction is in progress are decided together in the next: one read of their
accounts and answers, one write of what changed, one commit. A lone caller still gets a batch
of one at once: a caller never waits for a timer. Only writes nobody waits for
(:class:`WriteBehind`) may wait, a quarter of a second at most, for a transaction to ride in.

:class:`GroupCommit` carries this across services: SQLite takes one write transaction at a
time, so two services each committing their own batches (the taps' answers, the ids of the
updates handled) would take turns at the lock and each wait for the other's commit. Sharing one
stream of transactions, each service's batch becomes a part of the next commit instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.uow import in_one_pass

Item = TypeVar("Item")
Result = TypeVar("Result")

DEFAULT_MAX_BATCH = 256


class Batcher(Generic[Item, Result]):
    """Feeds submitted items to ``run`` in batches, in order; each caller gets its own result.

    ``run`` takes a batch and returns one result per item, in the same order, all in one
    transaction. If it raises for a batch of several, each item is run again alone, so an item
    that cannot be handled fails only its own caller.
    """

    def __init__(
        self,
        run: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run = run
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None  # a batch of items that may wait

    async def submit(self, item: Item) -> Result:
        """Run ``item`` in the next batch and return its result (or raise its error)."""
        return await self.enqueue(item)

    def enqueue(self, item: Item, *, within: float | None = None) -> asyncio.Future[Result]:
        """Put ``item`` in the next batch; the future holds its result (or its error).

        With ``within`` (seconds), the item need not start a batch of its own: it rides in the
        next batch another item starts, or, if none does, in one started ``within`` seconds
        later at most (or at :meth:`start`)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((item, future))
        if within is None:
            self.start()
        elif self._timer is None and not self._writing():
            self._timer = loop.call_later(within, self.start)
        return future

    def start(self) -> None:
        """Write what is waiting now, whatever may still wait."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiting and not self._writing():
            self._writer = asyncio.create_task(self._write())

    async def drain(self) -> None:
        """Write everything waiting, also what waits to ride in a later batch, and return
        once it is written (or has failed): nothing is left to a timer or a task."""
        while self._waiting or self._writing():
            self.start()
            if self._writer is not None:
                await asyncio.gather(self._writer, return_exceptions=True)

    def _writing(self) -> bool:
        return self._writer is not None and not self._writer.done()

    async def _write(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                await self._settle(batch)
            except BaseException as exc:  # cancelled at shutdown: nobody is left hanging
                for _, future in batch + self._waiting:
                    if not future.done():
                        future.set_exception(exc)
                self._waiting.clear()
                raise

    async def _settle(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0][1].done():  # done: the caller gave up; the error is theirs alone
                    batch[0][1].set_exception(exc)
                return
            for single in batch:  # find the one at fault; the others still succeed
                await self._settle([single])
            return
        if len(results) != len(batch):
            raise RuntimeError(f"a batch of {len(batch)} gave {len(results)} results")
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # done: the caller gave up; the work is done all the same
                future.set_result(result)


Work = Callable[[Connection, Sequence[Item]], Sequence[Result]]


class GroupCommit:
    """One stream of write transactions shared by the services: the items submitted while one
    commits, whatever service they are for, are written together in the next.

    Each item comes with its ``work``: a synchronous function that writes a batch of such items
    with Core statements on the connection it is given and returns one result per item (it does
    not commit). A transaction runs whole in one pass (:func:`storage.uow.in_one_pass`): no ORM
    session, whose steps around a tap's few small statements cost more CPU than they do. A
    work reads what it needs first; its writes are deferred to the transaction's next trip to
    SQLite (:func:`storage.uow.unit_of_work`'s ``defer_writes``), so it must not read a write's
    row count or new ids. A transaction
    runs each work once, on its items in arrival order, then commits. If a transaction fails,
    each of its items is written again alone (:class:`Batcher`), so one bad item fails only its
    own caller.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = DEFAULT_MAX_BATCH
    ) -> None:
        self._sessions = sessions
        self._batcher: Batcher[tuple[Work[Any, Any], Any], Any] = Batcher(
            self._transaction, max_batch=max_batch
        )

    async def submit(self, work: Work[Item, Result], item: Item) -> Result:
        """Write ``item`` with ``work`` in the next transaction and return its result."""
        return cast(Result, await self._batcher.submit((work, item)))

    def enqueue(
        self, work: Work[Item, Result], item: Item, *, within: float | None = None
    ) -> asyncio.Future[Any]:
        """Write ``item`` with ``work`` in the next transaction; the future holds its result.
        With ``within``, in the next transaction another item starts, or one ``within``
        seconds later at most (:meth:`Batcher.enqueue`)."""
        return self._batcher.enqueue((work, item), within=within)

    def start(self) -> None:
        """Begin the next transaction now if items wait for one (those given ``within``)."""
        self._batcher.start()

    async def drain(self) -> None:
        """Commit every item submitted so far, those given ``within`` too, and return once
        committed (or failed): before the event loop that would run them goes away."""
        await self._batcher.drain()

    async def _transaction(self, batch: Sequence[tuple[Work[Any, Any], Any]]) -> list[Any]:
        # The works only write what they decided (no row counts, no new ids read back): their
        # writes ride in the trip of the next read or of the COMMIT (storage.sqlite_driver).
        return await in_one_pass(self._sessions, partial(_commit, batch), defer_writes=True)


def _commit(batch: Sequence[tuple[Work[Any, Any], Any]], connection: Connection) -> list[Any]:
    """Run each work of ``batch`` once, on its items in arrival order; a result per item."""
    parts: dict[Work[Any, Any], list[int]] = {}  # each work's items, in arrival order
    for index, (work, _) in enumerate(batch):
        parts.setdefault(work, []).append(index)
    results: list[Any] = [None] * len(batch)
    for work, indexes in parts.items():
        done = work(connection, [batch[index][1] for index in indexes])
        for index, result in zip(indexes, done, strict=True):  # one result per item
            results[index] = result
    return results


# How long a write nobody waits for may wait for a transaction to ride in (:class:`WriteBehind`).
RIDE_WITHIN = 0.25


class WriteBehind:
    """Writes that ride in the shared stream without anyone waiting for them (a record of what
    happened in passing): :meth:`flush` waits for all made so far; a failure is logged as
    ``what`` could not be stored, and the caller's work goes on.

    Such a write does not start a transaction of its own: it rides in the next one a caller
    starts, or in one of its own :data:`RIDE_WITHIN` seconds later if none does. So taps that
    come less than that apart commit once each, not twice: the record of the update a tap came
    in rides with the next tap's answer (a tap with no other within the quarter second still
    costs two, the second that much later). What a crash can lose in that time is what the
    services' own idempotency covers already (a copy of an update handled again changes
    nothing; an account's last use a moment older). ``within=None`` starts a transaction at
    once, as a caller's item does (for a record other processes read, see
    :class:`bot.services.handled_events.HandledEvents`)."""

    def __init__(
        self,
        writes: GroupCommit,
        what: str,
        log: logging.Logger,
        *,
        within: float | None = RIDE_WITHIN,
    ) -> None:
        self._writes = writes
        self._what = what
        self._log = log
        self._within = within
        self._storing: set[asyncio.Future[Any]] = set()

    def submit(self, work: Work[Item, Any], item: Item) -> None:
        """Write ``item`` with ``work`` in the next transaction; do not wait for it."""
        # A future in the queue, not a task per write: two of these ride along with every tap.
        storing = self._writes.enqueue(work, item, within=self._within)
        self._storing.add(storing)
        storing.add_done_callback(self._stored)

    async def flush(self) -> None:
        """Return once every write submitted so far is stored (or has failed to be)."""
        while self._storing:
            self._writes.start()
            await asyncio.gather(*self._storing, return_exceptions=True)

    def _stored(self, storing: asyncio.Future[Any]) -> None:
        self._storing.discard(storing)
        if not storing.cancelled() and (error := storing.exception()) is not None:
            self._log.warning("%s could not be stored: %s", self._what, type(error).__name__)
