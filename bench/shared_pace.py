"""One process's pacer on the shared schedule of a real PostgreSQL database, nothing else: no
HTTP, no fake, no outbox (issue 22). Each round sends for ``--seconds`` with 30 senders (a batch
in hand) whose "request" is a 30 ms sleep, once with nothing booked ahead (``ahead`` 0, the
rules before) and once booking ``AHEAD_STARTS`` intervals ahead (as ``bot.app`` does), the two
in turns (A B A B …) so a minute of load falls on both. Printed per round: the rate and its
ratio to 30/s, the starts given up, the guard the pacer ended with. ::

    ./scripts/with-postgres .venv/bin/python bench/shared_pace.py --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from bench.common import machine  # noqa: E402
from schedules.ratelimit import Limits, Pacer  # noqa: E402
from storage.engine import create_engine, create_sessionmaker  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from storage.sharing import AHEAD_STARTS, SHARED_MARGIN, SharedSendSlots  # noqa: E402
from tests.conftest import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    postgres_url,
)

RATE = 30
SENDERS = 30
REQUEST_S = 0.03


async def paced(
    sessions: async_sessionmaker[AsyncSession], token: str, ahead_starts: int, seconds: float
) -> str:
    """Send for ``seconds`` through one pacer sharing ``token``'s schedule; its figures."""
    interval = (1 + SHARED_MARGIN) / RATE
    ahead = ahead_starts * interval
    pacer = Pacer(Limits())
    pacer.share(SharedSendSlots(sessions, token, interval, ahead=ahead), ahead=ahead)
    sent: list[float] = []
    end = time.monotonic() + seconds

    async def sender() -> None:
        while time.monotonic() < end:
            async with pacer.slot(None):
                sent.append(time.monotonic())
                await asyncio.sleep(REQUEST_S)

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    rate = (len(sent) - 1) / (sent[-1] - sent[0])
    return (
        f"ahead {ahead_starts} intervals: rate {rate:.2f}/s (ratio {rate / RATE:.3f}), given up "
        f"{pacer.given_up}, late but sent {pacer.stretched}, guard {pacer.guard * 1000:.0f} ms"
    )


async def main(rounds: int, seconds: float) -> None:
    """``rounds`` turns of both sides on a fresh database."""
    if postgres_url() is None:
        print("needs PostgreSQL: ./scripts/with-postgres .venv/bin/python bench/shared_pace.py")
        return
    print(f"machine: {machine()}")
    url = await create_postgres_database()
    engine = create_engine(url)
    try:
        await upgrade_database(engine)
        sessions = create_sessionmaker(engine)
        for turn in range(rounds):
            for ahead_starts in (0, AHEAD_STARTS) if turn % 2 == 0 else (AHEAD_STARTS, 0):
                token = f"1:BENCH-{turn}-{ahead_starts}"  # a schedule of its own each time
                print(await paced(sessions, token, ahead_starts, seconds), flush=True)
    finally:
        await engine.dispose()
        await drop_postgres_database(url)
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.seconds))
