"""One bot's sending budget (``schedules.ratelimit.Pacer``): sends paced by when they start,
replies before bulk, and no burst after a pause or a late timer.

Time is :class:`tests.fakes.clock.EventTime`: every sleeper on one virtual timeline, moved only
when everything waits for it, so nothing sleeps and every figure is exact.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from schedules.ratelimit import CHATS_KEPT, Limits, Pacer
from tests.fakes.clock import EventTime

WINDOW, COUNT = 1.0, 30  # Telegram's sliding window and how many messages it takes


def overfull_windows(starts: list[float]) -> int:
    """How many times 31 consecutive starts fell within Telegram's one-second window."""
    ordered = sorted(starts)
    return sum(1 for a, b in zip(ordered, ordered[COUNT:], strict=False) if b - a < WINDOW)


async def test_sends_start_in_groups_at_the_even_rate_while_earlier_ones_are_on_their_way() -> None:
    # Over a network each request takes a round trip; counting a send from its answer would
    # lose that time every window. Counting from its start, the rate does not depend on it.
    # The starts of a fifth of a second go together: five, then five 0.17 s later.
    clock = EventTime()
    pacer = Pacer(Limits(), now=clock.monotonic, sleep=clock.sleep)
    starts: list[float] = []
    in_flight = most = 0

    async def send(n: int) -> None:
        nonlocal in_flight, most
        async with pacer.slot(str(1000 + n)):
            starts.append(clock.now)
            in_flight += 1
            most = max(most, in_flight)
        await clock.sleep(0.2)  # the round trip
        in_flight -= 1

    await clock.run(asyncio.gather(*(send(n) for n in range(301))))
    assert pacer.group == 5
    groups = Counter(starts)
    assert [groups[at] for at in sorted(groups)] == [5] * 60 + [1]
    gaps = [b - a for a, b in itertools.pairwise(sorted(groups))]
    assert min(gaps) == pytest.approx(5 * pacer.interval)
    assert max(gaps) == pytest.approx(5 * pacer.interval)
    assert starts[-1] == pytest.approx(300 * 1.02 / 30)  # 29.4 a second, whatever the round trip
    assert most == 10  # 0.2 s / 0.17 s: two groups on the wire at once
    assert overfull_windows(starts) == 0


async def test_a_reply_takes_the_next_start_before_the_bulk_waiting_for_it() -> None:
    clock = EventTime()
    pacer = Pacer(Limits(), now=clock.monotonic, sleep=clock.sleep)
    order: list[tuple[str, float]] = []

    async def bulk(n: int) -> None:
        await pacer.take(str(1000 + n))
        order.append((f"bulk {n}", clock.now))

    async def reply() -> None:
        await clock.sleep(0.5)  # a person taps while a notice's 60 messages wait their turn
        await pacer.take("2000", urgent=True)
        order.append(("reply", clock.now))

    await clock.run(asyncio.gather(reply(), *(bulk(n) for n in range(60))))
    at = [name for name, _ in order].index("reply")
    before, (_, replied), after = order[at - 1], order[at], order[at + 1]
    # The first start of the very next group (five starts, 0.17 s apart).
    assert before[1] <= 0.5 < replied <= 0.5 + pacer.group * pacer.interval
    assert after[0] == f"bulk {int(before[0].split()[1]) + 1}"  # the bulk goes on after it
    # Paced, not doubled up: the reply took one of its group's starts.
    assert [at for _, at in order].count(replied) == pacer.group
    assert pacer.started == {"reply": 1, "bulk": 60}


def replying() -> tuple[EventTime, Pacer, list[float], Callable[[int], Awaitable[None]]]:
    """A pacer on an event clock, and a reply (chat ``1000 + n``) that records when it started."""
    clock = EventTime()
    pacer = Pacer(Limits(), now=clock.monotonic, sleep=clock.sleep)
    starts: list[float] = []

    async def reply(n: int) -> None:
        await pacer.take(str(1000 + n), urgent=True)
        starts.append(clock.now)

    return clock, pacer, starts, reply


async def test_a_few_replies_go_at_once_and_the_rest_at_the_paced_rate() -> None:
    clock, pacer, starts, reply = replying()
    await clock.run(asyncio.gather(*(reply(n) for n in range(12))))
    assert (Limits().reply_burst, pacer.group) == (5, 5)
    # Five at once, then five every five intervals (0.17 s): no second burst.
    group = 5 * pacer.interval
    assert starts == pytest.approx([0.0] * 5 + [group] * 5 + [2 * group] * 2)
    assert overfull_windows(starts) == 0


@pytest.mark.parametrize("idle_intervals", [0.5, 1.5, 2.0, 10.0])
async def test_replies_after_an_idle_moment_go_at_most_reply_burst_at_once(
    idle_intervals: float,
) -> None:
    # The schedule is kept for a bulk start up to two intervals late (made up), not for a
    # reply: replies already go reply_burst - 1 starts ahead of it.
    clock, pacer, starts, reply = replying()

    async def scenario() -> None:
        await pacer.take("999")  # a bulk start, then nothing for a while
        await clock.sleep(pacer.interval * (1 + idle_intervals))
        await asyncio.gather(*(reply(n) for n in range(12)))

    await clock.run(scenario())
    assert max(starts.count(at) for at in starts) <= Limits().reply_burst


async def test_after_a_pause_sending_resumes_at_the_paced_rate_a_group_at_a_time() -> None:
    clock = EventTime()
    pacer = Pacer(Limits(), now=clock.monotonic, sleep=clock.sleep)
    starts: list[tuple[str, float]] = []

    async def send(n: int, urgent: bool) -> None:
        await pacer.take(str(1000 + n), urgent=urgent)
        starts.append(("reply" if urgent else "bulk", clock.now))

    async def scenario() -> None:
        first = [asyncio.create_task(send(n, False)) for n in range(10)]
        await clock.sleep(0.1)
        pacer.pause(3.0)  # a 429: everybody waits 3 s
        waiting = [asyncio.create_task(send(100 + n, n % 4 == 0)) for n in range(60)]
        await asyncio.gather(*first, *waiting)

    await clock.run(scenario())
    after = [at for _, at in starts if at >= 3.1 - 1e-9]
    assert len(after) > 60 - 5  # everything that waited for the pause (and the first's rest)
    assert min(after) >= 3.1 - 1e-9
    # Never in a burst: five at a time (a group), one group every five intervals, replies
    # included; not everything that queued during the pause at once.
    groups = Counter(after)
    assert max(groups.values()) == pacer.group
    gaps = [b - a for a, b in itertools.pairwise(sorted(groups))]
    assert min(gaps) >= pacer.group * pacer.interval - 1e-9
    assert [kind for kind, at in starts if at >= 3.1 - 1e-9][:15].count("reply") == 15  # first
    assert overfull_windows([at for _, at in starts]) == 0


async def test_a_backlog_just_before_the_next_group_waits_for_it_instead_of_joining_the_last() -> (
    None
):
    # One message opens a group; a notice's messages queued 4.9 intervals later do not fill
    # that group's room and then go on with the next group at once: nine within 3 ms.
    clock = EventTime()
    pacer = Pacer(Limits(), now=clock.monotonic, sleep=clock.sleep)
    starts: list[float] = []

    async def send(n: int, after: float) -> None:
        await clock.sleep(after)
        await pacer.take(str(1000 + n))
        starts.append(clock.now)

    later = 4.9 * pacer.interval
    await clock.run(asyncio.gather(send(0, 0.0), *(send(n, later) for n in range(1, 11))))
    group = 5 * pacer.interval
    assert starts == pytest.approx([0.0] + [group] * 5 + [2 * group] * 5)


@pytest.mark.parametrize(("per_second", "group"), [(30, 5), (18, 3), (15, 1), (12, 1), (5, 1)])
def test_starts_go_in_groups_of_what_a_fifth_of_a_second_holds_but_never_two(
    per_second: float, group: int
) -> None:
    # A group of two made up two intervals late would meet the next group within an interval.
    assert Pacer(Limits(overall_per_second=per_second)).group == group


@pytest.mark.parametrize("per_second", [30, 18, 12])
@pytest.mark.parametrize("seed", range(6))
async def test_whatever_comes_when_never_a_burst_and_the_window_holds(
    per_second: float, seed: int
) -> None:
    # Replies and bulk arriving at random, timers waking up to 6 ms late, a 429 pause now and
    # then: never more than reply_burst at one moment and never more than the platform's count
    # in its window; at Telegram's rate (no lead for replies), at most one group in an interval.
    rng = random.Random(seed)
    clock = EventTime()

    async def late_sleep(seconds: float) -> None:
        await clock.sleep(seconds + rng.uniform(0, 0.006))

    limits = Limits(overall_per_second=per_second)
    pacer = Pacer(limits, now=clock.monotonic, sleep=late_sleep)
    starts: list[float] = []

    async def send(n: int) -> None:
        await clock.sleep(rng.uniform(0, 6.0))
        await pacer.take(str(1000 + n), urgent=rng.random() < 0.3)
        starts.append(clock.now)

    async def pauses() -> None:
        for _ in range(2):
            await clock.sleep(rng.uniform(0.5, 3.0))
            pacer.pause(rng.choice([0.05, 0.3, 1.0]))

    await clock.run(asyncio.gather(pauses(), *(send(n) for n in range(240))))
    assert len(starts) == 240
    assert max(starts.count(at) for at in starts) <= limits.reply_burst
    if per_second == 30:
        spans = [b - a for a, b in zip(starts, starts[pacer.group :], strict=False)]
        assert min(spans) >= pacer.interval - 1e-9
    count = math.floor(per_second)
    window = count / per_second
    assert not any(b - a < window for a, b in zip(starts, starts[count:], strict=False))


async def starts_woken_late(late: Callable[[], float]) -> tuple[list[float], Pacer]:
    """When 601 sends start on a pacer whose every wait ends ``late()`` seconds late."""
    clock = EventTime()

    async def late_sleep(seconds: float) -> None:
        await clock.sleep(seconds + late())

    pacer = Pacer(Limits(), now=clock.monotonic, sleep=late_sleep)
    starts: list[float] = []

    async def send(n: int) -> None:
        await pacer.take(str(1000 + n))
        starts.append(clock.now)

    await clock.run(asyncio.gather(*(send(n) for n in range(601))))
    return starts, pacer


async def test_timers_that_wake_late_cost_no_rate_and_never_overfill_the_window() -> None:
    # An event loop wakes a sleeper a little late (a busy loop, a collection); the schedule
    # makes up what it can, the window holds whatever happens.
    lateness = random.Random(17)
    starts, _ = await starts_woken_late(lambda: lateness.uniform(0, 0.006))
    rate = 600 / (starts[-1] - starts[0])
    assert rate >= 0.99 * 30 / 1.02
    assert overfull_windows(starts) == 0


async def test_a_start_woken_up_to_two_intervals_late_is_made_up_and_the_window_holds() -> None:
    # A busy loop (a batch being saved, a collection) wakes the pacer 10–60 ms late now and
    # then: the schedule keeps its place and the next starts make the time up, within the
    # window; the rate stays the even schedule's.
    stalls = itertools.cycle([0.0] * 29 + [0.012] + [0.0] * 59 + [0.06])
    starts, pacer = await starts_woken_late(lambda: next(stalls))
    assert 600 / (starts[-1] - starts[0]) >= 0.995 * 30 / 1.02
    assert overfull_windows(starts) == 0
    # Made up a little at a time: never two groups (six starts) within one interval.
    spans = [b - a for a, b in zip(starts, starts[pacer.group :], strict=False)]
    assert min(spans) >= pacer.interval - 1e-9


async def test_requests_whose_travel_times_differ_widen_the_window_by_the_difference() -> None:
    # Telegram counts a message when it arrives: of two requests started a window apart, the
    # first may arrive late and the second early. Their recent difference widens the window.
    clock = EventTime()
    pacer = Pacer(Limits(), now=clock.monotonic, sleep=clock.sleep)
    starts: list[float] = []

    async def send(n: int) -> None:
        async with pacer.slot(str(1000 + n)):
            starts.append(clock.now)
            await clock.sleep(0.05 if n % 2 else 0.25)  # on the way and back

    await clock.run(asyncio.gather(*(send(n) for n in range(151))))
    assert pacer.spread == pytest.approx(0.2)
    later = starts[60:]  # once the spread is known
    spans = [b - a for a, b in zip(later, later[COUNT:], strict=False)]
    assert min(spans) >= 1.0 + 0.2 - 1e-9  # Telegram's second and the spread
    # Arriving anywhere within its trip, no 31 messages reach Telegram within one second.
    assert overfull_windows([at + (0.0 if n % 2 else 0.2) for n, at in enumerate(starts)]) == 0


async def test_a_broadcast_to_more_chats_than_kept_forgets_the_buckets_whose_sends_are_past() -> (
    None
):
    # Every chat the outbox sent to kept its bucket for the life of the process.
    clock = EventTime()
    pacer = Pacer(Limits(), now=clock.monotonic, sleep=clock.sleep)

    async def broadcast() -> None:
        for n in range(CHATS_KEPT + 1_000):
            await pacer.take(str(1000 + n))

    await clock.run(broadcast())

    assert len(pacer._chats) < CHATS_KEPT
    assert str(1000 + CHATS_KEPT + 999) in pacer._chats  # the last one's send is not past


async def test_past_the_kept_chats_a_bucket_with_a_send_ahead_or_waiting_is_not_forgotten() -> None:
    clock = EventTime()
    pacer = Pacer(Limits(), now=clock.monotonic, sleep=clock.sleep)
    ahead = pacer._bucket("ahead")
    ahead.take(clock.now)
    ahead.take(clock.now)  # its next send may go in two seconds' time
    for n in range(1, CHATS_KEPT):
        pacer._bucket(str(n))  # buckets as good as new
    pacer._bucket("-5")  # past the kept: the front has a send ahead, none forgotten
    assert len(pacer._chats) == CHATS_KEPT + 1

    waiting = pacer._bucket("waiting")
    waiting.held = 1  # a send waits on it (for the head of the line)
    clock.now += 3  # the bucket with a send ahead is idle now
    pacer._bucket("-6")

    assert list(pacer._chats) == ["waiting", "-6"]
    assert pacer._bucket("waiting") is waiting
