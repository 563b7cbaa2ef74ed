"""Surges against the fake Bot API with Telegram's limits: the bot as ``hoinghi run`` wires it
(one budget shared by the replies and the outbox), driven from outside as Telegram would.

Two scenarios, used by tests/test_budget.py on virtual time and by bench/surge.py in real time:

- **links**: people open their personal links at a steady rate; each gets the invitation card;
- **taps during a broadcast**: a notice goes to everyone linked while some of them tap "✅ Tham
  dự" on their card; each tap's confirmation must not wait behind the notice.

Only what Telegram sees is measured: every message the fake accepted, when, and to whom.
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from telegram.request import HTTPXRequest

from bot.app import build_outbox
from bot.chat import Inbox
from bot.delegate_file import DelegateRow
from bot.domain.channels import ChatAccount
from bot.domain.outbound import Audience, MessageKind, MessageStatus
from bot.services import Services
from bot.texts import load_catalog
from handlers.telegram.app import build_application
from handlers.telegram.channel import TelegramSender
from handlers.telegram.dedupe import flush_handled
from handlers.telegram.limiter import RetryingRateLimiter
from handlers.telegram.links import telegram_link_maker
from handlers.telegram.receiving import update_of
from handlers.telegram.updates import ChatOrderedUpdateProcessor
from schedules.outbox import Outbox
from schedules.ratelimit import Limits, Pacer
from storage.models import OutboundMessage
from storage.queries import next_notice_number
from storage.uow import unit_of_work
from tests.fakes.telegram_api import FakeBotApi, FakeUser

FIRST_USER_ID = 710_000_001
ATTEND = "✅ Tham dự"
NOTICE = "Kính gửi các đồng chí đại biểu: hội nghị bắt đầu lúc 08:00. Trân trọng."


class Accepted(httpx.AsyncBaseTransport):
    """The fake's transport, noting when (on ``now``) it accepted each message, by chat."""

    def __init__(self, inner: httpx.AsyncBaseTransport, now: Callable[[], float]) -> None:
        self._inner, self._now = inner, now
        self.times: dict[int, list[float]] = {}
        self.notice: dict[int, float] = {}  # when each chat got the surge's notice

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward to the fake; note a message it accepted."""
        response = await self._inner.handle_async_request(request)
        if request.url.path.endswith("/sendMessage") and response.status_code == 200:
            at = self._now()
            await response.aread()
            result = json.loads(response.content)["result"]
            chat = int(result["chat"]["id"])
            self.times.setdefault(chat, []).append(at)
            if NOTICE in result.get("text", ""):
                self.notice.setdefault(chat, at)
        return response

    def first_after(self, chat: int, since: float) -> float | None:
        """When the first message to ``chat`` at or after ``since`` was accepted."""
        return next((at for at in self.times.get(chat, []) if at >= since), None)


@dataclass
class SurgeBot:
    """The bot as ``hoinghi run`` builds it, on one budget, talking to ``fake``."""

    app: Any
    processor: ChatOrderedUpdateProcessor
    limiter: RetryingRateLimiter
    budget: Pacer
    outbox: Outbox
    sender: TelegramSender
    fake: FakeBotApi
    services: Services
    accepted: Accepted
    now: Callable[[], float]
    handing: set[asyncio.Task[None]] = field(default_factory=set)

    def hand_over(self, update: dict[str, Any]) -> None:
        """Give the bot one update, as the poller does (its replies are deferred)."""
        parsed = update_of(update, self.app.bot)
        work = self.processor.process_update(parsed, self.app.process_update(parsed))
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.handing.add(task)
        task.add_done_callback(self.handing.discard)

    async def settle(self) -> None:
        """Wait until every update handed over is handled and its replies are sent."""
        while self.handing:
            await asyncio.gather(*self.handing)
        await self.processor.drain()

    async def stop(self) -> None:
        """Shut down as ``serve()`` does."""
        await self.settle()
        await flush_handled(self.app.bot_data)
        inbox = self.app.bot_data
        from handlers.telegram.context import inbox_of_bot_data

        await inbox_of_bot_data(inbox).flush()
        await self.app.shutdown()
        await self.sender.bot.shutdown()


async def start_surge_bot(
    services: Services,
    fake: FakeBotApi,
    *,
    now: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    shared: bool = True,
) -> SurgeBot:
    """Build and start the bot on ``services`` and ``fake``, every wait on ``now``/``sleep``;
    ``shared=False`` gives the replies and the outbox a budget each, as before issue 17 (two
    limiters aiming at 30 a second each), for a bench's baseline."""
    catalog = load_catalog(services.config.meeting.locale)
    inbox = Inbox(services, catalog)
    accepted = Accepted(fake.transport, now)
    budget = Pacer(Limits(), now=now, sleep=sleep)

    def request() -> HTTPXRequest:
        return HTTPXRequest(connection_pool_size=256, httpx_kwargs={"transport": accepted})

    app = build_application(
        inbox,
        services,
        catalog,
        fake.token,
        request=request(),
        get_updates_request=request(),
        budget=budget,
    )
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, RetryingRateLimiter) and limiter.budget is budget
    limiter.use_time(now, sleep)
    if not shared:
        limiter.flood_retries = 3  # as before: a reply given up after three 429s
    processor = app.update_processor
    assert isinstance(processor, ChatOrderedUpdateProcessor)
    await app.initialize()
    inbox.links.append(telegram_link_maker(app.bot.username))
    sender = TelegramSender.build(fake.token, services.config.telegram, catalog, request=request())
    await sender.bot.initialize()
    own = budget if shared else Pacer(Limits(), now=now, sleep=sleep)
    outbox = build_outbox(services, catalog, {sender.channel: sender}, pacer={"telegram": own})
    return SurgeBot(app, processor, limiter, budget, outbox, sender, fake, services, accepted, now)


def delegate_rows(services: Services, count: int) -> list[DelegateRow]:
    """``count`` synthetic delegates spread over the plan's groups."""
    groups = [group.key for group in services.config.groups]
    return [
        DelegateRow(
            row=n + 2,
            code=f"SG{n + 1:05d}",
            full_name=f"Nguyễn Thị Đại Biểu {n + 1}",
            position="Chủ tịch Hội LHPN",
            organization=f"Cơ sở số {n + 1}",
            group_key=groups[n % len(groups)],
            phone=None,
            rank=n + 1,
        )
        for n in range(count)
    ]


async def people(services: Services, fake: FakeBotApi, count: int) -> list[tuple[FakeUser, str]]:
    """``count`` delegates imported, each with a Telegram user and their link's token."""
    await services.delegates.import_rows(delegate_rows(services, count), actor="surge")
    links = await services.invitations.links()
    return [
        (fake.user(FIRST_USER_ID + n, link.full_name), link.token)
        for n, link in enumerate(links[:count])
    ]


@dataclass
class Figures:
    """What a surge measured, in seconds on its clock."""

    latencies: list[float]  # from each person's update to the answer Telegram accepted
    unanswered: int
    rate_limited: int
    gave_up: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The latencies as median / p95 / max, and the failures."""
        ordered = sorted(self.latencies) or [0.0]
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        return (
            f"{len(self.latencies)} answered, {self.unanswered} unanswered; latency median "
            f"{statistics.median(ordered):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s; "
            f"{self.rate_limited} × 429, {self.gave_up} given up; {self.seconds:.1f} s in all"
        )


async def links_surge(
    bot: SurgeBot,
    users: list[tuple[FakeUser, str]],
    *,
    per_second: float,
    sleep: Callable[[float], Awaitable[None]],
) -> Figures:
    """Everyone opens their link, ``per_second`` of them a second; each must get the card."""
    began = bot.now()
    opened: dict[int, float] = {}
    for n, (user, token) in enumerate(users):
        wait = began + n / per_second - bot.now()
        if wait > 0:
            await sleep(wait)
        opened[user.id] = bot.now()
        bot.hand_over(user.command(f"/start {token}"))
    await bot.settle()
    latencies, unanswered = [], 0
    for user, _ in users:
        carded = any(_has_button(message, ATTEND) for message in user.messages)
        times = [at for at in bot.accepted.times.get(user.id, []) if at >= opened[user.id]]
        if not carded or not times:
            unanswered += 1
            continue
        latencies.append(max(times) - opened[user.id])  # the card is the link's last message
    return Figures(
        latencies,
        unanswered,
        bot.fake.rate_limited,
        sum(bot.limiter.gave_up.values()),
        bot.now() - began,
    )


async def link_directly(bot: SurgeBot, users: list[tuple[FakeUser, str]]) -> None:
    """Link these people without Telegram (they opened their links long ago)."""
    for user, token in users:
        account = ChatAccount("telegram", str(user.id), str(user.id))
        await bot.services.invitations.link_by_token(account, token)


async def taps_during_broadcast(
    bot: SurgeBot,
    everyone: list[FakeUser],
    tappers: list[FakeUser],
    *,
    per_second: float,
    start_after: float,
    sleep: Callable[[float], Awaitable[None]],
) -> tuple[Figures, Figures]:
    """A notice to everyone linked; ``start_after`` seconds into it, the ``tappers`` tap
    "✅ Tham dự" on their card, ``per_second`` a second. Returns the taps' figures and the
    notice's (its latency: from the confirmation to the last delivery)."""
    services = bot.services
    now = services.ctx.clock.now()
    async with unit_of_work(services.ctx.sessions) as session:
        notice = OutboundMessage(
            meeting_id=services.ctx.meeting_id,
            kind=MessageKind.BROADCAST,
            status=MessageStatus.SCHEDULED,
            audience=Audience.LINKED,
            body=NOTICE,
            params={},
            due_at=now,
            expires_at=now + timedelta(hours=12),
            created_by="surge",
            report_to=None,
            created_at=now,
            number=await next_notice_number(session, services.ctx.meeting_id),
        )
        session.add(notice)
        await session.flush()
        notice_id = notice.id
    confirmed = bot.now()
    sending = asyncio.ensure_future(_until_done(bot, notice_id))
    await sleep(start_after)
    tapped: dict[int, float] = {}
    for n, user in enumerate(tappers):
        wait = confirmed + start_after + n / per_second - bot.now()
        if wait > 0:
            await sleep(wait)
        card = next((m for m in reversed(user.messages) if _has_button(m, ATTEND)), None)
        if card is None:
            continue  # their card never came (a reply given up): nothing to tap
        tapped[user.id] = bot.now()
        bot.hand_over(user.tap(ATTEND, message=card))
    await bot.settle()
    await sending
    latencies, unanswered = [], 0
    for user in tappers:
        if user.id not in tapped:
            unanswered += 1
            continue
        answered = bot.accepted.first_after(user.id, tapped[user.id])
        if answered is None:
            unanswered += 1
        else:
            latencies.append(answered - tapped[user.id])
    gave_up = sum(bot.limiter.gave_up.values())
    taps = Figures(latencies, unanswered, bot.fake.rate_limited, gave_up, bot.now() - confirmed)
    got = [bot.accepted.notice.get(user.id) for user in everyone]
    reached = [at for at in got if at is not None]
    last = max(reached, default=confirmed)
    broadcast = Figures(
        [last - confirmed], len(got) - len(reached), bot.fake.rate_limited, gave_up,
        last - confirmed,
    )  # fmt: skip
    first = min(reached, default=confirmed)
    broadcast.notes.append(
        f"{len(reached)} of {len(got)} reached; first {first - confirmed:.2f} s after the "
        f"confirmation, last {last - confirmed:.1f} s; outbox delivered "
        f"{bot.outbox.stats.delivered}, 429s {bot.outbox.stats.rate_limited}"
    )
    return taps, broadcast


async def _until_done(bot: SurgeBot, notice_id: int) -> None:
    """Tick the outbox (woken at once, as a confirmed notice does) until the notice is done."""
    for _ in range(1000):
        await bot.outbox.tick()
        async with unit_of_work(bot.services.ctx.sessions) as session:
            status = await session.scalar(
                select(OutboundMessage.status).where(OutboundMessage.id == notice_id)
            )
        if status == MessageStatus.DONE:
            return
    raise RuntimeError(f"notice {notice_id} still not done after 1,000 ticks")


def _has_button(message: dict[str, Any], label: str) -> bool:
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or []
    return any(button.get("text") == label for row in rows for button in row)
