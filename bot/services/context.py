"""What every service needs: the plan, the database and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "writes", GroupCommit(self.sessions))
