"""The Zalo channel under test: the real adapter (client, long polling or webhook, dispatcher,
sender) talking over loopback HTTP to the simulated Zalo Bot API, the outbox sending through
the real ZaloSender, on the example plan with its contacts.

People link through :meth:`ZaloWorld.linked`, the one place that says how a Zalo user links:
Zalo passes no payload with a first message (no link opens the chat with a token), so she sends
her personal code, 8 characters («K7PX-3QBM») printed beside the QR on her invitation and shown
on her personal page, as the bot's welcome asks; whatever else she types first is answered with
how to link. (A typed ``/start <token>`` links too.)

:func:`zalo_client` gives a test of the adapter's parts a client on the fake alone.

The fixtures :func:`world` (long polling) and :func:`hooked` (webhook) serve every test file:
tests/conftest.py loads this module as a plugin. A test file of another channel that has a
``world`` of its own (a text channel's) uses that one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from bot.app import build_outbox
from bot.chat import Inbox
from bot.config import ZaloSettings
from bot.domain.clock import ManualClock
from bot.domain.tokens import format_link_code
from bot.services import Services
from bot.texts import Catalog, load_catalog
from handlers.web.app import build_web_app
from handlers.web.server import serving
from handlers.zalo.app import ZaloAdapter, ZaloWebhook, build_adapter, hook_path, receiving
from handlers.zalo.channel import ZaloSender
from handlers.zalo.client import ZaloClient
from schedules.outbox import Outbox
from schedules.ratelimit import Limits, Pacer, VirtualTime
from tests.fakes.server import FakeBotApiServer
from tests.fakes.zalo_api import FakeZaloApi, FakeZaloUser
from tests.plan_support import contacts_and_staff
from tests.web_support import web_setup

SETTLE_LIMIT = 20.0  # seconds: only bounds a test that would otherwise hang
# Seconds a call waits for the fake's answer: an injected timeout keeps the fake silent until
# the client gives up, and its answers on loopback take milliseconds (a real network: 15).
CALL_TIMEOUT = 1.0
# The secret the platform sends with each update it POSTs to the webhook (:func:`hooked`).
WEBHOOK_SECRET = "zalo-webhook-secret-of-the-tests"


@asynccontextmanager
async def zalo_client(fake: FakeZaloApi) -> AsyncIterator[ZaloClient]:
    """The adapter's client talking to ``fake`` in memory (no server), closed at the end."""
    client = ZaloClient(fake.token, base_url=fake.base_url, transport=fake.transport)
    try:
        yield client
    finally:
        await client.close()


@dataclass
class ZaloWorld:
    """The plan, the fake platform, the adapter receiving from it and the outbox."""

    services: Services
    catalog: Catalog
    fake: FakeZaloApi
    server: FakeBotApiServer
    adapter: ZaloAdapter
    sender: ZaloSender
    outbox: Outbox
    clock: ManualClock
    tokens: dict[str, str]
    codes: dict[str, str]  # each invitee's personal code, as printed beside their QR

    async def settle(self) -> None:
        """Return once every update the platform holds has been fetched and handled."""
        dispatcher = self.adapter.dispatcher
        assert dispatcher is not None
        async with asyncio.timeout(SETTLE_LIMIT):
            while True:
                dispatcher.progress.clear()
                if not self.fake.pending and dispatcher.finished >= self.fake.returned:
                    return
                await dispatcher.progress.wait()

    async def type(self, user: FakeZaloUser, text: str) -> list[str]:
        """``user`` types ``text``; the texts the bot answered with."""
        before = len(user.texts)
        user.text(text)
        await self.settle()
        return user.texts[before:]

    async def linked(self, code: str, name: str) -> FakeZaloUser:
        """A Zalo user who links to ``code``'s invitation by typing their personal code, as
        Zalo, with no link payload, has them do (the one place that says how)."""
        user = self.fake.user(name)
        said = await self.type(user, self.codes[code])
        # (a task contact or staff member is told her name, not «liên kết với giấy mời»)
        assert said and said[0].startswith("Tài khoản của đồng chí đã được liên kết"), said
        return user

    async def tick(self) -> None:
        """The outbox's tick, twice: what is due, then the reports it queued."""
        await self.outbox.tick()
        await self.outbox.tick()


async def prepare_plan(services: Services) -> None:
    """The example plan's contacts imported (their tasks and speeches assigned), NV02 as office
    staff (once a run on SQLite: :func:`tests.plan_support.once_per_start`)."""
    await contacts_and_staff(services, "NV02")


@asynccontextmanager
async def zalo_world(
    services: Services,
    clock: ManualClock,
    *,
    fake: FakeZaloApi | None = None,
    webhook: ZaloWebhook | None = None,
    settings: ZaloSettings | None = None,
    channel: str = "zalo",
) -> AsyncIterator[ZaloWorld]:
    """The Zalo channel alone, receiving (long polling unless ``webhook``) while inside;
    ``channel``: the bot's channel (``zalo2``… for a meeting's further bots)."""
    await prepare_plan(services)
    fake = fake or FakeZaloApi()
    catalog = load_catalog("vi")
    time = VirtualTime()
    async with FakeBotApiServer(fake) as server:
        config = (settings or ZaloSettings()).model_copy(update={"api_base_url": server.root_url})
        rate = config.messages_per_second
        budget = Pacer(Limits(overall_per_second=rate), now=time.monotonic, sleep=time.sleep)
        inbox = Inbox(services, catalog)
        adapter, sender = build_adapter(
            fake.token, config, inbox, services, catalog, budget=budget, channel=channel
        )
        adapter.now, adapter.sleep = time.monotonic, time.sleep  # a reply's retries: no waiting
        adapter.client.request_timeout = sender.client.request_timeout = CALL_TIMEOUT
        outbox = build_outbox(services, catalog, {sender.channel: sender}, pacer=budget)
        links = await services.invitations.links()
        tokens = {link.code: link.token for link in links}
        codes = {link.code: format_link_code(link.link_code) for link in links}
        world = ZaloWorld(
            services, catalog, fake, server, adapter, sender, outbox, clock, tokens, codes
        )
        try:
            async with receiving(adapter, webhook=webhook, poll_timeout=5.0):
                yield world
        finally:
            await sender.client.close()
            await inbox.flush()
    fake.assert_no_violations()


@pytest.fixture
async def world(imported: Services, clock: ManualClock) -> AsyncIterator[ZaloWorld]:
    """The example plan with its contacts, NV02 of the office as staff, and Zalo as the only
    channel running (long polling)."""
    async with zalo_world(imported, clock) as world:
        yield world


@pytest.fixture
async def hooked(imported: Services, clock: ManualClock) -> AsyncIterator[ZaloWorld]:
    """As :func:`world`, with Zalo in webhook mode: its updates POSTed to the web server's
    secret route with :data:`WEBHOOK_SECRET`."""
    setup = web_setup(imported, hook_paths=(hook_path(WEBHOOK_SECRET),))
    async with serving(build_web_app(setup), host="127.0.0.1", port=0) as port:
        url = f"http://127.0.0.1:{port}/{hook_path(WEBHOOK_SECRET)}"
        webhook = ZaloWebhook(url, WEBHOOK_SECRET, setup.hooks)
        async with zalo_world(imported, clock, webhook=webhook) as world:
            yield world
