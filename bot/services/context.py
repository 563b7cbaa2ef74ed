"""What every service needs: the plan, the database and the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.domain.clock import Clock
from bot.services.batching import GroupCommit
from bot.services.meetings import CalendarRevision


class DueNow:
    """Tells whoever sends the outbox that a message is due now (a notice just confirmed), so
    it goes at once rather than at the next tick."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever something falls due now."""
        self._listeners.append(listener)

    def __call__(self) -> None:
        for listener in self._listeners:
            listener()


class RunningChats:
    """The chat channels this process runs (``telegram``, ``zalo``, ``zalo2``…), once the
    composition root has started them: a notice's preview and the overview (whom to phone,
    the reach by channel) count as reachable only those it can write to on them, as the
    outbox does. None until told (a command that runs no chat, a
    test): every channel counts."""

    def __init__(self) -> None:
        self.names: frozenset[str] | None = None
        # Each chat channel the plan knows, by the environment variable its token is set in
        # (as start-up names those it does not run): what the overview names beside one.
        self.token_envs: Mapping[str, str] = {}
        # Whether the counts of «đã liên kết» read every chat, not only those run here: a
        # command beside the service (``report``) cannot know which chats the service runs,
        # and an account is linked whatever this shell's environment says.
        self.links_everywhere = False

    def run(self, names: Iterable[str], token_envs: Mapping[str, str] | None = None) -> None:
        """The channels that run here from now on (none: a pages-only installation), and with
        ``token_envs`` the variable each known channel's token is set in."""
        self.names = frozenset(names)
        if token_envs is not None:
            self.token_envs = dict(token_envs)

    @property
    def linked_on(self) -> frozenset[str] | None:
        """The channels the counts of «đã liên kết» read (None: every chat)."""
        return None if self.links_everywhere else self.names

    def runs(self, channel: str) -> bool:
        """Whether an account on ``channel`` can be written to here (not told yet: yes)."""
        return self.names is None or channel in self.names


@dataclass(frozen=True)
class ServiceContext:
    """Shared dependencies of the services; ``meeting_id`` is the config's meeting row and
    ``calendar`` the revision of its calendar event; ``writes`` the write transactions that
    services batching their work share."""

    config: Config
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    meeting_id: int
    calendar: CalendarRevision
    writes: GroupCommit = field(init=False, repr=False, compare=False)
    due_now: DueNow = field(default_factory=DueNow, init=False, repr=False, compare=False)
    chats: RunningChats = field(default_factory=RunningChats, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "writes", GroupCommit(self.sessions))

    def day_begun(self) -> bool:
        """Whether the meeting's first day has come, or gone (a day it is held or any day
        after): the lists mark no invitation to send (:func:`bot.services.roster.contact`), as
        the overview drops the invitations' prompts — not the job once it is held, nor after
        it, when the office writes its report."""
        return self.config.meeting.day_begun(self.clock.now())

    def checkin_day(self) -> date | None:
        """The meeting day whose check-ins «có mặt» reads now (today's at a meeting of several
        days, the last day's after it; None at a one-day meeting: every check-in), as the desk,
        the hall's figures and the notices' audiences by attendance all read it."""
        return self.config.meeting.counting_day(self.clock.now())

    def figures_day(self) -> date | None:
        """The meeting day whose check-ins «who came» reads now: :meth:`checkin_day` while the
        meeting is held, None (every day's) once it has ended — the hall's figures and the
        notices' audiences by attendance (:meth:`bot.config.Meeting.figures_day`); the desk
        keeps :meth:`checkin_day` (a late entry is the last day's)."""
        return self.config.meeting.figures_day(self.clock.now())
