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
import sqlite3
import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from bot.config import Config
    from bot.delegate_file import DelegateRow
    from storage.models import OutboundMessage

T = TypeVar("T")


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


def notice(
    meeting_id: int,
    body: str,
    now: datetime,
    report_to: str | None = None,
    *,
    audience: str = "linked",  # Audience.LINKED (bot.domain is imported only when called)
    by: str = "bench",
) -> OutboundMessage:
    """An office notice to ``audience`` (every linked invitee unless told), due ``now``, its
    report to ``report_to``: what the office's "send now" leaves, for the benches and the
    tests that start from it."""
    from bot.domain.outbound import BROADCAST_WINDOW, MessageKind, MessageStatus
    from storage.models import OutboundMessage

    return OutboundMessage(
        meeting_id=meeting_id, kind=MessageKind.BROADCAST, status=MessageStatus.SCHEDULED,
        audience=audience, body=body, params={}, due_at=now, expires_at=now + BROADCAST_WINDOW,
        created_by=by, report_to=report_to, created_at=now,
    )  # fmt: skip
