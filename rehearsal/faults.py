"""What goes wrong in ``hoinghi rehearse --faults``, and how it is made to go wrong.

Faults come from outside the bot, never from inside it: the simulated platform has a bad day
(its chaos: 5xx, timeouts and 429 bursts on every call the bot makes, the outbox's sends and the
handlers' replies alike), and the bot process is killed around the outbox's sends by wrapping
the channel's sender (:class:`MortalSender`). The outbox is the production one, none of its
methods overridden; after a kill the rehearsal builds a new one on the same database, as a
restarted process does, and recovers what was in flight (:mod:`rehearsal.script`). Delegates
who block the bot are a step of the play.

Every roll comes from the seed, and the same seed gives the same run: each platform's chaos
rolls once per call in the order its channel makes them, and each channel has a die of its
own for the kills around its sends. The channels send side by side, their database calls
ending in whatever order the threads finish, so one die shared by them would hand its rolls
out in that order. (That assumes each simulated person is on one channel, as the script casts
them: a delivery falling back from one channel to the other during a round would join the
other's sends at a moment the threads decide.)
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.domain.channels import Capabilities
from bot.domain.outbound import Outbound, Part, SendOutcome, SendResult
from bot.domain.ports import ChannelSender
from rehearsal.telegram_api import Chaos, FakeBotApi


@dataclass(frozen=True)
class Faults:
    """What goes wrong in a rehearsal with faults; every roll comes from the seed.

    The first three are the simulated Bot API's (:class:`Chaos`): they hit every call the bot
    makes, the outbox's sends and the handlers' replies and toasts alike.
    """

    error_rate: float = 0.10  # a call answered 502 Bad Gateway
    timeout_rate: float = 0.03  # a call that times out (before reaching Telegram)
    burst_rate: float = 0.01  # a burst of 429s starts: the outbox pauses everything
    burst_length: int = 3  # calls answered 429 in one burst
    burst_retry_after: int = 1  # seconds; the bot's replies wait them in virtual time
    kill_rate: float = 0.05  # the bot process dies just before or just after an outbox send
    blockers: int = 3  # delegates who block the bot in the last days
    redelivery_rate: float = 0.10  # something typed on Zalo reaches the bot twice


class Killed(BaseException):
    """The simulated death of the bot process: nothing catches it but the rehearsal."""


@dataclass
class FaultStats:
    """What the faults did, counted as they happened."""

    kills: int = 0
    delivered_parts: int = 0  # parts the platform accepted, counted as they went out
    outbox_faults: Counter[str] = field(default_factory=Counter)  # by kind, on outbox sends
    zalo_faults: Counter[str] = field(default_factory=Counter)  # the same on Zalo's
    unacknowledged: int = 0  # steps whose answer from the bot never arrived


@dataclass
class Process:
    """One run of the bot between two kills."""

    dead: bool = False


async def _never() -> None:
    """What a dead process does from now on: nothing, ever (asyncio.run cancels the wait)."""
    await asyncio.Event().wait()


class MortalSender:
    """A channel's sender in a bot process that can be killed just before or just after a send.

    A kill raises :class:`Killed` out of ``send``. It is a ``BaseException``: the outbox's
    guard against bugs catches ``Exception`` only, so nothing records the delivery on the way
    out, the tick unwinds to the rehearsal, and the rehearsal builds a new outbox, as a
    restarted process would. The dead process must write nothing afterwards, and it cannot:
    once dead, each of its sends hangs forever, so nothing of it is sent, nor recorded as
    sent. That suffices because the rehearsal's outbox has one delivery in flight at a time on
    each channel (``batch_size`` 1): the delivery whose send raised is the only coroutine of
    the dead process sending on its channel, and it is the one unwound.

    Each channel dies alone, at its own die's roll (a :class:`Process` each): the outbox lets
    the other channels finish their round when one fails (``Outbox.drain``), and the rehearsal
    restarts the whole outbox after it. A real kill cuts every channel wherever it is, which
    would make the run depend on how far the other channel had got, a matter of threads;
    tests/test_crash.py kills real processes, with batches of 30.

    The platform's own faults come from its chaos; this only counts which of them hit the
    outbox's sends (``injected`` is the chaos's running count by kind, counted into ``seen``;
    each platform has its own chaos, and the rehearsal is sequential but for the channels'
    drains, each with its own platform, so the attribution is exact).
    """

    def __init__(
        self,
        inner: ChannelSender,
        rng: random.Random,
        faults: Faults,
        stats: FaultStats,
        process: Process,
        injected: Counter[str],
        seen: Counter[str] | None = None,
    ) -> None:
        self.inner = inner
        self.channel: str = inner.channel
        self.capabilities: Capabilities = inner.capabilities
        self._rng, self._faults, self._stats = rng, faults, stats
        self._process, self._injected = process, injected
        self._seen = stats.outbox_faults if seen is None else seen

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        """The parts as the channel's own sender prepares them."""
        return self.inner.prepare(outbound)

    async def send(self, address: str, part: Part) -> SendResult:
        """Send through the channel's sender, unless the process dies first or just after."""
        if self._process.dead:
            await _never()  # the rest of a dead process's batch never runs again
        if self._rng.random() < self._faults.kill_rate / 2:
            self._die()
        before = self._injected.copy()
        sent = await self.inner.send(address, part)
        self._seen.update(self._injected - before)
        if sent.outcome is SendOutcome.SENT:
            self._stats.delivered_parts += 1
        if self._rng.random() < self._faults.kill_rate / 2:
            self._die()  # after the platform answered, before the outbox wrote it down
        return sent

    def _die(self) -> None:
        self._process.dead = True
        raise Killed


def bad_day(fake: FakeBotApi, faults: Faults, rng: random.Random) -> Chaos:
    """Give the simulated Bot API the chaos of ``faults``, rolled from ``rng``, from now on."""
    return fake.chaos(
        rng,
        error_rate=faults.error_rate,
        timeout_rate=faults.timeout_rate,
        burst_rate=faults.burst_rate,
        burst_length=faults.burst_length,
        burst_retry_after=faults.burst_retry_after,
    )
