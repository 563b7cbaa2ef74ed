"""The Zalo channel: updates in (long polling or the web server's webhook), the core's answers
out as plain texts, and the outbox's sender; built by :func:`bot.app` from ``ZALO_BOT_TOKEN``
and ``[zalo]``.

Replies share the bot's sending budget with the outbox (``[zalo] messages_per_second``): a
person's answer goes before bulk sending, and a 429 pauses both.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.chat import Inbox
from bot.config import ZaloSettings
from bot.domain.channels import ChannelInfo
from bot.domain.inbound import Event
from bot.domain.outbound import Answer, Outbound
from bot.errors import ChannelUnavailable
from bot.services import Services
from bot.services.handled_events import HandledEvents
from bot.texts import Catalog
from handlers.zalo.channel import ZaloSender
from handlers.zalo.client import ZaloApiError, ZaloClient, ZaloError, ZaloNetworkError
from handlers.zalo.events import CHANNEL, event_of, message_id
from handlers.zalo.receiving import Dispatcher, Poller, WebhookReceiver
from handlers.zalo.render import CAPABILITIES, texts
from schedules.ratelimit import Pacer

log = logging.getLogger(__name__)

TOKEN_ENV = "ZALO_BOT_TOKEN"  # noqa: S105 (a variable name, not a secret)
WEBHOOK_SECRET_ENV = "ZALO_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
STOP_GRACE = 5.0  # seconds a stop waits for the updates in hand
# A webhook's route on the web server: a path no token can take, made from the secret so it
# cannot be guessed either (the header is what is checked).
HOOK_PREFIX = "zalo-hook"

Hook = Callable[[Any, bytes], Any]


def hook_path(secret: str, channel: str = CHANNEL) -> str:
    """The web server's path of the Zalo webhook for ``secret`` (each further bot, sharing the
    secret, its own path)."""
    key = secret if channel == CHANNEL else f"{channel}:{secret}"
    return f"{HOOK_PREFIX}/{hashlib.sha256(key.encode()).hexdigest()[:24]}"


@dataclass
class ZaloAdapter:
    """One Zalo bot: turns its updates into the core's events and the answers into texts."""

    client: ZaloClient
    inbox: Inbox
    services: Services
    catalog: Catalog
    budget: Pacer = field(default_factory=Pacer)
    bot_id: str = ""
    channel: str = CHANNEL  # zalo2, zalo3… for a meeting's further bots

    def __post_init__(self) -> None:
        self.dispatcher: Dispatcher | None = None  # while receiving
        self.poller: Poller | None = None  # while receiving by long polling
        self.handled = HandledEvents(self.services.ctx, channel=self.channel)
        self.info = ChannelInfo(self.channel, CAPABILITIES)

    async def handle(self, update: dict[str, Any]) -> None:
        """One update, to the end: skipped if its message was handled already, else handed to
        the core, its answer sent, and its id recorded (not when handling failed: a copy may
        then still do what failed)."""
        event = event_of(update, self.channel)
        if event is None:
            return
        ident = message_id(update)
        if ident is not None and await self.handled.seen(self.bot_id, ident):
            log.info("a zalo message was handled already; the copy is skipped")
            return
        try:
            answer = await self.inbox.handle(event, self.info)
        except Exception:
            log.exception("unexpected error while handling a zalo message")
            await self._say(
                event.chat.address, Outbound.text(self.catalog.html("errors.unexpected"))
            )
            return
        await self.answer(event, answer)
        if ident is not None:
            await self.handled.record(self.bot_id, ident)

    async def answer(self, event: Event, answer: Answer) -> None:
        """Send the core's answer: each reply's texts in order; a toast as a message when
        nothing else answers (there is no tap to show it on)."""
        for reply in answer.replies:
            address = (
                event.account.chat_address if reply.private else reply.to or event.chat.address
            )
            if not await self._say(address, reply.outbound):
                return
        if answer.toast is not None and not answer.replies:
            await self._say(event.chat.address, Outbound.text(answer.toast.text))

    async def _say(self, address: str, outbound: Outbound) -> bool:
        """Send ``outbound`` as texts; False once Zalo refused (the rest is not sent)."""
        for text in texts(outbound, self.catalog):
            try:
                async with self.budget.slot(None, urgent=True):
                    await self.client.send_message(address, text)
            except ZaloApiError as exc:
                if exc.code == 429 and exc.retry_after:
                    self.budget.pause(exc.retry_after)
                log.info("a zalo reply was not sent: %s", exc.code)
                return False
            except ZaloNetworkError:
                log.warning("a zalo reply was not sent: no answer from the platform")
                return False
        return True


@dataclass(frozen=True)
class ZaloWebhook:
    """Webhook mode: the public URL Zalo POSTs to, its secret, and the web server's routes."""

    url: str
    secret: str
    hooks: MutableMapping[str, Any]
    channel: str = CHANNEL

    @property
    def path(self) -> str:
        """The route on the web server."""
        return hook_path(self.secret, self.channel)


@asynccontextmanager
async def receiving(
    adapter: ZaloAdapter,
    *,
    webhook: ZaloWebhook | None = None,
    grace: float = STOP_GRACE,
    poll_timeout: float | None = None,
) -> AsyncIterator[None]:
    """Receive updates while the block runs (long polling, or ``webhook``); on the way out take
    no more and let those in hand finish within ``grace`` seconds. Fails with
    :class:`ChannelUnavailable` when the bot cannot be reached at the start."""
    client = adapter.client
    try:
        me = await client.get_me()
    except ZaloApiError as exc:
        await client.close()
        reason = "zalo_invalid_token" if exc.code in (401, 404) else "zalo_other"
        raise ChannelUnavailable(reason, str(exc.code)) from None
    except ZaloNetworkError:
        await client.close()
        raise ChannelUnavailable("zalo_network") from None
    adapter.bot_id = str(me.get("id") or "")
    dispatcher = adapter.dispatcher = Dispatcher(adapter.handle)
    poller: Poller | None = None
    receiver: WebhookReceiver | None = None
    try:
        if webhook is None:
            poller = adapter.poller = Poller(client, dispatcher, timeout=poll_timeout)
            await poller.start()
            log.info("zalo bot is polling")
        else:
            receiver = WebhookReceiver(dispatcher, webhook.secret)
            webhook.hooks[webhook.path] = receiver.answer
            await client.set_webhook(webhook.url, webhook.secret)
            log.info("zalo bot receives updates on the web server")
        yield
    finally:
        deadline = asyncio.get_running_loop().time() + grace
        if poller is not None:
            await poller.stop()
            adapter.poller = None
        if receiver is not None and webhook is not None:
            receiver.stop()  # a request still coming is answered 503; then the route is gone
            webhook.hooks.pop(webhook.path, None)
        await dispatcher.finish(deadline)
        await adapter.handled.flush()
        if dispatcher.cut:
            log.warning("stopped: %d zalo messages were cut short by the stop", dispatcher.cut)
        await client.close()


def build_adapter(
    token: str,
    settings: ZaloSettings,
    inbox: Inbox,
    services: Services,
    catalog: Catalog,
    *,
    budget: Pacer | None = None,
    transport: Any = None,
    channel: str = CHANNEL,
) -> tuple[ZaloAdapter, ZaloSender]:
    """The adapter for updates and the outbox's sender, each with a client of its own (a long
    poll holds a connection); ``channel`` names the bot (``zalo``, then ``zalo2``…)."""
    client = ZaloClient(token, base_url=settings.api_base_url, transport=transport)
    adapter = ZaloAdapter(client, inbox, services, catalog, budget or Pacer(), channel=channel)
    sender = ZaloSender(
        ZaloClient(token, base_url=settings.api_base_url, transport=transport),
        catalog,
        channel=channel,
    )
    return adapter, sender


async def fetch_bot(token: str, settings: ZaloSettings) -> dict[str, Any]:
    """The bot's getMe (its name), or :class:`ChannelUnavailable`."""
    client = ZaloClient(token, base_url=settings.api_base_url)
    try:
        return await client.get_me()
    except ZaloError as exc:
        raise ChannelUnavailable("zalo_other", type(exc).__name__) from None
    finally:
        await client.close()
