"""Proof by killing (issue 22): three ``hoinghi run`` on one PostgreSQL database send a notice to
5,000 people through the fake Bot API with Telegram's limits enforced, and one process picked at
random is SIGKILLed twice on the way (and restarted, as a service manager does). Nobody is
missed, each kill repeats at most one batch, the platform never answers 429 (the bot's rate is
one for all processes, and no second holds more than 30 however late a process runs), and each
killed batch is taken back and delivered by another process.

The rate and its ratio to 30/s are printed, not asserted (tests assert no wall-clock speed, nor
how soon the lease let a batch go): ``bench/broadcast.py --processes 3`` measures the rate against
the 0.95 × 30/s target. ``make test-multiprocess`` runs
this on a throwaway PostgreSQL cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.processes import BATCH_SIZE, run
from tests.conftest import (
    TEST_DATABASE_ENV,
    create_postgres_database,
    drop_postgres_database,
    postgres_url,
)

RECIPIENTS = 5_000
PROCESSES = 3
KILLS = 2
SEED = 22


@pytest.mark.slow
async def test_three_processes_killed_twice_lose_nobody_repeat_one_batch_per_kill_and_draw_no_429(
    tmp_path: Path,
) -> None:
    if postgres_url() is None:
        pytest.skip(
            f"several processes share an outbox on PostgreSQL only: set {TEST_DATABASE_ENV}"
        )
    url = await create_postgres_database()
    try:
        outcome = await run(
            url, tmp_path, count=RECIPIENTS, processes=PROCESSES, kills=KILLS, seed=SEED
        )
    finally:
        await drop_postgres_database(url)
    print(outcome.summary())
    assert outcome.lost == 0
    assert len(outcome.kills) == KILLS
    assert outcome.duplicates <= KILLS * BATCH_SIZE, outcome.summary()
    assert outcome.seen.rate_limited == 0, outcome.summary()
    assert outcome.seen.overfull_windows() == 0
    assert outcome.seen.violations == 0
    for kill in outcome.kills:
        # The killed process's claimed batch was taken back by a live one (and, nobody being
        # lost, delivered): never more than the one batch it held.
        assert kill.recovered_after is not None, outcome.summary()
        assert kill.recovered <= BATCH_SIZE, outcome.summary()
