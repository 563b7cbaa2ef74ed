"""A bot's overall rate is one for every process sending as it (issue 22): on PostgreSQL each
start is taken from the bot's even schedule in ``send_slots``, keyed by a hash of its token; the
pacer waits for it after its own checks, and falls back to its own pace if the database is away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from schedules.ratelimit import Limits, Pacer, VirtualTime
from storage.models import SendSlot
from storage.sharing import SharedSendSlots, bot_key, shares_outbox

TOKEN = "123456:TEST-TOKEN-of-one-bot"
OTHER_TOKEN = "654321:TEST-TOKEN-of-another-bot"
# Long enough that the second ask always comes before the first start's interval is over.
HOUR = 3600.0


async def test_processes_sending_as_one_bot_share_one_schedule_and_other_bots_have_their_own(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    if not shares_outbox(sessions):
        pytest.skip("the shared schedule is PostgreSQL's: on SQLite one process runs")
    first = SharedSendSlots(sessions, TOKEN, HOUR)  # one process
    second = SharedSendSlots(sessions, TOKEN, HOUR)  # another, sending as the same bot
    other_bot = SharedSendSlots(sessions, OTHER_TOKEN, HOUR)
    assert (await first.take())[0] == 0.0
    wait, _, _ = await second.take()
    assert HOUR - 60 < wait <= HOUR  # the bot's next start is an interval after the first
    assert HOUR - 120 < (await first.take())[0] <= HOUR  # nor may the first take it again
    assert (await other_bot.take())[0] == 0.0
    async with sessions() as session:
        keys = set(await session.scalars(select(SendSlot.bot_key)))
    assert keys == {bot_key(TOKEN), bot_key(OTHER_TOKEN)}
    assert not any(TOKEN in key or key in TOKEN for key in keys)  # never the token itself


class ScriptedStarts:
    """A shared schedule that answers from a script: seconds to wait, or an error."""

    interval = 0.034

    def __init__(self, *answers: float | Exception) -> None:
        self.answers = list(answers)
        self.asked = 0
        self.paused: list[float] = []

    async def take(self, guard: float) -> tuple[float, float, Hashable | None]:
        self.asked += 1
        answer = self.answers.pop(0) if self.answers else 0.0
        if isinstance(answer, Exception):
            raise answer
        return answer, 0.0, None

    async def stretch(self, ticket: Hashable, seconds: float) -> bool:
        return False

    async def pause(self, seconds: float) -> None:
        self.paused.append(seconds)


async def test_a_429_met_by_one_process_pauses_every_process_sending_as_the_bot(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    time = VirtualTime(start=100.0)
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    shared = ScriptedStarts()
    pacer.share(shared)
    pacer.pause(7.0)
    await asyncio.gather(*pacer._pausing)
    assert shared.paused == [7.0]
    if not shares_outbox(sessions):
        return  # the schedule in the database is PostgreSQL's
    one, other = SharedSendSlots(sessions, TOKEN, 0.001), SharedSendSlots(sessions, TOKEN, 0.001)
    assert (await one.take())[0] == 0.0
    await one.pause(HOUR)
    assert HOUR - 60 < (await other.take())[0] <= HOUR


async def test_the_pacer_waits_for_the_shared_start_before_its_own() -> None:
    time = VirtualTime(start=100.0)
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    shared = ScriptedStarts(0.5, 0.25, 0.0)  # two other processes took the next starts
    pacer.share(shared)
    await pacer.take("1")
    assert (shared.asked, time.now) == (3, 100.75)
    assert pacer.started["bulk"] == 1


async def test_a_process_on_a_shared_schedule_takes_its_starts_one_at_a_time() -> None:
    # The shared schedule grants one start at a time: the process's own starts are not grouped.
    time = VirtualTime(start=100.0)
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    assert pacer.group == 5
    pacer.share(ScriptedStarts())
    starts = []
    for chat in "123":
        await pacer.take(chat)
        starts.append(time.now)
    assert pacer.group == 1
    assert starts == pytest.approx([100.0, 100.0 + pacer.interval, 100.0 + 2 * pacer.interval])


async def test_the_pacer_sends_at_its_own_pace_when_the_shared_schedule_cannot_be_read() -> None:
    time = VirtualTime(start=100.0)
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    pacer.share(ScriptedStarts(OSError("database away")))
    await pacer.take("1")
    assert (pacer.started["bulk"], time.now) == (1, 100.0)
