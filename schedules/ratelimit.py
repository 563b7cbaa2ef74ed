"""Pacing sends to a messaging platform's flood limits, without ever sleeping in tests.

Each send books the earliest slot that respects every limit at once (the generic cell rate
algorithm: one "theoretical arrival time" per limit), then waits for it. Booking before
waiting keeps concurrent senders from racing for the same slot. A 429 from the platform
pauses every sender until its ``retry_after`` has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """The platform's limits. Defaults are Telegram's published ones."""

    overall_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    # Stay a hair under each limit: the platform's clock and ours never agree exactly.
    margin: float = 0.02


class _Cell:
    """One limit: an emission interval and a burst tolerance."""

    __slots__ = ("interval", "tat", "tolerance")

    def __init__(self, interval: float, burst: int = 1) -> None:
        self.interval = interval
        self.tolerance = interval * (burst - 1)
        self.tat = 0.0

    def earliest(self, now: float) -> float:
        return max(now, self.tat - self.tolerance)

    def book(self, slot: float) -> None:
        self.tat = max(self.tat, slot) + self.interval


class Pacer:
    """Hands out send slots under the overall, per-private-chat and per-group limits."""

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
        self._overall = _Cell(stretch / limits.overall_per_second)
        self._private_interval = stretch / limits.private_per_second
        self._group_interval = stretch * 60 / limits.group_per_minute
        self._chats: dict[str, _Cell] = {}
        self._paused_until = 0.0

    def _cell(self, chat: str) -> _Cell:
        cell = self._chats.get(chat)
        if cell is None:
            is_group = chat.startswith("-")
            cell = (
                _Cell(self._group_interval)
                if is_group
                else _Cell(self._private_interval, self.limits.private_burst)
            )
            self._chats[chat] = cell
        return cell

    def reserve(self, chat: str) -> float:
        """Book the earliest slot for a send to ``chat``; returns seconds to wait for it."""
        now = self._now()
        cell = self._cell(chat)
        slot = max(self._overall.earliest(now), cell.earliest(now), self._paused_until)
        self._overall.book(slot)
        cell.book(slot)
        return slot - now

    async def acquire(self, chat: str) -> None:
        """Wait until a send to ``chat`` may go."""
        wait = self.reserve(chat)
        while wait > 0:
            await self._sleep(wait)
            # A 429 may have paused everything while we slept.
            wait = self._paused_until - self._now()

    def pause(self, seconds: float) -> None:
        """Stop every send for ``seconds`` (the platform said to retry after that)."""
        self._paused_until = max(self._paused_until, self._now() + seconds)

    @property
    def paused_for(self) -> float:
        """Seconds left in the current pause (0 when sending may go on)."""
        return max(0.0, self._paused_until - self._now())
