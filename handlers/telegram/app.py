"""The python-telegram-bot Application: handlers wired in one place, nothing built at import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from urllib.parse import urlsplit

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, Defaults, TypeHandler
from telegram.request import BaseRequest

from bot.app import freeze_startup_heap
from bot.chat import Inbox
from bot.errors import ChannelUnavailable
from bot.services import Services
from bot.services.access import Role
from bot.texts import Catalog
from handlers.telegram import dedupe, errors, inbound
from handlers.telegram.channel import TelegramSender
from handlers.telegram.context import (
    catalog_of_bot_data,
    inbox_of_bot_data,
    install,
    services_of_bot_data,
)
from handlers.telegram.limiter import RetryingRateLimiter
from handlers.telegram.receiving import Mount, Poller, UpdatesRequest, WebhookReceiver
from handlers.telegram.render import CHANNEL, NO_LINK_PREVIEWS
from handlers.telegram.request import POLL_POOL, new_request, quiet_unreadable_answers
from handlers.telegram.updates import ChatOrderedUpdateProcessor
from schedules.ratelimit import Pacer

log = logging.getLogger(__name__)

DELEGATE_COMMANDS = ("start", "trangthai", "lich", "tailieu", "nhiemvu", "thamluan", "help", "id")
OFFICE_COMMANDS = (
    "thongke",
    "chuatraloi",
    "baocao",
    "thongbao",
    "lichthongbao",
    "phancong",
    "caplai",
    "golienket",
)
# Seconds a stop waits for the updates being handled, and then their deferred replies.
STOP_GRACE = 5.0


def bot_defaults(zone: tzinfo) -> Defaults:
    """What the bot's messages default to: HTML, no link previews, times in the meeting's zone
    (``handlers.telegram.render`` sends texts with the same fields)."""
    return Defaults(
        parse_mode=ParseMode.HTML,
        link_preview_options=NO_LINK_PREVIEWS,
        tzinfo=zone,
    )


def build_application(
    inbox: Inbox,
    services: Services,
    catalog: Catalog,
    token: str,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    budget: Pacer | None = None,
) -> Application:  # type: ignore[type-arg]
    """The bot for ``services``; ``request`` lets tests plug in the fake Bot API; ``budget``:
    the bot's sending budget, shared with the outbox (else one of its own)."""
    settings = services.config.telegram
    builder = (
        Application.builder()
        .token(token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.file_base_url)
        .defaults(bot_defaults(services.config.meeting.zone))
        # A reply is never given up on a 429 (max_retries=None): it waits its turn.
        .rate_limiter(
            RetryingRateLimiter(budget=budget, concurrent_requests=settings.concurrent_requests)
        )
        .concurrent_updates(
            ChatOrderedUpdateProcessor(
                settings.concurrent_updates,
                chat_updates_per_minute=settings.chat_updates_per_minute,
            )
        )
        .post_init(_publish_commands)
        # Updates come through handlers.telegram.receiving, which confirms an update to
        # Telegram only once it is handled; PTB's Updater confirms it when fetched.
        .updater(None)
    )
    quiet_unreadable_answers()
    client = settings.http_client
    polling = UpdatesRequest(get_updates_request or new_request(client, pool=POLL_POOL))
    builder = builder.request(request or new_request(client)).get_updates_request(polling)
    application = builder.build()
    install(application.bot_data, inbox, services, catalog)
    register_handlers(application)
    return application


def register_handlers(application: Application) -> None:  # type: ignore[type-arg]
    """One handler for every update: the core decides what each one is for."""
    # A copy of an update Telegram delivers again (even after later ones) is skipped here; an
    # update is recorded as handled last, unless a handler raised (see handlers/telegram/dedupe.py).
    application.add_handler(TypeHandler(Update, dedupe.skip_handled), group=dedupe.FIRST_GROUP)
    application.add_handler(TypeHandler(Update, inbound.on_update))
    application.add_handler(TypeHandler(Update, dedupe.record_handled), group=dedupe.LAST_GROUP)
    application.add_error_handler(errors.on_error)
    application.add_error_handler(dedupe.keep_failed_unrecorded)  # after on_error: it stops


async def _publish_commands(application: Application) -> None:  # type: ignore[type-arg]
    """Show the command menu: delegates' commands for all, office commands for office staff."""
    catalog = catalog_of_bot_data(application.bot_data)
    services = services_of_bot_data(application.bot_data)
    delegate = [BotCommand(name, catalog.plain(f"commands.{name}")) for name in DELEGATE_COMMANDS]
    office_menu = delegate + [
        BotCommand(name, catalog.plain(f"commands.{name}")) for name in OFFICE_COMMANDS
    ]
    await application.bot.set_my_commands(delegate)
    for chat_id in await office_chats(services):
        try:
            await application.bot.set_my_commands(office_menu, scope=BotCommandScopeChat(chat_id))
        except TelegramError as exc:
            # An admin who never opened the bot has no chat yet; the others still get a menu.
            log.warning("no office menu for one admin: %s", type(exc).__name__)


async def office_chats(services: Services) -> list[int]:
    """The private chats of office staff on Telegram: the ids of ``[office] admin_ids``, then
    the Telegram accounts of people given the office role (``hoinghi staff add``)."""
    chats = list(dict.fromkeys(services.config.office.admin_ids))
    for member in await services.access.staff(Role.OFFICE):
        for channel, address in member.accounts:
            if channel == CHANNEL and address.lstrip("-").isdigit() and int(address) not in chats:
                chats.append(int(address))
    return chats


@dataclass(frozen=True)
class Webhook:
    """Where Telegram delivers updates in webhook mode, and the secret it must present.

    Telegram POSTs each update to ``url`` (public, HTTPS, usually behind a reverse proxy that
    forwards to ``listen``:``port``) with the header ``X-Telegram-Bot-Api-Secret-Token``; a
    request without the right secret is refused with 403 before it reaches a handler.
    """

    listen: str
    port: int
    url: str
    secret: str
    # The web server's route for the webhook (one port for the pages and every platform):
    # given the path and the handler, it mounts it and returns how to take it off. None: a
    # server of the webhook's own listens on ``listen``:``port``.
    mount: Mount | None = None

    @property
    def path(self) -> str:
        """The URL path the local server answers on."""
        return urlsplit(self.url).path.lstrip("/")


@asynccontextmanager
async def receiving(
    application: Application,  # type: ignore[type-arg]
    *,
    sender: TelegramSender | None = None,
    webhook: Webhook | None = None,
    on_ready: Callable[[str], object] | None = None,
    grace: float = STOP_GRACE,
    on_receiver: Callable[[Poller | WebhookReceiver], object] | None = None,
) -> AsyncIterator[None]:
    """Receive updates (long polling, or ``webhook``) while the block runs, then stop within
    ``grace`` seconds. ``sender``'s Bot (the outbox's) is opened and closed with it;
    ``on_ready`` is told the bot's @username once it is known, ``on_receiver`` the receiver
    once it has started (its ``failures``: the polls that failed in a row).

    Stopping takes no update further: polling stops, the webhook stops listening, and the
    updates not begun yet are left to Telegram, which delivers them again at the next start
    (they were never confirmed: :mod:`handlers.telegram.receiving`). The updates being handled
    finish, and their deferred replies are sent; what is still running when ``grace`` runs out
    is cut short and left to Telegram too.
    """
    processor = application.update_processor
    if not isinstance(processor, ChatOrderedUpdateProcessor):
        raise TypeError("receiving() needs the ChatOrderedUpdateProcessor of build_application")
    with channel_errors():
        await application.initialize()
        if sender is not None:
            await sender.bot.initialize()
    try:
        async with application:
            if application.post_init is not None:  # run_polling would call it; we run by hand
                await application.post_init(application)
            if on_ready is not None:  # the bot's @username is known once it is initialised
                on_ready(application.bot.username)
            await application.start()
            receiver: Poller | WebhookReceiver
            if webhook is None:
                receiver = Poller(application, processor)
                await receiver.start()
                log.info("bot @%s is polling", application.bot.username)
            else:
                receiver = WebhookReceiver(
                    application,
                    processor,
                    listen=webhook.listen,
                    port=webhook.port,
                    path=webhook.path,
                    url=webhook.url,
                    secret=webhook.secret,
                    mount=webhook.mount,
                )
                await receiver.start()
                if webhook.mount is not None:
                    log.info("bot @%s receives updates on the web server", application.bot.username)
                else:
                    log.info(
                        "bot @%s receives updates on %s:%d", application.bot.username,
                        webhook.listen, webhook.port,
                    )  # fmt: skip
            if on_receiver is not None:
                on_receiver(receiver)
            yield
            deadline = asyncio.get_running_loop().time() + grace
            await receiver.stop()
            processor.stop_taking()
            await processor.finish(deadline)
            await application.stop()  # nothing is left in its queue but updates to leave
            await processor.drain(deadline)  # replies the last updates left to send after them
            processor.settle_rest()
            await receiver.close()  # polling: confirms what was handled since the last poll
            await dedupe.flush_handled(application.bot_data)  # the last updates' ids, stored
            if receiver.left:
                log.info(
                    "stopped: %d updates received were not handled; Telegram delivers them "
                    "again at the next start", receiver.left,
                )  # fmt: skip
            else:
                log.info("stopped: every update received was handled")
    finally:
        if sender is not None:
            await sender.bot.shutdown()


async def serve(
    application: Application,  # type: ignore[type-arg]
    stop: asyncio.Event,
    *,
    webhook: Webhook | None = None,
    grace: float = STOP_GRACE,
) -> None:
    """Receive updates (long polling, or ``webhook``) until ``stop`` is set, then shut down
    within ``grace`` seconds: the Telegram channel alone, without the outbox, its start-up heap
    frozen as ``hoinghi run`` freezes it (which runs every channel and the outbox through
    :class:`bot.app.App`)."""
    async with receiving(application, webhook=webhook, grace=grace):
        freeze_startup_heap()
        await stop.wait()
    await inbox_of_bot_data(application.bot_data).flush()  # the accounts used, marked


async def fetch_bot_username(
    token: str, services: Services, *, request: BaseRequest | None = None
) -> str:
    """The bot's @username from getMe, for personal links."""
    settings = services.config.telegram
    bot = Bot(
        token,
        base_url=settings.api_base_url,
        base_file_url=settings.file_base_url,
        request=request or new_request(settings.http_client),
    )
    with channel_errors():
        async with bot:
            return bot.username


@contextmanager
def channel_errors() -> Iterator[None]:
    """Turn Telegram's start-up failures into the core's ChannelUnavailable (token never shown)."""
    try:
        yield
    except InvalidToken:
        raise ChannelUnavailable("invalid_token") from None
    except NetworkError:
        raise ChannelUnavailable("network") from None
    except TelegramError as exc:
        raise ChannelUnavailable("other", type(exc).__name__) from None
