"""Whether this process can do its work (``/readyz`` on the web server): the database answers,
its schema is the one this code ships, and each chat channel it runs is receiving.

Cheap enough to be asked every few seconds by a load balancer: one connection from the pool,
``SELECT 1`` and Alembic's one-row version table, and flags the channels keep. What it says
names checks only: never an address, a token or a person.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.migrate import head_revision

# A database that does not answer within this many seconds is not ready (a network database
# that went away would otherwise hold the probe until the driver gives up).
DATABASE_TIMEOUT = 3.0


@dataclass(frozen=True)
class Readiness:
    """Each check by name (``database``, ``migrations``, ``channel:<name>``) and whether it
    passed."""

    checks: Mapping[str, bool]

    @property
    def ready(self) -> bool:
        """Every check passed."""
        return all(self.checks.values())

    @property
    def failing(self) -> list[str]:
        """The checks that did not pass, in order."""
        return [name for name, ok in self.checks.items() if not ok]


class Health:
    """The readiness checks of one process. ``channels``: a chat channel's name → whether it
    is receiving now (set by the composition root as each starts and stops)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        head: str | None = None,
        timeout: float = DATABASE_TIMEOUT,
    ) -> None:
        self._engine = engine
        self._head = head  # the code's newest revision: read from the scripts when first needed
        self._timeout = timeout
        self.channels: dict[str, Callable[[], bool]] = {}

    async def readiness(self) -> Readiness:
        """Ask the database, compare its revision, look at the channels."""
        checks: dict[str, bool] = {}
        if self._head is None:
            self._head = await asyncio.to_thread(head_revision)
        try:
            revision = await asyncio.wait_for(self._revision(), self._timeout)
        except Exception:  # unreachable, refused, timed out, no such file: not ready
            checks["database"] = False
            checks["migrations"] = False
        else:
            checks["database"] = True
            checks["migrations"] = revision == self._head
        for name, receiving in sorted(self.channels.items()):
            checks[f"channel:{name}"] = bool(receiving())
        return Readiness(checks)

    async def _revision(self) -> str | None:
        def read(connection: Connection) -> str | None:
            connection.execute(text("SELECT 1"))
            return MigrationContext.configure(connection).get_current_revision()

        async with self._engine.connect() as connection:
            return await connection.run_sync(read)
