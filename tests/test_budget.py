"""One sending budget per bot, shared by the outbox and the replies, and a notice that goes at
once: against the fake Bot API with Telegram's limits, on virtual time (nothing sleeps).

The surges here are the issue's (250 links opened at 25 a second; a tap surge during a
broadcast), at the size a test can afford; ``bench/surge.py`` runs them at full size in real
time and prints the figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from schedules.scheduler import OutboxScheduler
from tests.fakes.clock import counting_database_calls
from tests.harness import BotHarness
from tests.test_broadcasts import compose
from tests.test_outbox import linked_answers


@pytest.fixture
def database_busy() -> Iterator[Any]:
    with counting_database_calls() as busy:
        yield busy


async def test_confirming_a_notice_wakes_the_outbox_instead_of_waiting_for_its_tick(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await compose(harness, "Họp trù bị lúc 14:00.", "Tất cả đại biểu đã liên kết")
    woken: list[str] = []
    harness.services.ctx.due_now.listen(lambda: woken.append("due now"))
    await harness.send(harness.admin().tap("📤 Gửi ngay"))
    assert woken == ["due now"]


class CountingOutbox:
    """An outbox that counts its ticks (the scheduler needs no more of one)."""

    def __init__(self) -> None:
        self.ticks = 0
        self.ticked = asyncio.Event()
        self.hold = asyncio.Event()  # a tick in progress until set
        self.hold.set()
        self.stopping = False

    async def recover(self) -> int:
        return 0

    def request_stop(self) -> None:
        self.stopping = True

    async def tick(self) -> None:
        self.ticks += 1
        self.ticked.set()
        await self.hold.wait()


async def test_a_wake_ticks_the_outbox_now_and_a_wake_during_a_tick_ticks_once_more() -> None:
    outbox = CountingOutbox()

    async def plan() -> None:
        return None

    scheduler = OutboxScheduler(outbox, tick_seconds=3600, plan=plan)  # type: ignore[arg-type]
    await scheduler.start()
    try:
        await asyncio.wait_for(outbox.ticked.wait(), timeout=10)  # the first tick, at start
        outbox.ticked.clear()
        scheduler.wake()  # not in an hour: now
        await asyncio.wait_for(outbox.ticked.wait(), timeout=10)
        assert outbox.ticks == 2
        outbox.ticked.clear()
        outbox.hold.clear()
        scheduler.wake()
        await asyncio.wait_for(outbox.ticked.wait(), timeout=10)  # a tick in progress...
        outbox.ticked.clear()
        scheduler.wake()  # ...when another notice is confirmed
        outbox.hold.set()
        await asyncio.wait_for(outbox.ticked.wait(), timeout=10)  # goes right after it
        assert outbox.ticks == 4
    finally:
        await scheduler.stop()
