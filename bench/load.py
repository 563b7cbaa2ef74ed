"""Inbound load: RSVP taps per second through the whole bot, against a no-op PTB bot.

Every side runs in this process against the in-process fake Bot API
(``rehearsal.telegram_api.FakeBotApi``, no flood limits, no network): the Bot API requests
are encoded by python-telegram-bot's own HTTP layer and decoded, validated and answered by the
fake through its httpx transport.

* **hoinghi**: the production wiring: ``build_services`` on a fresh SQLite file (WAL, BEGIN
  IMMEDIATE, as ``storage.engine`` sets it up), ``build_application`` exactly as ``hoinghi run``
  builds it (its rate limiter and its ``ChatOrderedUpdateProcessor`` with ``[telegram]
  concurrent_updates`` included), the example plan (``config.example.toml``, capacity raised to
  N, the clock three days before the RSVP deadline). N synthetic delegates (``LD0001``…, spread
  over the plan's groups) are imported with ``services.delegates.import_rows``; then every
  delegate's Telegram user sends ``/start <token>`` (from ``services.invitations.links()``) and
  gets the invitation card. That set-up is not timed and goes through the same handlers
  (``register_handlers``) on an Application without the rate limiter, so linking 5,000 people
  is not paced at 30 msg/s.
* **baseline**: a bare PTB ``Application`` (``fake.wire(ApplicationBuilder())``, no defaults, no
  rate limiter, PTB's own update processor with the same K) with one ``CallbackQueryHandler``
  that does what a minimal bot must do for a tap, making as many Bot API calls as hoinghi
  does: ``await query.answer()`` and one ``send_message`` to the user. Its users first get a
  card with the same RSVP keyboard (sent by a separate plain Bot, not timed).

Timed phase, the same on every side: each of the N users taps "✅ Tham dự" on the card
(``FakeUser.tap``; one ``callback_query`` update per user, built and turned into a
``telegram.Update`` before the clock starts, taps in an order shuffled by ``--seed``). K worker
tasks sharing one queue hand each update to the Application's update processor, as polling
does (``await app.update_processor.process_update(update, app.process_update(update))``; K =
``--concurrency``, by default the processor's ``places`` (PTB's: ``max_concurrent_updates``),
i.e. ``[telegram] concurrent_updates``).

* one **update** = one tap; its **latency** is the time the processor takes for it: handler
  lookup, the handler (for hoinghi the group-committed SQLite transaction that records the
  answer, and the toast), and the Bot API calls made before the update is done;
* ``updates/s`` = N / wall time from the first update handed over to the last one finished;
* ``calls/update`` = Bot API calls the fake recorded until every reply was sent, divided by N;
* ``replies/s`` = N / wall time from the first update to the last confirmation *message* sent.
  hoinghi answers a tap at once (``answerCallbackQuery``, not rate limited) and sends the
  confirmation after the update (``handlers.telegram.updates.reply_later``), paced by the rate
  limiter at Telegram's ~30 messages/s; a bot that sends it inside the handler (the baseline)
  has replies/s = updates/s.

With ``--variants`` (the default) two more rows separate the rate limiter from the rest:
**hoinghi, no limiter** (the same handlers, defaults and update processor, without the rate
limiter; a second fresh database) and **baseline + limiter** (the bare bot with PTB's
``AIORateLimiter(max_retries=3)``, whose pacing hoinghi's ``RetryingRateLimiter`` keeps).
PTB's ``AIORateLimiter`` lets requests that carry a ``chat_id`` through at 30 per second
overall (``answerCallbackQuery`` has none, ``sendMessage`` has one), so a bot that sends its
confirmation inside the handler cannot finish more than ~30 taps/s however fast the rest is.

At the end the database must show all N delegates linked and attending, every tap must have
been answered and replied to, and the fake must have seen no Bot API violation.

Usage (from the repository root)::

    .venv/bin/python bench/load.py                     # 5,000 delegates, ~9 minutes (the
                                                       # replies drain at 30/s: 166 s a side)
    .venv/bin/python bench/load.py --delegates 300     # smoke check, ~30 s
    .venv/bin/python bench/load.py --concurrency 8 --no-variants
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# As `hoinghi` does (bot/cli.py): PTB's retry_after becomes a timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "1")

import sqlalchemy  # noqa: E402
import telegram  # noqa: E402
from telegram import LinkPreviewOptions, Update  # noqa: E402
from telegram.constants import ParseMode  # noqa: E402
from telegram.ext import (  # noqa: E402
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    Defaults,
)

from bot.app import freeze_startup_heap  # noqa: E402
from bot.chat import Inbox  # noqa: E402
from bot.config import Config, load_config  # noqa: E402
from bot.delegate_file import DelegateRow  # noqa: E402
from bot.domain.clock import ManualClock  # noqa: E402
from bot.domain.rsvp import (  # noqa: E402
    RsvpChoice,
    RsvpStatus,
    rsvp_action,
)
from bot.services import Services, build_services  # noqa: E402
from bot.texts import Catalog, load_catalog  # noqa: E402
from bot.texts.presenters import rsvp_buttons  # noqa: E402
from handlers.telegram.app import build_application, register_handlers  # noqa: E402
from handlers.telegram.context import install  # noqa: E402
from handlers.telegram.render import keyboard as inline_keyboard  # noqa: E402
from handlers.telegram.updates import ChatOrderedUpdateProcessor  # noqa: E402
from rehearsal.telegram_api import ApiCall, FakeBotApi, FakeUser  # noqa: E402
from storage.engine import create_engine, create_sessionmaker  # noqa: E402
from storage.migrate import upgrade_database  # noqa: E402
from tests.harness import wired_config  # noqa: E402

AnyApp = Application[Any, Any, Any, Any, Any, Any]

EXAMPLE_CONFIG = ROOT / "config.example.toml"
FIRST_USER_ID = 700_000_001
TARGET_RATIO = 0.7
HOINGHI_MAX_RETRIES = 3  # build_application's RetryingRateLimiter(max_retries=3)
BASELINE_CARD = "Giấy mời dự hội nghị. Đề nghị đồng chí xác nhận tham dự."
BASELINE_REPLY = "ok"


@dataclass
class Result:
    """One side's figures."""

    name: str
    updates: int
    seconds: float
    latencies: list[float]
    calls: Counter[str]
    refused: int
    replied_seconds: float  # from the first tap to the last confirmation message sent
    attending: int | None = None  # hoinghi: delegates recorded as attending afterwards
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        """Updates processed per second of wall time."""
        return self.updates / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, percent: int) -> float:
        """The ``percent``-th percentile of the per-update latency, in milliseconds."""
        if not self.latencies:
            return 0.0
        if len(self.latencies) == 1:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[percent - 1] * 1000

    @property
    def replies_per_second(self) -> float:
        """Confirmation messages sent per second, from the first tap to the last message."""
        return self.updates / self.replied_seconds if self.replied_seconds > 0 else 0.0

    @property
    def calls_per_update(self) -> float:
        """Bot API calls made during the timed phase, per update."""
        return sum(self.calls.values()) / self.updates if self.updates else 0.0


@dataclass
class Prepared:
    """A side ready for the timed phase: its app (initialised), the fake and the taps."""

    app: AnyApp
    fake: FakeBotApi
    taps: list[Update]
    setup_seconds: float


# --- feeding -----------------------------------------------------------------------------------


async def feed(
    app: AnyApp, updates: Sequence[Update], concurrency: int
) -> tuple[float, list[float]]:
    """Hand every update to ``app.process_update`` from ``concurrency`` workers sharing one queue.

    Returns the wall time and each update's latency (seconds, in ``updates`` order). Before the
    clock starts, what the set-up built (the fake's N chats, the N prepared updates, the linked
    accounts) is frozen out of the garbage collector's passes, as ``hoinghi run`` freezes its
    start-up heap (``freeze_startup_heap``): each side then pays the collector for what its
    updates allocate, not for rescanning the harness.
    """
    freeze_startup_heap()
    try:
        return await _feed(app, updates, concurrency)
    finally:
        gc.unfreeze()


async def _feed(
    app: AnyApp, updates: Sequence[Update], concurrency: int
) -> tuple[float, list[float]]:
    latencies = [0.0] * len(updates)
    queue = iter(range(len(updates)))  # next() never yields to the loop: safe to share

    processor = app.update_processor

    async def worker() -> None:
        for index in queue:
            update = updates[index]
            started = time.perf_counter()
            await processor.process_update(update, app.process_update(update))
            latencies[index] = time.perf_counter() - started

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(updates)))))
    return time.perf_counter() - started, latencies


async def drain(app: AnyApp) -> None:
    """Wait for the confirmations hoinghi's handlers left to send after their updates."""
    processor = app.update_processor
    if isinstance(processor, ChatOrderedUpdateProcessor):
        await processor.drain()


def order(count: int, seed: int) -> list[int]:
    """The order in which the ``count`` users tap: a permutation fixed by ``seed``."""
    indexes = list(range(count))
    random.Random(seed).shuffle(indexes)
    return indexes


def attend_label(catalog: Catalog) -> str:
    """The "✅ Tham dự" button's label, as the keyboard shows it."""
    return catalog.plain(f"buttons.{RsvpChoice.ATTEND.value}")


def taps_on_cards(users: Sequence[FakeUser], app: AnyApp, label: str, seed: int) -> list[Update]:
    """One tap on ``label`` per user, on the card the bot sent them, in the seeded order."""
    expected = rsvp_action(RsvpChoice.ATTEND)
    taps = []
    for index in order(len(users), seed):
        raw = users[index].tap(label)
        assert raw["callback_query"]["data"] == expected, raw["callback_query"]["data"]
        taps.append(Update.de_json(raw, app.bot))
    return taps


def timed_calls(fake: FakeBotApi, first: int) -> tuple[Counter[str], int, list[ApiCall]]:
    """Calls the fake recorded from index ``first`` on: by method, how many refused, the list."""
    calls = fake.calls[first:]
    return Counter(c.method for c in calls), sum(1 for c in calls if c.error), calls


def check_replies(result: Result, calls: Sequence[ApiCall], count: int) -> None:
    """Every tap answered once and replied to once, nothing refused."""
    answered = sum(1 for c in calls if c.method == "answerCallbackQuery" and not c.error)
    replied = Counter(int(c.params["chat_id"]) for c in calls if c.method == "sendMessage")
    if answered != count:
        result.problems.append(f"{answered} of {count} taps answered")
    if len(replied) != count or any(n != 1 for n in replied.values()):
        result.problems.append(f"{len(replied)} of {count} users got exactly one reply")
    if result.refused:
        result.problems.append(f"{result.refused} Bot API call(s) refused")


# --- hoinghi -----------------------------------------------------------------------------------


def bench_config(fake: FakeBotApi, count: int) -> Config:
    """The example plan pointed at the fake, with room for ``count`` delegates in the hall."""
    config = wired_config(load_config(EXAMPLE_CONFIG).config, fake)
    meeting = config.meeting.model_copy(update={"capacity": max(config.meeting.capacity, count)})
    return config.model_copy(update={"meeting": meeting})


def delegate_rows(config: Config, count: int) -> list[DelegateRow]:
    """``count`` synthetic delegates spread over the plan's groups, with unique codes."""
    groups = [group.key for group in config.groups]
    width = max(4, len(str(count)))
    return [
        DelegateRow(
            row=index + 2,
            code=f"LD{index + 1:0{width}d}",
            full_name=f"Nguyễn Thị Đại Biểu {index + 1}",
            position="Chủ tịch Hội LHPN",
            organization=f"Cơ sở số {index + 1}",
            group_key=groups[index % len(groups)],
            phone=None,
            rank=index + 1,
        )
        for index in range(count)
    ]


def unlimited_application(services: Services, catalog: Catalog, fake: FakeBotApi) -> AnyApp:
    """hoinghi's handlers and defaults as ``build_application`` wires them, minus the limiter."""
    config = services.config
    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(config.telegram.api_base_url)
        .base_file_url(config.telegram.file_base_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                tzinfo=config.meeting.zone,
            )
        )
        .request(fake.make_request())
        .get_updates_request(fake.make_request())
        .concurrent_updates(ChatOrderedUpdateProcessor(config.telegram.concurrent_updates))
        .build()
    )
    install(app.bot_data, Inbox(services, catalog), services, catalog)
    register_handlers(app)
    return app


def production_application(services: Services, catalog: Catalog, fake: FakeBotApi) -> AnyApp:
    """The Application exactly as ``hoinghi run`` builds it, talking to the fake."""
    return build_application(
        Inbox(services, catalog),
        services,
        catalog,
        fake.token,
        request=fake.make_request(),
        get_updates_request=fake.make_request(),
    )


async def link_everyone(app: AnyApp, services: Services, fake: FakeBotApi) -> list[FakeUser]:
    """Every delegate's user opens their personal link (``/start <token>``); in link order."""
    users = []
    for index, link in enumerate(await services.invitations.links()):
        user = fake.user(FIRST_USER_ID + index, link.full_name)
        await app.process_update(Update.de_json(user.command(f"/start {link.token}"), app.bot))
        users.append(user)
    return users


async def run_hoinghi(
    name: str, count: int, concurrency: int | None, seed: int, db_path: Path, *, limiter: bool
) -> tuple[Result, int]:
    """Import, link, then time the taps; returns the figures and the concurrency used."""
    fake = FakeBotApi()
    config = bench_config(fake, count)
    assert config.office.chat_id is not None
    fake.group(config.office.chat_id, "Văn phòng")
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    try:
        await upgrade_database(engine)
        clock = ManualClock(config.meeting.rsvp_deadline_at - timedelta(days=3))
        services = await build_services(config, create_sessionmaker(engine), clock)
        catalog = load_catalog(config.meeting.locale)

        setup_started = time.perf_counter()
        await services.delegates.import_rows(delegate_rows(config, count), actor="bench")
        linker = unlimited_application(services, catalog, fake)
        await linker.initialize()
        users = await link_everyone(linker, services, fake)
        if limiter:
            await linker.shutdown()
            app = production_application(services, catalog, fake)
            await app.initialize()
        else:
            app = linker
        taps = taps_on_cards(users, app, attend_label(catalog), seed)
        setup_seconds = time.perf_counter() - setup_started
        linked = (await services.reports.counts()).overall.linked

        processor = app.update_processor
        workers = concurrency or (
            processor.places
            if isinstance(processor, ChatOrderedUpdateProcessor)
            else processor.max_concurrent_updates
        )
        first = len(fake.calls)
        started = time.perf_counter()
        seconds, latencies = await feed(app, taps, workers)
        await drain(app)
        replied = time.perf_counter() - started
        calls, refused, timed = timed_calls(fake, first)
        await app.shutdown()

        counts = await services.reports.counts()
    finally:
        await engine.dispose()

    attending = counts.overall.by_status[RsvpStatus.ATTENDING]
    result = Result(name, len(taps), seconds, latencies, calls, refused, replied, attending)
    check_replies(result, timed, count)
    if linked != count:
        result.problems.append(f"{linked} of {count} delegates linked before the taps")
    if attending != count:
        result.problems.append(f"{attending} of {count} delegates attending in the database")
    if fake.violations:
        result.problems.append(f"{len(fake.violations)} violation(s): {fake.violations[0]}")
    wiring = (
        f"build_application (RetryingRateLimiter(max_retries={HOINGHI_MAX_RETRIES}), "
        f"ChatOrderedUpdateProcessor({config.telegram.concurrent_updates}))"
        if limiter
        else "same handlers and defaults, no rate limiter"
    )
    result.notes.append(
        f"{wiring}; set-up {setup_seconds:.1f} s (import + {count} x /start, not timed)"
    )
    return result, workers


# --- baseline ----------------------------------------------------------------------------------


async def on_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What a minimal bot does for a tap: answer it and send one message."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await context.bot.send_message(query.from_user.id, BASELINE_REPLY)


async def run_baseline(
    name: str, count: int, concurrency: int, seed: int, catalog: Catalog, *, limiter: bool
) -> Result:
    """The no-op bot: cards sent (not timed), then the same taps, fed the same way."""
    fake = FakeBotApi()
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = fake.wire(ApplicationBuilder())
    builder = builder.concurrent_updates(concurrency)
    if limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=HOINGHI_MAX_RETRIES))
    app = builder.build()
    app.add_handler(CallbackQueryHandler(on_tap))

    setup_started = time.perf_counter()
    users = [fake.user(FIRST_USER_ID + i, f"Đại biểu {i + 1}") for i in range(count)]
    keyboard = inline_keyboard(rsvp_buttons(catalog))
    async with fake.make_bot() as bot:  # a plain Bot: the cards are not paced by the limiter
        for user in users:
            await bot.send_message(user.id, BASELINE_CARD, reply_markup=keyboard)
    await app.initialize()
    taps = taps_on_cards(users, app, attend_label(catalog), seed)
    setup_seconds = time.perf_counter() - setup_started

    first = len(fake.calls)
    seconds, latencies = await feed(app, taps, concurrency)
    calls, refused, timed = timed_calls(fake, first)
    await app.shutdown()

    result = Result(name, len(taps), seconds, latencies, calls, refused, replied_seconds=seconds)
    check_replies(result, timed, count)
    if fake.violations:
        result.problems.append(f"{len(fake.violations)} violation(s): {fake.violations[0]}")
    wiring = (
        f"+ AIORateLimiter(max_retries={HOINGHI_MAX_RETRIES}), as hoinghi"
        if limiter
        else "no defaults, no rate limiter"
    )
    result.notes.append(
        f"bare Application, one CallbackQueryHandler, {wiring}; set-up {setup_seconds:.1f} s"
    )
    return result


# --- report ------------------------------------------------------------------------------------


def table(results: Sequence[Result]) -> str:
    """The figures as a small fixed-width table."""
    lines = [
        f"{'':22} {'updates':>7} {'seconds':>8} {'updates/s':>9} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'calls/update':>12} {'replies/s':>9}"
    ]
    for r in results:
        lines.append(
            f"{r.name:22} {r.updates:7d} {r.seconds:8.2f} {r.per_second:9.1f} "
            f"{r.percentile_ms(50):7.2f} {r.percentile_ms(95):7.2f} {r.calls_per_update:12.2f} "
            f"{r.replies_per_second:9.1f}"
        )
    return "\n".join(lines)


def methods(result: Result) -> str:
    """The Bot API calls of the timed phase, per method and per update."""
    return ", ".join(
        f"{method} {n / result.updates:g}" for method, n in sorted(result.calls.items())
    )


def machine() -> str:
    """Where the figures were measured."""
    return (
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.platform()}, {os.cpu_count()} CPU(s); python-telegram-bot "
        f"{telegram.__version__}, SQLAlchemy {sqlalchemy.__version__}, SQLite "
        f"{sqlite3.sqlite_version}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def verdict(ratio: float) -> str:
    """Whether the hoinghi/baseline ratio meets the target."""
    if ratio >= TARGET_RATIO:
        return f"target met (>= {TARGET_RATIO})"
    return f"TARGET MISSED (< {TARGET_RATIO})"


async def run(args: argparse.Namespace) -> bool:
    """Run every side, one after the other, print the figures; True if all checks passed."""
    with tempfile.TemporaryDirectory(prefix="hoinghi-load-") as folder:
        hoinghi, workers = await run_hoinghi(
            "hoinghi",
            args.delegates,
            args.concurrency,
            args.seed,
            Path(folder) / "load.db",
            limiter=True,
        )
        catalog = load_catalog(load_config(EXAMPLE_CONFIG).config.meeting.locale)
        baseline = await run_baseline(
            "baseline (no-op PTB)", args.delegates, workers, args.seed, catalog, limiter=False
        )
        results = [hoinghi, baseline]
        if args.variants:
            unlimited, _ = await run_hoinghi(
                "hoinghi, no limiter",
                args.delegates,
                workers,
                args.seed,
                Path(folder) / "load-unlimited.db",
                limiter=False,
            )
            limited = await run_baseline(
                "baseline + limiter", args.delegates, workers, args.seed, catalog, limiter=True
            )
            results += [unlimited, limited]

    default = "" if args.concurrency else " (the default: build_application's concurrent_updates)"
    print(machine())
    print(f"delegates (N): {args.delegates}; concurrency (K): {workers}{default}; seed {args.seed}")
    print(table(results))
    for r in results:
        print(f"  {r.name}: Bot API calls per update: {methods(r)}")
        for note in r.notes:
            print(f"  {r.name}: {note}")
    ratio = hoinghi.per_second / baseline.per_second if baseline.per_second else 0.0
    print(f"ratio hoinghi/baseline updates/s: {ratio:.3f}: {verdict(ratio)}")
    if args.variants:
        unlimited, limited = results[2], results[3]
        print(
            "  like for like: hoinghi/baseline + limiter "
            f"{hoinghi.per_second / limited.per_second:.3f}; hoinghi, no limiter/baseline "
            f"{unlimited.per_second / baseline.per_second:.3f}"
        )
    for r in results:
        if r.attending is not None:
            print(
                f"correctness, {r.name}: services.reports.counts() after the taps: "
                f"{r.attending} of {args.delegates} delegates attending"
            )
    problems = [f"{r.name}: {p}" for r in results for p in r.problems]
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if not problems:
        print("checks passed: every tap answered and replied to once, no refusals, no violations")
    return not problems


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--delegates", type=int, default=5000, help="how many (default 5000)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="updates in flight at once (default: the concurrent_updates of the Application "
        "build_application builds, i.e. PTB's default of 1)",
    )
    parser.add_argument("--seed", type=int, default=60, help="shuffles the tap order (default 60)")
    parser.add_argument(
        "--variants",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run hoinghi without the rate limiter and the baseline with it (default: yes)",
    )
    args = parser.parse_args(argv)
    if args.delegates < 1:
        parser.error("--delegates must be at least 1")
    if args.concurrency is not None and args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 even if the target is missed (a measurement), 1 if a check failed."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    # The apps are initialised, not started (no polling): PTB then warns that it will not await
    # the replies' tasks at stop. The benchmark waits for them itself (drain).
    warnings.filterwarnings("ignore", "Tasks created via `Application.create_task`")
    for noisy in ("httpx", "telegram", "aiosqlite", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    sys.exit(main())
