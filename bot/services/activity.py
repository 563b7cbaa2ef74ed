"""Which of a person's accounts they used last: messages go there first.

Every event a person sends marks its account as seen, at most once per :data:`EVERY` (a tap
surge writes nothing more than before), in the services' shared stream of write transactions
(:class:`bot.services.batching.GroupCommit`): the mark rides along with the next commit and
the event never waits for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, update

from bot.domain.channels import ChatAccount
from bot.services.batching import WriteBehind
from bot.services.context import ServiceContext
from storage.prepared import Prepared
from storage.queries import IDENTITY_TABLE

log = logging.getLogger(__name__)

# How stale a mark may be: choosing between two channels, a person's last hour is what counts.
EVERY = timedelta(minutes=10)

Seen = tuple[str, str, datetime]  # channel, account id, when


class Activity:
    """Marks accounts as used, at most once per :data:`EVERY` each."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._clock = ctx.clock
        self._marked: dict[tuple[str, str], datetime] = {}
        self._marks = WriteBehind(ctx.writes, "accounts used", log)

    def seen(self, account: ChatAccount) -> None:
        """Mark ``account`` as the one its person used last (written with the next commit)."""
        now = self._clock.now()
        key = (account.channel, account.external_id)
        last = self._marked.get(key)
        if last is not None and now - last < EVERY:
            return
        self._marked[key] = now
        self._marks.submit(_write, (*key, now))

    async def flush(self) -> None:
        """Return once every mark made so far is stored (or has failed to be)."""
        await self._marks.flush()


# Built once and run prepared (storage.prepared): a tap's mark past SQLAlchemy's per-execution work.
_MARK = Prepared(
    update(IDENTITY_TABLE)
    .where(
        IDENTITY_TABLE.c.channel == bindparam("k_channel"),
        IDENTITY_TABLE.c.external_id == bindparam("k_id"),
    )
    .values(last_seen_at=bindparam("k_at"))
)


def _write(connection: Connection, batch: Sequence[Seen]) -> list[None]:
    """Store a batch of marks in one statement (an account not linked matches no row)."""
    _MARK.write(
        connection,
        [{"k_channel": channel, "k_id": external, "k_at": at} for channel, external, at in batch],
    )
    return [None] * len(batch)
