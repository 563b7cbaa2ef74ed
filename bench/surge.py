"""Surges on one bot against Telegram's limits: the replies and the outbox on one budget, or on
two as before issue 17, in real time.

The scenarios are tests/surge.py's (tests/test_budget.py runs them on virtual time):

* **links**: ``--links`` people open their personal links, ``--link-rate`` a second; each must
  get the invitation card. Latency: from the /start to the card accepted by Telegram.
* **taps during a notice**: a notice to ``--recipients`` linked delegates is confirmed (the
  outbox woken at once); ``--tap-after`` seconds later ``--tappers`` of them tap "✅ Tham dự",
  ``--tap-rate`` a second. Latency: from the tap to its confirmation accepted by Telegram; the
  notice's own figures: first delivery and last, from the confirmation.

The fake Bot API enforces Telegram's limits (30 messages per sliding second, a private chat's
burst of 3 then one a second) on ``time.monotonic``, in process. Sides: **one budget**
(``hoinghi run`` today: ``RetryingRateLimiter`` and the outbox draw on one ``Pacer``, replies
first, never giving up on a 429) and **two budgets** (the baseline: a ``Pacer`` each, each
aiming at 30 a second, the replies given up after three 429s, as before). They take turns
(``bench/common.py``) and the medians are printed. Targets (issue 17, goal 2): 0 × 429, every
card and confirmation delivered, nothing given up, a tap confirmed within a second.

Usage (from the repository root)::

    .venv/bin/python bench/surge.py                  # 250 links at 25/s; 100 taps during 1,000
    .venv/bin/python bench/surge.py --rounds 1 --recipients 300 --tappers 30    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("PTB_TIMEDELTA", "1")

from datetime import datetime, timedelta  # noqa: E402

from bench.common import interleaved, machine  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.services import Services, build_services  # noqa: E402
from storage.engine import create_engine, create_sessionmaker  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from tests.conftest import local  # noqa: E402
from tests.fakes.telegram_api import FakeBotApi  # noqa: E402
from tests.harness import OFFICE_CHAT, wired_config  # noqa: E402
from tests.surge import (  # noqa: E402
    Figures,
    link_directly,
    links_surge,
    people,
    start_surge_bot,
    taps_during_broadcast,
)

EXAMPLE_CONFIG = ROOT / "config.example.toml"
TARGET_TAP_SECONDS = 1.0


class RunningClock:
    """Real time, but starting ten days before the example meeting (as in the tests), so the
    links and taps are answered as they would be then."""

    def __init__(self, start: datetime) -> None:
        self._start, self._began = start, time.monotonic()

    def now(self) -> datetime:
        """The plan's time now."""
        return self._start + timedelta(seconds=time.monotonic() - self._began)


@dataclass
class Run:
    """One run of both scenarios on one side."""

    links: Figures
    taps: Figures
    notice: Figures


async def _services(db: Path, fake: FakeBotApi) -> tuple[Services, Callable[[], Awaitable[None]]]:
    config = wired_config(load_config(EXAMPLE_CONFIG).config, fake)
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await upgrade_database(engine)
    clock = RunningClock(local(2024, 5, 18, 9, 0))
    services = await build_services(config, create_sessionmaker(engine), clock)
    return services, engine.dispose


def _fake() -> FakeBotApi:
    fake = FakeBotApi(enforce_limits=True)
    fake.group(OFFICE_CHAT, "Văn phòng")
    return fake


async def run_side(args: argparse.Namespace, folder: Path, *, shared: bool) -> Run:
    """Both scenarios, each on a fresh database and a fresh fake."""
    now, sleep = time.monotonic, asyncio.sleep
    fake = _fake()
    services, close = await _services(folder / f"links-{time.monotonic_ns()}.db", fake)
    try:
        users = await people(services, fake, args.links)
        bot = await start_surge_bot(services, fake, now=now, sleep=sleep, shared=shared)
        try:
            links = await links_surge(bot, users, per_second=args.link_rate, sleep=sleep)
        finally:
            await bot.stop()
    finally:
        await close()

    fake = _fake()
    services, close = await _services(folder / f"taps-{time.monotonic_ns()}.db", fake)
    try:
        users = await people(services, fake, args.recipients)
        bot = await start_surge_bot(services, fake, now=now, sleep=sleep, shared=shared)
        try:
            tappers = users[: args.tappers]
            await links_surge(bot, tappers, per_second=args.link_rate, sleep=sleep)
            await link_directly(bot, users[args.tappers :])
            fake.rate_limited = 0  # the taps' phase is measured from here
            bot.limiter.gave_up.clear()
            taps, notice = await taps_during_broadcast(
                bot,
                [user for user, _ in users],
                [user for user, _ in tappers],
                per_second=args.tap_rate,
                start_after=args.tap_after,
                sleep=sleep,
            )
        finally:
            await bot.stop()
    finally:
        await close()
    return Run(links, taps, notice)


def _line(name: str, figures: Sequence[Figures]) -> str:
    latencies = [statistics.median(f.latencies) if f.latencies else 0.0 for f in figures]
    worst = [max(f.latencies, default=0.0) for f in figures]
    return (
        f"{name:28} {statistics.median(latencies):8.2f} {statistics.median(worst):8.2f} "
        f"{statistics.median(f.unanswered for f in figures):6.0f} "
        f"{statistics.median(f.rate_limited for f in figures):5.0f} "
        f"{statistics.median(f.gave_up for f in figures):7.0f}"
    )


async def run(args: argparse.Namespace) -> None:
    """The sides in turns; the table."""
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="hoinghi-surge-") as name:
        folder = Path(name)

        def one() -> Awaitable[Run]:
            return run_side(args, folder, shared=True)

        def two() -> Awaitable[Run]:
            return run_side(args, folder, shared=False)

        rounds = await interleaved(
            {"one budget": one, "two budgets (before)": two}, args.rounds, seed=args.seed
        )
    print(
        f"links: {args.links} at {args.link_rate:g}/s; taps: {args.tappers} at "
        f"{args.tap_rate:g}/s, {args.tap_after:g} s into a notice to {args.recipients}; "
        f"rounds {args.rounds}, order {rounds.order}"
    )
    print(f"{'':28} {'median s':>8} {'max s':>8} {'missed':>6} {'429s':>5} {'gave up':>7}")
    for side, runs in rounds.results.items():
        print(_line(f"{side}: links", [r.links for r in runs]))
        print(_line(f"{side}: taps", [r.taps for r in runs]))
        notices = [r.notice for r in runs]
        print(f"{'':4}{side}: notice (last run): {'; '.join(notices[-1].notes)}")
    print(f"machine after: {machine()}")
    missed = []
    for r in rounds.results["one budget"]:
        for what, f in (("links", r.links), ("taps", r.taps), ("notice", r.notice)):
            if f.unanswered or f.rate_limited or f.gave_up:
                missed.append(f"{what}: {f.summary()}")
        if max(r.taps.latencies, default=0.0) > TARGET_TAP_SECONDS:
            missed.append(f"a tap confirmed after {max(r.taps.latencies):.2f} s")
    print(
        "TARGET MISSED: " + "; ".join(missed)
        if missed
        else "target met: 0 × 429, all "
        f"delivered, nothing given up, every tap confirmed within {TARGET_TAP_SECONDS:g} s"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--links", type=int, default=250)
    parser.add_argument("--link-rate", type=float, default=25.0)
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--tappers", type=int, default=100)
    parser.add_argument("--tap-rate", type=float, default=10.0)
    parser.add_argument("--tap-after", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; always 0 (a measurement, not a test)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
