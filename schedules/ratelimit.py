"""Pacing sends to a messaging platform's flood limits, without ever sleeping in tests.

Telegram counts messages in a sliding window, so the pacer does too, and it counts each send
from the moment its request *completed* — the latest moment the platform can have seen it.
Times booked in advance fail when the event loop stalls (a garbage collection, a slow disk):
delayed sends bunch up and overflow the window. Overall: a new send may start only when the
send ``overall_per_second`` places back completed at least a window (one second stretched by
``margin``) ago, and never closer than half the average interval to the previous start, so a
stall or a pause is not followed by a burst. Per chat: a token bucket (private chats
allow a short burst; groups get 20 a minute). A 429 pauses every sender until its
``retry_after`` has passed.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """The platform's limits. Defaults are Telegram's published ones."""

    overall_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    # Stay a hair under each limit: the platform's clock and ours never agree exactly.
    margin: float = 0.02


@dataclass
class _Send:
    """One send counted by the overall window: when it started and when it completed."""

    started: float
    completed: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class _Bucket:
    """A per-chat limit: an emission interval and a burst tolerance (GCRA)."""

    __slots__ = ("interval", "tat", "tolerance")

    def __init__(self, interval: float, burst: int = 1) -> None:
        self.interval = interval
        self.tolerance = interval * (burst - 1)
        self.tat = 0.0

    def earliest(self, now: float) -> float:
        return max(now, self.tat - self.tolerance)

    def take(self, now: float) -> None:
        self.tat = max(self.tat, now) + self.interval


class Pacer:
    """Lets sends through under the overall, per-private-chat and per-group limits."""

    def __init__(
        self,
        limits: Limits = Limits(),
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._now = now
        self._sleep = sleep
        stretch = 1 + limits.margin
        self._window_count = max(1, math.floor(limits.overall_per_second))
        self._window = stretch * self._window_count / limits.overall_per_second
        self._min_gap = self._window / self._window_count / 2
        self._sends: deque[_Send] = deque(maxlen=self._window_count)
        self._private_interval = stretch / limits.private_per_second
        self._group_interval = stretch * 60 / limits.group_per_minute
        self._chats: dict[str, _Bucket] = {}
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def _bucket(self, chat: str) -> _Bucket:
        bucket = self._chats.get(chat)
        if bucket is None:
            if chat.startswith("-"):
                bucket = _Bucket(self._group_interval)
            else:
                bucket = _Bucket(self._private_interval, self.limits.private_burst)
            self._chats[chat] = bucket
        return bucket

    async def _overall_earliest(self, now: float) -> float:
        """When the window allows the next start (waiting for the oldest send to complete)."""
        if not self._sends:
            return now
        earliest = self._sends[-1].started + self._min_gap
        if len(self._sends) == self._window_count:
            oldest = self._sends[0]
            await oldest.done.wait()
            assert oldest.completed is not None
            earliest = max(earliest, oldest.completed + self._window)
        return max(self._now(), earliest)

    @asynccontextmanager
    async def slot(self, chat: str) -> AsyncIterator[None]:
        """Hold a send slot for ``chat`` around the send itself."""
        send = await self._acquire(chat)
        try:
            yield
        finally:
            send.completed = self._now()
            send.done.set()

    async def _acquire(self, chat: str) -> _Send:
        bucket = self._bucket(chat)
        while True:
            # Wait for this chat (and any pause) without holding up other chats.
            now = self._now()
            wait = max(bucket.earliest(now), self._paused_until) - now
            if wait > 0:
                await self._sleep(wait)
                continue
            async with self._lock:  # starts are decided one at a time, on real times
                wait = max(await self._overall_earliest(self._now()), self._paused_until)
                wait -= self._now()
                if wait > 0:
                    await self._sleep(wait)
                now = self._now()
                if bucket.earliest(now) > now or self._paused_until > now:
                    continue  # the chat's budget or a 429 changed while we waited
                send = _Send(started=now)
                self._sends.append(send)
                bucket.take(now)
                return send

    def pause(self, seconds: float) -> None:
        """Stop every send for ``seconds`` (the platform said to retry after that)."""
        self._paused_until = max(self._paused_until, self._now() + seconds)


class VirtualTime:
    """Monotonic time for a :class:`Pacer` that moves only when the pacer waits, so paced
    sending runs at full speed in tests and rehearsals: ``Pacer(now=t.monotonic,
    sleep=t.sleep)``. ``slept`` is the total wait the pacer asked for."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept = 0.0

    def monotonic(self) -> float:
        """The current virtual time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Jump forward instead of waiting."""
        self.now += seconds
        self.slept += seconds
