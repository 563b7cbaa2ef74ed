"""Virtual time that moves only when nothing else can: a discrete-event clock for tests.

``VirtualTime`` (``schedules.ratelimit``) jumps forward on every sleep at once, which is right
for one sender but lets concurrent senders overtake each other's clocks. :class:`EventTime`
keeps every sleeper's wake-up on one timeline instead: a sleep waits for its moment, and the
clock moves to the next moment only once the event loop has nothing else to run and no
database call is on its way (``busy``). So a run of thousands of paced sends takes no real
time, and their order and their virtual times are those a real clock would give, without the
database's real speed in them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import queue
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import aiosqlite
import aiosqlite.core

T = TypeVar("T")
_QUIET_TURNS = 3  # turns of the event loop with nothing to run before the clock moves


class EventTime:
    """A clock for ``now=``/``sleep=`` injection, moved by :meth:`run`."""

    def __init__(self, start: float = 0.0, *, busy: Callable[[], bool] = lambda: False) -> None:
        self.now = start
        self._busy = busy
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        """The current virtual time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has moved ``seconds`` on."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + seconds, next(self._order), woken))
        await woken

    async def run(self, main: Awaitable[T], *, limit: float = 24 * 3600) -> T:
        """Run ``main`` to its end, moving the clock whenever everything waits for it."""
        task = asyncio.ensure_future(main)
        loop: Any = asyncio.get_running_loop()
        idle = 0
        while not task.done():
            quiet = 0
            while quiet < _QUIET_TURNS and not task.done():
                await asyncio.sleep(0)
                quiet = 0 if loop._ready or self._busy() else quiet + 1
            if task.done():
                break
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)  # a sleeper cancelled meanwhile
            if not self._timers:
                idle += 1  # waiting on something outside the clock (a thread, a socket)
                if idle > 1_000_000:
                    raise RuntimeError("nothing runs and nothing waits for the clock")
                continue
            idle = 0
            when = self._timers[0][0]
            if when > limit:
                raise TimeoutError(f"still running at {self.now:.1f} s of virtual time")
            self.now = max(self.now, when)
            while self._timers and self._timers[0][0] <= self.now:
                _, _, woken = heapq.heappop(self._timers)
                if not woken.done():
                    woken.set_result(None)
        return task.result()


@contextmanager
def counting_database_calls() -> Iterator[Callable[[], bool]]:
    """While in the block, count the database calls on their way (aiosqlite's, and asyncpg's
    through SQLAlchemy's dialect); yields ``busy()``, true while one is (so an
    :class:`EventTime` does not move while the database works)."""
    from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

    on_the_way = 0
    original: Any = aiosqlite.Connection._execute
    original_await: Any = asyncpg_dialect.await_
    original_queue = aiosqlite.core.SimpleQueue

    def arrived(_: object) -> None:
        nonlocal on_the_way
        on_the_way -= 1

    class CountedQueue(queue.SimpleQueue):  # type: ignore[type-arg]
        """A connection's queue to its thread, counting each call until its answer is back:
        every trip, also those that do not go through ``_execute`` (opening the connection,
        SQLAlchemy setting its isolation level), which a clock moving meanwhile would put
        after the next timer."""

        def put_nowait(self, item: Any) -> None:
            nonlocal on_the_way
            future = item[0]
            if future is not None:
                on_the_way += 1
                future.add_done_callback(arrived)
            super().put_nowait(item)

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal on_the_way
        on_the_way += 1
        try:
            return await original(self, fn, *args, **kwargs)
        finally:
            on_the_way -= 1

    async def counting(awaitable: Awaitable[T]) -> T:
        nonlocal on_the_way
        on_the_way += 1
        try:
            return await awaitable
        finally:
            on_the_way -= 1

    def counted_await(awaitable: Awaitable[T]) -> T:
        # Every asyncpg call of the dialect goes through its module's await_ (a trip to the
        # server, as aiosqlite's _execute is a trip to its thread).
        return original_await(counting(awaitable))  # type: ignore[no-any-return]

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]
    aiosqlite.core.SimpleQueue = CountedQueue  # the connections opened from now on
    asyncpg_dialect.await_ = counted_await
    try:
        yield lambda: on_the_way > 0
    finally:
        aiosqlite.Connection._execute = original  # type: ignore[method-assign]
        aiosqlite.core.SimpleQueue = original_queue
        asyncpg_dialect.await_ = original_await
