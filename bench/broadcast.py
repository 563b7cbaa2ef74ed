"""Broadcast throughput under Telegram's flood limits: the hoinghi outbox vs. a plain PTB bot,
in process and over loopback HTTP with a round trip injected.

Every side sends one message to each of N private chats through the fake Bot API with
Telegram's limits enforced (``FakeBotApi(enforce_limits=True)``: 30 messages per sliding
second, a 429 with ``retry_after`` and a penalty window when exceeded). Time is real: the fake
times acceptances with ``time.monotonic`` and the senders really wait, so a side takes about
N/30 seconds.

* **in process**: the bot's HTTP layer hands requests straight to the fake (no socket);
* **HTTP, RTT ms**: the fake serves loopback HTTP from a process of its own
  (``bench/fake_server.py``), each request delayed half the round trip on its way in and half
  on its way out (``FakeBotApiServer(rtt=…)``; Telegram counts a message when it arrives).

Systems:

* **hoinghi**: the production wiring on a copy of a prepared SQLite file (N delegates imported
  and linked, not timed): ``build_outbox`` on the channel's budget (``ChannelEntry.budget``, as
  ``hoinghi run`` builds it), ``TelegramSender``, the ``OutboxScheduler`` started with its
  wake-up wired as ``build_scheduler`` does. The office's confirmation is modelled as
  ``BroadcastService.send_now`` ends: the notice row committed, due now, and ``due_now()``
  called. The clock starts there.
* **PTB AIORateLimiter** (baseline): an ``Application`` with ``AIORateLimiter(max_retries=3)``
  (PTB's advice for bulk sending) and every send started at once (``asyncio.gather``), as a
  plain bot sends a notice; the clock starts as it begins.

Figures, from the fake's own records: ``rate`` = (N − 1) / (last delivery − confirmation),
msg/s: N messages need N − 1 intervals after the first, which could go at the confirmation;
``ratio`` = rate / 30 (no fencepost: an ideal even sender scores 1.000). ``win`` measures
against what Telegram's window actually allows, bursts of 30 included: the least possible time
is (ceil(N / 30) − 1) s, so ``win`` = that / (last − confirmation). ``first`` = seconds from the
confirmation to the first delivery. ``429s``, ``dup`` (extra copies), ``lost`` (chats that got
nothing), ``over`` (31 messages accepted within a second: must be 0, a check of the fake).

The sides take turns (``bench/common.py``: A B A B …, shuffled per round) and the medians are
reported. Usage (from the repository root)::

    .venv/bin/python bench/broadcast.py                          # 1,000 recipients, 3 rounds
    .venv/bin/python bench/broadcast.py --recipients 5000 --rounds 1 --rtt 200
    .venv/bin/python bench/broadcast.py --recipients 300 --rounds 1   # smoke run
    .venv/bin/python bench/broadcast.py --zalo 5 --zalo-recipients 200   # the Zalo run only
    .venv/bin/python bench/broadcast.py --zalo 5 --zalo-recipients 200 --mixed 1200  # both at once

**Zalo** (``--zalo RATE``): the same notice through ``ZaloSender`` and the Zalo channel's own
budget (``ZALO.budget``: ``[zalo] messages_per_second`` = RATE) to ``--zalo-recipients``
Zalo users of the simulated Zalo Bot API, which refuses with 429 any message over RATE in a
sliding second (``FakeZaloApi(messages_per_second=…)``). Figures as above against RATE.
``--mixed N`` sends the same notice to N Telegram users at the same time, through one outbox
with each channel on its own budget: both channels at their own limits at once.

**Several processes** (``--processes N``, issue 22; run under ``./scripts/with-postgres``,
which names the PostgreSQL server): the notice to ``--recipients`` people by one real
``hoinghi run``, then by N of them on one database with ``--kills`` SIGKILLs (default 2) at
seeded random points, each victim restarted (``bench/processes.py``). Figures: rate (from the
first acceptance to the last), 429s, duplicates per kill, lost, and how long after each kill
another process took its batch back::

    ./scripts/with-postgres .venv/bin/python bench/broadcast.py --processes 3 --recipients 5000
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# As `hoinghi` does (bot/cli): PTB's retry_after becomes a timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")
for _proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_proxy, None)  # loopback traffic must reach the fake directly

from sqlalchemy import select  # noqa: E402
from telegram.ext import AIORateLimiter, ApplicationBuilder  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bench.common import (  # noqa: E402
    add_notice,
    copy_database,
    delegate_rows,
    interleaved,
    machine,
)
from bench.fake_server import Seen, ServedFake, limited_fake, seen  # noqa: E402
from bot.app import TELEGRAM, ZALO, build_outbox  # noqa: E402
from bot.config import ZaloSettings, load_config  # noqa: E402
from bot.domain.channels import ChatAccount  # noqa: E402
from bot.domain.clock import SystemClock  # noqa: E402
from bot.domain.outbound import MessageKind, MessageStatus  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.texts import load_catalog  # noqa: E402
from handlers.telegram.channel import TelegramSender  # noqa: E402
from handlers.zalo.channel import ZaloSender  # noqa: E402
from handlers.zalo.client import ZaloClient  # noqa: E402
from schedules.scheduler import OutboxScheduler  # noqa: E402
from storage.engine import create_engine, create_sessionmaker  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from storage.models import OutboundMessage  # noqa: E402
from storage.uow import unit_of_work  # noqa: E402
from tests.fakes.telegram_api import OVERALL_LIMIT, OVERALL_WINDOW  # noqa: E402
from tests.fakes.zalo_api import FakeZaloApi  # noqa: E402

EXAMPLE_CONFIG = ROOT / "config.example.toml"
LIMIT = OVERALL_LIMIT / OVERALL_WINDOW  # Telegram's 30 messages per second, all chats
FIRST_USER_ID = 700_000_001
BODY = (
    "Kính gửi các đồng chí đại biểu: hội nghị bắt đầu lúc 08:00, "
    "đề nghị có mặt trước 07:45 để làm thủ tục. Trân trọng."
)
TARGET_RATIO = 0.97  # issue 17, goal 1
TARGET_FIRST = 1.0  # seconds from the confirmation to the first delivery
BASELINE_RETRIES = 3


@dataclass
class Result:
    """One run of one side."""

    name: str
    recipients: int
    confirmed: float
    seen: Seen
    notes: list[str] = field(default_factory=list)

    @property
    def reached(self) -> int:
        """Chats that got the message."""
        return sum(1 for chat in chats(self.recipients) if self.seen.sent_counts.get(chat, 0))

    @property
    def duplicates(self) -> int:
        """Extra copies."""
        return sum(max(0, self.seen.sent_counts.get(c, 0) - 1) for c in chats(self.recipients))

    @property
    def lost(self) -> int:
        """Chats that got nothing."""
        return self.recipients - self.reached

    @property
    def seconds(self) -> float:
        """From the confirmation to the last delivery."""
        return max(self.seen.accepted, default=self.confirmed) - self.confirmed

    @property
    def first(self) -> float:
        """From the confirmation to the first delivery."""
        return min(self.seen.accepted, default=self.confirmed) - self.confirmed

    @property
    def rate(self) -> float:
        """(N − 1) / seconds: the even pace achieved, counted from the confirmation."""
        return (self.reached - 1) / self.seconds if self.seconds > 0 else 0.0

    @property
    def ratio(self) -> float:
        """The rate over Telegram's 30 a second."""
        return self.rate / LIMIT

    @property
    def window_ratio(self) -> float:
        """The least time Telegram's window allows for N (bursts of 30) over the time taken."""
        least = (math.ceil(self.reached / OVERALL_LIMIT) - 1) * OVERALL_WINDOW
        return least / self.seconds if self.seconds > 0 else 0.0


def chats(count: int) -> range:
    """The private chat ids of ``count`` recipients."""
    return range(FIRST_USER_ID, FIRST_USER_ID + count)


async def prepare(count: int, db_path: Path) -> float:
    """A database with ``count`` delegates imported and linked (copied for every run)."""
    started = time.monotonic()
    config = load_config(EXAMPLE_CONFIG).config
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    try:
        await upgrade_database(engine)
        services = await build_services(config, create_sessionmaker(engine), SystemClock())
        await services.delegates.import_rows(delegate_rows(config, count), actor="bench")
        links = await services.invitations.links()
        for chat, link in zip(chats(count), links, strict=True):
            account = ChatAccount("telegram", str(chat), str(chat))
            await services.invitations.link_by_token(account, link.token)
    finally:
        await engine.dispose()
    return time.monotonic() - started


async def run_hoinghi(count: int, template: Path, folder: Path, rtt: float | None) -> Result:
    """The outbox as ``hoinghi run`` wires it, from the confirmation to the last delivery."""
    db_path = folder / f"run-{time.monotonic_ns()}.db"
    copy_database(template, db_path)
    served = ServedFake(chats(count), rtt) if rtt is not None else None
    fake, accepting = limited_fake(chats(count)) if served is None else (None, None)
    config = load_config(EXAMPLE_CONFIG).config
    base_url = served.base_url if served else fake.base_url  # type: ignore[union-attr]
    token = served.token if served else fake.token  # type: ignore[union-attr]
    telegram = config.telegram.model_copy(update={"api_base_url": base_url})
    config = config.model_copy(update={"telegram": telegram})
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    try:
        services = await build_services(config, create_sessionmaker(engine), SystemClock())
        catalog = load_catalog(config.meeting.locale)
        request = fake.make_request() if fake is not None else None
        sender = TelegramSender.build(token, config.telegram, catalog, request=request)
        budget = TELEGRAM.budget(services)  # one per bot, as App.run builds it
        senders = {sender.channel: sender}
        outbox = build_outbox(services, catalog, senders, pacer={sender.channel: budget})

        async def plan() -> None:
            return None

        scheduler = OutboxScheduler(outbox, tick_seconds=config.outbox.tick_seconds, plan=plan)
        services.ctx.due_now.listen(scheduler.wake)  # as build_scheduler wires it
        async with sender.bot:
            await scheduler.start()
            await asyncio.sleep(0.5)  # its first tick, with nothing due, is over
            now = services.ctx.clock.now()
            async with unit_of_work(services.ctx.sessions) as session:
                message = await add_notice(session, services.ctx.meeting_id, BODY, now)
                await session.flush()
                message_id = message.id
            confirmed = time.monotonic()  # send_now has committed...
            services.ctx.due_now()  # ...and wakes the outbox
            while True:
                await asyncio.sleep(0.5)
                async with unit_of_work(services.ctx.sessions) as session:
                    status = await session.scalar(
                        select(OutboundMessage.status).where(OutboundMessage.id == message_id)
                    )
                if status == MessageStatus.DONE:
                    break
            await scheduler.stop()
        if served is not None:
            figures = served.seen()
        else:
            assert fake is not None and accepting is not None
            figures = seen(fake, accepting)
    finally:
        await engine.dispose()
        if served is not None:
            served.close()
        db_path.unlink(missing_ok=True)
    where = "in process" if rtt is None else f"HTTP {rtt * 1000:.0f} ms"
    result = Result(f"hoinghi, {where}", count, confirmed, figures)
    stats = outbox.stats
    result.notes.append(
        f"outbox: delivered {stats.delivered}, 429s {stats.rate_limited}, retried "
        f"{stats.retried}, failed {stats.failed}; budget started {budget.started}, spread of "
        f"travel times at the end {budget.spread * 1000:.0f} ms"
    )
    return result


async def run_baseline(count: int, rtt: float | None) -> Result:
    """A plain PTB bot: every send at once through ``AIORateLimiter(max_retries=3)``."""
    served = ServedFake(chats(count), rtt) if rtt is not None else None
    fake, accepting = limited_fake(chats(count)) if served is None else (None, None)
    builder = ApplicationBuilder().rate_limiter(AIORateLimiter(max_retries=BASELINE_RETRIES))
    if served is not None:
        builder = builder.token(served.token).base_url(served.base_url)
        builder = builder.request(HTTPXRequest(connection_pool_size=256))
    else:
        assert fake is not None
        builder = fake.wire(builder)
    app = builder.build()
    failed = 0
    try:
        async with app:
            confirmed = time.monotonic()
            outcomes = await asyncio.gather(
                *(app.bot.send_message(chat, BODY) for chat in chats(count)),
                return_exceptions=True,
            )
            failed = sum(1 for outcome in outcomes if isinstance(outcome, BaseException))
        if served is not None:
            figures = served.seen()
        else:
            assert fake is not None and accepting is not None
            figures = seen(fake, accepting)
    finally:
        if served is not None:
            served.close()
    where = "in process" if rtt is None else f"HTTP {rtt * 1000:.0f} ms"
    result = Result(f"PTB AIORateLimiter, {where}", count, confirmed, figures)
    result.notes.append(f"gather of {count} sends, max_retries={BASELINE_RETRIES}: {failed} raised")
    return result


def zalo_ids(count: int) -> list[str]:
    """The opaque ids of ``count`` Zalo users."""
    return [f"{0x5A10_0000_0000 + n:020x}" for n in range(count)]


async def run_zalo(count: int, rate: float, *, telegram_count: int = 0) -> None:
    """The notice to ``count`` Zalo users through the outbox at ``[zalo] messages_per_second``
    = ``rate``, against a fake that refuses anything faster; with ``telegram_count``, to that
    many Telegram users too at once (the mixed run: each channel at its own limits, the
    Telegram fake enforcing Telegram's). Prints each channel's figures."""
    total = count + telegram_count
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-zalo-") as name:
        config = load_config(EXAMPLE_CONFIG).config
        config = config.model_copy(update={"zalo": ZaloSettings(messages_per_second=rate)})
        engine = create_engine(f"sqlite+aiosqlite:///{Path(name) / 'zalo.db'}")
        fake = FakeZaloApi(messages_per_second=rate)
        tg_fake, accepting = limited_fake(chats(telegram_count))
        try:
            await upgrade_database(engine)
            services = await build_services(config, create_sessionmaker(engine), SystemClock())
            await services.delegates.import_rows(delegate_rows(config, total), actor="bench")
            links = await services.invitations.links()
            for user_id, link in zip(zalo_ids(count), links[:count], strict=True):
                fake.user(user_id, user_id=user_id, wrote=True)
                account = ChatAccount("zalo", user_id, user_id)
                await services.invitations.link_by_token(account, link.token)
            for chat, link in zip(chats(telegram_count), links[count:], strict=True):
                account = ChatAccount("telegram", str(chat), str(chat))
                await services.invitations.link_by_token(account, link.token)
            catalog = load_catalog(config.meeting.locale)
            client = ZaloClient(fake.token, base_url=fake.base_url, transport=fake.transport)
            zalo = ZaloSender(client, catalog)
            telegram = TelegramSender(tg_fake.make_bot(), catalog)
            senders = {zalo.channel: zalo, telegram.channel: telegram}
            # One budget per bot, as App.run builds them: Zalo's from [zalo], Telegram's 30/s.
            budgets = {
                zalo.channel: ZALO.budget(services),
                telegram.channel: TELEGRAM.budget(services),
            }
            outbox = build_outbox(services, catalog, senders, pacer=budgets)
            now = services.ctx.clock.now()
            async with unit_of_work(services.ctx.sessions) as session:
                await add_notice(session, services.ctx.meeting_id, BODY, now)
            async with telegram.bot:
                confirmed = time.monotonic()
                while True:
                    await outbox.tick()
                    async with services.ctx.sessions() as session:
                        left = await session.scalar(
                            select(OutboundMessage.id).where(
                                OutboundMessage.kind == MessageKind.BROADCAST,
                                OutboundMessage.status != MessageStatus.DONE,
                            )
                        )
                    if left is None:
                        break
            await client.close()
        finally:
            await engine.dispose()
    reached = len({call.params["chat_id"] for call in fake.sent()})
    print(
        f"zalo, {count} recipients at [zalo] messages_per_second = {rate:g}: "
        + figures(confirmed, fake.accepted, reached, count, rate, fake.rate_limited)
        + f", dup {len(fake.sent()) - reached}, violations {len(fake.violations)}",
        flush=True,
    )
    if telegram_count:
        tg = seen(tg_fake, accepting)
        tg_reached = sum(1 for chat in chats(telegram_count) if tg.sent_counts.get(chat, 0))
        print(
            f"telegram at the same time, {telegram_count} recipients at {LIMIT:g}/s: "
            + figures(confirmed, tg.accepted, tg_reached, telegram_count, LIMIT, tg.rate_limited)
            + f", over {tg.overfull_windows()}, violations {tg.violations}",
            flush=True,
        )


def figures(
    confirmed: float,
    accepted: Sequence[float],
    reached: int,
    count: int,
    limit: float,
    refused: int,
) -> str:
    """One channel's seconds, rate, ratio to its limit, first delivery, 429s and losses."""
    seconds = max(accepted, default=confirmed) - confirmed
    achieved = (reached - 1) / seconds if seconds > 0 else 0.0
    return (
        f"{seconds:.1f} s, rate {achieved:.2f}/s, ratio {achieved / limit:.3f}, "
        f"first {min(accepted, default=confirmed) - confirmed:.2f} s, {refused} × 429, "
        f"reached {reached}, lost {count - reached}"
    )


def shown(result: Result) -> Result:
    """Print one run's figures as it ends (a long run shows its progress), and return it."""
    print(
        f"  run: {result.name}: ratio {result.ratio:.3f}, win {result.window_ratio:.3f}, first "
        f"{result.first:.2f} s, {result.seen.rate_limited} × 429, {result.lost} lost",
        flush=True,
    )
    return result


def table(rows: Sequence[tuple[str, Sequence[Result]]]) -> str:
    """Each side's medians (and the spread of its ratio) as a fixed-width table."""
    lines = [
        f"{'side':34} {'runs':>4} {'seconds':>8} {'rate':>6} {'ratio':>6} {'(spread)':>13} "
        f"{'win':>6} {'first':>6} {'429s':>5} {'dup':>4} {'lost':>5} {'over':>4}"
    ]
    for name, results in rows:

        def median(figure: Callable[[Result], float], results: Sequence[Result] = results) -> float:
            values = sorted(figure(r) for r in results)
            return (
                values[len(values) // 2]
                if len(values) % 2
                else sum(values[len(values) // 2 - 1 : len(values) // 2 + 1]) / 2
            )

        ratios = [r.ratio for r in results]
        lines.append(
            f"{name:34} {len(results):4d} {median(lambda r: r.seconds):8.1f} "
            f"{median(lambda r: r.rate):6.2f} {median(lambda r: r.ratio):6.3f} "
            f"{f'{min(ratios):.3f}–{max(ratios):.3f}':>13} {median(lambda r: r.window_ratio):6.3f} "
            f"{median(lambda r: r.first):6.2f} {median(lambda r: r.seen.rate_limited):5.0f} "
            f"{median(lambda r: r.duplicates):4.0f} {median(lambda r: r.lost):5.0f} "
            f"{median(lambda r: r.seen.overfull_windows()):4.0f}"
        )
    return "\n".join(lines)


def misses(name: str, results: Sequence[Result]) -> list[str]:
    """Where a hoinghi side falls short of the goals in any run."""
    missed = []
    for r in results:
        if r.ratio < TARGET_RATIO:
            missed.append(f"{name}: ratio {r.ratio:.3f} < {TARGET_RATIO}")
        if r.first > TARGET_FIRST:
            missed.append(f"{name}: first delivery {r.first:.2f} s > {TARGET_FIRST} s")
        if r.seen.rate_limited or r.duplicates or r.lost or r.seen.violations:
            missed.append(
                f"{name}: {r.seen.rate_limited} 429s, {r.duplicates} duplicates, {r.lost} lost, "
                f"{r.seen.violations} violations"
            )
    return missed


async def run(args: argparse.Namespace) -> None:
    """Prepare once, run the sides in turns, print the table."""
    print(f"machine: {machine()}")
    rtts: list[float | None] = [None, *(ms / 1000 for ms in args.rtt)]
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-") as name:
        folder = Path(name)
        template = folder / "template.db"
        setup = await prepare(args.recipients, template)
        print(f"set-up (not timed): {args.recipients} delegates imported and linked, {setup:.1f} s")
        sides: dict[str, Callable[[], Awaitable[Result]]] = {}
        for rtt in rtts:
            where = "in process" if rtt is None else f"HTTP {rtt * 1000:.0f} ms"

            async def hoinghi(rtt: float | None = rtt) -> Result:
                return shown(await run_hoinghi(args.recipients, template, folder, rtt))

            async def baseline(rtt: float | None = rtt) -> Result:
                return shown(await run_baseline(args.recipients, rtt))

            sides[f"hoinghi, {where}"] = hoinghi
            if args.baseline:
                sides[f"PTB AIORateLimiter, {where}"] = baseline
        if args.sides:
            sides = {k: v for k, v in sides.items() if any(s in k for s in args.sides)}
        rounds = await interleaved(sides, args.rounds, seed=args.seed)
    print(f"recipients: {args.recipients}; rounds: {args.rounds}; order: {rounds.order}")
    print(table([(name, rounds.results[name]) for name in sides]))
    for name in sides:
        for note in rounds.results[name][-1].notes:
            print(f"  {name}: {note}")
    print(f"machine after: {machine()}")
    missed = [
        miss
        for name in sides
        if name.startswith("hoinghi")
        for miss in misses(name, rounds.results[name])
    ]
    if missed:
        print("TARGET MISSED: " + "; ".join(missed))
    else:
        print(
            f"target met: every hoinghi run ratio >= {TARGET_RATIO}, first delivery <= "
            f"{TARGET_FIRST:g} s, no 429, nothing lost or duplicated"
        )


async def run_processes(count: int, processes: int, kills: int, seed: int) -> None:
    """One process, then ``processes`` with ``kills`` SIGKILLs, on fresh PostgreSQL databases."""
    from bench.processes import BATCH_SIZE
    from bench.processes import run as run_many
    from tests.conftest import create_postgres_database, drop_postgres_database, postgres_url

    if postgres_url() is None:
        print("--processes needs PostgreSQL: ./scripts/with-postgres .venv/bin/python bench/…")
        return
    print(f"machine: {machine()}")
    missed = []
    for many, killed in ((1, 0), (processes, kills)):
        url = await create_postgres_database()
        try:
            with tempfile.TemporaryDirectory(prefix="hoinghi-bench-") as name:
                outcome = await run_many(
                    url, Path(name), count=count, processes=many, kills=killed, seed=seed
                )
        finally:
            await drop_postgres_database(url)
        print(outcome.summary())
        print(outcome.crowding())
        print(outcome.collector())
        ratio = outcome.rate / LIMIT
        if ratio < 0.95 or outcome.seen.rate_limited or outcome.lost:
            missed.append(f"{many} processes: ratio {ratio:.3f}, 429s {outcome.seen.rate_limited}")
        if outcome.duplicates > killed * BATCH_SIZE:
            missed.append(f"{many} processes: {outcome.duplicates} duplicates, {killed} kills")
    print(f"machine after: {machine()}")
    print("TARGET MISSED: " + "; ".join(missed) if missed else "target met: ratio >= 0.95, "
          "no 429, nothing lost, duplicates <= one batch per kill")  # fmt: skip


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=1000, help="how many (default 1000)")
    parser.add_argument(
        "--rtt", type=float, nargs="*", default=[0.0, 100.0, 200.0],
        help="round trips in ms for the loopback HTTP sides (default: 0 100 200)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="turns of every side (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="the order of the sides each round")
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the plain PTB bot with AIORateLimiter (default: yes)",
    )
    parser.add_argument("--sides", nargs="*", help="only the sides whose name contains one")
    parser.add_argument(
        "--zalo", type=float, metavar="RATE",
        help="run the Zalo side only, at [zalo] messages_per_second = RATE",
    )  # fmt: skip
    parser.add_argument(
        "--zalo-recipients", type=int, default=200, help="Zalo users for --zalo (default 200)"
    )
    parser.add_argument(
        "--mixed", type=int, default=0, metavar="N",
        help="with --zalo: N Telegram users too, at once (the mixed run)",
    )  # fmt: skip
    parser.add_argument(
        "--processes", type=int, metavar="N",
        help="N `hoinghi run` on one PostgreSQL database (HOINGHI_TEST_DATABASE_URL), vs one",
    )  # fmt: skip
    parser.add_argument("--kills", type=int, default=2, help="SIGKILLs with --processes")
    args = parser.parse_args(argv)
    if args.recipients < 2:
        parser.error("--recipients must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; always 0 (a measurement, not a test)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    if args.processes is not None:
        asyncio.run(run_processes(args.recipients, args.processes, args.kills, args.seed))
        return 0
    if args.zalo is not None:
        print(f"machine: {machine()}")
        asyncio.run(run_zalo(args.zalo_recipients, args.zalo, telegram_count=args.mixed))
        return 0
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: a tick is running"
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
