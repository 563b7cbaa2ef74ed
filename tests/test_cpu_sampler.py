"""``bench/load.py --profile`` samples the process's CPU (``bench.common.CpuSampler``) instead of
tracing every call: the samples land on the function that runs, in the phase that is current,
each with the CPU since the one before, and the stages of a tap are read off the stacks."""

from __future__ import annotations

import signal
import time

import pytest
from pytest import approx

from bench.common import CpuSampler, Phase
from bench.load import ProfileStage

ENOUGH = 5  # samples a phase needs here: 20 ms of CPU at the kernel's 4 ms tick
CPU_LIMIT = 5.0  # seconds of CPU after which a burn gives up (no SIGPROF would be a failure)


def _burn_in_spin(sampler: CpuSampler, phase: str) -> None:
    """Spend CPU in this function until ``phase`` holds enough samples."""
    started = time.process_time()
    while sampler.phases[phase].samples < ENOUGH and time.process_time() - started < CPU_LIMIT:
        sum(i * i for i in range(1_000))


def _sampled(*phases: str) -> CpuSampler:
    """A sampler run over a burn in each of ``phases``, in turn."""
    sampler = CpuSampler()
    sampler.start(phases[0])
    try:
        for phase in phases:
            sampler.switch(phase)
            _burn_in_spin(sampler, phase)
    finally:
        sampler.stop()
    return sampler


def test_the_samples_land_on_the_function_that_spends_the_cpu() -> None:
    taps = _sampled("taps").phases["taps"]
    assert taps.samples >= ENOUGH
    in_spin = taps.share(lambda stack: any(name == "_burn_in_spin" for _, name in stack))
    assert in_spin >= 0.8  # a sample may land in start() or stop() around the burn


def test_the_samples_stand_for_the_phases_cpu_and_the_phases_for_the_whole() -> None:
    before = time.process_time()
    sampler = _sampled("taps", "after")
    spent = time.process_time() - before

    taps, after = sampler.phases["taps"], sampler.phases["after"]
    assert 0 < taps.cpu + after.cpu <= spent
    assert taps.cpu + after.cpu >= spent - 0.005  # all but making the sampler and starting it
    for phase in (taps, after):
        sampled = sum(phase.stacks.values())
        # Up to the last sample: what came after it, under one tick, is the phase's alone.
        assert 0.5 * phase.cpu <= sampled <= phase.cpu


def test_ticks_that_merge_during_one_long_call_keep_their_cpu() -> None:
    sampler = CpuSampler()
    sampler.start("taps")
    try:
        for _ in range(3):
            sum(range(5_000_000))  # C code: the handler runs only once it returns
    finally:
        sampler.stop()

    taps = sampler.phases["taps"]
    # Far fewer samples than ticks (a tick is 10 ms at most: 100 Hz), yet all the CPU sampled.
    assert 0 < taps.samples < taps.cpu / 0.010 / 2
    assert sum(taps.stacks.values()) >= 0.8 * taps.cpu


def test_a_switch_sends_the_samples_after_it_to_the_new_phase() -> None:
    sampler = CpuSampler()
    sampler.start("taps")
    try:
        _burn_in_spin(sampler, "taps")
        taps_then = sampler.phases["taps"].samples
        sampler.switch("after")
        _burn_in_spin(sampler, "after")
    finally:
        sampler.stop()

    assert list(sampler.phases) == ["taps", "after"]
    assert sampler.phases["after"].samples >= ENOUGH
    assert sampler.phases["taps"].samples <= taps_then + 1  # at most one pending at the switch


def test_the_folded_stacks_name_the_phase_first_and_count_the_cpu_in_microseconds() -> None:
    sampler = _sampled("taps")
    lines = sampler.folded().splitlines()
    assert all(line.startswith("taps;") for line in lines)
    microseconds = sum(int(line.rsplit(" ", 1)[1]) for line in lines)
    assert abs(microseconds - sum(sampler.phases["taps"].stacks.values()) * 1e6) <= len(lines)
    burning = [line for line in lines if "tests/test_cpu_sampler.py:_burn_in_spin" in line]
    assert burning
    # The outermost frame first: the caller before the function it called.
    assert all(
        line.index("test_cpu_sampler.py:_sampled") < line.index("test_cpu_sampler.py:_burn_in_spin")
        for line in burning
    )


def _elsewhere(_signum: int, _frame: object) -> None:
    """Another profiler's handler, there before the sampler."""


def test_stopping_puts_back_the_signal_handler_and_the_timer_it_found() -> None:
    found = signal.signal(signal.SIGPROF, _elsewhere)
    signal.setitimer(signal.ITIMER_PROF, 100, 100)  # 100 s of CPU: it does not fire here
    try:
        sampler = CpuSampler()
        sampler.start("taps")
        sampler.stop()

        assert signal.getsignal(signal.SIGPROF) is _elsewhere
        left, interval = signal.getitimer(signal.ITIMER_PROF)
        assert 99 < left < 101  # the kernel rounds a timer to its tick
        assert 99 < interval < 101
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, found)


def test_a_second_start_before_a_stop_is_refused() -> None:
    sampler = CpuSampler()
    sampler.start("taps")
    try:
        with pytest.raises(RuntimeError, match="running already"):
            sampler.start("after")
    finally:
        sampler.stop()
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)


def test_a_stage_is_read_off_a_stack_by_function_by_package_or_as_the_loop_waiting() -> None:
    waiting = (
        ("/usr/lib/python3.11/selectors.py", "select"),
        ("/usr/lib/python3.11/asyncio/base_events.py", "_run_once"),
    )
    querying = (
        ("/venv/site-packages/sqlalchemy/engine/base.py", "execute"),
        ("/repo/bot/services/rsvp.py", "_choose_all"),
    )
    within_select = (
        ("/venv/site-packages/aiohttp/client.py", "_request"),
        ("/usr/lib/python3.11/selectors.py", "select"),
    )
    phase = Phase()
    phase.stacks.update({waiting: 0.001, querying: 0.006, within_select: 0.001})

    assert phase.share(
        ProfileStage("choose", "bot/services/rsvp.py", "_choose_all").holds
    ) == approx(0.75)
    assert phase.share(ProfileStage("SQLAlchemy", "/sqlalchemy/").holds) == approx(0.75)
    # select as the innermost frame only: the loop waiting, not a call made from within select
    assert phase.share(ProfileStage("waiting", "selectors.py", waiting=True).holds) == approx(0.125)
    assert phase.share(ProfileStage("other", "bot/services/rsvp.py", "reply").holds) == 0.0
