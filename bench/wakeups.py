"""What waking an idle process costs on this machine, beside the same work done without waking.

The bot's budget starts Telegram's 30 messages a second in groups (``Limits.grouped_within``):
a busy bot wakes six times a second to send five, not thirty times to send one. This prints
why, for the machine it runs on: the CPU of one piece of Python work (a keyboard built and
serialized, a message's answer parsed, as a confirmation's request does) done in a loop,
against the same work done once per wake-up, a few per wake-up, and an empty wake-up, at the
pace of 30 a second. On a virtual server an idle vCPU is descheduled; the work after a wake-up
runs on cold caches, and the wake-up itself costs CPU. Each figure is the CPU per piece of
work (``time.process_time``), and its ratio to the loop's.

Usage (from the repository root)::

    .venv/bin/python bench/wakeups.py             # 600 pieces of work per pattern, 3 rounds
    .venv/bin/python bench/wakeups.py --pieces 300 --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message  # noqa: E402

from bench.common import machine  # noqa: E402
from schedules.ratelimit import Limits, Pacer  # noqa: E402

INTERVAL = Pacer(Limits()).interval  # the budget's interval between two starts, in seconds
# How many pieces of work each wake-up does: one per start, then groups of 3, 5 (the budget's
# group) and 10, each group waking once per its share of the interval.
PER_WAKE = (1, 3, 5, 10)
ANSWER = '{"message_id":7,"date":1,"chat":{"id":5,"type":"private"},"text":"Đã ghi nhận"}'


def work() -> str:
    """One piece of work of about a tenth of a millisecond: a keyboard built and serialized,
    an answer parsed into a message."""
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(f"Lựa chọn {i}", callback_data=f"rsvp:{i}") for i in range(3)]]
    )
    Message.de_json(json.loads(ANSWER), None)
    return json.dumps(markup.to_dict())


def in_a_loop(pieces: int) -> float:
    """CPU seconds per piece, done back to back."""
    started = time.process_time()
    for _ in range(pieces):
        work()
    return (time.process_time() - started) / pieces


async def per_wake(pieces: int, per: int) -> float:
    """CPU seconds per piece, ``per`` pieces each time the loop wakes, then a sleep of ``per``
    intervals: a little under 30 pieces a second, the work's own time added."""
    started = time.process_time()
    for _ in range(pieces // per):
        for _ in range(per):
            work()
        await asyncio.sleep(INTERVAL * per)
    return (time.process_time() - started) / (pieces // per * per)


async def empty_wakes(wakes: int) -> float:
    """CPU seconds per wake-up that does nothing, 30 a second."""
    started = time.process_time()
    for _ in range(wakes):
        await asyncio.sleep(INTERVAL)
    return (time.process_time() - started) / wakes


async def measure(pieces: int, rounds: int) -> None:
    """Each pattern once per round, in turns; the medians, in µs, and their ratio to the loop."""
    in_a_loop(pieces)  # warm up: imports, caches
    empty = "empty wake-up (µs a wake-up)"
    figures: dict[str, list[float]] = {"in a loop": [], empty: []}
    for per in PER_WAKE:
        figures[f"{per} per wake-up"] = []
    for _ in range(rounds):
        figures["in a loop"].append(in_a_loop(pieces))
        for per in PER_WAKE:
            figures[f"{per} per wake-up"].append(await per_wake(pieces, per))
        figures[empty].append(await empty_wakes(pieces // 2))
    loop = statistics.median(figures["in a loop"])
    print(f"{'pattern':32} {'µs of CPU a piece':>18} {'(rounds)':>16} {'× the loop':>11}")
    for name, values in figures.items():
        median = statistics.median(values)
        spread = f"{min(values) * 1e6:.0f}–{max(values) * 1e6:.0f}"
        ratio = "" if name == empty else f"{median / loop:.2f}"  # not a piece of work
        print(f"{name:32} {median * 1e6:18.0f} {spread:>16} {ratio:>11}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pieces", type=int, default=600, help="pieces of work a pattern (600)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every pattern (3)")
    args = parser.parse_args(argv)
    if args.pieces < max(PER_WAKE) or args.rounds < 1:
        parser.error(f"--pieces must be at least {max(PER_WAKE)}, --rounds at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures."""
    args = parse_args(argv)
    print(machine())
    asyncio.run(measure(args.pieces, args.rounds))
    print(machine())
    return 0


if __name__ == "__main__":
    sys.exit(main())
