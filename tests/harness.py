"""The real bot (python-telegram-bot Application + services + SQLite) against the fake Bot API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application

from bench.common import add_notice
from bot.app import build_outbox
from bot.chat import Inbox
from bot.config import Config
from bot.domain.clock import ManualClock
from bot.domain.outbound import Audience, MessageKind
from bot.domain.reminders import planned_messages
from bot.services import Services
from bot.texts import load_catalog
from handlers.telegram.app import build_application
from handlers.telegram.channel import TelegramSender
from handlers.telegram.limiter import RetryingRateLimiter
from handlers.telegram.links import telegram_link_maker
from rehearsal.telegram import deliver
from schedules.outbox import Outbox
from schedules.planner import sync_planned
from schedules.ratelimit import Limits, Pacer, VirtualTime
from storage.models import OutboundMessage
from tests.fakes.telegram_api import FakeBotApi, FakeUser

ADMIN_ID = 100000001  # in config.example.toml's [office] admin_ids
OFFICE_CHAT = -1001000000001  # config.example.toml's [office] chat_id


async def add_notice_due(
    session: AsyncSession,
    meeting_id: int,
    body: str,
    now: datetime,
    *,
    audience: str = Audience.LINKED,
) -> OutboundMessage:
    """An office notice to ``audience``, due ``now``, its report to the office group, added to
    ``session`` and numbered the meeting's next (:func:`bench.common.add_notice`, as the tests'
    office sends it)."""
    return await add_notice(
        session, meeting_id, body, now, f"telegram:{OFFICE_CHAT}", audience=audience, by="test"
    )


def wired_config(config: Config, fake: FakeBotApi) -> Config:
    """The plan with the Bot API URLs pointed at the fake."""
    telegram = config.telegram.model_copy(
        update={"api_base_url": fake.base_url, "file_base_url": fake.base_file_url}
    )
    return config.model_copy(update={"telegram": telegram})


@dataclass
class BotHarness:
    """Drives the bot the way Telegram would: one update at a time, awaited to the end."""

    app: Application  # type: ignore[type-arg]
    fake: FakeBotApi
    services: Services
    clock: ManualClock
    outbox: Outbox
    time: VirtualTime
    # The replies' rate limiter waits here (one message a second per chat after a burst of
    # three), so a test that sends a person many messages does not wait in real time.
    replies_time: VirtualTime = field(default_factory=VirtualTime)
    tokens: dict[str, str] = field(default_factory=dict)
    linked: dict[str, FakeUser] = field(default_factory=dict)
    _next_user_id: int = 500_000_000

    async def tick(self) -> None:
        """One outbox tick, as the scheduler would run it at the clock's current time."""
        await self.outbox.tick()

    async def plan(self, *kinds: MessageKind) -> None:
        """Store the plan's automatic messages (what the scheduler does at start), optionally
        only those of some kinds, and sync the plan's tasks."""
        await self.services.tasks.sync()
        await self.services.drafts.sync()
        own = await self.services.drafts.own_deadlines()
        planned = planned_messages(self.services.config, own)
        await sync_planned(
            self.services.ctx.sessions,
            self.clock,
            self.services.ctx.meeting_id,
            [p for p in planned if not kinds or p.kind in kinds],
        )

    async def outbox_bot_shutdown(self) -> None:
        """Close the outbox's own Bot."""
        for sender in self.outbox.senders.values():
            await sender.bot.shutdown()  # type: ignore[attr-defined]

    def user_for(self, code: str) -> FakeUser:
        """The Telegram user who opened ``code``'s link (see :meth:`open_invitation`)."""
        return self.linked[code]

    async def send(self, update: dict[str, Any]) -> None:
        """Deliver one update and wait until every handler for it has finished."""
        await deliver(self.app, update)

    def new_user(self, first_name: str = "Đại biểu") -> FakeUser:
        """A fresh Telegram user with a private chat."""
        self._next_user_id += 1
        return self.fake.user(self._next_user_id, first_name)

    def admin(self) -> FakeUser:
        """The office admin of the example plan."""
        return self.fake.user(ADMIN_ID, "Văn phòng")

    async def open_invitation(self, code: str, user: FakeUser | None = None) -> FakeUser:
        """The delegate with ``code`` opens their personal link."""
        user = user or self.new_user(code)
        await self.send(user.command(f"/start {self.tokens[code]}"))
        self.linked.setdefault(code, user)
        return user


async def name_substitute(
    harness: BotHarness,
    user: FakeUser,
    name: str,
    position: str,
    *,
    own_unit: str | None = None,
    unit: str | None = None,
    phone: str | None = None,
    card: dict[str, Any] | None = None,
    deliver: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> None:
    """``user`` sends a substitute in chat, as a delegate does: taps «👤 Cử người dự thay» on
    her card, types the substitute's ``name`` and ``position``, then taps «Cùng đơn vị:
    ``own_unit``» (the delegate's unit, as the button names it) or types ``unit``, and types
    ``phone`` or taps «Bỏ qua». ``card``: the message whose button she taps (her latest with
    buttons by default). Each update goes through ``deliver`` (``harness.send``)."""
    assert (own_unit is None) != (unit is None), "the substitute's unit: own_unit or unit"
    send = deliver or harness.send
    await send(user.tap("👤 Cử người dự thay", message=card))
    await send(user.text(name))
    await send(user.text(position))
    if own_unit is not None:
        await send(user.tap(f"Cùng đơn vị: {own_unit}"))
    else:
        await send(user.text(cast(str, unit)))
    await send(user.text(phone) if phone is not None else user.tap("Bỏ qua"))


async def start_harness(fake: FakeBotApi, services: Services, clock: ManualClock) -> BotHarness:
    """Build and initialise the application as `hoinghi run` does, minus polling."""
    catalog = load_catalog(services.config.meeting.locale)
    inbox = Inbox(services, catalog)
    app = build_application(
        inbox,
        services,
        catalog,
        fake.token,
        request=fake.make_request(),
        get_updates_request=fake.make_request(),
    )
    await app.initialize()
    sender = TelegramSender.build(
        fake.token, services.config.telegram, catalog, request=fake.make_request()
    )
    await sender.bot.initialize()
    time = VirtualTime(start=1000.0)
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    outbox = build_outbox(services, catalog, {sender.channel: sender}, pacer=pacer)
    await app.bot.initialize()
    inbox.links.append(telegram_link_maker(app.bot.username))
    links = await services.invitations.links()
    replies_time = VirtualTime()
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, RetryingRateLimiter)
    limiter.use_time(replies_time.monotonic, replies_time.sleep)
    return BotHarness(
        app=app,
        fake=fake,
        services=services,
        clock=clock,
        outbox=outbox,
        time=time,
        replies_time=replies_time,
        tokens={link.code: link.token for link in links},
    )
