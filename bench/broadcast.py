"""Broadcast throughput under Telegram's flood limits: the hoinghi outbox vs. a plain PTB loop.

Both sides send one message to each of N private chats through the fake Bot API with the limits
enforced (``FakeBotApi(enforce_limits=True)``: 30 messages per sliding second overall, a 429 with
``retry_after`` and a penalty window when exceeded). Pacing is real: the fake times requests with
``time.monotonic`` and both senders really sleep, so a side takes about N/30 seconds.

* **hoinghi outbox**: the production wiring (``build_services``, ``build_outbox`` with its default
  ``Pacer``, ``TelegramSender``) on a fresh SQLite file; N delegates imported and linked, one
  ``broadcast`` row due now (audience ``linked``, no office report), then outbox ticks every
  ``[outbox] tick_seconds`` (as the scheduler's interval job does) until the message is done.
* **PTB AIORateLimiter** (baseline): an ``Application`` built with ``AIORateLimiter()`` at its
  defaults (``max_retries=0``) and a sequential loop ``await bot.send_message(chat, text)``; a
  ``RetryAfter`` that reaches the loop is caught, slept for ``retry_after`` and the message sent
  once more; if that retry is refused too, the message is given up (counted as lost).

``seconds`` runs from the first sendMessage request to the last delivered one, ``msg/s`` is the
recipients reached divided by that, ``ratio`` is msg/s over 30. ``429s``, ``duplicates`` and
``lost`` come from the fake: its 429 count, and per-chat delivered messages (``sent_counts``).

Usage (from the repository root)::

    .venv/bin/python bench/broadcast.py                    # 5,000 recipients, ~3 min per side
    .venv/bin/python bench/broadcast.py --recipients 300   # smoke check, ~10 s per side
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import inspect
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# As `hoinghi` does (bot/cli.py): PTB's retry_after becomes a timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")

import httpx  # noqa: E402
import telegram  # noqa: E402
from sqlalchemy import select  # noqa: E402
from telegram.error import RetryAfter  # noqa: E402
from telegram.ext import AIORateLimiter, ApplicationBuilder  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.app import build_outbox  # noqa: E402
from bot.config import Config, load_config  # noqa: E402
from bot.delegate_file import DelegateRow  # noqa: E402
from bot.domain.channels import ChatAccount  # noqa: E402
from bot.domain.clock import SystemClock  # noqa: E402
from bot.domain.outbound import Audience, MessageKind, MessageStatus  # noqa: E402
from bot.services import build_services  # noqa: E402
from bot.services.invitations import LinkOutcome  # noqa: E402
from bot.texts import load_catalog  # noqa: E402
from handlers.telegram.channel import TelegramSender  # noqa: E402
from schedules.ratelimit import Limits  # noqa: E402
from storage.engine import create_engine, create_sessionmaker  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from storage.models import OutboundMessage  # noqa: E402
from storage.uow import unit_of_work  # noqa: E402
from tests.fakes.telegram_api import OVERALL_LIMIT, OVERALL_WINDOW, FakeBotApi  # noqa: E402
from tests.harness import wired_config  # noqa: E402

EXAMPLE_CONFIG = ROOT / "config.example.toml"
LIMIT = OVERALL_LIMIT / OVERALL_WINDOW  # Telegram's 30 messages per second, all chats
FIRST_USER_ID = 700_000_001
BODY = (
    "Kính gửi các đồng chí đại biểu: hội nghị bắt đầu lúc 08:00, "
    "đề nghị có mặt trước 07:45 để làm thủ tục. Trân trọng."
)
TARGET_RATIO = 0.95
DEFAULT_MAX_RETRIES = inspect.signature(AIORateLimiter).parameters["max_retries"].default


@dataclass
class Result:
    """One side's figures."""

    name: str
    recipients: int
    seconds: float
    reached: int
    rate_limited: int
    duplicates: int
    lost: int
    notes: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        """Recipients reached per second of sending."""
        return self.reached / self.seconds if self.seconds > 0 else 0.0

    @property
    def ratio(self) -> float:
        """Throughput as a fraction of Telegram's overall limit."""
        return self.per_second / LIMIT


class TimedTransport(httpx.AsyncBaseTransport):
    """The fake's transport, noting when the first sendMessage went out and each was delivered."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.first_request: float | None = None
        self.last_delivered: float | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward to the fake, timing sendMessage calls."""
        sending = request.url.path.endswith("/sendMessage")
        if sending and self.first_request is None:
            self.first_request = time.monotonic()
        response = await self._inner.handle_async_request(request)
        if sending and response.status_code == 200:
            self.last_delivered = time.monotonic()
        return response

    @property
    def seconds(self) -> float:
        """From the first sendMessage request to the last delivered one."""
        if self.first_request is None or self.last_delivered is None:
            return 0.0
        return self.last_delivered - self.first_request


def user_ids(count: int) -> list[int]:
    """The private chat ids of ``count`` recipients."""
    return list(range(FIRST_USER_ID, FIRST_USER_ID + count))


def tally(name: str, fake: FakeBotApi, chats: Sequence[int], timed: TimedTransport) -> Result:
    """Count what reached whom, from the fake's own records."""
    counts = fake.sent_counts()
    per_chat = [counts.get(chat, 0) for chat in chats]
    result = Result(
        name=name,
        recipients=len(chats),
        seconds=timed.seconds,
        reached=sum(1 for c in per_chat if c > 0),
        rate_limited=fake.rate_limited,
        duplicates=sum(max(0, c - 1) for c in per_chat),
        lost=sum(1 for c in per_chat if c == 0),
    )
    if fake.violations:
        result.notes.append(f"{len(fake.violations)} Bot API violation(s): {fake.violations[0]}")
    return result


def delegate_rows(config: Config, count: int) -> list[DelegateRow]:
    """``count`` synthetic delegates spread over the plan's groups, with unique codes."""
    groups = [group.key for group in config.groups]
    return [
        DelegateRow(
            row=index + 2,
            code=f"BD{index + 1:05d}",
            full_name=f"Nguyễn Thị Đại Biểu {index + 1}",
            position="Chủ tịch Hội LHPN",
            organization=f"Cơ sở số {index + 1}",
            group_key=groups[index % len(groups)],
            phone=None,
            rank=index + 1,
        )
        for index in range(count)
    ]


async def run_hoinghi(count: int, db_path: Path) -> Result:
    """Broadcast to ``count`` linked delegates through the real outbox; returns its figures."""
    fake = FakeBotApi(enforce_limits=True)
    config = wired_config(load_config(EXAMPLE_CONFIG).config, fake)
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    try:
        await upgrade_database(engine)
        sessions = create_sessionmaker(engine)
        clock = SystemClock()
        services = await build_services(config, sessions, clock)

        setup_started = time.monotonic()
        await services.delegates.import_rows(delegate_rows(config, count), actor="bench")
        links = await services.invitations.links()
        chats = user_ids(len(links))
        for chat, link in zip(chats, links, strict=True):
            fake.user(chat, link.full_name)
            account = ChatAccount("telegram", str(chat), str(chat))
            linked = await services.invitations.link_by_token(account, link.token)
            assert linked.outcome is LinkOutcome.LINKED, linked
        now = clock.now()
        async with unit_of_work(sessions) as session:
            message = OutboundMessage(
                meeting_id=services.ctx.meeting_id,
                kind=MessageKind.BROADCAST,
                status=MessageStatus.SCHEDULED,
                audience=Audience.LINKED,
                body=BODY,
                params={},
                due_at=now,
                expires_at=now + timedelta(hours=12),
                created_by="bench",
                report_to=None,
                created_at=now,
            )
            session.add(message)
            await session.flush()
            message_id = message.id
        setup_seconds = time.monotonic() - setup_started

        timed = TimedTransport(fake.transport)
        request = HTTPXRequest(httpx_kwargs={"transport": timed})
        catalog = load_catalog(config.meeting.locale)
        sender = TelegramSender.build(fake.token, config.telegram, catalog, request=request)
        outbox = build_outbox(services, catalog, {sender.channel: sender})  # default Pacer
        tick_seconds = config.outbox.tick_seconds
        ticks = 0
        async with sender.bot:
            while True:
                # Like the scheduler's interval job (coalesced, one at a time).
                started = time.monotonic()
                await outbox.tick()
                ticks += 1
                async with unit_of_work(sessions) as session:
                    status = await session.scalar(
                        select(OutboundMessage.status).where(OutboundMessage.id == message_id)
                    )
                if status == MessageStatus.DONE:
                    break
                await asyncio.sleep(max(0.0, started + tick_seconds - time.monotonic()))
    finally:
        await engine.dispose()

    result = tally("hoinghi outbox", fake, chats, timed)
    stats = outbox.stats
    pacer = Limits(overall_per_second=config.outbox.rate_per_second)  # as build_outbox does
    result.notes.append(
        f"set-up {setup_seconds:.1f} s (not timed); {ticks} tick(s) of {tick_seconds:g} s; "
        f"Pacer {pacer.overall_per_second:g}/s margin {pacer.margin:g} "
        f"(expected ratio ~{1 / (1 + pacer.margin):.3f}); batch_size {outbox.batch_size}"
    )
    result.notes.append(
        f"outbox stats: delivered {stats.delivered}, rate_limited {stats.rate_limited}, "
        f"retried {stats.retried}, failed {stats.failed}, blocked {stats.blocked}"
    )
    return result


def retry_seconds(exc: RetryAfter) -> float:
    """``retry_after`` in seconds, whether PTB gives a timedelta or a number."""
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


async def run_baseline(count: int) -> Result:
    """A plain sequential send loop through PTB's AIORateLimiter; returns its figures."""
    fake = FakeBotApi(enforce_limits=True)
    chats = user_ids(count)
    for chat in chats:
        fake.user(chat, f"Đại biểu {chat}")
    timed = TimedTransport(fake.transport)
    limiter = AIORateLimiter()
    builder = fake.wire(ApplicationBuilder())
    builder.request(HTTPXRequest(httpx_kwargs={"transport": timed}))
    app = builder.rate_limiter(limiter).build()
    caught = retried_ok = given_up = 0
    async with app:
        for chat in chats:
            try:
                await app.bot.send_message(chat, BODY)
            except RetryAfter as exc:
                caught += 1
                await asyncio.sleep(retry_seconds(exc))
                try:
                    await app.bot.send_message(chat, BODY)
                    retried_ok += 1
                except RetryAfter:
                    given_up += 1
    result = tally("PTB AIORateLimiter", fake, chats, timed)
    result.notes.append(
        f"AIORateLimiter() defaults: max_retries={DEFAULT_MAX_RETRIES}, "
        f"overall 30/1 s, group 20/60 s; loop caught RetryAfter {caught}x, slept retry_after, "
        f"retried once: {retried_ok} ok, {given_up} given up"
    )
    return result


def table(results: Sequence[Result]) -> str:
    """The figures as a small fixed-width table."""
    lines = [
        f"{'':20} {'seconds':>8} {'msg/s':>6} {'ratio':>6} {'429s':>5} {'duplicates':>10} "
        f"{'lost':>5}"
    ]
    for r in results:
        lines.append(
            f"{r.name:20} {r.seconds:8.1f} {r.per_second:6.2f} {r.ratio:6.3f} "
            f"{r.rate_limited:5d} {r.duplicates:10d} {r.lost:5d}"
        )
    return "\n".join(lines)


def misses(result: Result) -> list[str]:
    """Where the hoinghi side falls short of the target, if anywhere."""
    missed = []
    if result.ratio < TARGET_RATIO:
        missed.append(f"ratio {result.ratio:.3f} < {TARGET_RATIO}")
    if result.rate_limited:
        missed.append(f"{result.rate_limited} 429(s)")
    if result.duplicates:
        missed.append(f"{result.duplicates} duplicate(s)")
    if result.lost:
        missed.append(f"{result.lost} lost")
    return missed


async def run(args: argparse.Namespace) -> None:
    """Run both sides, one after the other, and print the table."""
    results: list[Result] = []
    if args.db:
        results.append(await run_hoinghi(args.recipients, Path(args.db)))
    else:
        with tempfile.TemporaryDirectory(prefix="hoinghi-bench-") as folder:
            results.append(await run_hoinghi(args.recipients, Path(folder) / "bench.db"))
    if args.baseline:
        results.append(await run_baseline(args.recipients))

    print(f"recipients: {args.recipients}")
    print(table(results))
    for r in results:
        for note in r.notes:
            print(f"  {r.name}: {note}")
    print(
        f"Python {platform.python_version()}, python-telegram-bot {telegram.__version__}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; limit {LIMIT:g} msg/s "
        f"(default Limits margin {Limits().margin:g})"
    )
    missed = misses(results[0])
    if missed:
        print(f"TARGET MISSED: {'; '.join(missed)}")
    else:
        print(f"target met: ratio >= {TARGET_RATIO}, no 429, nothing lost, nothing duplicated")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=5000, help="how many (default 5000)")
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the plain PTB loop with AIORateLimiter (default: yes)",
    )
    parser.add_argument("--db", help="SQLite file for the hoinghi side (must not exist)")
    args = parser.parse_args(argv)
    if args.recipients < 1:
        parser.error("--recipients must be at least 1")
    if args.db and Path(args.db).exists():
        parser.error(f"--db {args.db} exists; give a new file")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; always 0 (a measurement, not a test)."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    # With max_retries=0 the limiter logs every 429 with a traceback; the loop counts them.
    logging.getLogger("telegram.ext.AIORateLimiter").setLevel(logging.CRITICAL)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
