"""The bot's replies on Zalo count in its monthly allowance: every text Zalo accepted, once, in
the month (Vietnam time) it went — a text refused and tried again until accepted counts once,
one whose answer was lost once too (Zalo probably took it) — stored in ``reply_counts`` by the next write
transaction, and at the latest when the bot stops."""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.clock import ManualClock
from bot.services import Services
from storage.models import ReplyCount
from tests.zalo_support import ZaloWorld, zalo_world


async def replies_counted(services: Services) -> int:
    [use] = await services.quotas.usage()
    return use.replies


async def test_every_reply_zalo_accepted_in_a_conversation_counts_in_the_month(
    world: ZaloWorld,
) -> None:
    """Linking by the code, attending, declining with a reason, a sticker: each text the bot
    answered with is one of the month's messages, and nothing the outbox sent is among them."""
    mai = await world.linked("DB001", "Chị Mai")
    lan = await world.linked("DB002", "Chị Lan")
    await world.type(mai, "1")  # ✅ Tham dự
    await world.type(lan, "2")  # ❌ Không tham dự
    await world.type(lan, "Trùng lịch công tác")
    lan.sticker()
    await world.settle()
    sent = len(mai.texts) + len(lan.texts)  # what Zalo accepted: what they have on their phones
    assert sent >= 6
    [use] = await world.services.quotas.usage()
    assert (use.sent, use.replies, use.messages) == (0, sent, sent)
    # One more answer: one more each text.
    said = await world.type(mai, "Xin chào")
    assert await replies_counted(world.services) == sent + len(said)


async def test_a_reply_refused_then_accepted_counts_once_and_one_whose_answer_was_lost_once(
    world: ZaloWorld,
) -> None:
    mai = await world.linked("DB001", "Chị Mai")
    before = await replies_counted(world.services)
    world.fake.fail_next("sendMessage", times=2, chat_id=mai.id)  # Zalo's 500, twice
    said = await world.type(mai, "1")
    assert len(said) >= 1
    refused = [c for c in world.fake.calls_to("sendMessage") if c.error_code == 500]
    assert len(refused) == 2
    assert await replies_counted(world.services) == before + len(said)
    # A timeout after the request went out: Zalo probably took it (it was not counted, and the
    # month's figure ran low); counted once, as it is not sent again.
    world.fake.fail_next("sendMessage", timeout=True, chat_id=mai.id)
    assert await world.type(mai, "Xin chào") == []
    assert await replies_counted(world.services) == before + len(said) + 1


async def test_the_replies_counted_are_stored_when_the_bot_stops(
    imported: Services, clock: ManualClock
) -> None:
    """The counts ride with the next write transaction; a stop stores what is left, read here
    straight from the table (not through the figures, which store this process's first)."""
    async with zalo_world(imported, clock) as world:
        mai = await world.linked("DB001", "Chị Mai")
        sent = len(mai.texts)
    async with imported.ctx.sessions() as session:
        rows = (await session.execute(select(ReplyCount.channel, ReplyCount.messages))).all()
    assert [tuple(row) for row in rows] == [("zalo", sent)]
