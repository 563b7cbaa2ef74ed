"""``bench/load.py --rate``: taps arriving R a second at random (an open loop), each timed from
when it was due, beside the K workers of the closed loop."""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics

import pytest
from pytest import approx

from bench.load import Load, arrival_times, closed_loop, open_loop, parse_args


class FakeTime:
    """A clock that moves only when told: a handler's work moves it on, a sleep lets the loop
    run what is ready, then moves it to the sleep's end unless the work took it further."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        await asyncio.sleep(0)
        self.now = max(self.now, until)


def test_taps_arrive_at_the_rate_asked_on_average_and_alike_for_a_seed() -> None:
    times = arrival_times(20_000, 500.0, seed=85)

    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[0] == 0.0
    assert times == sorted(times)
    assert statistics.fmean(gaps) == approx(1 / 500, rel=0.02)
    # Poisson, not evenly spaced: the gaps spread as widely as their mean (exponential).
    assert statistics.stdev(gaps) == approx(1 / 500, rel=0.05)
    assert arrival_times(20_000, 500.0, seed=85) == times
    assert arrival_times(20_000, 500.0, seed=86) != times


async def test_each_tap_is_handed_over_at_its_due_time() -> None:
    fake = FakeTime()
    started: dict[int, float] = {}

    async def handle(index: int) -> None:
        started[index] = fake.clock()

    latencies, late = await open_loop(
        [0.0, 0.010, 0.030], handle, clock=fake.clock, sleep=fake.sleep
    )

    assert started == {0: 0.0, 1: approx(0.010), 2: approx(0.030)}
    assert latencies == [0.0, 0.0, 0.0]
    assert late == [0.0, 0.0, 0.0]


async def test_a_tap_that_waits_for_a_busy_bot_is_timed_from_when_it_was_due() -> None:
    fake = FakeTime()

    async def handle(index: int) -> None:
        if index == 0:
            fake.now += 0.050  # the first tap holds the loop for 50 ms of work

    latencies, late = await open_loop([0.0, 0.010], handle, clock=fake.clock, sleep=fake.sleep)

    # The second was due at 10 ms and could only start at 50: it waited 40 ms for the first.
    assert latencies == [approx(0.050), approx(0.040)]
    assert late == [0.0, approx(0.040)]


async def test_k_workers_keep_k_taps_in_flight_and_hand_each_over_once() -> None:
    in_flight: list[int] = []
    handled: list[int] = []
    busy = 0

    async def handle(index: int) -> None:
        nonlocal busy
        busy += 1
        in_flight.append(busy)
        await asyncio.sleep(0)  # the tap waits for the bot: the other workers go on
        handled.append(index)
        busy -= 1

    await closed_loop(10, 3, handle)

    assert max(in_flight) == 3
    assert sorted(handled) == list(range(10))


async def test_a_worker_times_each_tap_from_its_hand_over_not_from_the_start() -> None:
    fake = FakeTime()

    async def handle(index: int) -> None:
        fake.now += 0.010 * (index + 1)  # tap i takes (i + 1) × 10 ms

    latencies = await closed_loop(3, 1, handle, clock=fake.clock)

    assert latencies == [approx(0.010), approx(0.020), approx(0.030)]


def test_rates_alone_run_no_closed_loop_and_both_run_both() -> None:
    assert parse_args(["--rate", "250", "1000"]).concurrency == []
    assert parse_args([]).concurrency == [1, 32]
    both = parse_args(["--concurrency", "32", "--rate", "500"])
    assert (both.concurrency, both.rate) == ([32], [500.0])


@pytest.mark.parametrize("rate", ["0", "-5", "nan", "inf"])
def test_a_rate_that_is_not_a_positive_number_is_refused(
    rate: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--rate", rate])

    assert "--rate must be a number above 0" in capsys.readouterr().err


def test_a_load_is_named_as_the_tables_print_it_and_is_one_kind_or_refused() -> None:
    assert [str(Load(workers=32)), str(Load(rate=500.0))] == ["K = 32", "R = 500/s"]
    wrong = (
        Load,
        lambda: Load(workers=32, rate=500.0),
        lambda: Load(rate=math.inf),
        lambda: Load(rate=math.nan),
        lambda: Load(workers=-1),
    )
    for make in wrong:
        with pytest.raises(ValueError, match="a load is K workers or R a second"):
            make()
