"""One bot's sending budget, shared by everything that sends as that bot, never sleeping in tests.

Telegram counts a bot's messages in a sliding second (about 30) and each chat's on its own; it
counts a message when the request reaches it, so the pacer counts each send from the moment it
*starts*, and requests overlap: over a network a request takes a round trip, and a bot that
waited for each answer before counting the next would lose a share of the rate to latency.

Overall, starts are paced evenly, one every ``interval`` (a second stretched by ``margin`` over
the rate), and go in groups: the starts of ``grouped_within`` seconds (five of Telegram's 30 a
second, at most ``reply_burst``) start together, and the next group is due that many intervals
later. A bot sending at the full rate then wakes a few times a second, not once per message:
the rate and the window are the same, and waking an idle process costs more CPU than the send
it wakes for. A bulk start up to two intervals late (a timer that woke late: the loop was
saving a batch, or collecting) keeps the schedule, so the next ones make that time up, at most
three starts or one group within an interval (a reply keeps it only a quarter interval late,
below); a start later than that (the process was not run for a while, or the budget was idle)
starts the schedule afresh from now: a long stall is not made up by a burst. Whatever the
schedule says, never more than the window's count start within the platform's window plus room
for requests whose times on the way differ: the spread of start-to-answer times of the last
window's sends through :meth:`Pacer.slot`, and at least a quarter of the margin. The platform
counts a message when it arrives, and a request held up on its way (a loaded machine, a slow
hop) arrives closer to the next ones. An even schedule fills the window to 1 + margin, so on a
steady network (a spread of a few milliseconds) the window costs nothing and leaves the room a
late start is made up in; on a loaded machine a wide spread slows sending down instead of
drawing 429s. Every start is decided at the real time, one at a time; nothing is booked in
advance (sharing a schedule, at most ``ahead``, below, and a start the process wakes too late
for is held back or given up), so a stall is never followed by a burst of sends booked before
it.

Replies go first: a waiter that is ``urgent`` (a person's reply to their own action) takes the
next start before any bulk waiter (the outbox), and may go ahead of the even schedule by as
many starts as ``reply_burst`` leaves beyond a group, so a few replies at once are not held
behind each other; the window holds them too. At Telegram's rate a group is the whole burst: a
reply goes with the next group, at most a group's span (0.17 s) after it was asked for. A 429
pauses every sender until its ``retry_after`` has passed, and after it starts resume at the
even pace, a group at a time, replies included: never in a burst.

Per chat (for the senders that ask, the outbox): a token bucket; private chats allow a short
burst, groups get 20 a minute.

Several processes sending as one bot (PostgreSQL, issue 22) share its overall rate: the pacer
then takes each start from :class:`SharedStarts` too (``storage.sharing.SharedSendSlots``, an
even schedule in the database), after its own checks and while it holds the head of its line,
so one process asks for one start at a time; its own starts are then not grouped (the shared
schedule grants one at a time, and a group would wait on it anyway). Sharing, a process may
book a start up to ``ahead`` seconds before it is due (:meth:`Pacer.share`): the head of the
line asks that much before its own schedule, then hands the head on and waits for its booked
start, so the next waiter books the next start while this one waits or is on the wire, and the
database's round trip is not on the send's critical path. A 429 met meanwhile holds a booked
start back (too late then, it is given up); the other processes learn of it from the database,
so the starts they booked before it was written (``ahead`` at most) still go. If the database
cannot be asked, the process falls back to its own pace (and the platform's 429s, which pause
it) rather than stop sending. A process may run late (a loaded machine does not run it at
once): it books each start with a guard (from its last few lateness measurements), measures its
lateness again just before the send, and when it is over that guard holds the start a window
later back by as much (if that one is not granted yet, and the start is under an interval late)
or else gives the start up unsent; the shared schedule keeps the start a window later clear of
the guard, so no second holds more than the platform allows (the argument is in
``SharedSendSlots``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)

# Seconds: a wait shorter than this is float rounding, not a wait (on a virtual clock far from
# zero, adding it would not move the clock, and the wait would never end).
_TOO_SHORT = 1e-6
# A process's guard (sharing a schedule) comes from its lateness at this many recent starts;
# before it has any, it is this many seconds.
GUARD_STARTS = 10
FIRST_GUARD = 0.01
CHATS_KEPT = 4096  # per-chat buckets kept before the idle ones are forgotten

_Key = TypeVar("_Key", bound=Hashable)
_State = TypeVar("_State")


def forget_idle(
    kept: OrderedDict[_Key, _State], most: int, idle: Callable[[_Key, _State], bool]
) -> list[_Key]:
    """Past ``most`` per-chat states (``kept``: the one asked for longest ago first), forget
    them from the front while ``idle`` says each is as good as new, stopping at the first that
    is not: a few steps a new chat however many are kept, where looking over every chat took
    milliseconds past 10,000 (the outbox's buckets, the replies' limiter, the update budget).
    The keys forgotten."""
    forgotten: list[_Key] = []
    if len(kept) >= most:
        while kept:
            key, state = next(iter(kept.items()))
            if not idle(key, state):
                break
            del kept[key]
            forgotten.append(key)
    return forgotten


def guard_of(recent: Sequence[float]) -> float:
    """The lateness a process books a shared start with: twice its median lately, and 5 ms.
    Not its worst: a rare long stall is cheaper given up (one start) than booked for (room kept
    after every start); measured on the simulation in tests/test_shared_window.py."""
    return 2 * statistics.median(recent) + 0.005 if recent else FIRST_GUARD


@dataclass(frozen=True)
class Limits:
    """The platform's limits. Defaults are Telegram's published ones."""

    overall_per_second: float = 30.0
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    # Stay a hair under each limit: the platform's clock and ours never agree exactly, and a
    # request's travel time varies a little.
    margin: float = 0.02
    # Sends that may start at once (the rest follow at the even pace).
    reply_burst: int = 5
    # Seconds of the even schedule whose starts go together, as one group of at most
    # ``reply_burst`` (five of Telegram's 30 a second; where this span holds fewer than three
    # starts, under about 15 a second, each start goes on its own). A busy bot then wakes six
    # times a second to send, not thirty: waking an idle process costs more CPU than the send
    # it wakes for (bench/README.md, 2026-12-03).
    grouped_within: float = 0.2


class SharedStarts(Protocol):
    """A bot's overall schedule shared with other processes sending as the same bot."""

    interval: float

    async def take(self, guard: float) -> tuple[float, float, Hashable | None]:
        """Take the next start if it is due: ``(0, late, ticket)``, ``late`` the seconds the
        grant was behind its nominal start, ``ticket`` what :meth:`stretch` names it by (None:
        it cannot be); else ``(seconds until it is, 0, None)``. ``guard``: the lateness this
        process may have."""
        ...

    async def stretch(self, ticket: Hashable, seconds: float) -> bool:
        """Hold the start a window's count after the granted start ``ticket`` back ``seconds``
        more (the granted one goes that much later than its guard): False if that start was
        granted already, and the late one must be given up."""
        ...

    async def pause(self, seconds: float) -> None:
        """No start for anyone for ``seconds`` (the platform answered 429)."""
        ...


@dataclass
class _Grant:
    """A start of a shared schedule, as this process took it: when it was asked for, how late
    the schedule granted it (negative: ahead), the guard it was booked with, what the schedule
    names it by, and when it may start here."""

    asked: float
    late: float
    guard: float
    ticket: Hashable | None
    booked: float = -math.inf

    def lateness(self, now: float) -> float:
        """How late a send at ``now`` is, at most (the server may have granted it as soon as it
        was asked)."""
        return self.late + (now - self.asked)


class _Bucket:
    """A per-chat limit: an emission interval and a burst tolerance (GCRA)."""

    __slots__ = ("held", "interval", "tat", "tolerance")

    def __init__(self, interval: float, burst: int = 1) -> None:
        self.interval = interval
        self.tolerance = interval * (burst - 1)
        self.tat = 0.0
        self.held = 0  # sends waiting on it

    def idle(self, now: float) -> bool:
        """As good as a new one: its sends are past (``tat``) and none waits on it."""
        return self.tat <= now and not self.held

    def earliest(self, now: float) -> float:
        return max(now, self.tat - self.tolerance)

    def take(self, now: float) -> None:
        self.tat = max(self.tat, now) + self.interval


class Pacer:
    """One bot's budget: lets sends start under the overall, per-private-chat and per-group
    limits, replies before bulk (see the module docstring)."""

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
        # The platform's window (a second for Telegram's 30), and the least room this pacer
        # keeps in it for requests whose travel times differ: a quarter of the margin (5 ms of
        # a second); the recent spread of travel times when that is more.
        self._window = self._window_count / limits.overall_per_second
        self._room = self._window * limits.margin / 4
        self.interval = stretch / limits.overall_per_second
        # Lateness the schedule makes up for: two intervals; the window still holds (an even
        # schedule fills it to 1 + margin, so a start a little late can be made up).
        self._forgiven = 2 * self.interval
        # A reply's lateness made up: a quarter interval (replies already go ahead, below).
        self._forgiven_reply = self.interval / 4
        # A start joins a group begun at most this long before it: the rest of a group starts
        # at that moment, one waiter after another; a later start waits for the next group.
        self._join_within = self.interval / 4
        self._group_by(math.floor(limits.grouped_within / self.interval))
        self._starts: deque[float] = deque(maxlen=self._window_count)
        # Start-to-answer times of the last window's sends, for the spread of travel times.
        self._trips: deque[float] = deque(maxlen=self._window_count)
        self._due = -math.inf  # the even schedule: when the next (group's) bulk start is due
        self._group_began = -math.inf  # when the current group's first start went
        self._private_interval = stretch / limits.private_per_second
        self._group_interval = stretch * 60 / limits.group_per_minute
        # chat -> its bucket, the chat asked for longest ago first (see _bucket)
        self._chats: OrderedDict[str, _Bucket] = OrderedDict()
        self._paused_until = -math.inf
        # Waiters for the head of the line: replies', then bulk's. One waiter at a time holds
        # the head, waits for the next start and takes it.
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (
            deque(),
            deque(),
        )
        self._head_held = False
        self.started = {"reply": 0, "bulk": 0}  # starts granted, by kind
        self.pauses = 0  # 429 pauses of this bot, whole or one chat's (bot.metrics reads it)
        self._shared: SharedStarts | None = None
        self._ahead = 0.0  # how long before its start a shared start is booked
        # Shared: this process's lateness at its last starts (grant to send), and starts given up.
        self._lateness: deque[float] = deque(maxlen=GUARD_STARTS)
        self.given_up = 0
        self.stretched = 0  # late shared starts sent, the next window held back instead
        self._pausing: set[asyncio.Task[None]] = set()

    def share(self, starts: SharedStarts, *, ahead: float = 0.0) -> None:
        """Take every start from ``starts`` too: the bot's rate is shared with other processes.
        ``ahead``: how long before a start is due it may be booked (as ``starts`` grants)."""
        self._shared = starts
        self._ahead = ahead
        self._group_by(1)  # the shared schedule grants one start at a time: no group waits on it

    def _group_by(self, starts: int) -> None:
        """Let ``starts`` go together (at most ``reply_burst``; see :meth:`_start`), and replies
        go ahead of the schedule by as many starts as ``reply_burst`` leaves. Fewer than three
        go one at a time: a group of two made up two intervals late would meet the next."""
        group = min(self.limits.reply_burst, starts)
        self.group = group if group >= 3 else 1
        self._group_left = 0  # starts the current group still has
        self._reply_ahead = self.interval * max(0, self.limits.reply_burst - self.group)

    def use_time(self, now: Callable[[], float], sleep: Callable[[float], Awaitable[None]]) -> None:
        """Wait on ``now``/``sleep`` from now on (a rehearsal's ``VirtualTime``), starting over."""
        self._now, self._sleep = now, sleep
        self._starts.clear()
        self._trips.clear()
        self._lateness.clear()
        self._due = self._paused_until = self._group_began = -math.inf
        self._group_left = 0
        self._chats.clear()

    def _bucket(self, chat: str) -> _Bucket:
        """The chat's bucket, made at its first send. Past :data:`CHATS_KEPT` chats, idle
        buckets are forgotten from the chat asked for longest ago, stopping at the first that
        is not idle (as the limiter's and the update processor's per-chat states): a few steps
        a new chat, and a broadcast to 10,000 people does not keep 10,000 buckets."""
        chats = self._chats
        bucket = chats.get(chat)
        if bucket is not None:
            chats.move_to_end(chat)  # asked for last
            return bucket
        now = self._now()
        forget_idle(chats, CHATS_KEPT, lambda _, bucket: bucket.idle(now))
        if chat.startswith("-"):
            bucket = _Bucket(self._group_interval)
        else:
            bucket = _Bucket(self._private_interval, self.limits.private_burst)
        chats[chat] = bucket
        return bucket

    @asynccontextmanager
    async def slot(self, chat: str | None, *, urgent: bool = False) -> AsyncIterator[None]:
        """Start a send for ``chat`` (``None``: no per-chat limit here) when the budget allows;
        ``urgent`` for a person's reply, which goes before bulk."""
        while True:
            grant = await self._take(chat, urgent=urgent)
            if grant is None:
                break
            # Shared: a start booked ahead is waited for without the head of the line (the next
            # waiter books meanwhile), and never before it can be, nor during a pause (one met
            # while it waited makes it late: given up below, as is one met while it held the
            # next window back).
            while (wait := max(grant.booked, self._paused_until) - self._now()) > _TOO_SHORT:
                await self._sleep(wait)
            # The lateness this send has, measured as late as the pacer can; over the guard it
            # was booked with, the schedule kept too little room after it: it is sent only if
            # the start a window's count later can still be held back by as much (a late start
            # within an interval; later ones cost more held back than given up), else given up
            # unsent. Either way the next one is taken with the guard this raised.
            lateness = grant.lateness(self._now())
            self._lateness.append(lateness)
            if lateness <= grant.guard or await self._stretched(grant, lateness):
                break
            self.given_up += 1
            log.debug("a shared start given up: %.3f s late, guard %.3f s", lateness, grant.guard)
        started = self._now()
        try:
            yield
        finally:
            self._trips.append(self._now() - started)

    async def take(self, chat: str | None, *, urgent: bool = False) -> None:
        """Return when a send for ``chat`` may start, counting it as started. For a pacer of
        its own only (the tests'): sending on a shared schedule goes through :meth:`slot`, which
        waits for a start booked ahead and gives up one that came too late."""
        await self._take(chat, urgent=urgent)

    async def _stretched(self, grant: _Grant, lateness: float) -> bool:
        """Whether a shared start ``lateness`` late, past its guard, may still be sent: it is
        under an interval late and the start a window's count after it was held back by that
        lateness before it was granted (leaving the guard's room again for the ask), and the
        send is still within that when the answer is in."""
        shared = self._shared
        if grant.ticket is None or shared is None or lateness >= shared.interval:
            return False
        try:
            held = await shared.stretch(grant.ticket, lateness)
        except Exception as exc:  # the database is away: give the start up, as before
            log.warning("a late shared start could not be kept (%s)", type(exc).__name__)
            return False
        now = self._now()
        if not held or grant.lateness(now) > grant.guard + lateness or self._paused_until > now:
            return False
        self.stretched += 1
        return True

    async def _take(self, chat: str | None, *, urgent: bool) -> _Grant | None:
        """:meth:`take`; sharing a schedule, the grant: when it was asked for, how late the
        schedule granted it (negative: ahead), the guard it was booked with, and when it may
        start here."""
        bucket = self._bucket(chat) if chat is not None else None
        if bucket is None:
            return await self._take_in_turn(None, urgent=urgent)
        bucket.held += 1  # not forgotten while this send waits on it
        try:
            return await self._take_in_turn(bucket, urgent=urgent)
        finally:
            bucket.held -= 1

    async def _take_in_turn(self, bucket: _Bucket | None, *, urgent: bool) -> _Grant | None:
        """:meth:`_take` once the chat's bucket (if any) is held."""
        front = False  # a bulk waiter that gave way to a reply keeps its place
        while True:
            # Wait for this chat (and any pause) without holding up other chats.
            now = self._now()
            wait = max(bucket.earliest(now) if bucket else now, self._paused_until) - now
            if wait > _TOO_SHORT:
                await self._sleep(wait)
                continue
            await self._enter(urgent, front=front)
            try:
                if await self._wait_at_head(urgent):
                    now = self._now()
                    if bucket is None or bucket.earliest(now) - now <= _TOO_SHORT:
                        grant = None
                        if self._shared is not None:
                            grant = await self._take_shared(self._shared)
                            now = self._now()
                            if grant is not None:
                                now = grant.booked = self._booked(grant, now)
                        self._start(now, urgent)
                        if bucket is not None:
                            bucket.take(now)
                        return grant
                front = True  # a reply came first, or the chat's budget changed meanwhile
            finally:
                self._leave()

    def _booked(self, grant: _Grant, answered: float) -> float:
        """When a shared grant answered at ``answered`` may start here: not before the latest
        local time its nominal start can be (the answer's arrival plus how far ahead the server
        said it was), nor before this process's own window allows."""
        booked = answered + max(0.0, -grant.late)
        if len(self._starts) == self._window_count:
            booked = max(booked, self._starts[0] + self.window)
        return booked

    async def _take_shared(self, shared: SharedStarts) -> _Grant | None:
        """Holding the head, wait for a start of the bot's shared schedule and take it;
        ``None`` if it could not be asked."""
        while True:
            guard = self.guard
            asked = self._now()
            try:
                wait, late, ticket = await shared.take(guard)
            except Exception as exc:  # the database is away: keep sending at this process's pace
                log.warning("the shared send rate could not be read (%s)", type(exc).__name__)
                return None
            if wait <= _TOO_SHORT:
                return _Grant(asked, late, guard, ticket)
            await self._sleep(wait)

    @property
    def guard(self) -> float:
        """The lateness this process books a shared start with (:func:`guard_of`)."""
        return guard_of(self._lateness)

    async def _wait_at_head(self, urgent: bool) -> bool:
        """Holding the head, wait for the next start; ``False`` if a bulk waiter must give way
        to a reply that came meanwhile."""
        while True:
            now = self._now()
            wait = self._earliest(urgent) - now
            if wait <= _TOO_SHORT:
                return True
            if not urgent:
                # Wake when a reply could go, to let one that came meanwhile go first.
                wait_for_replies = self._earliest(True) - now
                if wait_for_replies > _TOO_SHORT:
                    wait = wait_for_replies
            await self._sleep(wait)
            if not urgent and self._waiting[0]:
                return False

    def _earliest(self, urgent: bool) -> float:
        """When the next start may be, by the even schedule, the window and any pause (sharing:
        the even schedule's start may be booked ``ahead`` before it): at once for the rest of a
        group that has just begun."""
        if self._group_open(self._now()):
            earliest = -math.inf
        else:
            earliest = self._due - (self._reply_ahead if urgent else 0.0) - self._ahead
        if len(self._starts) == self._window_count:
            # Not booked ahead: a start booked before this process's window allows would have
            # to wait past its guard for it, and be given up.
            earliest = max(earliest, self._starts[0] + self.window)
        return max(earliest, self._paused_until)

    def _start(self, now: float, urgent: bool) -> None:
        self._starts.append(now)
        self.started["reply" if urgent else "bulk"] += 1
        # The schedule's starts go in groups of ``group``, one group every ``group``
        # intervals: a start joins the group begun just before it while it has room; else it
        # begins the next group.
        if self._group_open(now):
            self._group_left -= 1
            return
        # A group a little behind the schedule keeps it; one further behind (a stall, an idle
        # budget) starts it afresh: lost time is not made up by sending faster. A reply keeps
        # it only a quarter interval behind: it may go ahead of the schedule (``_reply_ahead``),
        # and ahead of one kept from two intervals back that would be a longer burst.
        on_time = now - self._due <= (self._forgiven_reply if urgent else self._forgiven)
        self._due = (self._due if on_time else now) + self.group * self.interval
        self._group_began, self._group_left = now, self.group - 1

    def _group_open(self, now: float) -> bool:
        """Whether a start now joins the current group: it has room, and began just now."""
        return self._group_left > 0 and now - self._group_began <= self._join_within

    async def _enter(self, urgent: bool, *, front: bool) -> None:
        """Take the head of the line: replies' waiters before bulk's, each in arrival order."""
        if not self._head_held and not any(self._waiting):
            self._head_held = True
            return
        line = self._waiting[0 if urgent else 1]
        turn = asyncio.get_running_loop().create_future()
        if front:
            line.appendleft(turn)
        else:
            line.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._leave()  # handed the head just as it was cancelled: pass it on
            elif turn in line:
                line.remove(turn)
            raise

    def _leave(self) -> None:
        """Hand the head to the next waiter, replies first; or free it."""
        for line in self._waiting:
            while line:
                turn = line.popleft()
                if not turn.done():
                    turn.set_result(None)
                    return
        self._head_held = False

    @property
    def window(self) -> float:
        """The span the last window's count of starts must take before another: the platform's
        window and the room for travel times (:attr:`spread`, at least a quarter of the margin)."""
        return self._window + max(self._room, self.spread)

    @property
    def spread(self) -> float:
        """How much the recent sends' start-to-answer times differed, in seconds."""
        return max(self._trips) - min(self._trips) if self._trips else 0.0

    def pause(self, seconds: float) -> None:
        """Stop every send for ``seconds`` (the platform said to retry after that); then start
        again at the even pace, replies included."""
        self.pauses += 1
        self._paused_until = max(self._paused_until, self._now() + seconds)
        self._due = max(self._due, self._paused_until + self._reply_ahead)
        self._group_left = 0  # after the pause, a group of its own
        if self._shared is not None:
            # The platform's 429 is the bot's, not this process's: every process pauses, or
            # the others keep sending into its penalty.
            task = asyncio.get_running_loop().create_task(self._pause_shared(self._shared, seconds))
            self._pausing.add(task)
            task.add_done_callback(self._pausing.discard)

    @staticmethod
    async def _pause_shared(shared: SharedStarts, seconds: float) -> None:
        try:
            await shared.pause(seconds)
        except Exception as exc:  # this process pauses anyway; the others meet their own 429
            log.warning("the shared pause could not be written (%s)", type(exc).__name__)

    @property
    def paused_for(self) -> float:
        """Seconds left of a pause (0 when none)."""
        return max(0.0, self._paused_until - self._now())


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
