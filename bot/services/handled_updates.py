"""The updates a bot has handled, so that a copy Telegram delivers again is recognised.

The ids are read from ``handled_updates`` once per bot, then kept in memory; the records of
updates finishing together share one transaction (:mod:`bot.services.batching`). Each commit
of records removes, at most once an hour, the rows older than :data:`KEEP`, two days. Telegram
keeps an undelivered update at most 24 hours, so no older copy can come; and after a week
without updates Telegram starts the ids again at random, so an id kept forever could match a
new update. The memory is this process's: several bot processes sharing one database would
each recognise only the copies of updates they handled themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.batching import Batcher
from schedules.clock import Clock
from storage.models import HandledUpdate
from storage.uow import unit_of_work

KEEP = timedelta(hours=48)
PURGE_EVERY = timedelta(hours=1)

Handled = tuple[int, int, datetime]  # bot id, update id, when
TABLE: Table = HandledUpdate.__table__  # type: ignore[assignment]  # declared, so a Table


class HandledUpdates:
    """The ids of the updates handled to the end in the last :data:`KEEP`, per bot: read from
    the table once, then kept in memory and written through in batches."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, *, channel: str
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._channel = channel
        # Per bot: update id → when it was handled, oldest first (the order they came in).
        self._known: dict[int, dict[int, datetime]] = {}
        self._loading = asyncio.Lock()
        self._writes: Batcher[Handled, None] = Batcher(self._write)
        self._purged_at: datetime | None = None

    async def seen(self, bot_id: int, update_id: int) -> bool:
        """Whether ``update_id`` was handled already."""
        return update_id in await self._ids(bot_id)

    async def record(self, bot_id: int, update_id: int) -> None:
        """Remember ``update_id`` as handled (known at once, stored when the batch commits)."""
        now = self._clock.now()
        known = await self._ids(bot_id)
        known[update_id] = now
        while known:  # forget what Telegram can no longer deliver
            oldest = next(iter(known))
            if known[oldest] >= now - KEEP:
                break
            del known[oldest]
        await self._writes.submit((bot_id, update_id, now))

    def reload(self) -> None:
        """Forget what memory holds, as a restarted process has: the table is read again."""
        self._known.clear()

    async def _ids(self, bot_id: int) -> dict[int, datetime]:
        known = self._known.get(bot_id)
        if known is not None:
            return known
        async with self._loading:  # the first updates come many at once: one read for all
            if bot_id not in self._known:
                async with self._sessions() as session:
                    rows = await session.execute(
                        select(HandledUpdate.update_id, HandledUpdate.handled_at)
                        .where(
                            HandledUpdate.channel == self._channel, HandledUpdate.bot_id == bot_id
                        )
                        .order_by(HandledUpdate.handled_at)
                    )
                    self._known[bot_id] = {update_id: at for update_id, at in rows}
            return self._known[bot_id]

    async def _write(self, batch: Sequence[Handled]) -> list[None]:
        """Store a batch of records; once an hour, drop the rows older than :data:`KEEP`."""
        now = max(at for _, _, at in batch)
        rows = [
            {"channel": self._channel, "bot_id": bot_id, "update_id": update_id, "handled_at": at}
            for bot_id, update_id, at in batch
        ]
        async with unit_of_work(self._sessions) as session:
            if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
                await session.execute(
                    delete(HandledUpdate).where(HandledUpdate.handled_at < now - KEEP)
                )
                self._purged_at = now
            # A copy recorded twice (two processes, or a restart in between) is no error.
            insert = (
                sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
            )
            connection = await session.connection()  # a table insert: no ORM bulk machinery
            await connection.execute(insert(TABLE).on_conflict_do_nothing(), rows)
        return [None] * len(batch)
