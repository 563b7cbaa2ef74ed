"""A notice the outbox sends on Zalo whose send may have gone (its request went out and the
answer was lost: a timeout, a proxy's error page): Zalo has no idempotency key, so each try may
be a copy the person reads. It is tried once more at most — a notice lost is worse than one read
twice, but one read ten times (``[outbox] max_attempts``) looks broken — then ends failed, and
the office's report says it may have arrived. A refusal Zalo answers itself was not sent, and
is retried as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.clock import ManualClock
from bot.services import Services
from storage.models import Delegate, Delivery, OutboundMessage
from tests.fakes.zalo_api import FakeZaloUser
from tests.zalo_support import ZaloWorld, zalo_world

NOTICE = "Kính mời các đồng chí dự họp trù bị lúc 14:00 ngày 27/5."


@pytest.fixture
async def world(imported: Services, clock: ManualClock) -> AsyncIterator[ZaloWorld]:
    async with zalo_world(imported, clock) as world:
        yield world


async def notice_sent(world: ZaloWorld, office: FakeZaloUser) -> None:
    """The office sends :data:`NOTICE` to every linked delegate now, from Zalo."""
    await world.type(office, "/thongbao")
    await world.type(office, NOTICE)
    await world.type(office, "1")  # đại biểu đã liên kết
    await world.type(office, "1")  # 📤 Gửi ngay


async def sent_until_settled(world: ZaloWorld) -> None:
    """The outbox's ticks, the clock moved past every retry's wait in between, until nothing
    is left to send (the longest back-off is 5 minutes; twelve rounds are past any)."""
    for _ in range(12):
        await world.tick()
        world.clock.advance(timedelta(minutes=6))


async def the_notices_delivery(world: ZaloWorld, code: str) -> Delivery:
    async with world.services.ctx.sessions() as session:
        delivery = await session.scalar(
            select(Delivery)
            .join(Delegate, Delegate.id == Delivery.delegate_id)
            .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
            .where(Delegate.code == code, OutboundMessage.kind == "broadcast")
        )
    assert delivery is not None
    return delivery


def copies(user: FakeZaloUser) -> int:
    """How many times ``user`` has the notice on her phone."""
    return sum(NOTICE in text for text in user.texts)


def tries(world: ZaloWorld, user: FakeZaloUser) -> int:
    """How many times the bot sent the notice to ``user``, whatever came back."""
    return sum(
        NOTICE in call.params.get("text", "")
        for call in world.fake.calls_to("sendMessage")
        if call.params.get("chat_id") == user.id
    )


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"timeout": True}, id="timeout"),
        pytest.param({"proxy_page": True, "status": 502, "description": "Bad Gateway"}, id="proxy"),
    ],
)
async def test_a_notice_whose_answer_is_lost_every_time_reaches_her_twice_at_most(
    world: ZaloWorld, fault: dict[str, Any]
) -> None:
    """Zalo delivers each try, and the answer never comes back: before, the outbox tried until
    ``max_attempts`` (10) — ten copies of one notice on her phone; now two, and the office's
    report names her as one who may have received it."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    world.fake.fail_next("sendMessage", **fault, delivered=True, times=9, chat_id=reader.id)
    await notice_sent(world, office)
    await sent_until_settled(world)
    assert (tries(world, reader), copies(reader)) == (2, 2)
    delivery = await the_notices_delivery(world, "DB001")
    assert delivery.status == "failed"
    assert delivery.maybe_sent_at is not None
    report = office.last_text
    assert "Gửi không thành công (1):" in report
    [line] = [line for line in report.split("\n") if "DB001" in line]
    assert line.startswith("• DB001 — ")
    assert ": có thể đã nhận được tin (bot đã gửi lúc " in line
    assert line.endswith(
        "); bot không gửi thêm để một tin không tới nhiều lần, nếu cần chắc chắn đề nghị gọi điện."
    )


async def test_a_notice_whose_first_answer_is_lost_is_tried_once_more_and_counts_as_sent(
    world: ZaloWorld,
) -> None:
    """One lost answer: the second try goes and is answered; the delivery is sent (she may
    read it twice: the lesser harm than not at all)."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    world.fake.fail_next("sendMessage", timeout=True, delivered=True, chat_id=reader.id)
    await notice_sent(world, office)
    await sent_until_settled(world)
    assert (tries(world, reader), copies(reader)) == (2, 2)
    delivery = await the_notices_delivery(world, "DB001")
    assert (delivery.status, delivery.attempts) == ("sent", 2)


async def test_a_refusal_zalo_answers_itself_is_retried_as_before_since_nothing_went(
    world: ZaloWorld,
) -> None:
    """Three 500s in Zalo's own JSON: not sent, so no copy; tried again past two tries."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    world.fake.fail_next("sendMessage", times=3, chat_id=reader.id)
    await notice_sent(world, office)
    await sent_until_settled(world)
    assert (tries(world, reader), copies(reader)) == (4, 1)
    delivery = await the_notices_delivery(world, "DB001")
    assert (delivery.status, delivery.maybe_sent_at) == ("sent", None)
