"""The stage of one rehearsal: its running pieces, what it has seen so far, and its result."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.config import Config
from bot.domain.clock import ManualClock
from bot.domain.ports import ChannelSender
from bot.services import Services
from bot.services.checkin import Attendance
from bot.texts import Catalog
from rehearsal.faults import Faults, FaultStats
from rehearsal.people import Cast
from rehearsal.telegram import TelegramStage
from rehearsal.telegram_api import Chaos
from rehearsal.web import WebStage
from rehearsal.zalo import ZaloStage
from schedules.outbox import Outbox
from schedules.ratelimit import Limits, Pacer, VirtualTime

# Something the database must show at the end of the rehearsal.
Check = Callable[[], Awaitable[bool]]
# A step of the play, at its time.
Action = Callable[[], Awaitable[None]]


@dataclass
class Rehearsal:
    """What the rehearsal did: the transcript and the checks that decide its exit code.

    A check is passed (True), failed (False), or not rehearsed (None): the lists give the plan
    nobody to play that part, and its label says so.
    """

    transcript: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool | None]] = field(default_factory=list)
    summary: str = ""
    kills: int = 0
    duplicates: int = 0
    outbox_faults: Counter[str] = field(default_factory=Counter)  # injected on outbox sends
    reply_faults: Counter[str] = field(default_factory=Counter)  # on the handlers' own calls
    unacknowledged: int = 0  # steps whose answer from the bot never arrived

    @property
    def passed(self) -> bool:
        """Every step the lists let the plan play happened."""
        return any(ok for _, ok in self.checks) and all(ok is not False for _, ok in self.checks)

    @property
    def complete(self) -> bool:
        """Every step of the plan was played (the lists lacked nobody it needs) and happened."""
        return bool(self.checks) and all(ok for _, ok in self.checks)


@dataclass
class Stage:
    """The running pieces of one rehearsal."""

    config: Config
    catalog: Catalog
    services: Services
    telegram: TelegramStage
    outbox: Outbox
    clock: ManualClock
    result: Rehearsal
    tokens: dict[str, str] = field(default_factory=dict)
    faults: Faults | None = None
    chaos: Chaos | None = None
    # Each channel's own dice for the kills around its sends: the channels send side by side,
    # so one shared die would give each the rolls in the order the threads happen to finish.
    dice: dict[str, random.Random] = field(default_factory=dict)
    stats: FaultStats = field(default_factory=FaultStats)
    plan: dict[str, str] = field(default_factory=dict)
    cast: Cast = field(default_factory=lambda: Cast([], {}, []))
    # What the database must show: for every step the bot acknowledged (``acknowledged``), and
    # whether or not it did (``consistent``: nothing stored that the person did not do).
    acknowledged: list[Check] = field(default_factory=list)
    consistent: list[Check] = field(default_factory=list)
    # Messages the transcript has told about: a second tick at the same time (the meeting's
    # start is also the last planned time) finds them finished "now" again.
    told: set[int] = field(default_factory=set)
    # The personal pages, and who acts there instead of in the chat (not under faults: a step
    # moved off Telegram would change the order of the simulated faults, rolled per call).
    web: WebStage | None = None
    # hoinghi rehearse --web: called once the list is imported (prints the sign-in link, waits)
    on_imported: Callable[[], Awaitable[None]] | None = None
    on_web: set[str] = field(default_factory=set)
    # The simulated Zalo, and who links and acts there instead of Telegram.
    zalo: ZaloStage | None = None
    blockers: list[str] = field(default_factory=list)  # who blocks the bot (under faults)
    on_zalo: set[str] = field(default_factory=set)
    # The meeting morning at the reception desk: the count after the check-in, and whether
    # someone who had declined came (rehearsal.checks).
    reception: tuple[Attendance, bool] | None = None

    @property
    def senders(self) -> list[ChannelSender]:
        """The channels' own senders, as a (re)started process gives them to its outbox."""
        senders: list[ChannelSender] = [self.telegram.sender]
        if self.zalo is not None:
            senders.append(self.zalo.outbox_sender)
        return senders

    def pacers(self) -> dict[str, Pacer]:
        """Each channel's budget for a new outbox, waiting in virtual time."""
        pacers = {self.telegram.sender.channel: virtual_pacer()}
        if self.zalo is not None:
            pacers[self.zalo.sender.channel] = self.zalo.pacer()
        return pacers

    def injected(self, channel: str) -> tuple[Counter[str], Counter[str]]:
        """What the platform of ``channel`` injected so far, and where its hits on the
        outbox's sends are counted."""
        if self.zalo is not None and channel == self.zalo.sender.channel:
            assert self.zalo.bad_day is not None
            return self.zalo.bad_day.injected, self.stats.zalo_faults
        assert self.chaos is not None
        return self.chaos.injected, self.stats.outbox_faults

    def say(self, text: str) -> None:
        """Add ``text`` to the transcript, at the clock's local time."""
        local = self.config.meeting.local(self.clock.now())
        self.result.transcript.append(f"[{local:%d/%m %H:%M}] {text}")

    def missed(self, who: str) -> None:
        """A step whose answer never arrived: told in the transcript, counted, not checked."""
        self.stats.unacknowledged += 1
        self.say(self.catalog.plain("rehearsal.unanswered", who=who))


def virtual_pacer() -> Pacer:
    """The outbox's pacer, waiting in virtual time: nothing in a rehearsal sleeps."""
    time = VirtualTime()
    return Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
