"""APScheduler drives the outbox: one short tick that queues and reports, and leaves the
channels sending in the background (:meth:`schedules.outbox.Outbox.pulse`).

No job is persisted in APScheduler: every reminder is a row, so after a restart the tick
simply finds what is due (and what fell due while the bot was down).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from schedules.outbox import Outbox

log = logging.getLogger(__name__)

# A batch on the wire needs a few seconds at most; past this, stopping wins.
STOP_GRACE_SECONDS = 30


class OutboxScheduler:
    """Starts the outbox (recovery, planning) and ticks it every ``tick_seconds``."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        tick_seconds: float,
        plan: Callable[[], Awaitable[None]],
        after_tick: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.outbox = outbox
        self._tick_seconds = tick_seconds
        self._plan = plan
        # Runs after each tick (the quotas' check); its failure is logged, the tick goes on.
        self._after_tick = after_tick
        self._scheduler: AsyncIOScheduler | None = None
        self._running: asyncio.Task[None] | None = None
        self._woken = False

    async def start(self) -> None:
        """Put in-flight deliveries back, sync the plan's messages, then tick."""
        await self.outbox.recover()
        await self._plan()
        # A channel done sending: tick now, to close its messages and report them.
        self.outbox.when_drained(self.wake)
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self._tick,
            "interval",
            seconds=self._tick_seconds,
            id="outbox",
            max_instances=1,  # a long drain is never run twice at once
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        self._scheduler = scheduler

    def wake(self) -> None:
        """Tick now, not at the next interval: something fell due (a notice just confirmed).
        During a tick, tick once more right after it."""
        if self._scheduler is None:
            return
        if self._running is not None:
            self._woken = True
            return
        self._scheduler.modify_job("outbox", next_run_time=datetime.now(UTC))

    async def _tick(self) -> None:
        self._running = asyncio.current_task()
        try:
            while True:
                self._woken = False
                try:
                    await self.outbox.pulse()
                except Exception:  # the next tick tries again; one bad tick must not stop it
                    log.exception("outbox tick failed")
                if self._after_tick is not None:
                    try:
                        await self._after_tick()
                    except Exception:
                        log.exception("after-tick check failed")
                if not self._woken or self.outbox.stopping:
                    break
        finally:
            self._running = None

    async def stop(self) -> None:
        """Stop ticking; the tick in progress ends, and each channel sending finishes the batch
        on the wire, then returns.

        APScheduler's shutdown cancels running jobs, which would leave that batch ``sending``
        (and resent at the next start), so pause first, let the tick and the channels' drains
        end, close the messages they completed (their reports go at the next start), then shut
        down. Past the grace a drain is cancelled: what it held goes back to ``pending`` at the
        next start.
        """
        if self._scheduler is None:
            return
        self._scheduler.pause()
        self.outbox.request_stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE_SECONDS
        running = self._running
        if running is not None and not running.done():
            await asyncio.wait([running], timeout=STOP_GRACE_SECONDS)
        draining = self.outbox.draining()
        if draining:
            _, cut = await asyncio.wait(draining, timeout=max(0.0, deadline - loop.time()))
            if cut:
                log.warning("stopped while sending; unsent deliveries resume at the next start")
                for drain in cut:
                    drain.cancel()
                await asyncio.wait(cut)
        try:  # the messages the last sends completed are closed now, not at the next start
            await self.outbox.finish()
        except Exception:
            log.exception("closing the messages sent before the stop failed")
        self._scheduler.shutdown(wait=False)
        self._scheduler = None
