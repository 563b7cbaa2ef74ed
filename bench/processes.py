"""Several ``hoinghi run`` processes on one PostgreSQL database send one notice, and some are
killed with SIGKILL on the way (issue 22): the driver of ``bench/broadcast.py --processes`` and
of ``tests/test_processes.py``.

The world: a fake Bot API with Telegram's limits enforced (30 messages in any sliding second,
429 beyond; ``bench.fake_server.limited_fake``) served over loopback HTTP from this process;
``count`` delegates imported and linked (not timed) and one notice to all of them due now; then
``processes`` real ``hoinghi run`` started on the database. Each kill picks a process at random
(seeded), SIGKILLs it once the broadcast has reached the next share of its recipients, and
starts a new one in its place, as a service manager would. The run ends when the office has
the notice's report (every copy recorded), and every process is stopped with SIGTERM.

Figures, from the fake's own records: ``rate`` = (reached − 1) / (last acceptance − first):
the overall pace once sending started; 429s; ``over`` (31 accepted within a second: a check of
the fake); ``dup`` (extra copies) and each kill's share of them; ``lost``; and per kill how long
until another process took its batch back (the ``recovered`` line in a log after the kill).
Where a 429 came from (:meth:`Outcome.crowding`): for the first 429 of each penalty, the 31
requests of its second as the fake's server read them off the socket and as the fake counted
them, and how long the fake's own event loop (this process's) stalled in that second.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import random
import signal
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from bench.common import add_notice, delegate_rows
from bench.fake_server import Seen, limited_fake, seen
from bot.config import TOKEN_ENV, load_config
from bot.domain.clock import SystemClock
from bot.services import build_services
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_database
from storage.models import ChannelIdentity, Delegate
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi
from tests.test_crash import toml_document

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = ROOT / "config.example.toml"
FIRST_USER_ID = 800_000_001
BODY = "Kính gửi các đồng chí đại biểu: đề nghị có mặt tại hội trường trước 07:45. Trân trọng."
BATCH_SIZE = 30
LEASE_SECONDS = 5.0
TICK_SECONDS = 0.5
RECOVERED = "deliveries that were in flight"
PHASE_LIMIT_S = 600.0  # a broken build fails instead of hanging
LAG_TICK_S = 0.005  # the fake's loop is looked at this often for stalls


@dataclass
class Kill:
    """One SIGKILL: when (monotonic), whom, and how long until its batch was taken back."""

    at: float
    pid: int
    reached: int
    recovered_after: float | None = None
    recovered: int = 0


@dataclass
class Outcome:
    """What one run of several processes did."""

    recipients: int
    processes: int
    seen: Seen
    kills: list[Kill]
    logs: list[str] = field(default_factory=list)
    # Stalls of the fake's event loop over 10 ms: (when it was due to wake, how late it woke).
    stalls: list[tuple[float, float]] = field(default_factory=list)
    # The driver's (the fake's) full garbage collections: when (monotonic) and how long.
    collections: list[tuple[float, float]] = field(default_factory=list)

    def counts(self) -> list[int]:
        """Copies each recipient got."""
        return [self.seen.sent_counts.get(chat, 0) for chat in chats(self.recipients)]

    @property
    def lost(self) -> int:
        """Recipients who got nothing."""
        return sum(1 for n in self.counts() if n == 0)

    @property
    def duplicates(self) -> int:
        """Extra copies."""
        return sum(max(0, n - 1) for n in self.counts())

    @property
    def rate(self) -> float:
        """Messages a second once sending started: (reached − 1) / (last − first)."""
        times = sorted(self.seen.accepted)
        reached = self.recipients - self.lost
        return (reached - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0

    def summary(self) -> str:
        """The figures in a few lines."""
        kills = "; ".join(
            f"kill {n} at {k.reached} reached: {k.recovered} taken back after "
            + (f"{k.recovered_after:.1f} s" if k.recovered_after is not None else "—")
            for n, k in enumerate(self.kills, 1)
        )
        return (
            f"{self.processes} processes, {self.recipients} recipients, {len(self.kills)} kills: "
            f"rate {self.rate:.2f}/s (ratio {self.rate / 30:.3f}), 429s "
            f"{self.seen.rate_limited}, over {self.seen.overfull_windows()}, dup "
            f"{self.duplicates}, lost {self.lost}\n{kills}"
        )

    def crowding(self) -> str:
        """Where each penalty's first 429 came from: its second's 31 requests (30 counted and
        the refused one) read off the socket within ``read span`` and counted within ``count
        span``; ``read→count`` the longest wait between the two; the fake's loop's longest stall
        in that second. A read span under 1 s: they reached the fake's loop already that close
        (the processes, PTB, httpx, loopback, or the loop reading late: see the stall)."""
        lines = []
        calls = sorted(self.seen.calls, key=lambda call: call.counted_at)
        start = calls[0].counted_at if calls else 0.0
        last_refused = -math.inf
        for index, call in enumerate(calls):
            if call.status != 429:
                continue
            first_of_penalty = call.counted_at - last_refused > 1.5
            last_refused = call.counted_at
            if not first_of_penalty:
                continue
            counted = [c for c in calls[:index] if c.status == 200]
            second = [*counted[-30:], call]
            read_span = max(c.read_at for c in second) - min(c.read_at for c in second)
            count_span = second[-1].counted_at - second[0].counted_at
            waits = max(c.counted_at - c.read_at for c in second)
            lo = call.counted_at - 1.0
            stall = max(  # a stall that ended in that second counts: it bunched its reads
                (lag for at, lag in self.stalls if lo <= at + lag and at <= call.counted_at),
                default=0,
            )
            lines.append(
                f"429 at +{call.counted_at - start:.1f} s: read span {read_span:.3f} s, count "
                f"span {count_span:.3f} s, read→count ≤ {waits * 1000:.0f} ms, the fake's loop "
                f"stalled ≤ {stall * 1000:.0f} ms"
            )
        return "\n".join(lines) if lines else "no 429"

    def collector(self) -> str:
        """The fake's process's full garbage collections during the run: how many, the longest,
        and how many of the loop's stalls over 50 ms overlapped one."""
        longest = max((seconds for _, seconds in self.collections), default=0.0)
        overlapped = sum(
            1
            for at, lag in self.stalls
            if lag > 0.05
            and any(start < at + lag and at < start + took for start, took in self.collections)
        )
        long_stalls = sum(1 for _, lag in self.stalls if lag > 0.05)
        return (
            f"the fake's process: {len(self.collections)} full collections, the longest "
            f"{longest * 1000:.0f} ms; {overlapped} of its {long_stalls} stalls over 50 ms "
            "overlapped one"
        )


def chats(count: int) -> range:
    """The private chat ids of ``count`` recipients."""
    return range(FIRST_USER_ID, FIRST_USER_ID + count)


def write_config(folder: Path, url: str, server: FakeBotApiServer, office: int) -> Path:
    """The example plan on ``url``, talking to the fake: the notice only, no web server."""
    plan = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    plan["office"]["chat_id"] = office
    plan["database"] = {"url": url}
    plan.pop("web", None)
    plan["telegram"] = {"api_base_url": server.base_url, "file_base_url": server.base_file_url}
    plan["outbox"] = plan.get("outbox", {}) | {
        "rate_per_second": 30,
        "batch_size": BATCH_SIZE,
        "tick_seconds": TICK_SECONDS,
        "lease_seconds": LEASE_SECONDS,
    }
    plan["reminders"] = {"rsvp_chase": [], "day_before": "", "meeting_morning": ""}
    plan["themes"] = [{"key": t["key"], "title": t["title"]} for t in plan["themes"]]
    plan["drafts"] = plan["drafts"] | {"reminders": []}
    path = folder / "config.toml"
    path.write_text(toml_document(plan), encoding="utf-8")
    return path


async def prepare(config_path: Path, count: int) -> None:
    """Migrate, import ``count`` delegates, link each to a private chat, queue the notice.

    The links are written as rows (the linking itself is tested elsewhere): 5,000 one by one
    through the service would take minutes on a loaded machine.
    """
    loaded = load_config(config_path)
    engine = create_engine(loaded.database_url)
    try:
        await upgrade_database(engine)
        sessions = create_sessionmaker(engine)
        services = await build_services(loaded.config, sessions, SystemClock())
        rows = delegate_rows(loaded.config, count, prefix="MP")
        await services.delegates.import_rows(rows, actor="bench")
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            ids = list(
                await session.scalars(
                    select(Delegate.id).where(Delegate.code.startswith("MP")).order_by(Delegate.id)
                )
            )
            assert len(ids) == count
            await session.execute(
                insert(ChannelIdentity),
                [
                    {
                        "meeting_id": services.ctx.meeting_id,
                        "delegate_id": delegate,
                        "channel": "telegram",
                        "external_id": str(chat),
                        "chat_address": str(chat),
                        "linked_at": now,
                        "linked_via": "bench",
                    }
                    for delegate, chat in zip(ids, chats(count), strict=True)
                ],
            )
            await add_notice(
                session,
                services.ctx.meeting_id,
                BODY,
                now,
                f"telegram:{loaded.config.office.chat_id}",
            )
    finally:
        await engine.dispose()


class Process:
    """One ``hoinghi run``, its log read as it comes."""

    def __init__(self, process: asyncio.subprocess.Process, logs: list[tuple[float, str]]):
        self.process = process
        self._logs = logs
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, config_path: Path, token: str, logs: list[tuple[float, str]]) -> Process:
        """Start ``hoinghi run`` as an office would."""
        env = os.environ | {TOKEN_ENV: token, "PYTHONUNBUFFERED": "1", "PTB_TIMEDELTA": "1"}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(config_path), "run",
            cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process, logs)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self._logs.append((time.monotonic(), line.decode("utf-8", errors="replace").rstrip()))

    async def kill(self) -> None:
        """SIGKILL: nothing in flight is cleaned up."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        await self._reader

    async def stop(self) -> int:
        """SIGTERM; the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await self.process.wait()
            await self._reader
        return code


async def until(fake: FakeBotApi, condition: object, what: str) -> None:
    """Wait until ``condition()`` holds (re-checked on every request the fake gets)."""
    assert callable(condition)
    try:
        await fake.wait_until(condition, limit=PHASE_LIMIT_S)
    except Exception as exc:
        raise AssertionError(f"no {what}") from exc


async def run(
    url: str, folder: Path, *, count: int, processes: int, kills: int, seed: int
) -> Outcome:
    """One broadcast to ``count`` people by ``processes`` runs on ``url``, ``kills`` SIGKILLs."""
    rng = random.Random(seed)
    users = list(chats(count))
    fake, accepting = limited_fake(users)
    office = -1001234567890
    fake.group(office, "Văn phòng")
    logs: list[tuple[float, str]] = []
    done: list[Kill] = []
    stalls: list[tuple[float, float]] = []
    collections: list[tuple[float, float]] = []
    watching = asyncio.create_task(_watch_loop(stalls))
    started: list[float] = []

    def noted(phase: str, info: dict[str, int]) -> None:  # gc.callbacks: the full passes
        if info.get("generation") != 2:
            return
        if phase == "start":
            started.append(time.monotonic())
        elif started:
            begun = started.pop()
            collections.append((begun, time.monotonic() - begun))

    async with FakeBotApiServer(fake) as server:
        config_path = write_config(folder, url, server, office)
        await prepare(config_path, count)
        # The fake stands for Telegram, which does not stop for this process's collector: no
        # full pass while the processes send (each stopped the fake's loop 140-230 ms on an
        # idle machine, bunching the requests that queued meanwhile into one second: a 429 the
        # processes did not cause). What the run makes is freed by reference counts; the cycles
        # wait for the end.
        gc.collect()
        gc.disable()
        gc.callbacks.append(noted)  # from here on: none but a pass a caller forces
        running = [await Process.start(config_path, fake.token, logs) for _ in range(processes)]
        try:
            # Checked on every request the fake answers, on the fake's own event loop: it must
            # stay cheap, or the fake falls behind and then takes the queued requests at once,
            # bunching them in its second (one Counter per recipient put ~0.5 s per check).
            def reached() -> int:
                counts = fake.sent_counts()
                return sum(1 for c in users if counts[c])

            for number in range(1, kills + 1):
                # Kill k of K lands in the k-th of K + 1 equal shares of the broadcast.
                share = count / (kills + 1)
                target = int(share * number + rng.uniform(-share / 4, share / 4))
                await until(fake, lambda t=target: reached() >= t, f"{target} reached")  # type: ignore[misc]
                victim = rng.randrange(len(running))
                kill = Kill(time.monotonic(), running[victim].process.pid or 0, reached())
                await running[victim].kill()
                done.append(kill)
                running[victim] = await Process.start(config_path, fake.token, logs)
            await until(fake, lambda: fake.sent_counts()[office] > 0, "report to the office")
        finally:
            codes = await asyncio.gather(*(p.stop() for p in running), return_exceptions=True)
            gc.callbacks.remove(noted)
            gc.enable()
        figures = seen(fake, accepting)
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    _recoveries(done, logs)
    outcome = Outcome(
        count, processes, figures, done, [line for _, line in logs], stalls, collections
    )
    bad = [code for code in codes if code != 0]
    assert not bad, f"a process did not stop cleanly: {bad}\n" + "\n".join(outcome.logs[-40:])
    return outcome


async def _watch_loop(stalls: list[tuple[float, float]]) -> None:
    """Note every stall of this event loop (the fake's) over 10 ms."""
    while True:
        due = time.monotonic() + LAG_TICK_S
        await asyncio.sleep(LAG_TICK_S)
        lag = time.monotonic() - due
        if lag > 0.01:
            stalls.append((due, lag))


def _recoveries(kills: Sequence[Kill], logs: Sequence[tuple[float, str]]) -> None:
    """Match each kill with the first recovery logged after it."""
    recoveries = [
        (at, int(line.split("recovered ", 1)[1].split()[0]))
        for at, line in logs
        if RECOVERED in line
    ]
    for kill in kills:
        after = [(at, n) for at, n in recoveries if at > kill.at]
        if after:
            kill.recovered_after = after[0][0] - kill.at
            kill.recovered = after[0][1]
