"""The rate limiter of the bot's own Bot API requests (replies, toasts, files it sends back),
which also retries them when they fail on the way rather than at Telegram.

Only the ``Application``'s bot uses :class:`RetryingRateLimiter`. The outbox sends through its
own bare ``Bot`` (:class:`handlers.telegram.channel.TelegramSender`, no rate limiter at all), so
each of its sends is tried exactly once and the outbox sees the real error: it keeps its own,
durable retry policy (a row per recipient, attempts counted, backoff in plan time, every sender
paused on a 429). A send is therefore never retried twice over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter

from handlers.telegram.channel import retry_after_seconds

log = logging.getLogger(__name__)

Result = bool | dict[str, Any] | list[dict[str, Any]]
# What AIORateLimiter adds to Telegram's retry_after before trying again.
RETRY_AFTER_MARGIN = 0.1
# Requests a 429 pause does not hold: a toast must reach the person within seconds, and
# Telegram does not count it towards the message limits.
UNPAUSED = frozenset({"answerCallbackQuery"})


class RetryingRateLimiter(AIORateLimiter):
    """PTB's ``AIORateLimiter`` (the 30-a-second and 20-a-minute-per-group pacing), plus retries.

    - A 5xx or a network failure (``NetworkError``) or a timeout (``TimedOut``) is tried again,
      at most ``network_retries`` times, after ``backoff``, then twice, four times as long.
      ``BadRequest`` is a ``NetworkError`` in PTB but is Telegram refusing the request itself:
      it is never retried. Nor is anything else (``Forbidden``: the user blocked the bot;
      ``InvalidToken``, ``Conflict``, ``ChatMigrated``).
    - A 429 (``RetryAfter``) pauses every request of this bot for ``retry_after`` + 0.1 s — also
      when it is the last 429 a request will take — then the request is tried again, at most
      ``max_retries`` times. The wait uses the injectable ``sleep``, so a rehearsal does not
      wait in real time. Only toasts (``answerCallbackQuery``) are not held: Telegram does not
      count them, and a tap not answered within seconds fails for the person.
    - Every try, first or retry, waits for the pause *before* it queues for the 30-a-second
      pacing, and a request that reaches the front of that queue while a pause is on goes back
      to wait and queue again. So a pause ends in paced sending, not in a burst of everything
      that queued during it.

    What still fails after the retries is raised to the handler (and logged by the error
    handler) as before. A timeout does not say whether Telegram got the request: the answer may
    have been lost, not the request, and the retry then shows the person the same reply twice.
    That is the in-flight bound of a reply (one repeat per timeout) and is preferred to a tap
    left unanswered; the bot never edits messages and tolerates a toast answered twice, so a
    repeat does no more than that.

    ``retried`` and ``gave_up`` count by error class name, for the rehearsal's report.
    """

    def __init__(
        self,
        *,
        max_retries: int = 3,
        network_retries: int = 3,
        backoff: float = 0.5,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # AIORateLimiter itself retries nothing (max_retries=0) and never sees a 429: its wait
        # would be a real asyncio.sleep. The retries happen in process_request, on the
        # injectable clock.
        super().__init__(max_retries=0)
        self.flood_retries = max_retries
        self.network_retries = network_retries
        self.backoff = backoff
        self.retried: Counter[str] = Counter()
        self.gave_up: Counter[str] = Counter()
        self._now, self._sleep = now, sleep
        self._paused_until = float("-inf")

    def use_time(self, now: Callable[[], float], sleep: Callable[[float], Awaitable[None]]) -> None:
        """Wait on ``now``/``sleep`` from now on (a rehearsal's ``VirtualTime``)."""
        self._now, self._sleep = now, sleep
        self._paused_until = float("-inf")

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        """Pace the request as ``AIORateLimiter`` does and retry what failed on the way."""
        flood_retries = self.flood_retries if rate_limit_args is None else rate_limit_args
        paused = endpoint not in UNPAUSED

        async def attempt(*call_args: Any, **call_kwargs: Any) -> Result:
            if paused and self._paused_until > self._now():
                raise _PauseBegan  # while this request queued: queue again after the pause
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as exc:
                raise _Flooded(exc) from None  # for process_request, not AIORateLimiter

        network = flood = 0
        while True:
            if paused:
                await self._wait_out_pause()
            try:
                return await super().process_request(attempt, args, kwargs, endpoint, data, None)
            except _PauseBegan:
                continue
            except _Flooded as flooded:
                exc = flooded.exc
                wait = retry_after_seconds(exc) + RETRY_AFTER_MARGIN
                self._paused_until = max(self._paused_until, self._now() + wait)
                if flood >= flood_retries:
                    self._give_up(endpoint, exc, flood)
                    raise exc from None
                flood += 1
                self.retried[type(exc).__name__] += 1
                log.info("%s: rate limited, every request waits %.1f s", endpoint, wait)
            except NetworkError as exc:
                if isinstance(exc, BadRequest):
                    raise  # Telegram refused the request itself: the same again fails the same
                if network >= self.network_retries:
                    self._give_up(endpoint, exc, network)
                    raise
                wait = self.backoff * 2**network
                network += 1
                self.retried[type(exc).__name__] += 1
                log.info(
                    "%s failed (%s): try %d of %d in %.1f s",
                    endpoint, type(exc).__name__, network + 1, self.network_retries + 1, wait,
                )  # fmt: skip
                await self._sleep(wait)

    async def _wait_out_pause(self) -> None:
        # A loop, not a single wait: another request's 429 may lengthen the pause meanwhile.
        while (pause := self._paused_until - self._now()) > 0:
            await self._sleep(pause)

    def _give_up(self, endpoint: str, exc: Exception, retries: int) -> None:
        self.gave_up[type(exc).__name__] += 1
        log.warning(
            "%s failed (%s) after %d retries: given up", endpoint, type(exc).__name__, retries
        )


class _PauseBegan(Exception):
    """A 429 pause began while the request waited for its turn in the pacing."""


class _Flooded(Exception):
    """A 429, carried past ``AIORateLimiter`` (which would log it as an error and re-raise)."""

    def __init__(self, exc: RetryAfter) -> None:
        super().__init__()
        self.exc = exc
