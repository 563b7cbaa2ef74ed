"""The events a bot has handled, so that a copy a platform delivers again is recognised.

The ids (the channel's own identity of an event, as a string) are read from ``handled_events``
once per bot, then kept in memory; the records of
updates finishing together are written together, in the services' shared stream of write
transactions (:class:`bot.services.batching.GroupCommit`): a surge of taps then commits each
batch of answers and the records of the taps before them at once, rather than taking turns at
SQLite's one write lock. Each commit
of records removes, at most once an hour, the rows older than :data:`KEEP`, two days. Telegram
keeps an undelivered update at most 24 hours, so no older copy can come; and after a week
without updates Telegram starts the ids again at random, so an id kept forever could match a
new update. The memory is this process's; when several processes share the database
(PostgreSQL, issue 22: a webhook retry may reach another process than the first delivery), an
id this process does not know is looked up in the table too (its primary key: one indexed read
per new update), so a copy handled and recorded by another process is recognised as well. Two
copies handled at the very same moment by two processes both go through: the services' own
idempotency covers that, as it covers a crash before the record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select

from bot.services.batching import RIDE_WITHIN, WriteBehind
from bot.services.context import ServiceContext
from storage import queries
from storage.models import HandledEvent
from storage.sharing import shares_outbox

log = logging.getLogger(__name__)

KEEP = timedelta(hours=48)
PURGE_EVERY = timedelta(hours=1)

Handled = tuple[str, str, datetime]  # bot id, event id, when


class HandledEvents:
    """The ids of the events handled to the end in the last :data:`KEEP`, per bot: read from
    the table once, then kept in memory and written through in batches."""

    def __init__(self, ctx: ServiceContext, *, channel: str) -> None:
        self._sessions = ctx.sessions
        self._clock = ctx.clock
        self._channel = channel
        # Other processes record what they handle in the same table (PostgreSQL).
        self.shared = shares_outbox(ctx.sessions)
        # This process still knows the ids when a record fails; only a copy after a restart
        # would meet the services' own idempotency instead. A record waits for the next
        # transaction to ride in, unless other processes read the table: a copy delivered to
        # another of them is then recognised as soon as the update is handled here.
        self._records = WriteBehind(
            ctx.writes, "handled event ids", log, within=None if self.shared else RIDE_WITHIN
        )
        # Per bot: event id → when it was handled, oldest first (the order they came in).
        self._known: dict[str, dict[str, datetime]] = {}
        self._loading = asyncio.Lock()
        self._purged_at: datetime | None = None

    async def seen(self, bot_id: str, event_id: str) -> bool:
        """Whether ``event_id`` was handled already (by another process too, when shared)."""
        known = await self._ids(bot_id)
        if event_id in known:
            return True
        if not self.shared:
            return False
        async with self._sessions() as session:
            handled_at = await session.scalar(
                select(HandledEvent.handled_at).where(
                    HandledEvent.channel == self._channel,
                    HandledEvent.bot_id == bot_id,
                    HandledEvent.event_id == event_id,
                )
            )
        if handled_at is None:
            return False
        known[event_id] = handled_at
        return True

    async def record(self, bot_id: str, event_id: str) -> None:
        """Remember ``event_id`` as handled: known at once, stored with the next write
        transaction — which the update does not wait for (:meth:`flush` does)."""
        now = self._clock.now()
        known = await self._ids(bot_id)
        known[event_id] = now
        while known:  # forget what Telegram can no longer deliver
            oldest = next(iter(known))
            if known[oldest] >= now - KEEP:
                break
            del known[oldest]
        self._records.submit(self._write, (bot_id, event_id, now))

    async def flush(self) -> None:
        """Return once every record made so far is stored (or has failed to be)."""
        await self._records.flush()

    def reload(self) -> None:
        """Forget what memory holds, as a restarted process has: the table is read again."""
        self._known.clear()

    async def _ids(self, bot_id: str) -> dict[str, datetime]:
        known = self._known.get(bot_id)
        if known is not None:
            return known
        async with self._loading:  # the first updates come many at once: one read for all
            if bot_id not in self._known:
                async with self._sessions() as session:
                    rows = await session.execute(
                        select(HandledEvent.event_id, HandledEvent.handled_at)
                        .where(HandledEvent.channel == self._channel, HandledEvent.bot_id == bot_id)
                        .order_by(HandledEvent.handled_at)
                    )
                    self._known[bot_id] = {event_id: at for event_id, at in rows}
            return self._known[bot_id]

    def _write(self, connection: Connection, batch: Sequence[Handled]) -> list[None]:
        """Store a batch of records; once an hour, drop the rows older than :data:`KEEP`."""
        now = max(at for _, _, at in batch)
        rows = [
            {"channel": self._channel, "bot_id": bot_id, "event_id": event_id, "handled_at": at}
            for bot_id, event_id, at in batch
        ]
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            connection.execute(delete(HandledEvent).where(HandledEvent.handled_at < now - KEEP))
            self._purged_at = now
        queries.insert_handled_events(connection, rows)
        return [None] * len(batch)
