"""SIGTERM with a backlog: the bot stops in seconds and leaves what it did not handle to Telegram.

A real ``hoinghi run`` polls the loopback fake Bot API, where hundreds of ``/start`` wait. Its
replies go at Telegram's 30 a second, so the backlog takes many seconds to answer. SIGTERM
comes once answering has begun: the bot must stop fetching, finish the updates it is handling,
confirm none it has not handled, and exit within seconds, saying how many it left. A restarted
bot then handles exactly the rest: every ``/start`` is answered once, none twice, none never.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import load_config
from storage.engine import create_engine
from storage.migrate import upgrade_database
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi, FakeUser
from tests.harness import OFFICE_CHAT
from tests.test_crash import running_bot, write_config

BACKLOG = 600  # /start waiting at Telegram: 20 s of replies at 30 a second
PLACES = 32  # [telegram] concurrent_updates of the example plan: updates handled at once
FIRST_UID = 700_000_000
STOP_LIMIT_S = 10.0  # a deadline on the exit, not a wait: "within seconds"
POLL_LIMIT = 100  # updates one getUpdates returns at most
LEFT_LINE = re.compile(r"stopped: (\d+) updates received were not handled")


def answered(fake: FakeBotApi, users: list[FakeUser]) -> int:
    """How many of ``users`` got an answer."""
    counts = fake.sent_counts()
    return sum(1 for user in users if counts[user.id])


def at_least(fake: FakeBotApi, users: list[FakeUser], target: int) -> Callable[[], bool]:
    """A condition: at least ``target`` of ``users`` were answered."""
    return lambda: answered(fake, users) >= target


async def migrated(config_path: Path) -> None:
    """The database of ``config_path``, created at the newest schema."""
    engine = create_engine(load_config(config_path).database_url)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_sigterm_with_a_backlog_stops_in_seconds_and_a_restart_handles_exactly_the_rest(
    tmp_path: Path,
) -> None:
    fake = FakeBotApi()
    fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    users = [fake.user(FIRST_UID + n, f"Khách {n}") for n in range(BACKLOG)]
    for user in users:
        fake.enqueue(user.command("/start"))

    async with FakeBotApiServer(fake) as server:
        config_path = write_config(tmp_path, server)
        await migrated(config_path)
        assert load_config(config_path).config.telegram.concurrent_updates == PLACES

        async with running_bot(config_path, fake) as bot:
            await bot.until(fake, at_least(fake, users, 20), "the first answers")
            before = answered(fake, users)
            signalled = time.monotonic()  # for the figure printed below, not asserted on
            bot.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_LIMIT_S):
                    code = await bot.wait()
            except TimeoutError:
                raise AssertionError(
                    f"still running {STOP_LIMIT_S} s after SIGTERM; bot log:\n{bot.log()}"
                ) from None
            assert code == 0, f"SIGTERM must stop the bot cleanly; bot log:\n{bot.log()}"
            exited = time.monotonic() - signalled
            first_log = list(bot.logged)
        first = answered(fake, users)

        # Only the updates being handled when the signal reached the bot were finished (up to
        # PLACES at once, at 30 answers a second), not the backlog; how many that is depends
        # on how soon a busy machine delivers the signal, so the bound is loose.
        assert first < BACKLOG // 2, f"{first - before} answered after SIGTERM"
        # Every update not handled is still waiting at Telegram: none was confirmed.
        unanswered = {user.id for user in users if not fake.sent_counts()[user.id]}
        waiting = set(fake.unconfirmed())
        ids = {FIRST_UID + n: n + 1 for n in range(BACKLOG)}  # user → their /start's update_id
        assert {ids[uid] for uid in unanswered} <= waiting
        # The log says how many updates the bot had fetched and not handled: those Telegram
        # handed out and nobody answered — unless the stop cut a long poll (the bot held no
        # update then) whose answer Telegram had sent: those never reached the bot.
        said = [line for line in first_log if "stopped: " in line]
        assert len(said) == 1, "one line on stopping; bot log:\n" + "\n".join(first_log)
        counted = LEFT_LINE.search(said[0])
        left = int(counted.group(1)) if counted else 0
        assert counted or said[0].endswith("stopped: every update received was handled")
        unhandled = fake.highest_update_returned - first
        assert left == unhandled or (left == 0 and 0 < unhandled <= POLL_LIMIT), (left, unhandled)
        print(
            f"SIGTERM with {BACKLOG} /start queued: exit {exited:.2f} s later; answered "
            f"{before} before it, {first - before} after it; {left} fetched and left"
        )

        async with running_bot(config_path, fake) as bot:
            await bot.until(fake, at_least(fake, users, BACKLOG), "every /start answered")
            assert await bot.stop() == 0, f"bot log:\n{bot.log()}"
            second_log = list(bot.logged)

    counts = fake.sent_counts()
    assert sorted({counts[user.id] for user in users}) == [1], "each /start answered exactly once"
    assert all(
        user.last_text().startswith("Kính chào đồng chí! Đây là trợ lý của") for user in users
    )
    assert fake.unconfirmed() == []
    assert any("stopped: every update received was handled" in line for line in second_log)
    # The second run was given the updates the first one had handled after the oldest one it
    # left: it knew them, skipped them, and answered nobody twice.
    skipped = sum("was handled already" in line for line in second_log)
    assert skipped == waiting_handled(waiting, ids, unanswered)
    fake.assert_no_violations()


def waiting_handled(waiting: set[int], ids: dict[int, int], unanswered: set[int]) -> int:
    """Updates still unconfirmed after the first run although they had been handled."""
    return len(waiting - {ids[uid] for uid in unanswered})
