"""The chat bots' monthly allowances (``bot.domain.quotas``): the figures counted from the
database — accounts linked, deliveries sent this month, and the messages the bot's replies sent
this month — so every process and a restart agree, and the office warned once past the
threshold and once at the limit, per bot and month.

A reply is counted when the platform accepted it (:meth:`QuotaService.replied`, called by the
channel adapter: a text refused and tried again until accepted counts once, one that may have
gone but got no answer once too: the platform probably took it). The counts are batched, not
written one statement per reply: each rides in the services' next write transaction
(:class:`WriteBehind`, a quarter of a second at most), so a reply never waits for a commit of
its own, and the texts of a burst of answers cost one upsert per bot and month. A kill loses the
counts of that quarter second; the figures read here (:meth:`QuotaService.usage`) first store
this process's."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Connection, case, func, or_, select
from sqlalchemy.exc import IntegrityError

from bot.domain.quotas import ChannelQuota, QuotaLevel, QuotaUse
from bot.services.batching import WriteBehind
from bot.services.context import ServiceContext
from bot.services.queueing import queue_office_note
from bot.texts import format_number
from storage import queries
from storage.models import ChannelIdentity, Delegate, Delivery, OutboundMessage, ReplyCount
from storage.uow import read_only

log = logging.getLogger(__name__)

# The note's dedupe key: ``quota:<channel>:<month>:<people|messages>:<near|full>``. The key is
# the memory: the outbox row with it exists once, whichever process queued it first.
KEY_PREFIX = "quota"


class QuotaService:
    """Counts each configured bot's use and warns the office when it nears its limits."""

    def __init__(self, ctx: ServiceContext, quotas: list[ChannelQuota]) -> None:
        self._ctx = ctx
        self.quotas = quotas
        self._by_channel = {quota.channel: quota for quota in quotas}
        self._replies = WriteBehind(ctx.writes, "reply counts", log)

    def replied(self, channel: str, messages: int = 1) -> None:
        """Count ``messages`` a bot's reply on ``channel`` sent now (the platform accepted
        them, or may have: no answer came) in this month's figure; stored with the next write
        transaction, not waited for. A channel without an allowance (Telegram) is not counted."""
        quota = self._by_channel.get(channel)
        if quota is None or messages <= 0:
            return
        month = quota.month(self._ctx.clock.now())[2]
        self._replies.submit(_add_replies, (channel, month, messages))

    async def flush(self) -> None:
        """Return once every reply counted so far is stored (or has failed to be)."""
        await self._replies.flush()

    async def usage(self) -> list[QuotaUse]:
        """Every bot's figures now: people linked to it (on any meeting of this database: the
        platform counts the bot's users, not a meeting's), parts sent this month, and messages
        its replies sent this month (this process's stored first)."""
        await self.flush()
        now = self._ctx.clock.now()
        uses = []
        async with read_only(self._ctx.sessions) as session:
            for quota in self.quotas:
                start, end, key = quota.month(now)
                # Distinct accounts: one kept for the next meeting is still one of its users.
                people = await session.scalar(
                    select(func.count(func.distinct(ChannelIdentity.external_id))).where(
                        ChannelIdentity.channel == quota.channel
                    )
                )
                # A message split in parts is that many messages on the platform, and the parts
                # of a delivery that ended failed (or is still going) went all the same: every
                # part recorded counts, in the month it was sent (a finished one's last part).
                # A part whose send got no answer (``maybe_sent_at``: failed after its one more
                # try, or waiting for it) counts once too: the platform probably took it.
                when = func.coalesce(Delivery.sent_at, Delivery.updated_at)
                doubted = Delivery.maybe_sent_at.is_not(None)
                parts = Delivery.parts_sent + case((doubted, 1), else_=0)
                messages = await session.scalar(
                    select(func.coalesce(func.sum(parts), 0)).where(
                        Delivery.channel == quota.channel,
                        or_(Delivery.parts_sent > 0, doubted),
                        when >= start,
                        when < end,
                    )
                )
                replies = await session.scalar(
                    select(ReplyCount.messages).where(
                        ReplyCount.channel == quota.channel, ReplyCount.month == key
                    )
                )
                uses.append(
                    QuotaUse(quota, int(people or 0), int(messages or 0), int(replies or 0), key)
                )
        return uses

    async def bots_by_code(self) -> dict[str, int]:
        """Which bot (its place in :attr:`quotas`) each person of the meeting is told to write
        to, by code: the bot they are linked to already; else the bots in turn, each filled
        up to its people limit in the order people were added (ids never change, so a person
        keeps their bot between two printings; past every limit, the last bot). Read in one
        read-only transaction: the invitation files' downloads neither wait behind the chats'
        writes nor hold them up."""
        if len(self.quotas) < 2:
            return {}
        index = {quota.channel: number for number, quota in enumerate(self.quotas)}
        async with read_only(self._ctx.sessions) as session:
            people = (
                await session.execute(
                    select(Delegate.id, Delegate.code)
                    .where(Delegate.meeting_id == self._ctx.meeting_id)
                    .order_by(Delegate.id)
                )
            ).all()
            linked = (
                await session.execute(
                    select(ChannelIdentity.delegate_id, ChannelIdentity.channel)
                    .join(Delegate, Delegate.id == ChannelIdentity.delegate_id)
                    .where(
                        Delegate.meeting_id == self._ctx.meeting_id,
                        ChannelIdentity.channel.in_(list(index)),
                    )
                    .order_by(ChannelIdentity.id)
                )
            ).all()
        on: dict[int, int] = {}
        for person_id, channel in linked:
            on.setdefault(person_id, index[channel])
        return {
            code: on.get(person_id, self._in_turn(rank))
            for rank, (person_id, code) in enumerate(people)
        }

    async def bot_of(self, person_id: int) -> int:
        """:meth:`bots_by_code` for one person (a personal page): two short reads."""
        if len(self.quotas) < 2:
            return 0
        channels = [quota.channel for quota in self.quotas]
        async with self._ctx.sessions() as session:
            channel = await session.scalar(
                select(ChannelIdentity.channel)
                .where(
                    ChannelIdentity.delegate_id == person_id,
                    ChannelIdentity.channel.in_(channels),
                )
                .order_by(ChannelIdentity.id)
                .limit(1)
            )
            if channel is not None:
                return channels.index(channel)
            rank = await session.scalar(
                select(func.count()).where(
                    Delegate.meeting_id == self._ctx.meeting_id, Delegate.id < person_id
                )
            )
        return self._in_turn(int(rank or 0))

    def _in_turn(self, rank: int) -> int:
        """The bot of the person added ``rank``-th: each bot filled up to its people limit
        (every bot has ``[zalo]``'s), then the next; past them all, the last."""
        return min(rank // self.quotas[0].linked_people, len(self.quotas) - 1)

    async def check(self) -> list[str]:
        """Queue a note to the office for each figure that has passed the threshold or reached
        the limit this month and was not noted yet; the keys of the notes queued now."""
        queued = []
        for use in await self.usage():
            for what, used, limit, level in (
                ("people", use.people, use.quota.linked_people, use.people_level),
                ("messages", use.messages, use.quota.monthly_messages, use.messages_level),
            ):
                if level is QuotaLevel.OK:
                    continue
                # Past the limit at once (a large notice): only the limit's note.
                key = f"{KEY_PREFIX}:{use.quota.channel}:{use.month_key}:{what}:{level}"
                locale = self._ctx.config.meeting.locale
                values = {
                    "bot": use.quota.label,
                    "used": format_number(used, locale),
                    "limit": format_number(limit, locale),
                    "month": use.month,
                    "percent": int(use.quota.warn_at * 100),
                }
                if await self._note_once(key, f"quota.{what}_{level}", values):
                    queued.append(key)
        return queued

    async def _note_once(self, key: str, template: str, values: dict[str, object]) -> bool:
        """Queue the note keyed ``key`` unless it exists; False when it already did."""
        try:
            async with self._ctx.sessions() as session, session.begin():
                found = await session.scalar(
                    select(OutboundMessage.id).where(OutboundMessage.dedupe_key == key)
                )
                if found is not None:
                    return False
                queue_office_note(
                    session,
                    meeting_id=self._ctx.meeting_id,
                    now=self._ctx.clock.now(),
                    body=None,
                    params={"template": template, "values": values},
                    dedupe_key=key,
                )
        except IntegrityError:  # another process queued it between the look and the write
            return False
        log.warning("quota note queued: %s", key)
        return True


def _add_replies(connection: Connection, batch: Sequence[tuple[str, str, int]]) -> list[None]:
    """Store a batch of counted replies: one row added to per bot and month."""
    added: Counter[tuple[str, str]] = Counter()
    for channel, month, messages in batch:
        added[channel, month] += messages
    queries.add_replies(
        connection,
        [
            {"channel": channel, "month": month, "messages": messages}
            for (channel, month), messages in added.items()
        ],
    )
    return [None] * len(batch)
