"""What every bench shares: where it ran, and sides measured fairly.

A figure is a ratio between two sides run in the same process, on the same machine, at the same
time: the sides take turns (A B A B …, each round in a new order drawn from a seed) and the
median of each side's rounds is what is reported, so a minute of load from another job falls on
both sides instead of flattering one of them.
"""

from __future__ import annotations

import math
import os
import platform
import random
import signal
import sqlite3
import statistics
import sysconfig
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import Config
    from bot.delegate_file import DelegateRow
    from storage.models import OutboundMessage

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    """Where and when the figures were measured: Python, the system, CPUs, the libraries, the
    load average at this moment (a loaded machine makes every figure slower, both sides alike)."""
    import sqlalchemy
    import telegram

    try:
        load = "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:  # not every system has one
        load = "load average unknown"
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.platform()}, {os.cpu_count()} CPU(s), {load}; python-telegram-bot "
        f"{telegram.__version__}, SQLAlchemy {sqlalchemy.__version__}, SQLite "
        f"{sqlite3.sqlite_version}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


@dataclass(frozen=True)
class Rounds(Generic[T]):
    """Every round's result of each side, in the order they ran."""

    results: Mapping[str, Sequence[T]]
    order: Sequence[Sequence[str]]  # the sides' order in each round

    def median(self, side: str, figure: Callable[[T], float]) -> float:
        """The median of ``figure`` over ``side``'s rounds."""
        return statistics.median(figure(result) for result in self.results[side])

    def spread(self, side: str, figure: Callable[[T], float]) -> tuple[float, float]:
        """The lowest and the highest of ``figure`` over ``side``'s rounds."""
        values = [figure(result) for result in self.results[side]]
        return min(values), max(values)


async def interleaved(
    sides: Mapping[str, Callable[[], Awaitable[T]]], rounds: int, *, seed: int = 1
) -> Rounds[T]:
    """Run every side ``rounds`` times, taking turns: each round runs each side once, in an order
    shuffled from ``seed`` (so no side always runs first, on a cold cache, or last)."""
    rng = random.Random(seed)
    results: dict[str, list[T]] = {name: [] for name in sides}
    order: list[list[str]] = []
    for _ in range(rounds):
        names = list(sides)
        rng.shuffle(names)
        order.append(names)
        for name in names:
            results[name].append(await sides[name]())
    return Rounds(results, order)


def copy_database(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` to ``target`` whole: every committed transaction,
    those still only in its write-ahead log included. A copy of the file alone misses them
    while any connection to ``source`` is still open (one a set-up left behind), and then the
    copy silently lacks its last writes: delegates linked, answered "not linked" when they tap."""
    with closing(sqlite3.connect(source)) as original, closing(sqlite3.connect(target)) as copy:
        original.backup(copy)


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` percentile (0–1) of ``values`` by the nearest-rank method."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = min(len(ordered), max(1, math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def delegate_rows(
    config: Config, count: int, *, prefix: str = "BD", width: int = 5
) -> list[DelegateRow]:
    """``count`` synthetic delegates spread over the plan's groups, with unique codes
    (``prefix`` and the number, zero-padded to ``width``)."""
    from bot.delegate_file import DelegateRow

    groups = [group.key for group in config.groups]
    return [
        DelegateRow(
            row=index + 2,
            code=f"{prefix}{index + 1:0{width}d}",
            full_name=f"Nguyễn Thị Đại Biểu {index + 1}",
            position="Chủ tịch Hội LHPN",
            organization=f"Cơ sở số {index + 1}",
            group_key=groups[index % len(groups)],
            phone=None,
            rank=index + 1,
        )
        for index in range(count)
    ]


async def add_notice(
    session: AsyncSession,
    meeting_id: int,
    body: str,
    now: datetime,
    report_to: str | None = None,
    *,
    audience: str = "linked",  # Audience.LINKED (bot.domain is imported only when called)
    by: str = "bench",
) -> OutboundMessage:
    """An office notice to ``audience`` (every linked invitee unless told), due ``now``, its
    report to ``report_to``, added to ``session``: what the office's "send now" leaves, its
    number the meeting's next, for the benches and the tests that start from it."""
    from bot.domain.outbound import BROADCAST_WINDOW, MessageKind, MessageStatus
    from storage.models import OutboundMessage
    from storage.queries import next_notice_number

    message = OutboundMessage(
        meeting_id=meeting_id, kind=MessageKind.BROADCAST, status=MessageStatus.SCHEDULED,
        audience=audience, body=body, params={}, due_at=now, expires_at=now + BROADCAST_WINDOW,
        created_by=by, report_to=report_to, created_at=now,
        number=await next_notice_number(session, meeting_id),
    )  # fmt: skip
    session.add(message)
    return message


Frame = tuple[str, str]  # a frame's file and function
Stack = tuple[Frame, ...]  # the innermost frame first
STDLIB = f"{sysconfig.get_paths()['stdlib']}/"


@dataclass
class Phase:
    """What :class:`CpuSampler` saw in one phase of a run: for each stack sampled, the CPU it
    stands for, and the phase's CPU in all."""

    stacks: defaultdict[Stack, float] = field(default_factory=lambda: defaultdict(float))  # CPU s
    samples: int = 0
    cpu: float = 0.0  # seconds of the process's CPU, from the phase's start to its end

    def share(self, holds: Callable[[Stack], bool]) -> float:
        """The share (0–1) of the sampled CPU whose stack ``holds``."""
        total = sum(self.stacks.values())
        return (
            sum(cpu for stack, cpu in self.stacks.items() if holds(stack)) / total if total else 0.0
        )


class CpuSampler:
    """Where a process's CPU goes, by sampling, not by tracing every call.

    The process's CPU clock (``ITIMER_PROF``: every thread's time) raises ``SIGPROF`` every
    ``interval`` seconds of it, rounded up to the kernel's tick (4 ms at 250 Hz). Python runs
    the handler in the main thread, which records the stack that thread is running, with the
    process's CPU since the sample before: signals that come while one is pending are merged
    (the main thread waiting for the interpreter's lock, say), and the CPU they stood for is
    not lost. About 6 µs a sample: 0.2 % of the CPU at 250 a second. A function's share of the
    sampled CPU is then its share of the process's, other threads' CPU aside (below); cProfile,
    hooked on every call, made a tap cost five times as much, and the smallest, most frequent
    calls most of all. A share is only as exact as the samples are many: a few thousand give a
    percent or so.

    - The CPU of other threads (aiosqlite's) lands on whatever the main thread runs meanwhile;
      while the event loop waits for them, it lands on the loop's ``select``, as does the
      kernel's part of a wake-up.
    - A coroutine's stack reaches back to the task that runs it, and a greenlet's (SQLAlchemy's
      asyncio bridge) only to the greenlet's start: count a package's frames to catch those.
    - Main thread, Unix only, one sampler at a time.
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.phases: dict[str, Phase] = {}
        self._current: Phase | None = None
        self._phase_from = 0.0  # process CPU when the current phase began
        self._sampled_to = 0.0  # process CPU the last sample accounted for
        self._previous: tuple[Any, tuple[float, float]] | None = None  # handler, timer

    def start(self, phase: str) -> None:
        """Sample from now on into ``phase``."""
        if self._previous is not None:
            raise RuntimeError("the sampler is running already")
        handler = signal.signal(signal.SIGPROF, self._sample)
        self._previous = handler, signal.getitimer(signal.ITIMER_PROF)
        self._switch(phase)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def switch(self, phase: str) -> None:
        """Sample into ``phase`` from now on."""
        self._switch(phase)

    def stop(self) -> None:
        """Stop sampling, and put back the handler and the timer found at the start; the phases
        keep what was sampled."""
        if self._previous is None:
            return
        handler, timer = self._previous
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        self._switch(None)
        signal.signal(signal.SIGPROF, handler if handler is not None else signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_PROF, *timer)
        self._previous = None

    def folded(self) -> str:
        """Every stack as a line ``phase;outermost;…;innermost µs``, its CPU in microseconds:
        the "folded" form that flame graph tools (flamegraph.pl, speedscope) read."""
        lines = []
        for name, phase in self.phases.items():
            for stack, cpu in sorted(phase.stacks.items(), key=lambda item: -item[1]):
                frames = ";".join(f"{_short(path)}:{function}" for path, function in stack[::-1])
                lines.append(f"{name};{frames} {round(cpu * 1e6)}")
        return "\n".join(lines) + "\n"

    def _switch(self, phase: str | None) -> None:
        now = time.process_time()
        if self._current is not None:
            self._current.cpu += now - self._phase_from
        self._current = None if phase is None else self.phases.setdefault(phase, Phase())
        self._phase_from = self._sampled_to = now

    def _sample(self, _signum: int, frame: FrameType | None) -> None:
        if self._current is None:
            return
        now = time.process_time()
        stack: list[Frame] = []
        while frame is not None:
            stack.append((frame.f_code.co_filename, frame.f_code.co_name))
            frame = frame.f_back
        self._current.stacks[tuple(stack)] += now - self._sampled_to
        self._current.samples += 1
        self._sampled_to = now


def _short(path: str) -> str:
    """A frame's file, from its package on."""
    for marker in ("site-packages/", f"{ROOT}/", STDLIB):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
