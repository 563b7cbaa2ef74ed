"""The rate limiter of the bot's own Bot API requests (replies, toasts, files it sends back),
which also retries them when they fail on the way rather than at Telegram.

Only the ``Application``'s bot uses :class:`RetryingRateLimiter`. The outbox sends through its
own bare ``Bot`` (:class:`handlers.telegram.channel.TelegramSender`, no rate limiter at all), so
each of its sends is tried exactly once and the outbox sees the real error: it keeps its own,
durable retry policy (a row per recipient, attempts counted, backoff in plan time, every sender
paused on a 429). A send is therefore never retried twice over.

Both draw on one budget per bot token (:class:`schedules.ratelimit.Pacer`, built by
``bot/app.py`` for each channel it runs): Telegram has one limit of about 30 messages a second
per bot, not one for the replies and another for the outbox. The replies take it as *urgent*:
a person's answer to their own tap goes before the next bulk message of a notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter

from handlers.telegram.channel import maybe_sent, retry_after_seconds
from schedules.ratelimit import Limits, Pacer, forget_idle

log = logging.getLogger(__name__)

Result = bool | dict[str, Any] | list[dict[str, Any]]
# What AIORateLimiter adds to Telegram's retry_after before trying again.
RETRY_AFTER_MARGIN = 0.1
# Requests a 429 pause does not hold: a toast must reach the person within seconds, and
# Telegram does not count it towards the message limits; nor does it count receiving updates.
UNPAUSED = frozenset({"answerCallbackQuery", "getUpdates"})
# Telegram's limit for one private chat: "avoid sending more than one message per second ... short
# bursts" (Bot FAQ). The figures of the outbox's pacer and of the simulated Bot API.
CHAT_BURST, CHAT_RATE = 3, 1.0  # messages at once; messages a second after that
# A 429 refuses one chat when that chat got too many messages, and every chat when the bot sent
# too many in all (about 30 a second); nothing in the error tells which. A refusal for a second
# chat within this many seconds of one for another is taken for the bot as a whole.
SHARED_429_WINDOW = 1.0
# Senders that do not put a message in the chat, and so are not paced as one.
_NOT_MESSAGES = frozenset({"sendChatAction", "sendMessageDraft"})
_CHATS_KEPT = 1024  # per-chat states kept before the idle ones are forgotten
_TOO_SHORT = 1e-6  # seconds: a wait shorter than this is rounding, not a wait


class RetryingRateLimiter(AIORateLimiter):
    """The bot's budget (30 a second, shared with the outbox, replies first), PTB's
    ``AIORateLimiter`` for its 20-a-minute-per-group pacing, one message a second per private
    chat, and retries.

    - A message to a private chat waits for that chat's turn: at most :data:`CHAT_BURST` at
      once, then one a second, counted from when Telegram answered the one before. One chat's
      messages go one after another in the order they were asked for; other chats do not wait
      for them. (A person flooding the bot with messages is held back here, and by the update
      processor's per-chat budget, not everybody with them.)
    - A 5xx or a network failure (``NetworkError``) or a timeout (``TimedOut``) is tried again,
      at most ``network_retries`` times, after ``backoff``, then twice, four times as long.
      ``BadRequest`` is a ``NetworkError`` in PTB but is Telegram refusing the request itself:
      it is never retried. Nor is anything else (``Forbidden``: the user blocked the bot;
      ``InvalidToken``, ``Conflict``, ``ChatMigrated``).
    - A 429 (``RetryAfter``) pauses the requests to the refused chat for ``retry_after`` + 0.1 s,
      then the request is tried again: a reply is never given up on a 429, it waits its turn
      (``max_retries``, ``None`` by default, bounds the tries where a caller wants a bound).
      Every request pauses instead when Telegram refuses the bot as a whole: a 429 to a request
      for no chat (or a channel by name), or a 429 for a second chat within
      :data:`SHARED_429_WINDOW` of one for another; that pause is the budget's, so the outbox
      waits too (and the replies wait out the outbox's 429s). The wait uses the injectable
      ``sleep``, so a rehearsal does not wait in real time. Toasts (``answerCallbackQuery``) are
      never held by a pause: Telegram does not count them, and a tap not answered within
      seconds fails for the person (they wait only for a place, below).
    - At most ``concurrent_requests`` requests that the budget does not pace (toasts, the
      command menus) are in flight at once; the others wait their turn, in order. Each holds
      an HTTP connection, and httpx's pool does bookkeeping over every connection it keeps
      (several passes and a ``poll()`` of each idle socket per request: encode/httpcore#1035,
      pydantic/httpx2#1169), so a bot that opened one per tap of a surge spent more CPU on the
      pool than on the taps. Paced requests are not held: the budget already bounds them (30 a
      second times the round trip), and one held back behind toasts would reach Telegram later
      than the budget timed it, bunched with the next. (getUpdates never comes here: PTB sends
      it past the rate limiter, on a connection of its own.)
    - Every try, first or retry, waits for the pause *before* it queues for the budget, and a
      request that reaches the front while a pause is on goes back to wait and queue again; the
      budget starts again at its even pace after a pause. So a pause ends in paced sending, not
      in a burst of everything that queued during it.

    What still fails after the retries is raised to the handler (and logged by the error
    handler) as before. A request that went out and got no answer of Telegram's (a read or
    write timeout, a connection closed or reset while the bot waited for the answer, a proxy's
    5xx page: :func:`~handlers.telegram.channel.maybe_sent`, the outbox's rule too) does not
    say whether Telegram got it: the answer may have been lost, not the message, and a retry
    then shows the chat the same message twice. A message, to a person or to a group (the
    office's group reads copies too), is so tried once more at most, as the outbox tries a
    delivery (one possible repeat, preferred to a reply lost for a slow answer); a failure
    while connecting sent nothing and keeps every retry, as does a toast (answered twice, it
    shows nothing twice; never answered, her tap spins).

    ``retried`` and ``gave_up`` count by error class name, for the rehearsal's report.
    """

    def __init__(
        self,
        *,
        max_retries: int | None = None,
        network_retries: int = 3,
        backoff: float = 0.5,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        budget: Pacer | None = None,
        concurrent_requests: int = 32,
    ) -> None:
        # AIORateLimiter itself retries nothing (max_retries=0) and never sees a 429: its wait
        # would be a real asyncio.sleep. The retries happen in process_request, on the
        # injectable clock. Its overall limiter is off (overall_max_rate=0): the budget is it.
        super().__init__(overall_max_rate=0, max_retries=0)
        self.budget = budget or Pacer(Limits(), now=now, sleep=sleep)
        if concurrent_requests < 1:
            raise ValueError(f"concurrent_requests must be at least 1: {concurrent_requests}")
        self.concurrent_requests = concurrent_requests
        self._places = _Places(concurrent_requests)  # the unpaced requests'
        self.flood_retries = max_retries
        self.network_retries = network_retries
        self.backoff = backoff
        self.retried: Counter[str] = Counter()
        self.gave_up: Counter[str] = Counter()
        self._now, self._sleep = now, sleep
        # chat -> its state, the chat asked for longest ago first (see _chat)
        self._chats: OrderedDict[int, _Chat] = OrderedDict()
        self._last_refused: tuple[int, float] | None = None  # the chat a 429 refused, and when

    @property
    def waiting(self) -> int:
        """Unpaced requests waiting for a place."""
        return self._places.waiting

    def use_time(self, now: Callable[[], float], sleep: Callable[[float], Awaitable[None]]) -> None:
        """Wait on ``now``/``sleep`` from now on (a rehearsal's ``VirtualTime``), the budget
        too (shared with an outbox, it moves to that time with it)."""
        self._now, self._sleep = now, sleep
        self.budget.use_time(now, sleep)
        self._chats.clear()
        self._last_refused = None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Result:
        """Pace the request as ``AIORateLimiter`` does, and per private chat, and retry what
        failed on the way."""
        flood_retries = self.flood_retries if rate_limit_args is None else rate_limit_args
        paused = endpoint not in UNPAUSED
        chat_id = _chat_number(data.get("chat_id"))
        chat = self._chat(chat_id) if chat_id is not None and chat_id > 0 else None
        paced = chat is not None and _is_message(endpoint)
        # A message in a chat, private or a group: a copy of it is one more the chat reads.
        message = _is_message(endpoint) and data.get("chat_id") is not None
        # As AIORateLimiter counted its 30 a second: every request for a chat.
        budgeted = paused and data.get("chat_id") is not None
        # What AIORateLimiter still paces: a group or a channel (an id below zero, a @name) at 20
        # messages a minute, and paid broadcasts. Everything else it would pass straight on.
        named = chat_id is None and data.get("chat_id") is not None
        grouped = named or (chat_id is not None and chat_id < 0)
        through_aio = grouped or bool(data.get("allow_paid_broadcast"))

        async def attempt(*call_args: Any, **call_kwargs: Any) -> Result:
            if paused and self._pause_left(chat_id) > 0:
                raise _PauseBegan  # while this request queued: queue again after the pause
            # The budget times the request (the spread of travel times); the chat's pace is
            # kept here. What it does not pace waits for a place among the requests in flight.
            place = self.budget.slot(None, urgent=True) if budgeted else self._places
            async with place:
                if paused and not budgeted and self._pause_left(chat_id) > 0:
                    raise _PauseBegan  # while it waited for a place (the budget checks its own)
                try:
                    return await callback(*call_args, **call_kwargs)
                except RetryAfter as exc:
                    raise _Flooded(exc) from None  # for process_request, not AIORateLimiter
                finally:
                    if paced:
                        assert chat is not None
                        chat.spend(self._now())

        # One message at a time per chat, in order: its turn is counted from the answer to the
        # one before, and a retry keeps its place ahead of the chat's later messages.
        async with chat.taking_turn() if paced and chat is not None else contextlib.nullcontext():
            network = flood = 0
            doubted_once = False  # a try of this message may have reached the chat
            while True:
                if paused:
                    await self._wait_out_pause(chat_id)
                if paced and chat is not None:
                    await self._wait_for_turn(chat)
                try:
                    if through_aio:
                        return await super().process_request(
                            attempt, args, kwargs, endpoint, data, None
                        )
                    return await attempt(*args, **kwargs)
                except _PauseBegan:
                    continue
                except _Flooded as flooded:
                    exc = flooded.exc
                    wait = retry_after_seconds(exc) + RETRY_AFTER_MARGIN
                    everyone = self._refused(chat_id, wait)
                    if flood_retries is not None and flood >= flood_retries:
                        self._give_up(endpoint, exc, flood)
                        raise exc from None
                    flood += 1
                    self.retried[type(exc).__name__] += 1
                    log.info(
                        "%s: rate limited, %s waits %.1f s",
                        endpoint, "every request" if everyone else "its chat", wait,
                    )  # fmt: skip
                except NetworkError as exc:
                    if isinstance(exc, BadRequest):
                        raise  # Telegram refused the request itself: the same fails the same
                    # A message whose answer may be lost (it went out: a timeout, a dropped
                    # connection, a proxy's 5xx page) may be on the chat's screen: one more try
                    # at most, by the outbox's rule (a toast has no copy to fear and keeps
                    # every retry).
                    doubted = message and maybe_sent(exc)
                    if network >= self.network_retries or (doubted and doubted_once):
                        self._give_up(endpoint, exc, network)
                        raise
                    doubted_once = doubted_once or doubted
                    wait = self.backoff * 2**network
                    network += 1
                    self.retried[type(exc).__name__] += 1
                    log.info(
                        "%s failed (%s): try %d of %d in %.1f s",
                        endpoint, type(exc).__name__, network + 1, self.network_retries + 1, wait,
                    )  # fmt: skip
                    await self._sleep(wait)

    def _refused(self, chat_id: int | None, wait: float) -> bool:
        """Pause the refused chat, or every request (see the class docstring); ``True`` for
        every request."""
        now = self._now()
        until = now + wait
        last, self._last_refused = self._last_refused, None
        if chat_id is not None:
            self._chat(chat_id).paused_until = max(self._chat(chat_id).paused_until, until)
            self._last_refused = (chat_id, now)
            if last is None or last[0] == chat_id or now - last[1] > SHARED_429_WINDOW:
                self.budget.pauses += 1  # one chat's pause: counted as the budget's own are
                return False
        self.budget.pause(wait)
        return True

    def _pause_left(self, chat_id: int | None) -> float:
        left = self.budget.paused_for
        if chat_id is not None and (chat := self._chats.get(chat_id)) is not None:
            left = max(left, chat.paused_until - self._now())
        return left

    async def _wait_out_pause(self, chat_id: int | None) -> None:
        # A loop, not a single wait: another request's 429 may lengthen the pause meanwhile.
        while (pause := self._pause_left(chat_id)) > 0:
            await self._sleep(pause)

    async def _wait_for_turn(self, chat: _Chat) -> None:
        while (wait := chat.wait(self._now())) > 0:
            await self._sleep(wait)

    def _chat(self, chat_id: int) -> _Chat:
        """The chat's state, made at its first request. Past :data:`_CHATS_KEPT` chats, idle
        ones are forgotten (as if new). The chats are kept in the order they were last asked
        for, so the ones to forget are at the front (a chat's bucket is full again three
        seconds after its last message). Forgetting takes a few steps a new chat, however many
        are kept, where looking over every chat took milliseconds past 10,000 of them; a front
        that is not idle (a 429 pause, a message waiting for its turn) stops it, and the idle
        chats behind it are forgotten once the front is."""
        chats = self._chats
        chat = chats.get(chat_id)
        if chat is not None:
            chats.move_to_end(chat_id)  # asked for last
            return chat
        now = self._now()
        forget_idle(chats, _CHATS_KEPT, lambda _, state: state.idle(now))
        chat = chats[chat_id] = _Chat(at=self._now())
        return chat

    def _give_up(self, endpoint: str, exc: Exception, retries: int) -> None:
        self.gave_up[type(exc).__name__] += 1
        log.warning(
            "%s failed (%s) after %d retries: given up", endpoint, type(exc).__name__, retries
        )


class _Places:
    """``size`` places for requests in flight, taken in turn (an async context manager)."""

    def __init__(self, size: int) -> None:
        self._free = asyncio.Semaphore(size)
        self.waiting = 0

    async def __aenter__(self) -> None:
        self.waiting += 1
        try:
            await self._free.acquire()
        finally:
            self.waiting -= 1

    async def __aexit__(self, *exc_info: object) -> None:
        self._free.release()


@dataclass
class _Chat:
    """One chat's side of the limits: its messages' token bucket, its 429 pause, its turn."""

    at: float  # when ``tokens`` was counted
    tokens: float = float(CHAT_BURST)
    paused_until: float = float("-inf")
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    requests: int = 0  # holding or waiting for the turn

    @contextlib.asynccontextmanager
    async def taking_turn(self) -> AsyncIterator[None]:
        """Hold the chat's turn: its messages go one after another, in order."""
        self.requests += 1
        try:
            async with self.turn:
                yield
        finally:
            self.requests -= 1

    def wait(self, now: float) -> float:
        """Seconds until a message may go."""
        wait = (1.0 - self._tokens(now)) / CHAT_RATE
        # Float rounding leaves a few ulps after a wait; on a virtual clock far from zero a
        # wait that small would not move it, and the wait would never end.
        return wait if wait > _TOO_SHORT else 0.0

    def spend(self, now: float) -> None:
        """A message went (or may have): one token less, from now."""
        self.tokens, self.at = self._tokens(now) - 1.0, now

    def idle(self, now: float) -> bool:
        """Nothing to remember: a full bucket, no pause, nobody waiting for the turn."""
        full = self._tokens(now) >= CHAT_BURST
        return full and self.paused_until <= now and not self.requests

    def _tokens(self, now: float) -> float:
        return min(float(CHAT_BURST), self.tokens + (now - self.at) * CHAT_RATE)


def _chat_number(chat_id: Any) -> int | None:
    """The chat a request is for; ``None`` for none, or a channel by its @name."""
    if isinstance(chat_id, int):
        return chat_id
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return None


def _is_message(endpoint: str) -> bool:
    """Whether ``endpoint`` puts a message in the chat, so it counts towards its limit."""
    if endpoint in ("copyMessage", "copyMessages", "forwardMessage", "forwardMessages"):
        return True
    return endpoint.startswith("send") and endpoint not in _NOT_MESSAGES


class _PauseBegan(Exception):
    """A 429 pause began while the request waited for its turn in the pacing."""


class _Flooded(Exception):
    """A 429, carried past ``AIORateLimiter`` (which would log it as an error and re-raise)."""

    def __init__(self, exc: RetryAfter) -> None:
        super().__init__()
        self.exc = exc
