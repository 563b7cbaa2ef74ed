"""An update Telegram delivers again is handled once, even when it comes after later ones.

Telegram keeps an update's ``update_id`` when it delivers it again: a webhook request retried
after a timeout while the next update already went through, getUpdates repeated after a restart
before the offset was confirmed. Such a copy can arrive after later updates of the same chat, and
then nothing but its id tells it from a person tapping an old button again (a change of mind,
which must count): a late copy of "✅ Tham dự" would undo the decline typed since, a late
"⏳ Đang thực hiện" would reopen a task reported done. So the ids of handled updates are kept,
per bot, in the ``handled_updates`` table, and three callbacks use them:

- :func:`skip_handled` runs first (group :data:`FIRST_GROUP`) and stops an update whose id is
  known, before any other handler sees it;
- :func:`record_handled` runs last (group :data:`LAST_GROUP`) and records the id once the
  handlers before it have finished;
- :func:`keep_failed_unrecorded`, an error handler registered after ``errors.on_error``, stops an
  update whose handler raised, so it is never recorded and a redelivery can still do what failed.

All three run inside ``Application.process_update``, which long polling, the webhook and the
rehearsal's direct ``deliver`` all go through. The services keep their own idempotency (a
repeated tap or message changes nothing): it covers a crash between an update's effect and the
record of its id.

Cost: the bot reads the table once, at its first update, and then knows the ids in memory; the
records of updates finishing together share one transaction (:mod:`bot.services.batching`). A
read and a write transaction per update cut the inbound rate of bench/load.py about six times;
this way it costs about a fifth. The memory is this process's: several bot processes sharing one
database would each skip only the copies of updates they handled themselves (the services'
idempotency covers the rest).

The table stays small: at most once an hour (plan time), a commit of records also removes the
rows older than :data:`KEEP`, two days, and memory forgets them as new ids come. Telegram keeps
an undelivered update at most 24 hours, so no older copy can come; and after a week without
updates Telegram starts the ids again at random, so an id kept forever could match a new update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.services.batching import Batcher
from handlers.telegram.context import CHANNEL, Context, services_of_bot_data
from schedules.clock import Clock
from storage.models import HandledUpdate
from storage.uow import unit_of_work

log = logging.getLogger(__name__)

FIRST_GROUP = -1  # before the handlers of group 0
LAST_GROUP = 1_000  # after every other group
KEEP = timedelta(hours=48)
PURGE_EVERY = timedelta(hours=1)
_KEY = "hoinghi.handled_updates"

Handled = tuple[int, int, datetime]  # bot id, update id, when


class HandledUpdates:
    """The ids of the updates handled to the end in the last :data:`KEEP`, per bot: read from
    the table once, then kept in memory and written through in batches."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
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
                        .where(HandledUpdate.channel == CHANNEL, HandledUpdate.bot_id == bot_id)
                        .order_by(HandledUpdate.handled_at)
                    )
                    self._known[bot_id] = {update_id: at for update_id, at in rows}
            return self._known[bot_id]

    async def _write(self, batch: Sequence[Handled]) -> list[None]:
        """Store a batch of records; once an hour, drop the rows older than :data:`KEEP`."""
        now = max(at for _, _, at in batch)
        rows = [
            {"channel": CHANNEL, "bot_id": bot_id, "update_id": update_id, "handled_at": at}
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
            await session.execute(insert(HandledUpdate).on_conflict_do_nothing(), rows)
        return [None] * len(batch)


def handled_updates(bot_data: dict[str, object]) -> HandledUpdates:
    """The handled updates of the application whose ``bot_data`` this is."""
    handled = bot_data.get(_KEY)
    if not isinstance(handled, HandledUpdates):
        services = services_of_bot_data(bot_data)
        handled = bot_data[_KEY] = HandledUpdates(services.ctx.sessions, services.ctx.clock)
    return handled


async def skip_handled(update: Update, context: Context) -> None:
    """Stop an update whose id was handled already: a copy Telegram delivered again."""
    if await handled_updates(context.bot_data).seen(context.bot.id, update.update_id):
        log.info("update %d was handled already; the copy is skipped", update.update_id)
        raise ApplicationHandlerStop


async def record_handled(update: Update, context: Context) -> None:
    """Record the id of an update every handler has finished with."""
    try:
        await handled_updates(context.bot_data).record(context.bot.id, update.update_id)
    except SQLAlchemyError as exc:
        # The person's action went through and was answered, and this process knows the id;
        # only a copy after a restart would meet the services' own idempotency instead.
        log.warning(
            "update %d could not be recorded as handled: %s", update.update_id, type(exc).__name__
        )


async def keep_failed_unrecorded(update: object, context: Context) -> None:
    """After ``errors.on_error``: stop an update whose handler raised, before it is recorded."""
    if isinstance(update, Update):
        raise ApplicationHandlerStop
