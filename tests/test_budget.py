"""One sending budget per bot, shared by the outbox and the replies, and a notice that goes at
once: against the fake Bot API with Telegram's limits, on virtual time (nothing sleeps).

The surges here are the issue's (250 links opened at 25 a second; a tap surge during a
broadcast), at the size a test can afford; ``bench/surge.py`` runs them at full size in real
time and prints the figures.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import AIORateLimiter, ApplicationBuilder

import bot.app
from bot.app import Channel, ChannelEntry, ChannelSetup, build_outbox, open_app
from bot.chat import Inbox
from bot.config import Config, load_config
from bot.domain.channels import Capabilities
from bot.domain.clock import ManualClock
from bot.domain.outbound import (
    Audience,
    DeliveryStatus,
    MessageKind,
    MessageStatus,
    Outbound,
    Part,
    SendOutcome,
    SendResult,
)
from bot.services import Services, build_services
from bot.texts import load_catalog
from handlers.telegram.app import build_application
from handlers.telegram.limiter import RetryingRateLimiter
from schedules.outbox import Outbox, _first_failure, _outcome, office_delivery
from schedules.ratelimit import Limits, Pacer, VirtualTime
from schedules.scheduler import OutboxScheduler
from storage.files import FileStore
from storage.models import Delivery, OutboundMessage
from tests.channels.text_channel import TextChannel
from tests.fakes.clock import EventTime, counting_database_calls
from tests.fakes.telegram_api import FakeBotApi
from tests.harness import OFFICE_CHAT, BotHarness, wired_config
from tests.surge import link_directly, links_surge, people, start_surge_bot, taps_during_broadcast
from tests.test_broadcasts import compose
from tests.test_outbox import linked_answers
from tests.unread_failures import reported_apart


@pytest.fixture
def database_busy() -> Iterator[Any]:
    with counting_database_calls() as busy:
        yield busy


async def test_confirming_a_notice_wakes_the_outbox_instead_of_waiting_for_its_tick(
    harness: BotHarness,
) -> None:
    await linked_answers(harness)
    await compose(harness, "Họp trù bị lúc 14:00.", "Tất cả đại biểu đã liên kết")
    woken: list[str] = []
    harness.services.ctx.due_now.listen(lambda: woken.append("due now"))
    await harness.send(harness.admin().tap("📤 Gửi ngay"))
    assert woken == ["due now"]


class CountingOutbox:
    """An outbox that counts its pulses as ticks (the scheduler needs no more of one)."""

    def __init__(self) -> None:
        self.ticks = 0
        self.ticked = asyncio.Event()
        self.hold = asyncio.Event()  # a tick in progress until set
        self.hold.set()
        self.stopping = False

    async def recover(self) -> int:
        return 0

    def request_stop(self) -> None:
        self.stopping = True

    async def pulse(self) -> None:
        self.ticks += 1
        self.ticked.set()
        await self.hold.wait()

    def draining(self) -> list[asyncio.Task[bool]]:
        return []

    def when_drained(self, listener: Callable[[], None]) -> None:
        return None

    async def finish(self) -> int:
        return 0


async def test_a_wake_ticks_the_outbox_now_and_a_wake_during_a_tick_ticks_once_more() -> None:
    outbox = CountingOutbox()

    async def plan() -> None:
        return None

    scheduler = OutboxScheduler(outbox, tick_seconds=3600, plan=plan)  # type: ignore[arg-type]
    await scheduler.start()
    try:
        await asyncio.wait_for(outbox.ticked.wait(), timeout=10)  # the first tick, at start
        outbox.ticked.clear()
        scheduler.wake()  # not in an hour: now
        await asyncio.wait_for(outbox.ticked.wait(), timeout=10)
        assert outbox.ticks == 2
        outbox.ticked.clear()
        outbox.hold.clear()
        scheduler.wake()
        await asyncio.wait_for(outbox.ticked.wait(), timeout=10)  # a tick in progress...
        outbox.ticked.clear()
        scheduler.wake()  # ...when another notice is confirmed
        outbox.hold.set()
        await asyncio.wait_for(outbox.ticked.wait(), timeout=10)  # goes right after it
        assert outbox.ticks == 4
    finally:
        await scheduler.stop()


# --- surges against Telegram's limits, on one budget -----------------------------------------


@pytest.fixture
async def surge_services(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    files: FileStore,
    database_busy: Any,
) -> tuple[Services, FakeBotApi, EventTime]:
    """Services with nobody imported, a fake enforcing Telegram's limits on virtual time (which
    waits for the database)."""
    time = EventTime(start=1000.0, busy=database_busy)
    fake = FakeBotApi(enforce_limits=True, clock=time.monotonic)
    fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    services = await build_services(wired_config(config, fake), sessions, clock, files=files)
    return services, fake, time


@pytest.mark.slow
async def test_250_links_opened_at_25_a_second_all_get_their_card_without_one_429(
    surge_services: tuple[Services, FakeBotApi, EventTime],
) -> None:
    services, fake, time = surge_services
    users = await people(services, fake, 250)
    bot = await start_surge_bot(services, fake, now=time.monotonic, sleep=time.sleep)
    try:
        figures = await time.run(links_surge(bot, users, per_second=25, sleep=time.sleep))
    finally:
        await bot.stop()
    print(f"250 links at 25/s: {figures.summary()}")
    assert figures.unanswered == 0 and len(figures.latencies) == 250
    assert figures.rate_limited == 0 and figures.gave_up == 0
    fake.assert_no_violations()


@pytest.mark.slow
async def test_a_tap_during_a_broadcast_is_confirmed_within_a_second_and_the_notice_reaches_all(
    surge_services: tuple[Services, FakeBotApi, EventTime],
) -> None:
    services, fake, time = surge_services
    users = await people(services, fake, 400)
    bot = await start_surge_bot(services, fake, now=time.monotonic, sleep=time.sleep)
    try:
        tappers = users[:60]
        await time.run(links_surge(bot, tappers, per_second=25, sleep=time.sleep))
        await link_directly(bot, users[60:])
        everyone = [user for user, _ in users]
        taps, notice = await time.run(
            taps_during_broadcast(
                bot, everyone, [user for user, _ in tappers], per_second=10, start_after=2.0,
                sleep=time.sleep,
            )
        )  # fmt: skip
    finally:
        await bot.stop()
    print(f"60 taps at 10/s during a notice to 400: {taps.summary()}")
    print(f"the notice: {'; '.join(notice.notes)}")
    assert taps.unanswered == 0 and len(taps.latencies) == 60
    assert max(taps.latencies) <= 1.0  # replies go before the next bulk message
    assert notice.unanswered == 0  # every one of the 400 got the notice
    assert taps.rate_limited == 0 and taps.gave_up == 0
    fake.assert_no_violations()


async def test_a_reply_refused_with_429_again_and_again_waits_its_turn_and_is_never_given_up(
    fake: FakeBotApi,
) -> None:
    time = VirtualTime()
    limiter = RetryingRateLimiter(now=time.monotonic, sleep=time.sleep)  # as build_application
    application = fake.wire(ApplicationBuilder()).rate_limiter(limiter).build()
    an = fake.user(1001, "An")
    async with application:
        for _ in range(6):
            fake.fail_next("sendMessage", error_code=429, description="Too Many", retry_after=2)
        await application.bot.send_message(an.id, "Giấy mời")
    assert [m["text"] for m in an.messages] == ["Giấy mời"]
    assert limiter.gave_up == Counter() and limiter.retried == Counter({"RetryAfter": 6})
    assert time.slept == pytest.approx(6 * 2.1)  # each retry_after, and its 0.1 s margin


class Gate(httpx.AsyncBaseTransport):
    """The fake's transport, holding the requests for ``method`` until :meth:`open`; it counts
    them in flight and notes when (on ``now``) each one arrived."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, method: str, now: Callable[[], float]
    ) -> None:
        self._inner, self._method, self._now = inner, method, now
        self._opened = asyncio.Event()
        self._changed = asyncio.Condition()
        self.in_flight = self.most = 0
        self.arrived: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.rsplit("/", 1)[-1] == self._method:
            self.arrived.append(self._now())
            await self._count(+1)
            try:
                await self._opened.wait()
            finally:
                await self._count(-1)
        return await self._inner.handle_async_request(request)

    async def held(self, count: int) -> None:
        """Return once ``count`` requests are held."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight >= count)

    def open(self) -> None:
        """Let the held requests, and those to come, through."""
        self._opened.set()

    async def _count(self, step: int) -> None:
        async with self._changed:
            self.in_flight += step
            self.most = max(self.most, self.in_flight)
            self._changed.notify_all()


async def test_requests_other_than_messages_wait_for_one_of_concurrent_requests_places_and_messages_do_not(
    fake: FakeBotApi,
) -> None:
    """Toasts and the like hold an HTTP connection each (httpx's pool costs CPU per connection
    it keeps): at most ``concurrent_requests`` go at once. A message is paced by the budget and
    must reach Telegram when the budget timed it, so it never waits behind them."""
    time = VirtualTime()
    gate = Gate(fake.transport, "getMyCommands", time.monotonic)
    fake.transport = gate
    limiter = RetryingRateLimiter(now=time.monotonic, sleep=time.sleep, concurrent_requests=2)
    application = fake.wire(ApplicationBuilder()).rate_limiter(limiter).build()
    an = fake.user(1001, "An")
    async with application:
        menus = [asyncio.create_task(application.bot.get_my_commands()) for _ in range(5)]
        await asyncio.wait_for(gate.held(2), timeout=10)
        await asyncio.wait_for(application.bot.send_message(an.id, "Giấy mời"), timeout=10)
        assert [m["text"] for m in an.messages] == ["Giấy mời"]
        assert gate.in_flight == 2 and not any(menu.done() for menu in menus)
        gate.open()
        await asyncio.wait_for(asyncio.gather(*menus), timeout=10)
    assert gate.most == 2
    assert len(fake.calls_to("getMyCommands")) == 5


async def test_a_request_that_waited_for_a_place_during_a_pause_goes_after_the_pause(
    fake: FakeBotApi,
) -> None:
    time = VirtualTime()
    gate = Gate(fake.transport, "getMyCommands", time.monotonic)
    fake.transport = gate
    limiter = RetryingRateLimiter(now=time.monotonic, sleep=time.sleep, concurrent_requests=1)
    application = fake.wire(ApplicationBuilder()).rate_limiter(limiter).build()

    async def waiting_for_a_place() -> None:
        while not limiter.waiting:  # noqa: ASYNC110 (turns of the loop, no wait)
            await asyncio.sleep(0)

    async with application:
        first = asyncio.create_task(application.bot.get_my_commands())
        await asyncio.wait_for(gate.held(1), timeout=10)
        second = asyncio.create_task(application.bot.get_my_commands())
        await asyncio.wait_for(waiting_for_a_place(), timeout=10)
        limiter.budget.pause(5.0)  # Telegram refused the bot as a whole meanwhile
        gate.open()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    assert gate.arrived == [0.0, pytest.approx(5.0)]


async def test_ptbs_limiter_gets_a_groups_message_not_a_private_one_nor_one_for_no_chat(
    fake: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AIORateLimiter`` paces a group's (or a channel's) messages at 20 a minute and passes
    anything else straight on: the bot's limiter hands it the group's requests alone."""
    handed: list[object] = []
    process_request = AIORateLimiter.process_request

    async def recorded(self: AIORateLimiter, *args: Any) -> Any:
        handed.append(args[4].get("chat_id"))  # callback, args, kwargs, endpoint, data, ...
        return await process_request(self, *args)

    monkeypatch.setattr(AIORateLimiter, "process_request", recorded)
    time = VirtualTime()
    limiter = RetryingRateLimiter(now=time.monotonic, sleep=time.sleep)
    application = fake.wire(ApplicationBuilder()).rate_limiter(limiter).build()
    an = fake.user(1001, "An")
    office = fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    async with application:
        await application.bot.send_message(an.id, "Giấy mời")
        await application.bot.send_message(OFFICE_CHAT, "Tổng hợp")
        await application.bot.get_my_commands()
    assert handed == [OFFICE_CHAT]
    assert [m["text"] for m in an.messages] == ["Giấy mời"]
    assert office.last_text() == "Tổng hợp"


def test_the_bot_keeps_the_plans_concurrent_requests(imported: Services, fake: FakeBotApi) -> None:
    telegram = imported.config.telegram.model_copy(update={"concurrent_requests": 3})
    imported.ctx.__dict__["config"] = imported.config.model_copy(update={"telegram": telegram})
    catalog = load_catalog("vi")
    application = build_application(
        Inbox(imported, catalog), imported, catalog, fake.token, request=fake.make_request()
    )
    limiter = application.bot.rate_limiter
    assert isinstance(limiter, RetryingRateLimiter)
    assert limiter.concurrent_requests == 3


async def test_run_gives_each_channel_one_budget_its_replies_and_the_outbox_share(
    office: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The composition root builds one Pacer per channel entry and hands the same one to the
    channel (its replies) and to the outbox (its sends on that channel)."""
    handed: dict[str, Any] = {}
    started = asyncio.Event()

    def build_text(setup: ChannelSetup) -> Channel:
        handed["channel"] = setup.budget
        channel = TextChannel(setup.inbox, setup.catalog)

        @asynccontextmanager
        async def receiving() -> AsyncIterator[None]:
            yield

        return Channel(channel, receiving)

    real_build_outbox = bot.app.build_outbox

    def build_outbox(*args: Any, **kwargs: Any) -> Any:
        handed["outbox"] = kwargs["pacer"]
        return real_build_outbox(*args, **kwargs)

    text = ChannelEntry("text", "HOINGHI_TEXT_TOKEN", re.compile(r"t-\d+"), build_text)
    monkeypatch.setattr(bot.app, "CHANNELS", (text,))
    monkeypatch.setattr(bot.app, "build_outbox", build_outbox)
    monkeypatch.setattr(bot.app, "freeze_startup_heap", started.set)
    loaded = load_config(office / "config.toml")
    async with open_app(loaded, load_catalog("vi"), env={"HOINGHI_TEXT_TOKEN": "t-1"}) as app:
        stop = asyncio.Event()
        running = asyncio.create_task(app.run(stop))
        await asyncio.wait_for(started.wait(), timeout=30)
        stop.set()
        await asyncio.wait_for(running, timeout=30)
    assert isinstance(handed["channel"], Pacer)
    assert handed["outbox"] == {TextChannel.channel: handed["channel"]}


# --- two channels on one outbox, each on its own budget --------------------------------------


class TimedChannel:
    """A channel whose sends take ``travel`` seconds of virtual time; when each one started."""

    capabilities = Capabilities(
        buttons=False, files_out=False, files_in=False, reply_threads=False,
        location_pins=False, html=False, max_text=2000,
    )  # fmt: skip

    def __init__(self, channel: str, time: EventTime, travel: float) -> None:
        self.channel = channel
        self._time, self._travel = time, travel
        self.starts: list[float] = []
        self.addresses: list[str] = []

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        """The parts as they are."""
        return outbound.parts

    async def send(self, address: str, part: Part) -> SendResult:
        """Accept the part after the travel time."""
        self.starts.append(self._time.now)
        self.addresses.append(address)
        await self._time.sleep(self._travel)
        return SendResult(SendOutcome.SENT, platform_message_id=str(len(self.starts)))


async def _queue_notes(services: Services, counts: dict[str, int]) -> None:
    """A note queued to ``count`` chats of each channel, the slow channel's first in line."""
    now = services.ctx.clock.now()
    async with services.ctx.sessions() as session, session.begin():
        for channel, count in counts.items():
            note = OutboundMessage(
                meeting_id=services.ctx.meeting_id, kind=MessageKind.OFFICE_NOTE,
                status=MessageStatus.QUEUED, audience=Audience.OFFICE, body="Thông báo",
                params={}, due_at=now, created_by="test", created_at=now, queued_at=now,
            )  # fmt: skip
            session.add(note)
            await session.flush()
            for n in range(count):
                session.add(office_delivery(note.id, channel, str(10_000 + n), now))


def zalo_and_telegram(
    services: Services, time: EventTime, zalo: TimedChannel, telegram: TimedChannel
) -> tuple[Outbox, dict[str, Pacer]]:
    """An outbox over both channels, each on its own pacer in virtual time: Zalo's 5 a second,
    Telegram's 30."""
    pacers = {
        "zalo": Pacer(Limits(overall_per_second=5), now=time.monotonic, sleep=time.sleep),
        "telegram": Pacer(Limits(), now=time.monotonic, sleep=time.sleep),
    }
    senders = {"zalo": zalo, "telegram": telegram}
    return build_outbox(services, load_catalog("vi"), senders, pacer=pacers), pacers


def timed_pair(
    services: Services, busy: Any
) -> tuple[EventTime, TimedChannel, TimedChannel, Outbox]:
    """Virtual time from 1,000 s, Zalo and Telegram each taking 0.2 s a send, and the outbox
    over both (:func:`zalo_and_telegram`)."""
    time = EventTime(start=1000.0, busy=busy)
    zalo, telegram = TimedChannel("zalo", time, 0.2), TimedChannel("telegram", time, 0.2)
    outbox, _ = zalo_and_telegram(services, time, zalo, telegram)
    return time, zalo, telegram, outbox


async def test_a_slow_channel_holding_its_places_does_not_hold_back_a_fast_one(
    services: Services, database_busy: Any
) -> None:
    # Zalo at 5 a second and Telegram at 30 on one outbox (issue 19's mixed run): the slow
    # channel's deliveries are first in line and would fill the shared places in hand.
    time = EventTime(start=1000.0, busy=database_busy)
    slow, fast = TimedChannel("zalo", time, 0.2), TimedChannel("telegram", time, 0.2)
    outbox, pacers = zalo_and_telegram(services, time, slow, fast)
    await _queue_notes(services, {"zalo": 60, "telegram": 120})
    await time.run(outbox.drain())
    assert (len(slow.starts), len(fast.starts)) == (60, 120)
    # Each starts at once and keeps its own pace: Telegram's 120 at 29.4 a second, Zalo's 60 at
    # 4.9 a second, neither waiting for a place the other holds.
    assert fast.starts[0] - 1000.0 < 0.1 and slow.starts[0] - 1000.0 < 0.1
    # (Telegram's in groups of five, 0.17 s apart; Zalo's one at a time.)
    telegram = pacers["telegram"]
    assert (telegram.group, pacers["zalo"].group) == (5, 1)
    assert fast.starts[-1] - fast.starts[0] == pytest.approx(115 * telegram.interval)
    assert slow.starts[-1] - slow.starts[0] == pytest.approx(59 * pacers["zalo"].interval)


async def test_two_messages_to_one_chat_go_one_after_the_other_in_the_order_queued(
    services: Services, database_busy: Any
) -> None:
    # The office's comment, then the verdict it explains, queued together for one speaker:
    # sent at once, the second could arrive first.
    time = EventTime(start=1000.0, busy=database_busy)
    zalo, telegram = TimedChannel("zalo", time, 0.2), TimedChannel("telegram", time, 0.5)
    outbox, _ = zalo_and_telegram(services, time, zalo, telegram)
    await _queue_notes(services, {"telegram": 3})  # chats 10000, 10001, 10002
    await _queue_notes(services, {"telegram": 3})  # the same three chats, queued after
    await time.run(outbox.drain())
    assert sorted(telegram.addresses) == sorted(["10000", "10001", "10002"] * 2)
    for address in ("10000", "10001", "10002"):
        first, second = (
            t for t, a in zip(telegram.starts, telegram.addresses, strict=True) if a == address
        )
        assert second - first >= 0.5  # the second started once the first was through
    async with services.ctx.sessions() as session:
        rows = (
            await session.execute(
                select(Delivery.chat_address, Delivery.id, Delivery.platform_message_id)
            )
        ).all()
    for address in ("10000", "10001", "10002"):
        mine = sorted((id_, int(sent)) for a, id_, sent in rows if a == address)
        assert [sent for _, sent in mine] == sorted(sent for _, sent in mine)  # queued order
    assert telegram.starts[2] - telegram.starts[0] < 0.5  # three chats at once, as before


class FailsFirstTo(TimedChannel):
    """A timed channel whose first send to ``address`` fails as a server error does."""

    def __init__(self, channel: str, time: EventTime, travel: float, *, address: str) -> None:
        super().__init__(channel, time, travel)
        self.address, self.failed = address, False

    async def send(self, address: str, part: Part) -> SendResult:
        """A 5xx the first time to ``address``, else accept the part after the travel time."""
        if address == self.address and not self.failed:
            self.failed = True
            await self._time.sleep(self._travel)
            return SendResult(SendOutcome.TRANSIENT, error="502 Bad Gateway")
        return await super().send(address, part)


async def test_a_message_to_a_chat_waits_for_the_retry_of_the_one_queued_before_it(
    services: Services, database_busy: Any
) -> None:
    # The comment's send meets a 502 and waits for its retry: the verdict queued after it
    # must not overtake it meanwhile.
    time = EventTime(start=1000.0, busy=database_busy)
    zalo = TimedChannel("zalo", time, 0.2)
    telegram = FailsFirstTo("telegram", time, 0.2, address="10000")
    outbox, _ = zalo_and_telegram(services, time, zalo, telegram)
    await _queue_notes(services, {"telegram": 2})  # chats 10000 and 10001
    await _queue_notes(services, {"telegram": 2})  # the same two, queued after

    async def until_sent() -> None:
        while await delivery_statuses(services) != Counter({("telegram", "sent"): 4}):
            await outbox.drain()
            await time.sleep(1)
            services.ctx.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]

    await time.run(until_sent(), limit=1100)
    async with services.ctx.sessions() as session:
        rows = (
            await session.execute(
                select(Delivery.chat_address, Delivery.id, Delivery.platform_message_id)
            )
        ).all()
    for address in ("10000", "10001"):
        first, then = sorted((id_, int(sent)) for a, id_, sent in rows if a == address)
        assert first[1] < then[1]  # the one queued first arrived first
    assert telegram.addresses.count("10000") == 2  # sent once each, after the retry


async def test_a_delivery_stuck_sending_holds_its_chat_back_only_while_its_claim_lives(
    services: Services, database_busy: Any
) -> None:
    # The first message to chat 10000 was left «sending» by a failure (its end not recorded):
    # the chat's next message waits while that claim is live, and goes once it has expired.
    time, _zalo, telegram, outbox = timed_pair(services, database_busy)
    await _queue_notes(services, {"telegram": 1})
    await _queue_notes(services, {"telegram": 1})
    now = services.ctx.clock.now()
    async with services.ctx.sessions() as session, session.begin():
        stuck = await session.scalar(select(Delivery).order_by(Delivery.id).limit(1))
        assert stuck is not None
        stuck.status, stuck.lease_until = DeliveryStatus.SENDING, now + timedelta(seconds=30)
    await time.run(outbox.drain())
    assert telegram.addresses == []  # held back by a live claim
    clock = services.ctx.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(seconds=31))
    await time.run(outbox.drain())
    # The claim expired: the next one goes (shared, on PostgreSQL, the stuck one is taken back
    # by recovery and goes first; alone, it waits for the next start).
    async with services.ctx.sessions() as session:
        later = await session.scalar(select(Delivery).order_by(Delivery.id.desc()).limit(1))
    assert later is not None and later.status == DeliveryStatus.SENT
    assert telegram.addresses[-1] == "10000"


class Crash(BaseException):
    """What no guard of the outbox catches (the rehearsal's kill is one)."""


class CrashingChannel(TimedChannel):
    """A timed channel whose ``at``-th send, and every one after it, fails as no guard
    catches."""

    def __init__(self, channel: str, time: EventTime, travel: float, *, at: int) -> None:
        super().__init__(channel, time, travel)
        self.at = at

    async def send(self, address: str, part: Part) -> SendResult:
        """Fail from the ``at``-th send on, else accept the part after the travel time."""
        if len(self.starts) + 1 >= self.at:  # a failed send is not counted among the starts
            raise Crash
        return await super().send(address, part)


async def test_a_channel_failing_mid_drain_lets_the_others_finish_their_round_then_raises(
    services: Services, database_busy: Any
) -> None:
    # Zalo fails on its third send, 0.4 s in, while Telegram's 30 take a second: cancelled
    # there, a Telegram message on the wire could be sent again after a restart.
    time = EventTime(start=1000.0, busy=database_busy)
    failing = CrashingChannel("zalo", time, 0.2, at=3)
    other = TimedChannel("telegram", time, 0.2)
    outbox, _ = zalo_and_telegram(services, time, failing, other)
    await _queue_notes(services, {"zalo": 5, "telegram": 30})

    with pytest.raises(Crash):
        await time.run(outbox.drain())

    assert (len(failing.starts), len(other.starts)) == (2, 30)
    assert other.starts[-1] - 1000.0 > 0.4  # Telegram went on after Zalo's failure
    # Zalo's places in hand stay in flight, for the restarted process to take back.
    assert await delivery_statuses(services) == Counter(
        {("telegram", "sent"): 30, ("zalo", "sent"): 2, ("zalo", "sending"): 3}
    )


def failing_claims(monkeypatch: pytest.MonkeyPatch, outbox: Outbox, channel: str, at: int) -> None:
    """``channel``'s ``at``-th claim fails as a database read can ("database is locked")."""
    real = outbox._claim
    calls = Counter[str]()

    async def claim(limit: int | None = None, of: str | None = None) -> Any:
        calls[str(of)] += 1
        if of == channel and calls[str(of)] == at:
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError("SELECT …", {}, locked)
        return await real(limit, of)

    monkeypatch.setattr(outbox, "_claim", claim)


async def delivery_statuses(services: Services) -> Counter[tuple[str, str]]:
    """How many deliveries of each channel are in each status."""
    async with services.ctx.sessions() as session:
        rows = await session.execute(select(Delivery.channel, Delivery.status))
        return Counter((str(channel), str(status)) for channel, status in rows)


async def test_a_channel_whose_claim_fails_finishes_its_own_sends_in_hand_before_raising(
    services: Services, database_busy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Zalo claims its 5 at once, then its next claim fails while those 5 are still to go out
    # at 5 a second: cut there, one on the wire could reach Zalo unrecorded.
    time, zalo, telegram, outbox = timed_pair(services, database_busy)
    failing_claims(monkeypatch, outbox, "zalo", at=2)
    await _queue_notes(services, {"zalo": 5, "telegram": 30})

    with pytest.raises(OperationalError):
        await time.run(outbox.drain())

    assert (len(zalo.starts), len(telegram.starts)) == (5, 30)
    assert await delivery_statuses(services) == Counter(
        {("telegram", "sent"): 30, ("zalo", "sent"): 5}
    )


async def test_a_kill_among_the_sends_a_failed_claim_lets_finish_is_raised_not_the_claims_error(
    services: Services, database_busy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Zalo's second claim fails with its 5 in hand; they go on, and the third dies of a kill.
    time = EventTime(start=1000.0, busy=database_busy)
    zalo, telegram = CrashingChannel("zalo", time, 0.2, at=3), TimedChannel("telegram", time, 0.2)
    outbox, _ = zalo_and_telegram(services, time, zalo, telegram)
    failing_claims(monkeypatch, outbox, "zalo", at=2)
    await _queue_notes(services, {"zalo": 5})

    with pytest.raises(Crash) as raised:
        await time.run(outbox.drain())

    assert isinstance(raised.value.__cause__, OperationalError)
    assert len(zalo.starts) == 2


async def test_when_two_channels_fail_a_kill_is_raised_and_the_error_logged(
    services: Services,
    database_busy: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = EventTime(start=1000.0, busy=database_busy)
    zalo, telegram = TimedChannel("zalo", time, 0.2), CrashingChannel("telegram", time, 0.2, at=3)
    outbox, _ = zalo_and_telegram(services, time, zalo, telegram)
    failing_claims(monkeypatch, outbox, "zalo", at=2)
    await _queue_notes(services, {"zalo": 5, "telegram": 30})

    with caplog.at_level(logging.ERROR, logger="schedules.outbox"), pytest.raises(Crash):
        await time.run(outbox.drain())

    logged = [r for r in caplog.records if r.getMessage() == "another channel's drain failed too"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is OperationalError


def test_a_kill_is_raised_before_an_error_whatever_order_they_ended_in() -> None:
    error, kill, later = OperationalError("SELECT …", {}, Exception()), Crash(), KeyError("x")

    assert _first_failure([None, error, kill, later]) is kill
    assert _first_failure([error, None, later]) is error
    assert _first_failure([None, False, True]) is None


async def test_a_cancelled_delivery_among_those_ended_is_read_as_a_cancellation() -> None:
    async def crashes() -> None:
        raise Crash

    cancelled = asyncio.ensure_future(asyncio.sleep(60))
    crashed, sent = asyncio.ensure_future(crashes()), asyncio.ensure_future(asyncio.sleep(0))
    cancelled.cancel()
    with reported_apart() as unread:
        await asyncio.wait([cancelled, crashed, sent])
        outcomes = [_outcome(task) for task in (cancelled, crashed, sent)]
        del crashed

    assert [type(outcome) for outcome in outcomes] == [asyncio.CancelledError, Crash, type(None)]
    assert unread.found == []


async def test_a_kill_of_several_sends_at_once_leaves_no_failure_unread(
    services: Services, database_busy: Any
) -> None:
    """Telegram's third group of five dies at once (its third send and every one after it
    crash): the drain raises the kill, and reads the others' too. An unread one would be
    logged whenever its task is collected; in the middle of another parse, CPython 3.11.7
    then fails that parse (pytest's own, "AST constructor recursion depth mismatch")."""
    time = EventTime(start=1000.0, busy=database_busy)
    zalo, telegram = TimedChannel("zalo", time, 0.2), CrashingChannel("telegram", time, 0.2, at=3)
    outbox, _ = zalo_and_telegram(services, time, zalo, telegram)
    await _queue_notes(services, {"telegram": 30})

    with reported_apart() as unread, pytest.raises(Crash):
        await time.run(outbox.drain())

    assert unread.found == []
    assert len(telegram.starts) == 2


# --- pulses: each channel sends in the background, on its own -------------------------------


async def sent_out(outbox: Outbox) -> None:
    """Wait for the drains the outbox's pulses left running (none, if they ended already)."""
    while draining := outbox.draining():
        await asyncio.wait(draining)


async def test_after_a_pulse_a_channel_done_with_its_round_sends_a_new_notice_before_a_slow_one_ends(
    services: Services, database_busy: Any
) -> None:
    # Zalo's 100 take 20 s at 5 a second; Telegram's 30 about one. A second notice for
    # Telegram, 5 s in, goes at the next pulse, not when Zalo's round ends.
    time, zalo, telegram, outbox = timed_pair(services, database_busy)
    await _queue_notes(services, {"zalo": 100, "telegram": 30})

    async def office() -> None:
        await outbox.pulse()
        assert len(outbox.draining()) == 2  # the pulse returned; both channels send
        await time.sleep(5)
        await _queue_notes(services, {"telegram": 30})
        await outbox.pulse()
        await sent_out(outbox)

    await time.run(office())
    assert (len(zalo.starts), len(telegram.starts)) == (100, 60)
    assert telegram.starts[29] - 1000.0 < 1.5
    assert telegram.starts[30] - 1000.0 == pytest.approx(5.0, abs=0.1)
    assert zalo.starts[-1] - 1000.0 > 19.5
    assert outbox.draining() == []


async def test_a_message_falling_due_during_a_long_round_is_queued_and_sent_at_the_next_pulse(
    services: Services, database_busy: Any
) -> None:
    time, zalo, telegram, outbox = timed_pair(services, database_busy)
    await _queue_notes(services, {"zalo": 100})
    clock = services.ctx.clock
    assert isinstance(clock, ManualClock)
    async with services.ctx.sessions() as session, session.begin():
        now = clock.now()
        due = OutboundMessage(
            meeting_id=services.ctx.meeting_id, kind=MessageKind.OFFICE_NOTE,
            status=MessageStatus.SCHEDULED, audience=Audience.OFFICE, body="Nhắc việc",
            params={}, due_at=now + timedelta(seconds=5), created_by="test", created_at=now,
            report_to="telegram:555",
        )  # fmt: skip
        session.add(due)

    async def office() -> None:
        await outbox.pulse()  # Zalo's round begins; the reminder is not due yet
        await time.sleep(6)
        clock.advance(timedelta(seconds=6))
        await outbox.pulse()
        await sent_out(outbox)

    await time.run(office())
    assert len(telegram.starts) == 1
    assert telegram.starts[0] - 1000.0 == pytest.approx(6.0, abs=0.1)
    assert zalo.starts[-1] - 1000.0 > 19.5  # Zalo's round was still on
    async with services.ctx.sessions() as session:
        message = await session.get_one(OutboundMessage, due.id)
        assert message.queued_at == now + timedelta(seconds=6)


async def test_a_pulse_leaves_a_channel_already_sending_to_its_own_drain(
    services: Services, database_busy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    time, zalo, _telegram, outbox = timed_pair(services, database_busy)
    started = Counter[str]()
    real = outbox._drain_channel

    async def drain_channel(channel: str) -> bool:
        started[channel] += 1
        return await real(channel)

    monkeypatch.setattr(outbox, "_drain_channel", drain_channel)
    await _queue_notes(services, {"zalo": 100})  # 30 in hand, 70 due and waiting

    async def office() -> None:
        await outbox.pulse()
        first = outbox.draining()
        for _ in range(3):
            await time.sleep(1)
            await outbox.pulse()
            assert outbox.draining() == first
        await sent_out(outbox)

    await time.run(office())
    assert started == Counter({"zalo": 1})
    assert await delivery_statuses(services) == Counter({("zalo", "sent"): 100})
    assert len(zalo.starts) == 100


async def test_a_channel_whose_drain_fails_after_a_pulse_is_logged_and_the_next_pulse_sends_the_rest(
    services: Services,
    database_busy: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Zalo claims 30 of its 40, and its next claim fails: the 30 go out, the drain ends with
    # the error logged; Telegram is not touched; the next pulse sends Zalo's last 10, still due.
    time, _zalo, _telegram, outbox = timed_pair(services, database_busy)
    failing_claims(monkeypatch, outbox, "zalo", at=2)
    await _queue_notes(services, {"zalo": 40, "telegram": 30})

    async def pulse_and_wait() -> None:
        await outbox.pulse()
        await sent_out(outbox)

    with caplog.at_level(logging.ERROR, logger="schedules.outbox"):
        await time.run(pulse_and_wait())
    assert await delivery_statuses(services) == Counter(
        {("telegram", "sent"): 30, ("zalo", "sent"): 30, ("zalo", "pending"): 10}
    )
    (record,) = caplog.records
    assert record.getMessage() == "sending on zalo stopped; the next pulse goes on with what is due"
    assert record.exc_info is not None and isinstance(record.exc_info[1], OperationalError)

    await time.run(pulse_and_wait())
    assert await delivery_statuses(services) == Counter(
        {("telegram", "sent"): 30, ("zalo", "sent"): 40}
    )


async def test_a_channel_done_sending_ticks_the_scheduler_so_its_message_is_reported_at_once(
    services: Services, database_busy: Any
) -> None:
    time, zalo, _telegram, outbox = timed_pair(services, database_busy)
    await _queue_notes(services, {"zalo": 10})

    async def plan() -> None:
        return None

    async def status() -> str:
        async with services.ctx.sessions() as session:
            return str(await session.scalar(select(OutboundMessage.status)))

    async def start_and_watch() -> float:
        scheduler = OutboxScheduler(outbox, tick_seconds=3600, plan=plan)  # no tick but the first
        await scheduler.start()
        try:
            while await status() != MessageStatus.DONE and time.now < 1060:
                await time.sleep(0.1)
            return time.now
        finally:
            await scheduler.stop()

    done_at = await time.run(start_and_watch())
    assert zalo.starts[-1] - 1000.0 == pytest.approx(1.8, abs=0.1)  # 10 at 5 a second
    assert done_at - 1000.0 == pytest.approx(2.0, abs=0.2)  # its last send's travel, then done


async def test_only_a_drain_that_sent_something_tells_its_listeners_so_no_pulse_follows_an_empty_one(
    services: Services, database_busy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Due by one read and gone by the claim (another process's, on PostgreSQL): pulsing again
    # at once could find the same, again and again.
    time, zalo, _telegram, outbox = timed_pair(services, database_busy)
    told: list[str] = []
    outbox.when_drained(lambda: told.append("drained"))
    await _queue_notes(services, {"zalo": 3})
    real = outbox._claim

    async def nothing(limit: int | None = None, of: str | None = None) -> Any:
        return []

    async def pulse_and_wait() -> None:
        await outbox.pulse()
        await sent_out(outbox)

    monkeypatch.setattr(outbox, "_claim", nothing)
    await time.run(pulse_and_wait())
    assert told == []
    monkeypatch.setattr(outbox, "_claim", real)
    await time.run(pulse_and_wait())
    assert told == ["drained"]
    assert len(zalo.starts) == 3


async def stop_once_sending(outbox: Outbox, time: EventTime, channel: TimedChannel) -> None:
    """Start a scheduler on ``outbox`` (its first tick runs at once, the next in an hour) and
    stop it as soon as ``channel`` has started sending."""

    async def plan() -> None:
        return None

    scheduler = OutboxScheduler(outbox, tick_seconds=3600, plan=plan)
    await scheduler.start()
    while not channel.starts:
        await time.sleep(0.1)
    await scheduler.stop()


async def test_stopping_the_scheduler_lets_each_channel_finish_what_it_has_in_hand(
    services: Services, database_busy: Any
) -> None:
    time, zalo, _telegram, outbox = timed_pair(services, database_busy)
    await _queue_notes(services, {"zalo": 100})
    await time.run(stop_once_sending(outbox, time, zalo))
    # The batch in hand (30) went out, the rest waits for the next start; nothing is left
    # "sending", to be sent again.
    assert await delivery_statuses(services) == Counter(
        {("zalo", "sent"): 30, ("zalo", "pending"): 70}
    )
    assert outbox.draining() == []


async def test_stopping_the_scheduler_closes_a_message_whose_last_sends_the_stop_waited_for(
    services: Services, database_busy: Any
) -> None:
    time, zalo, _telegram, outbox = timed_pair(services, database_busy)
    await _queue_notes(services, {"zalo": 10})
    # The 10 are claimed at once, and go out during the stop.
    await time.run(stop_once_sending(outbox, time, zalo))
    assert await delivery_statuses(services) == Counter({("zalo", "sent"): 10})
    async with services.ctx.sessions() as session:
        assert await session.scalar(select(OutboundMessage.status)) == MessageStatus.DONE


async def test_a_process_cut_while_both_channels_send_repeats_only_what_was_on_the_wire(
    services: Services, database_busy: Any
) -> None:
    """What a kill does to two channels at once (the rehearsal's kills take one channel at a
    time): the drain cancelled half a second in stops both at once, a new outbox recovers and
    sends the rest. Of what each had in hand, Zalo's third send (from 0.4 s) and Telegram's
    third group of five (from 0.33 s) were on the wire: those six go twice, nothing is lost,
    far within a batch a channel."""
    time, zalo, telegram, outbox = timed_pair(services, database_busy)
    await _queue_notes(services, {"zalo": 5, "telegram": 30})

    async def cut_then_restarted() -> None:
        drain = asyncio.ensure_future(outbox.drain())
        await time.sleep(0.5)
        drain.cancel()
        with pytest.raises(asyncio.CancelledError):
            await drain
        await time.sleep(5)  # a channel still sending would go on meanwhile
        assert (len(zalo.starts), len(telegram.starts)) == (3, 15)
        assert max(zalo.starts + telegram.starts) <= 1000.5
        restarted, _ = zalo_and_telegram(services, time, zalo, telegram)
        if restarted.shared:  # PostgreSQL: a claim is a lease, taken back once it expired
            services.ctx.clock.advance(restarted.lease)
        assert await restarted.recover() == 20 + 3  # what was in hand and not recorded
        await restarted.drain()

    await time.run(cut_then_restarted())
    assert await delivery_statuses(services) == Counter(
        {("telegram", "sent"): 30, ("zalo", "sent"): 5}
    )
    assert (len(zalo.starts) - 5, len(telegram.starts) - 30) == (1, 5)
