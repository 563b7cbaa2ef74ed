"""``bench/load.py --profile`` samples the process's CPU (``bench.common.CpuSampler``) instead of
tracing every call: the samples land on the function that runs, in the phase that is current,
and the stages of a tap are read off the sampled stacks."""

from __future__ import annotations

import signal
import time

from bench.common import CpuSampler, Phase
from bench.load import Part

ENOUGH = 5  # samples a phase needs here: 20 ms of CPU at the kernel's 4 ms tick
CPU_LIMIT = 5.0  # seconds of CPU after which a burn gives up (no SIGPROF would be a failure)


def _burn_in_spin(sampler: CpuSampler, phase: str) -> None:
    """Spend CPU in this function until ``phase`` holds enough samples."""
    started = time.process_time()
    while sampler.phases[phase].samples < ENOUGH and time.process_time() - started < CPU_LIMIT:
        sum(i * i for i in range(1_000))


def test_the_samples_land_on_the_function_that_spends_the_cpu() -> None:
    sampler = CpuSampler()
    sampler.start("taps")
    try:
        _burn_in_spin(sampler, "taps")
    finally:
        sampler.stop()

    taps = sampler.phases["taps"]
    assert taps.samples >= ENOUGH
    in_spin = taps.share(lambda stack: any(name == "_burn_in_spin" for _, name in stack))
    assert in_spin >= 0.8  # a sample may land in start() or stop() around the burn
    assert taps.cpu > 0


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


def test_the_folded_stacks_name_the_phase_first_and_count_every_sample() -> None:
    sampler = CpuSampler()
    sampler.start("taps")
    try:
        _burn_in_spin(sampler, "taps")
    finally:
        sampler.stop()

    lines = sampler.folded().splitlines()
    assert all(line.startswith("taps;") for line in lines)
    assert sum(int(line.rsplit(" ", 1)[1]) for line in lines) == sampler.phases["taps"].samples
    assert any("tests/test_cpu_sampler.py:_burn_in_spin" in line for line in lines)


def test_stopping_puts_back_the_signal_handler_and_the_timer_it_found() -> None:
    before = signal.getsignal(signal.SIGPROF)
    sampler = CpuSampler()
    sampler.start("taps")
    sampler.stop()

    assert signal.getsignal(signal.SIGPROF) == before
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
    phase = Phase()
    phase.stacks.update({waiting: 1, querying: 3})

    assert phase.share(Part("choose", "bot/services/rsvp.py", "_choose_all").holds) == 0.75
    assert phase.share(Part("SQLAlchemy", "/sqlalchemy/").holds) == 0.75
    assert phase.share(Part("waiting", "selectors.py", waiting=True).holds) == 0.25
    assert phase.share(Part("other", "bot/services/rsvp.py", "reply").holds) == 0.0
