"""The rehearsal's kills (``hoinghi rehearse --faults``): injected by wrapping the channel's sender,
they pass through the production outbox without a record, and a dead process sends no more."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence

import pytest
from sqlalchemy import select

from bot.app import build_outbox
from bot.domain.outbound import (
    DeliveryStatus,
    Outbound,
    Part,
    SendOutcome,
    SendResult,
    TextPart,
)
from bot.texts import load_catalog
from handlers.telegram.render import CAPABILITIES
from rehearsal.faults import Faults, FaultStats, Killed, MortalSender, Process
from rehearsal.stage import virtual_pacer
from storage.models import Delivery
from tests.harness import BotHarness, add_notice_due

# kill_rate / 2 is the chance of a kill at each of the two points around a send.
FAULTS = Faults(kill_rate=0.5)
DIE, LIVE = 0.0, 0.99


class Rolls(random.Random):
    """The rolls a test chooses, in order; then the process lives on."""

    def __init__(self, *rolls: float) -> None:
        super().__init__(0)
        self.rolls = list(rolls)

    def random(self) -> float:
        return self.rolls.pop(0) if self.rolls else LIVE


class Recorder:
    """A channel's sender that only counts the sends that reach it."""

    channel = "telegram"
    capabilities = CAPABILITIES

    def __init__(self) -> None:
        self.sends = 0

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        return outbound.parts

    async def send(self, address: str, part: Part) -> SendResult:
        self.sends += 1
        return SendResult(SendOutcome.SENT, platform_message_id=str(self.sends))


async def test_a_dead_process_never_sends_again() -> None:
    inner = Recorder()
    mortal = MortalSender(inner, Rolls(DIE), FAULTS, FaultStats(), Process(), Counter())
    with pytest.raises(Killed):
        await mortal.send("1001", TextPart("một"))
    assert inner.sends == 0  # died before the send

    later = asyncio.create_task(mortal.send("1001", TextPart("hai")))
    for _ in range(5):
        await asyncio.sleep(0)  # scheduling points, not a wait for time
    assert not later.done() and inner.sends == 0  # the dead process's send hangs, forever
    later.cancel()


async def test_a_kill_after_a_send_counts_the_part_and_leaves_the_delivery_in_flight(
    harness: BotHarness,
) -> None:
    """The platform has the part, the bot dies before writing it down: the kill passes through
    the production outbox (nothing records the delivery failed on the way out), the part is
    counted as delivered (the rehearsal's bound on repeats needs it), and a restarted outbox
    recovers the delivery to send it again."""
    delegate = await harness.open_invitation("DB001")
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        notice = await add_notice_due(
            session, harness.services.ctx.meeting_id, "Thông báo thử", now
        )
    catalog = load_catalog(harness.services.config.meeting.locale)
    stats = FaultStats()
    sender = harness.outbox.senders["telegram"]
    mortal = MortalSender(sender, Rolls(LIVE, DIE), FAULTS, stats, Process(), Counter())
    dying = build_outbox(harness.services, catalog, {"telegram": mortal}, pacer=virtual_pacer())
    dying.batch_size = 1
    before = len(delegate.messages)

    with pytest.raises(Killed):
        # A guard, not a wait: were the kill caught, the dead process would hang on its next send.
        await asyncio.wait_for(dying.tick(), timeout=10)

    [sent] = delegate.messages[before:]
    assert "Thông báo thử" in sent["text"]
    assert stats.delivered_parts == 1
    async with harness.services.ctx.sessions() as session:
        statuses = list(
            await session.scalars(select(Delivery.status).where(Delivery.message_id == notice.id))
        )
    assert statuses == [DeliveryStatus.SENDING]
    restarted = build_outbox(harness.services, catalog, {"telegram": sender})
    # On PostgreSQL the dead process's claim is a lease: taken back once it expired.
    harness.clock.advance(restarted.lease)
    assert await restarted.recover() == 1
