"""The reception desk's two steps at the server, in process: ``CheckinService.lookup`` (the QR
scanned: who is this?) and ``CheckinService.check_in`` (the tap), at 2,000 invitees.

A database is prepared once (not timed): the example plan, ``--invitees`` synthetic delegates
imported, half of them answered "attending", a check-in staff member linked and granted the
role. Then the sides take turns (``bench.common.interleaved``), ``--batch`` operations a round:

* **desk**: for an invitee not yet in (drawn from a seed), ``lookup(token)`` then
  ``check_in(token)``, timed together and apart;
* **bare**: one INSERT and one SELECT of a one-column table in one transaction through the same
  engine (``BEGIN IMMEDIATE``, the same driver) — the least a check-in can cost.

Printed: the median and p95 wall time of each (ms), the CPU time of each (ms, ``process_time``
over the batch), and the ratio desk / bare of the medians. Goal (issue 21): a check-in answers
in under 200 ms at the server with 2,000 invitees. Always exits 0: a measurement, not a test.

Usage (from the repository root)::

    .venv/bin/python bench/checkin.py                       # 2,000 invitees, 3 rounds of 200
    .venv/bin/python bench/checkin.py --invitees 200 --batch 50 --rounds 1   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parents[1]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sqlalchemy import text  # noqa: E402

from bench.common import interleaved, machine, percentile  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.domain.channels import ChatAccount  # noqa: E402
from bot.domain.clock import ManualClock  # noqa: E402
from bot.domain.rsvp import RsvpChoice  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.services.access import Role  # noqa: E402
from storage.engine import create_engine, create_sessionmaker  # noqa: E402
from storage.files import FileStore  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402

GOAL_MS = 200.0
MORNING = datetime(2024, 5, 28, 7, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@dataclass(frozen=True)
class Batch:
    """One round of one side: each operation's wall time (s), and the batch's CPU time (s)."""

    walls: list[float]
    lookups: list[float]
    cpu: float


async def main(invitees: int, batch: int, rounds: int, seed: int) -> None:
    """Prepare the database, run the sides in turns, print the figures."""
    from bench.common import delegate_rows

    print(machine())
    folder = Path(tempfile.mkdtemp(prefix="hoinghi-bench-checkin-"))
    config = load_config(HERE / "config.example.toml").config
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
    await upgrade_database(engine)
    sessions = create_sessionmaker(engine)
    clock = ManualClock(datetime(2024, 5, 18, 9, 0, tzinfo=MORNING.tzinfo))
    services = await build_services(config, sessions, clock, files=FileStore(folder / "drafts"))
    started = time.perf_counter()
    rows = delegate_rows(config, invitees)
    await services.delegates.import_rows(rows, actor="bench")
    tokens = {link.code: link.token for link in await services.invitations.links()}
    staff_code = rows[-1].code
    staff = ChatAccount("telegram", "900000001", "900000001")
    await services.invitations.link_by_token(staff, tokens[staff_code])
    for number, row in enumerate(rows[: invitees // 2]):
        account = ChatAccount("telegram", str(800_000_000 + number), str(800_000_000 + number))
        await services.invitations.link_by_token(account, tokens[row.code])
        await services.rsvp.choose(account, RsvpChoice.ATTEND)
    access = services.access
    await access.grant(access.local_operator(), staff_code, Role.CHECKIN)
    desk = access.desk(await access.caller(staff), "Bàn 1")
    assert desk is not None
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE bench_bare (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        )
    clock.set(MORNING)
    print(f"prepared {invitees} invitees in {time.perf_counter() - started:.1f} s (not timed)")

    queue = [tokens[row.code] for row in rows[:-1]]
    random.Random(seed).shuffle(queue)
    if len(queue) < batch * rounds:
        raise SystemExit(f"--batch × --rounds ({batch * rounds}) exceeds the invitees")

    async def desk_side() -> Batch:
        walls, lookups = [], []
        cpu = time.process_time()
        for _ in range(batch):
            token = queue.pop()
            begin = time.perf_counter()
            arrival = await services.checkin.lookup(desk, token)
            looked = time.perf_counter()
            result = await services.checkin.check_in(desk, token)
            walls.append(time.perf_counter() - begin)
            lookups.append(looked - begin)
            assert arrival.can_check_in and result.step == "checked_in", result.step
        return Batch(walls, lookups, time.process_time() - cpu)

    counter = iter(range(10**9))

    async def bare_side() -> Batch:
        walls = []
        cpu = time.process_time()
        for _ in range(batch):
            begin = time.perf_counter()
            async with engine.begin() as connection:
                new = await connection.execute(
                    text("INSERT INTO bench_bare (v) VALUES (:v) RETURNING id"),
                    {"v": f"x{next(counter)}"},
                )
                row_id = new.scalar_one()
                await connection.execute(
                    text("SELECT v FROM bench_bare WHERE id = :id"), {"id": row_id}
                )
            walls.append(time.perf_counter() - begin)
        return Batch(walls, [], time.process_time() - cpu)

    await desk_side()  # warm-up: caches, the first statements compiled; left out
    await bare_side()
    result = await interleaved({"desk": desk_side, "bare": bare_side}, rounds, seed=seed)

    def walls(side: str) -> list[float]:
        return [w for b in result.results[side] for w in b.walls]

    def cpu_ms(side: str) -> float:
        return statistics.median(b.cpu / batch * 1000 for b in result.results[side])

    desk_walls, bare_walls = walls("desk"), walls("bare")
    lookups = [w for b in result.results["desk"] for w in b.lookups]
    checkins = [
        w - lk for b in result.results["desk"] for w, lk in zip(b.walls, b.lookups, strict=True)
    ]
    print(f"{invitees} invitees, {rounds} rounds of {batch} operations a side (warm-up left out)")
    print("| side | median ms | p95 ms | CPU ms / op |")
    print("|---|---|---|---|")
    for name, values, cpu in (
        ("desk: lookup + check_in", desk_walls, cpu_ms("desk")),
        ("  of which lookup", lookups, None),
        ("  of which check_in", checkins, None),
        ("bare INSERT + SELECT", bare_walls, cpu_ms("bare")),
    ):
        cpu_text = "" if cpu is None else f"{cpu:.2f}"
        print(
            f"| {name} | {statistics.median(values) * 1000:.2f} | "
            f"{percentile(values, 0.95) * 1000:.2f} | {cpu_text} |"
        )
    ratio = statistics.median(desk_walls) / statistics.median(bare_walls)
    print(
        f"ratio desk / bare (medians): {ratio:.1f}; CPU ratio {cpu_ms('desk') / cpu_ms('bare'):.1f}"
    )
    p95 = percentile(desk_walls, 0.95) * 1000
    verdict = "met" if p95 < GOAL_MS else "TARGET MISSED"
    print(
        f"goal: lookup + check_in under {GOAL_MS:.0f} ms at the server: p95 {p95:.1f} ms, {verdict}"
    )
    print(machine())
    await engine.dispose()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invitees", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=21)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    asyncio.run(main(arguments.invitees, arguments.batch, arguments.rounds, arguments.seed))
