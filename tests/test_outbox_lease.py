"""Several processes, one outbox: a claim is a lease (claimant, expiry), recovery takes back only
expired leases, and two outboxes never claim the same delivery (``SKIP LOCKED`` on PostgreSQL;
SQLite's one writer at a time). Each "process" here is an :class:`Outbox` of its own (its own
claimant) on the test database, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from bot.app import build_composer
from bot.domain.outbound import BROADCAST_WINDOW, Audience, MessageKind, MessageStatus
from bot.texts import load_catalog
from schedules.outbox import LEASE, Outbox
from schedules.ratelimit import Limits, Pacer
from storage.models import Delivery, OutboundMessage
from storage.queries import next_notice_number
from storage.sharing import shares_outbox
from tests.harness import BotHarness
from tests.test_outbox import deliveries, reminder_for_one, texts


def another_process(harness: BotHarness, *, shared: bool = True) -> Outbox:
    """An outbox as another ``hoinghi run`` on the same database would build it."""
    services = harness.services
    catalog = load_catalog(services.config.meeting.locale)
    return Outbox(
        services.ctx.sessions,
        services.ctx.clock,
        harness.outbox.senders,
        build_composer(services, catalog),
        services.audiences,
        Pacer(Limits(), now=harness.time.monotonic, sleep=harness.time.sleep),
        meeting_id=services.ctx.meeting_id,
        shared=shared,
    )


async def claims(harness: BotHarness) -> Counter[tuple[str, str | None]]:
    """(status, claimant) of every delivery with a chat to go to."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.execute(
            select(Delivery.status, Delivery.claimed_by).where(Delivery.chat_address.is_not(None))
        )
        return Counter((status, claimant) for status, claimant in rows)


def test_the_outbox_shares_its_database_on_postgresql_only(harness: BotHarness) -> None:
    postgresql = harness.services.ctx.sessions.kw["bind"].dialect.name == "postgresql"
    assert shares_outbox(harness.services.ctx.sessions) is postgresql
    assert harness.outbox.shared is postgresql


async def test_a_claim_carries_its_claimant_and_a_lease_that_ends_one_lease_from_now(
    harness: BotHarness,
) -> None:
    await reminder_for_one(harness)
    first = another_process(harness)
    await first.queue_due()
    assert len(await first._claim()) == 1
    async with harness.services.ctx.sessions() as session:
        delivery = await session.scalar(select(Delivery).where(Delivery.status == "sending"))
    assert delivery is not None
    assert (delivery.claimed_by, delivery.lease_until) == (
        first.claimant,
        harness.clock.now() + LEASE,
    )
    host, pid, tag = first.claimant.rsplit(":", 2)
    assert host and pid.isdigit() and len(tag) == 8
    assert another_process(harness).claimant != first.claimant


async def test_a_shared_outbox_takes_back_only_leases_that_expired(harness: BotHarness) -> None:
    chat = await reminder_for_one(harness)
    dead = another_process(harness)  # claims, then is killed: its lease is never renewed
    await dead.queue_due()
    assert len(await dead._claim()) == 1
    alive = another_process(harness)
    assert await alive.recover() == 0  # still leased: it may be on the wire right now
    await alive.tick()
    assert await claims(harness) == {("sending", dead.claimant): 1}
    assert sum("chưa xác nhận" in t for t in texts(harness, chat)) == 0

    harness.clock.advance(LEASE + timedelta(seconds=1))
    await alive.tick()  # every tick of a shared outbox takes back expired leases first
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    assert set(await claims(harness)) == {("sent", None)}  # the reminder and its report
    assert alive.stats.recovered == 1
    assert sum("chưa xác nhận" in t for t in texts(harness, chat)) == 1


async def test_an_outbox_alone_on_its_database_takes_back_every_claim_at_start(
    harness: BotHarness,
) -> None:
    await reminder_for_one(harness)
    dead = another_process(harness, shared=False)
    await dead.queue_due()
    assert len(await dead._claim()) == 1
    assert await another_process(harness, shared=False).recover() == 1
    assert await claims(harness) == {("pending", None): 1}


async def test_renewing_pushes_back_only_this_processes_leases(harness: BotHarness) -> None:
    await reminder_for_one(harness)
    mine, other = another_process(harness), another_process(harness)
    await mine.queue_due()
    assert len(await mine._claim()) == 1
    harness.clock.advance(LEASE * 2 / 3)
    assert await other.renew() == 0
    assert await mine.renew("telegram") == 1
    harness.clock.advance(LEASE * 2 / 3)  # past the first lease, within the renewed one
    assert await other.recover() == 0
    assert await claims(harness) == {("sending", mine.claimant): 1}


async def test_two_processes_claiming_at_once_never_claim_the_same_delivery(
    harness: BotHarness,
) -> None:
    for code in ("DB001", "DB002", "DB003", "DB004", "DB005", "DB006"):
        await harness.open_invitation(code)
    first, second = another_process(harness), another_process(harness)
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        session.add(
            OutboundMessage(
                meeting_id=harness.services.ctx.meeting_id,
                kind=MessageKind.BROADCAST,
                status=MessageStatus.SCHEDULED,
                audience=Audience.LINKED,
                body="Thông báo thử",
                params={},
                due_at=now,
                expires_at=now + BROADCAST_WINDOW,
                created_by="test",
                created_at=now,
                number=await next_notice_number(session, harness.services.ctx.meeting_id),
            )
        )
    await first.queue_due()
    first.batch_size = second.batch_size = 4
    a, b = await asyncio.gather(first._claim(), second._claim())
    assert {item.id for item in a}.isdisjoint(item.id for item in b)
    assert len(a) + len(b) == 6
    assert await claims(harness) == {
        ("sending", first.claimant): len(a),
        ("sending", second.claimant): len(b),
    }
