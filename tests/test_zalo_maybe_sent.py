"""A notice the outbox sends on Zalo whose send may have gone (its request went out and the
answer was lost: a timeout, a proxy's error page): Zalo has no idempotency key, so each try may
be a copy the person reads. It is tried once more at most — a notice lost is worse than one read
twice, but one read ten times (``[outbox] max_attempts``) looks broken — then ends failed, and
the office's report says it may have arrived. A refusal Zalo answers itself was not sent, and
is retried as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import Delegate, Delivery, OutboundMessage
from tests.fakes.zalo_api import FakeZaloUser
from tests.zalo_support import ZaloWorld

NOTICE = "Kính mời các đồng chí dự họp trù bị lúc 14:00 ngày 27/5."


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
        "); bot không gửi thêm để tránh một tin tới nhiều lần, nếu cần chắc chắn đề nghị gọi điện."
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


# Two paragraphs of about 1,500 characters: a notice Zalo gets in two parts (2,000 at most each).
FIRST_HALF = "Kính mời các đồng chí dự họp trù bị. " + "Nội dung phần đầu của thông báo. " * 45
SECOND_HALF = "Phần cuối: danh sách phòng họp. " + "Nội dung phần sau của thông báo. " * 45
LONG_NOTICE = FIRST_HALF.strip() + "\n\n" + SECOND_HALF.strip()


async def long_notice_sent(world: ZaloWorld, office: FakeZaloUser) -> None:
    """The office sends :data:`LONG_NOTICE` to every linked delegate now, from Zalo."""
    await world.type(office, "/thongbao")
    await world.type(office, LONG_NOTICE)
    await world.type(office, "1")  # đại biểu đã liên kết
    await world.type(office, "1")  # 📤 Gửi ngay


def part_tries(world: ZaloWorld, user: FakeZaloUser) -> list[int]:
    """Which part of :data:`LONG_NOTICE` each send to ``user`` was (1 or 2), in order."""
    return [
        1 if "Nội dung phần đầu" in text else 2
        for call in world.fake.calls_to("sendMessage")
        if call.params.get("chat_id") == user.id
        and "Nội dung phần" in (text := call.params.get("text", ""))
    ]


def lose_answers(
    world: ZaloWorld, monkeypatch: pytest.MonkeyPatch, user: FakeZaloUser, *numbers: int
) -> None:
    """Zalo delivers the ``numbers``-th sends to ``user`` (from 1) and loses their answers."""
    find = world.fake._next_fault
    seen = 0

    def next_fault(call: Any) -> Any:
        nonlocal seen
        if call.method == "sendMessage" and call.params.get("chat_id") == user.id:
            seen += 1
            if seen in numbers:
                world.fake.fail_next("sendMessage", timeout=True, delivered=True, chat_id=user.id)
        return find(call)

    monkeypatch.setattr(world.fake, "_next_fault", next_fault)


async def test_a_first_part_whose_answer_is_lost_twice_is_reported_as_a_notice_cut_short(
    world: ZaloWorld,
) -> None:
    """Part 1 of 2 sent twice with no answer: the second part never went. Before, the report
    said «có thể đã nhận được tin … bot không gửi thêm»; now it says she has at most part 1 of
    2 and is to be phoned."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    world.fake.fail_next("sendMessage", timeout=True, delivered=True, times=2, chat_id=reader.id)
    await long_notice_sent(world, office)
    await sent_until_settled(world)
    assert part_tries(world, reader) == [1, 1]
    delivery = await the_notices_delivery(world, "DB001")
    assert (delivery.status, delivery.parts_sent, delivery.parts_total) == ("failed", 0, 2)
    [line] = [line for line in office.last_text.split("\n") if "DB001" in line]
    assert line == (
        "• DB001 — Phạm Thị Thanh Mai: tin chưa đầy đủ, bot mới gửi được 0/2 phần; phần thứ 1 đã "
        "gửi lúc 09:00, 18/5 nhưng không nhận được xác nhận (sendMessage: timed out), bot không "
        "gửi thêm để tránh một tin tới nhiều lần nên các phần sau chưa gửi, đề nghị gọi điện cho "
        "đại biểu."
    )


async def test_each_part_has_its_own_one_more_try(
    world: ZaloWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part 1's answer lost, its second try answered, then part 2's answer lost: part 2 is
    tried once more too (before, part 1's doubt used up the delivery's only retry: it ended
    failed with part 2 sent once and unconfirmed)."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    lose_answers(world, monkeypatch, reader, 1, 3)
    await long_notice_sent(world, office)
    await sent_until_settled(world)
    assert part_tries(world, reader) == [1, 1, 2, 2]
    delivery = await the_notices_delivery(world, "DB001")
    assert (delivery.status, delivery.parts_sent, delivery.maybe_sent_at) == ("sent", 2, None)


async def test_a_last_part_whose_answer_is_lost_twice_is_reported_as_maybe_received(
    world: ZaloWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Part 1 answered, part 2 sent twice with no answer: all of it may have arrived."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    lose_answers(world, monkeypatch, reader, 2, 3)
    await long_notice_sent(world, office)
    await sent_until_settled(world)
    assert part_tries(world, reader) == [1, 2, 2]
    delivery = await the_notices_delivery(world, "DB001")
    assert (delivery.status, delivery.parts_sent) == ("failed", 1)
    [line] = [line for line in office.last_text.split("\n") if "DB001" in line]
    assert line == (
        "• DB001 — Phạm Thị Thanh Mai: có thể đã nhận được tin (bot đã gửi lúc 09:00, 18/5 nhưng "
        "không nhận được xác nhận: sendMessage: timed out); bot không gửi thêm để tránh một tin "
        "tới nhiều lần, nếu cần chắc chắn đề nghị gọi điện."
    )


async def test_a_doubtful_send_whose_retry_is_refused_is_reported_with_the_refusal(
    world: ZaloWorld,
) -> None:
    """The answer of the first try lost, the second refused by Zalo: the report gives that
    refusal as any failure (before: «có thể đã nhận … bot không gửi thêm» with the refusal
    quoted as the lost answer, though the bot did send again)."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    reader = await world.linked("DB001", "Chị Mai")
    world.fake.fail_next("sendMessage", timeout=True, delivered=True, chat_id=reader.id)
    world.fake.fail_next(
        "sendMessage", error_code=400, description="Bad Request: refused", chat_id=reader.id
    )
    await notice_sent(world, office)
    await sent_until_settled(world)
    assert tries(world, reader) == 2
    delivery = await the_notices_delivery(world, "DB001")
    assert (delivery.status, delivery.maybe_sent_at) == ("failed", None)
    [line] = [line for line in office.last_text.split("\n") if "DB001" in line]
    assert line == f"• DB001 — Phạm Thị Thanh Mai: {delivery.last_error}"
    assert "refused" in line
