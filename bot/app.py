"""The composition root: config → storage → services → outbox and scheduler → channels.

This is the one place that knows the channel adapters; the core (``bot.domain``,
``bot.services``, ``bot.chat``), ``storage`` and ``schedules`` never import them, and the CLI
reaches them only through an :class:`App`. An adapter is imported when its channel is built or
makes links, never at import time: a command that talks to no platform loads none of their
libraries.

A chat channel runs when its token is set in the environment (:data:`CHANNELS`); another channel
(Zalo, the web server) is one more entry there, and the CLI does not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import signal
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    MutableMapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import TOKEN_ENV, Config, LoadedConfig, WebSettings
from bot.domain.clock import SystemClock
from bot.domain.ports import ChannelSender
from bot.errors import ChannelUnavailable
from bot.services import Services, build_services
from bot.services.composer import MessageComposer
from bot.texts import Catalog
from schedules.ratelimit import Limits, Pacer
from storage.engine import create_engine, create_sessionmaker
from storage.files import FileStore
from storage.guard import (
    DatabaseLock,
    DatabaseUnavailable,
    bot_scope,
    check_sqlite_file,
    check_writable,
    explained,
    meeting_scope,
)
from storage.migrate import schema_is_current, shipped_head, upgrade_database
from storage.sharing import (
    AHEAD_STARTS,
    PLAN_LOCK_KEY,
    SHARED_MARGIN,
    SharedSendSlots,
    one_at_a_time,
    shares_outbox,
)
from storage.uow import close_worker

log = logging.getLogger(__name__)

# Imported where they are used: the conversation (it loads openpyxl) and the outbox's scheduler
# (APScheduler) cost every command start-up time, and only `run` and `rehearse` use them
# (tests/test_architecture.py holds the file commands' imports to that).
if TYPE_CHECKING:
    from bot.chat import Inbox
    from bot.chat.office import LinkMaker
    from bot.health import Health
    from bot.metrics import Metrics
    from schedules.outbox import Outbox
    from schedules.scheduler import OutboxScheduler

Env = Mapping[str, str]
# A platform's webhook on the web server: the request's headers and body in, the status out.
Hook = Callable[[Mapping[str, str], bytes], Awaitable[int]]
Revisions = tuple[str | None, str | None]  # the schema before and after the upgrade

WEB_CHANNEL = "web"  # the personal pages' channel (handlers.web.app.CHANNEL)
WEBHOOK_SECRET_ENV = "HOINGHI_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
# What Telegram accepts as a webhook secret_token.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{16,256}")
# Telegram bot usernames: 5–32 letters, digits and underscores (a wrong one prints broken QR codes).
BOT_USERNAME = re.compile(r"[A-Za-z0-9_]{5,32}")
# What @BotFather issues: the bot's numeric id, a colon, then 35 base64url characters (30 or more
# accepted). A pasted quote, space or half token is said as such before any request: sent to
# Telegram it only comes back as a network failure.
BOT_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
# What Zalo Bot Creator issues: the bot's id, a colon, a secret (its exact alphabet is not
# documented: anything without spaces or quotes, at least 16 characters).
ZALO_TOKEN = re.compile(r"[0-9A-Za-z]+:[A-Za-z0-9_.~-]{16,}")
# What Zalo accepts as a webhook secret_token (8–256 characters; kept to URL-safe ones).
ZALO_WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{8,256}")


@dataclass(frozen=True)
class Refusal:
    """Why the app will not start or make links, as a catalog key and its parameters: the CLI
    says it in the plan's language."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)


# --- storage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Storage:
    """The database, at the newest schema."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    revisions: Revisions


@asynccontextmanager
async def open_storage(
    loaded: LoadedConfig, *, exclusive: str | None = None
) -> AsyncIterator[Storage]:
    """The engine, its schema created or upgraded and writing checked; always disposed (and
    so is the engine of :func:`storage.uow.in_a_worker`'s reads, if one was made). A
    database that cannot be used raises :class:`storage.guard.DatabaseUnavailable` before
    anything else runs.

    ``exclusive`` names a command that holds the database's lock until it ends (see
    :mod:`storage.guard`): ``purge`` and ``copy`` alone, refused while another process holds
    it; ``run`` shared with other runs, and on SQLite its meeting alone (a second process of one
    meeting would reset the first's deliveries in flight). Any other command takes the lock
    only to change the schema, which must not change under a running bot, and otherwise runs
    beside it.
    """
    url = loaded.database_url
    engine = create_engine(url)
    # Runs hold the lock shared: they refuse only a schema change, a purge or a copy beside them.
    shared = exclusive == "run"
    lock = DatabaseLock(url, exclusive or "db upgrade", shared=shared)
    upgrade_lock = DatabaseLock(url, "db upgrade") if shared else lock
    # On SQLite (only: PostgreSQL shares a meeting's outbox by leases), one run per meeting.
    meeting = DatabaseLock(url, "run", scope=meeting_scope(loaded.config.meeting.code))
    try:
        check_sqlite_file(url)
        if shared:
            await meeting.acquire()
        if exclusive and not shared:
            await lock.acquire()
        with explained(url):
            if await schema_is_current(engine):
                # At the newest schema Alembic has nothing to do: not loaded (start-up).
                revisions: Revisions = (shipped_head(), shipped_head())
            else:
                await _for_the_upgrade(upgrade_lock)  # refused while a bot runs on it
                revisions = await upgrade_database(engine, timezone=loaded.config.meeting.timezone)
        if shared:
            await upgrade_lock.release()
            await lock.acquire()
        await check_writable(engine)
        yield Storage(engine, create_sessionmaker(engine), revisions)
    finally:
        await upgrade_lock.release()
        await lock.release()
        await meeting.release()
        await close_worker()  # the engine of the reads in a worker thread, if one was made
        await engine.dispose()


async def _for_the_upgrade(lock: DatabaseLock) -> None:
    """Take the lock a schema change needs; a refusal says it is the upgrade that waits (a run
    of one meeting after an update, beside another meeting's run on the older schema), not the
    command's own use of the database."""
    try:
        await lock.acquire()
    except DatabaseUnavailable as refused:
        if refused.reason != "in_use":
            raise
        raise DatabaseUnavailable("upgrade_in_use", refused.where, holder=refused.holder) from None


# --- channels ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listening:
    """Where a channel takes its platform's posts in webhook mode (``host``:``port``, reached
    from the public ``url``), and the secret each post must carry."""

    host: str
    port: int
    url: str
    secret: str


@dataclass(frozen=True)
class ChannelSetup:
    """What a channel is built from: its token, the core, how it takes updates, and its bot's
    sending budget, which its replies share with the outbox's sends on that channel."""

    token: str
    services: Services
    catalog: Catalog
    inbox: Inbox
    webhook: Listening | None = None
    budget: Pacer = field(default_factory=Pacer)
    # The web server's webhook routes: a channel in webhook mode puts its handler there (one
    # port for the pages and every platform) instead of listening itself.
    hooks: MutableMapping[str, Hook] | None = None
    # Filled by a chat channel once it knows how to make its personal links (its bot's name).
    chat_links: MutableMapping[str, LinkMaker] | None = None
    # The chat channels this process runs, each with the name its bot goes by once known
    # (Telegram's username; empty until then, and for a Zalo bot, which the plan names).
    chat_bots: MutableMapping[str, str] | None = None
    # The process's environment (a channel's secrets beyond its token), else os.environ.
    env: Env | None = None


@dataclass(frozen=True)
class Channel:
    """A chat channel ready to run: its sender for the outbox, and ``receiving()``, the span in
    which it takes its platform's updates (entered to start, left to stop cleanly)."""

    sender: ChannelSender
    receiving: Callable[[], AbstractAsyncContextManager[None]]
    # The web server's webhook paths the channel posts its updates to (mounted as it starts).
    hook_paths: tuple[str, ...] = ()
    # Whether its platform answers now (its last poll did not fail); None: nothing to add.
    connected: Callable[[], bool] | None = None


@dataclass(frozen=True)
class LinkSource:
    """What makes a channel's personal links: the name its bot goes by (said when links are
    written) and the maker of a person's link from their token."""

    name: str
    make: LinkMaker


@dataclass(frozen=True)
class ChannelEntry:
    """A chat channel the app can run, started when its token is set in the environment."""

    name: str
    token_env: str
    token_shape: re.Pattern[str]
    build: Callable[[ChannelSetup], Channel]
    # The maker of this channel's personal links from its token, the core, and the bot's name
    # when the office gives it (else the channel asks its platform); None for a channel that
    # links people another way (e.g. a typed code).
    links: Callable[[str, Services, str | None], Awaitable[LinkSource]] | None = None
    # The platform's flood limits for one bot (the overall rate comes from ``[outbox]``).
    limits: Limits = field(default_factory=Limits)
    # The channel's own overall rate from the plan, where it has one (else ``[outbox]``'s).
    rate: Callable[[Services], float] | None = None
    # What `run` says of a token not of the platform's shape: the shape, and who issues it.
    malformed: str = "cli.token_malformed"

    def budget(self, services: Services, token: str = "") -> Pacer:
        """One bot's sending budget, shared by its replies and the outbox's sends; on
        PostgreSQL its overall rate is shared with every process sending as the same bot."""
        rate = services.config.outbox.rate_per_second if self.rate is None else self.rate(services)
        limits = replace(self.limits, overall_per_second=rate)
        pacer = Pacer(limits)
        if token and shares_outbox(services.ctx.sessions):
            # A wider margin than one process's: the starts of several processes reach the
            # platform along different paths, and nothing here sees their travel times.
            interval = (1 + SHARED_MARGIN) / limits.overall_per_second
            # Each start booked while the one before waits: the round trip off the send's path.
            ahead = AHEAD_STARTS * interval
            slots = SharedSendSlots(services.ctx.sessions, token, interval, ahead=ahead)
            pacer.share(slots, ahead=ahead)
        return pacer

    def token(self, env: Env) -> str:
        """The token from the environment, without the spaces a paste may bring."""
        return env.get(self.token_env, "").strip()

    def token_state(self, env: Env) -> str:
        """``missing``, ``set`` or ``malformed`` (never the token itself)."""
        token = self.token(env)
        if not token:
            return "missing"
        return "set" if self.token_shape.fullmatch(token) else "malformed"


def _telegram(setup: ChannelSetup) -> Channel:
    """The Telegram bot: python-telegram-bot's Application, and a Bot of its own for the
    outbox."""
    from handlers.telegram.app import Webhook, build_application, receiving
    from handlers.telegram.channel import TelegramSender
    from handlers.telegram.links import telegram_link_maker

    sender = TelegramSender.build(setup.token, setup.services.config.telegram, setup.catalog)
    application = build_application(
        setup.inbox, setup.services, setup.catalog, setup.token, budget=setup.budget
    )
    listening = setup.webhook
    hooks = setup.hooks
    webhook = (
        Webhook(
            listen=listening.host,
            port=listening.port,
            url=listening.url,
            secret=listening.secret,
            mount=None if hooks is None else webhook_mount(hooks),
        )
        if listening is not None
        else None
    )

    def ready(username: str) -> None:  # the bot's @username is known once it is initialised
        maker = telegram_link_maker(username)
        setup.inbox.links.append(maker)
        if setup.chat_links is not None:
            setup.chat_links["telegram"] = maker
        if setup.chat_bots is not None:
            setup.chat_bots["telegram"] = username

    started: list[object] = []  # the receiver, once it has started

    def connected() -> bool:  # a poller says how its last getUpdates went; a webhook, nothing
        return not started or getattr(started[0], "failures", 0) == 0

    return Channel(
        sender,
        lambda: receiving(
            application, sender=sender, webhook=webhook, on_ready=ready, on_receiver=started.append
        ),
        connected=connected,
    )


def webhook_mount(hooks: MutableMapping[str, Hook]) -> Callable[[str, Hook], Callable[[], None]]:
    """Puts a webhook's handler on the web server's route for ``path``; the returned function
    takes it off (the route then answers 503, and the platform tries again later)."""

    def mount(path: str, hook: Hook) -> Callable[[], None]:
        hooks[path] = hook
        return lambda: hooks.pop(path, None) and None

    return mount


async def _telegram_links(token: str, services: Services, name: str | None) -> LinkSource:
    """Links that open the bot with ``/start <token>``: the bot's name as given, else from
    Telegram's getMe."""
    from handlers.telegram.links import telegram_link_maker

    if not name:
        # Only to ask getMe: a name the office gives needs no python-telegram-bot (start-up).
        from handlers.telegram.app import fetch_bot_username

        name = await fetch_bot_username(token, services)
    username = name.lstrip("@")
    return LinkSource(username, telegram_link_maker(username))


TELEGRAM = ChannelEntry(
    name="telegram",
    token_env=TOKEN_ENV,
    token_shape=BOT_TOKEN,
    build=_telegram,
    links=_telegram_links,
)


def _zalo(setup: ChannelSetup, channel: str = "zalo") -> Channel:
    """A Zalo bot (``channel``: ``zalo``, or ``zalo2``… for ``[[zalo.bots]]``): long polling,
    or the web server's webhook with ``[zalo] webhook``."""
    from handlers.zalo.app import WEBHOOK_SECRET_ENV, ZaloWebhook, build_adapter, receiving

    settings = setup.services.config.zalo
    adapter, sender = build_adapter(
        setup.token,
        settings,
        setup.inbox,
        setup.services,
        setup.catalog,
        budget=setup.budget,
        channel=channel,
    )
    webhook: ZaloWebhook | None = None
    web = setup.services.config.web
    if settings.webhook:
        env = os.environ if setup.env is None else setup.env
        secret = env.get(WEBHOOK_SECRET_ENV, "")
        if web is None or setup.hooks is None or not zalo_webhook_ready(web, env):
            raise ChannelUnavailable("zalo_webhook", WEBHOOK_SECRET_ENV)
        from handlers.zalo.app import hook_path

        webhook = ZaloWebhook(
            f"{web.base_url}/{hook_path(secret, channel)}", secret, setup.hooks, channel
        )

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        try:
            async with receiving(adapter, webhook=webhook):
                yield
        finally:
            await sender.client.close()

    def connected() -> bool:  # polling: its last getUpdates did not fail
        return adapter.poller is None or adapter.poller.failures == 0

    return Channel(
        sender,
        running,
        hook_paths=(webhook.path,) if webhook is not None else (),
        connected=connected,
    )


ZALO = ChannelEntry(
    name="zalo",
    token_env="ZALO_BOT_TOKEN",  # noqa: S106 (a variable name, not a secret)
    token_shape=ZALO_TOKEN,
    build=_zalo,
    links=None,  # no link payload on Zalo: people link by typing their personal code
    # Zalo publishes no per-chat limit: Telegram's one a second (a burst of three) is kept.
    limits=Limits(private_per_second=1.0, private_burst=3),
    rate=lambda services: services.config.zalo.messages_per_second,
    malformed="cli.token_malformed_zalo",  # issued by Zalo Bot Creator, not @BotFather
)
# Every chat channel the app knows, in the order they start (and link people on paper).
CHANNELS: tuple[ChannelEntry, ...] = (TELEGRAM, ZALO)


def zalo_bots(config: Config) -> list[ChannelEntry]:
    """The plan's further Zalo bots (``[[zalo.bots]]``), as channels ``zalo2``, ``zalo3``…:
    each its own token variable, adapter, sender and sending budget (one Pacer per bot), on
    ``[zalo]``'s settings."""
    channels = config.zalo.channels()[1:]
    return [
        replace(ZALO, name=channel, token_env=bot.token_env, build=partial(_zalo, channel=channel))
        for channel, bot in zip(channels, config.zalo.bots, strict=True)
    ]


def known_channels(config: Config | None = None) -> list[ChannelEntry]:
    """Every chat channel: :data:`CHANNELS`, then the plan's further Zalo bots."""
    return [*CHANNELS, *(zalo_bots(config) if config is not None else ())]


def configured_channels(env: Env, config: Config | None = None) -> list[ChannelEntry]:
    """The channels whose token is set in ``env`` (with ``config``: its further bots too)."""
    return [entry for entry in known_channels(config) if entry.token(env)]


def channel_secrets(env: Env, config: Config | None = None) -> list[str]:
    """Every channel's token as set in ``env``, for the log to mask."""
    return [env.get(entry.token_env, "") for entry in known_channels(config)]


def run_refusal(
    env: Env, web: WebSettings | None = None, config: Config | None = None
) -> Refusal | None:
    """Why ``hoinghi run`` cannot start: nothing to run (no channel's token is set and no
    ``[web]``), or a token is not the shape its platform issues."""
    channels = configured_channels(env, config)
    if not channels and web is None:
        names = ", ".join(entry.token_env for entry in CHANNELS)
        return Refusal("cli.token_missing", {"env": names})
    for entry in channels:
        if entry.token_state(env) == "malformed":
            return Refusal(entry.malformed, {"env": entry.token_env})
    return None


def zalo_webhook_ready(web: WebSettings | None, env: Env) -> bool:
    """Whether ``[zalo] webhook = true`` can run: a web server for Zalo to post to, and a
    usable secret in ``ZALO_WEBHOOK_SECRET`` (``hoinghi run`` refuses the Zalo bot otherwise,
    and ``hoinghi check`` says so first)."""
    from handlers.zalo.app import WEBHOOK_SECRET_ENV

    return web is not None and bool(ZALO_WEBHOOK_SECRET.fullmatch(env.get(WEBHOOK_SECRET_ENV, "")))


def run_problems(env: Env, config: Config) -> list[tuple[str, Refusal]]:
    """What ``hoinghi run`` from this environment would refuse in a plan that passed the config
    checks, by the key to change: every one at once (``hoinghi check``)."""
    problems: list[tuple[str, Refusal]] = []
    zalo = [e for e in configured_channels(env, config) if e.name.startswith("zalo")]
    # Without a web server no Zalo bot's webhook can run; without the secret, only a Zalo bot
    # that runs from here (its token set) is refused.
    if (
        config.zalo.webhook
        and (config.web is None or zalo)
        and not zalo_webhook_ready(config.web, env)
    ):
        problems.append(("zalo.webhook", Refusal("cli.channel_zalo_webhook", {})))
    return problems


def links_refusal(env: Env, bot_name: str | None, web: WebSettings | None = None) -> Refusal | None:
    """Why personal links cannot be made: no web page (``[web]``), no bot name given and no
    usable token; or a name that is not a bot's."""
    entry = _linking_channel()
    if bot_name:
        if not BOT_USERNAME.fullmatch(bot_name.lstrip("@")):
            return Refusal("export.bad_username", {"name": bot_name})
        return None
    state = entry.token_state(env)
    if web is not None:  # the web page's link needs nothing; the bot's joins it if it can
        return Refusal(entry.malformed, {"env": entry.token_env}) if state == "malformed" else None
    if state == "missing":
        return Refusal("export.need_username", {"env": entry.token_env})
    if state == "malformed":
        return Refusal(entry.malformed, {"env": entry.token_env})
    return None


def _linking_channel() -> ChannelEntry:
    """The channel whose personal link goes on paper: the first that links by one."""
    return next(entry for entry in CHANNELS if entry.links is not None)


def webhook_settings(listen: str, url: str | None, env: Env) -> Listening | list[Refusal]:
    """The webhook from ``--listen``, ``--url`` and the secret in ``env``, or every problem."""
    problems = []
    secret = env.get(WEBHOOK_SECRET_ENV, "")
    if not WEBHOOK_SECRET.fullmatch(secret):
        problems.append(Refusal("cli.webhook_secret", {"env": WEBHOOK_SECRET_ENV}))
    host, _, port = str(listen).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        problems.append(Refusal("cli.webhook_listen", {"value": listen}))
    if not url or not str(url).startswith("https://"):
        problems.append(Refusal("cli.webhook_url", {"value": url or ""}))
    if problems:
        return problems
    return Listening(host=host, port=int(port), url=str(url), secret=secret)


# How often the scheduler counts the bots' monthly use (bot.services.quotas).
QUOTA_CHECK_EVERY = timedelta(minutes=1)


# --- outbox and scheduler ----------------------------------------------------------------------


def build_composer(services: Services, catalog: Catalog) -> MessageComposer:
    """What the outbox sends, written with the catalog."""
    return MessageComposer(
        services.config,
        catalog,
        services.reports,
        services.tasks,
        services.drafts,
        services.ctx.clock,
        services.ctx.calendar,
        calendar_link=services.invitations.calendar_link,
        page_link=services.invitations.page_link,
        desk_pass=services.invitations.desk_pass,
        dashboard=services.dashboard,
        in_hall=services.checkin.in_hall_codes,
        meeting_id=services.ctx.meeting_id,
    )


def build_outbox(
    services: Services,
    catalog: Catalog,
    senders: Mapping[str, ChannelSender],
    *,
    pacer: Pacer | Mapping[str, Pacer] | None = None,
) -> Outbox:
    """The outbox for this meeting, pacing sends to the configured rate: on each channel's
    budget (``pacer`` by channel, shared with that channel's replies), or one for all."""
    from schedules.outbox import Outbox

    settings = services.config.outbox
    return Outbox(
        services.ctx.sessions,
        services.ctx.clock,
        senders,
        build_composer(services, catalog),
        services.audiences,
        pacer or Pacer(Limits(overall_per_second=settings.rate_per_second)),
        meeting_id=services.ctx.meeting_id,
        batch_size=settings.batch_size,
        max_attempts=settings.max_attempts,
        # On PostgreSQL several `hoinghi run` may drain this outbox: claims are leases.
        shared=shares_outbox(services.ctx.sessions),
        lease=timedelta(seconds=settings.lease_seconds),
        zone=services.config.meeting.zone,
    )


def build_scheduler(services: Services, outbox: Outbox) -> OutboxScheduler:
    """The tick that drives ``outbox``, re-planning the automatic messages at start."""
    from bot.domain.reminders import planned_messages
    from schedules.planner import sync_planned
    from schedules.scheduler import OutboxScheduler

    async def plan() -> None:
        # One process plans at a time (PostgreSQL): two inserting the same reminders at once
        # would collide on their keys; the second waits and finds them in place.
        async with one_at_a_time(services.ctx.sessions, PLAN_LOCK_KEY):
            await services.tasks.sync()
            await services.drafts.sync()
            await sync_planned(
                services.ctx.sessions,
                services.ctx.clock,
                services.ctx.meeting_id,
                planned_messages(services.config, await services.drafts.own_deadlines()),
            )

    checked: list[datetime] = []  # when the quotas were last counted

    async def quotas() -> None:
        # A minute between counts: the figures move by one tick's sends, and the notes are
        # kept once in the database whichever process counts.
        now = services.ctx.clock.now()
        if checked and now - checked[-1] < QUOTA_CHECK_EVERY:
            return
        checked[:] = [now]
        await services.quotas.check()

    scheduler = OutboxScheduler(
        outbox,
        tick_seconds=services.config.outbox.tick_seconds,
        plan=plan,
        after_tick=quotas,
    )
    services.ctx.due_now.listen(scheduler.wake)  # a confirmed notice goes at once
    return scheduler


# --- the app -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonalLinks:
    """The personal links of every channel that links people by one: the web page first when
    there is one (``[web]``), then the chat channels'."""

    sources: Mapping[str, LinkSource]  # by channel, the one that goes on paper first

    @property
    def paper(self) -> str:
        """The channel whose link goes on paper."""
        return next(iter(self.sources))

    @property
    def name(self) -> str:
        """The name of what the paper link opens: the bot, or the web site."""
        return next(iter(self.sources.values())).name

    def link(self, token: str) -> str:
        """The link that goes on paper (a QR code, an exported list) for ``token``."""
        return next(iter(self.sources.values())).make(token)

    def of(self, token: str) -> dict[str, str]:
        """Each channel's link for ``token``, by channel."""
        return {channel: source.make(token) for channel, source in self.sources.items()}

    def chat_bots(self, channels: Iterable[ChannelEntry]) -> dict[str, str]:
        """The chat channels ``channels`` (those a ``run`` with this environment starts), each
        with the name its bot goes by where these links know it (Telegram's: the name the
        office gave, else Telegram's own answer to getMe) — what ``run`` hands the dashboard
        as its chat_bots, for a command that writes files without the bot running."""
        bots = {entry.name: "" for entry in channels}
        bots.update(
            (channel, source.name)
            for channel, source in self.sources.items()
            if channel != WEB_CHANNEL
        )
        return bots


class App:
    """One process of hoinghi: the plan, its storage and services, and the channels it runs."""

    def __init__(
        self,
        loaded: LoadedConfig,
        catalog: Catalog,
        storage: Storage,
        services: Services,
        env: Env,
    ) -> None:
        self.loaded = loaded
        self.catalog = catalog
        self.storage = storage
        self.services = services
        self.env = env
        self.web_port: int | None = None  # the port the web server listens on, once it does
        self.web_serving = asyncio.Event()  # set once it does

    @cached_property
    def metrics(self) -> Metrics:
        """This app's instruments, on a registry of its own: two apps in one process count
        apart. Built when first asked for: a command that serves nothing loads no Prometheus."""
        from bot.metrics import Metrics

        return Metrics()

    @cached_property
    def health(self) -> Health:
        """This app's readiness checks (``/readyz``)."""
        from bot.health import Health

        return Health(self.storage.engine)

    def channels(self) -> list[ChannelEntry]:
        """The chat channels this process runs: those whose token is set."""
        return configured_channels(self.env, self.services.config)

    def token_envs(self) -> dict[str, str]:
        """Each chat channel the plan knows, with the environment variable of its token."""
        return {entry.name: entry.token_env for entry in known_channels(self.services.config)}

    def count_chats_as_run(self) -> None:
        """Count as reachable only accounts on the chats a ``run`` with this environment starts
        (:meth:`channels`, as the slips of ``invites print`` name them): for a command that
        writes the office's figures while the bot is not running in it (``report``). Linked
        is counted on every chat all the same: an account is linked whatever this shell's
        environment says."""
        chats = self.services.ctx.chats
        chats.run((entry.name for entry in self.channels()), self.token_envs())
        chats.links_everywhere = True

    @property
    def web(self) -> WebSettings | None:
        """The web server's settings, when the plan has ``[web]``."""
        return self.services.config.web

    async def run(
        self, stop: asyncio.Event | None = None, *, webhook: Listening | None = None
    ) -> None:
        """Start the web server (with ``[web]``), every configured chat channel, then the
        outbox's scheduler; once ``stop`` is set (by default on SIGINT or SIGTERM), stop them
        in reverse order, each finishing what it has in hand. ``webhook``: where Telegram posts
        its updates, instead of long polling (on the web server's port when there is one)."""
        stop = stop or stop_on_signals()
        entries = self.channels()
        web = self.web
        if not entries and web is None:
            raise RuntimeError("no channel to run: no channel's token is set and no [web]")
        from bot.chat import Inbox

        inbox = Inbox(self.services, self.catalog)
        inbox.observers.append(self.metrics.observe_update)
        hooks: dict[str, Hook] = {}
        chat_links: dict[str, LinkMaker] = {}
        # Each channel run here, before the web server starts: the invitations it writes say
        # where to send the personal code, or nothing where no chat takes it.
        chat_bots: dict[str, str] = {entry.name: "" for entry in entries}
        if web is not None:
            inbox.links.append(web.link)  # a re-issued link (/caplai) names the page first
        channels, budgets = [], {}
        for entry in entries:
            # One per bot: its replies and the outbox's (and other processes', shared).
            budget = entry.budget(self.services, entry.token(self.env))
            channel = entry.build(
                ChannelSetup(
                    entry.token(self.env),
                    self.services,
                    self.catalog,
                    inbox,
                    webhook,
                    budget,
                    hooks=hooks if web is not None else None,
                    chat_links=chat_links,
                    chat_bots=chat_bots,
                    env=self.env,
                )
            )
            channels.append(channel)
            budgets[channel.sender.channel] = budget
        senders = {channel.sender.channel: channel.sender for channel in channels}
        # What a notice's preview counts as reachable: accounts on the chats run here only;
        # the overview names the variable of one that does not run, as start-up does.
        self.services.ctx.chats.run(senders, self.token_envs())
        outbox = build_outbox(self.services, self.catalog, senders, pacer=budgets)
        scheduler = build_scheduler(self.services, outbox)
        self.metrics.watch_outbox(outbox.stats)
        self.metrics.watch_pacers(budgets)
        # Not ready until each channel has started receiving; not ready once it stops.
        receiving: dict[str, bool] = {}
        for channel in channels:
            name = channel.sender.channel
            receiving[name] = False
            self.health.channels[name] = partial(_connected, receiving, name, channel)
        async with contextlib.AsyncExitStack() as running:
            for entry in entries:  # on SQLite, a bot serves one running meeting (storage.guard)
                scope = bot_scope(entry.name, entry.token(self.env))
                bot = DatabaseLock(self.loaded.database_url, "run", scope=scope)
                await bot.acquire()
                running.push_async_callback(bot.release)
            running.push_async_callback(inbox.flush)  # last: the accounts the events used, marked
            if web is not None:  # first up, last down: webhooks are answered to the end
                paths = tuple(path for channel in channels for path in channel.hook_paths)
                self.web_port = await running.enter_async_context(
                    self._serve_web(web, hooks, chat_links, webhook, paths, chat_bots)
                )
                self.web_serving.set()
            for channel in channels:
                await running.enter_async_context(channel.receiving())
                name = channel.sender.channel
                receiving[name] = True
                running.callback(receiving.__setitem__, name, False)
            await scheduler.start()
            running.push_async_callback(scheduler.stop)  # first: no batch starts while stopping
            freeze_startup_heap()
            await stop.wait()

    def _serve_web(
        self,
        web: WebSettings,
        hooks: MutableMapping[str, Hook],
        chat_links: MutableMapping[str, LinkMaker],
        webhook: Listening | None,
        channel_paths: tuple[str, ...] = (),
        chat_bots: MutableMapping[str, str] | None = None,
    ) -> AbstractAsyncContextManager[int]:
        """The web server of the personal pages (and the webhooks), built on the core."""
        from handlers.web.app import WebSetup, build_web_app
        from handlers.web.security import load_secret
        from handlers.web.server import serving

        paths: tuple[str, ...] = (urlsplit(webhook.url).path.strip("/"),) if webhook else ()
        paths += channel_paths
        setup = WebSetup(
            self.services,
            self.catalog,
            web,
            load_secret(self.loaded.path.parent, self.env),
            chat_links=chat_links,
            chat_bots={} if chat_bots is None else chat_bots,
            hooks=hooks,
            hook_paths=paths,
            metrics=self.metrics,
            health=self.health,
        )
        return serving(build_web_app(setup), host=web.listen, port=web.port, base_url=web.base_url)

    async def personal_links(self, *, bot_name: str | None = None) -> PersonalLinks:
        """Each linking channel's maker of personal links, the web page's first. ``bot_name``:
        the bot's name for its link, when the office gives it; otherwise the channel asks its
        platform (which may raise :class:`bot.errors.ChannelUnavailable`). With ``[web]``, a
        bot whose name cannot be known (no token, no name given) has no link of its own."""
        paper = _linking_channel()
        sources: dict[str, LinkSource] = {}
        web = self.web
        if web is not None:
            sources[WEB_CHANNEL] = LinkSource(web.base_url, web.link)
        for entry in CHANNELS:
            if entry.links is None:
                continue
            if entry is paper:
                if web is not None and not bot_name and entry.token_state(self.env) != "set":
                    continue
            elif not entry.token(self.env):
                continue
            name = bot_name if entry is paper else None
            sources[entry.name] = await entry.links(entry.token(self.env), self.services, name)
        return PersonalLinks(sources)


def _connected(receiving: Mapping[str, bool], name: str, channel: Channel) -> bool:
    """Whether ``channel`` is receiving now: started and not stopped, and its own account of
    its platform (its last poll) not failing."""
    return receiving.get(name, False) and (channel.connected is None or channel.connected())


@asynccontextmanager
async def open_app(
    loaded: LoadedConfig,
    catalog: Catalog,
    *,
    env: Env | None = None,
    exclusive: str | None = None,
    same_meeting: bool = False,
) -> AsyncIterator[App]:
    """The app on the plan's database (see :func:`open_storage` for ``exclusive`` and the
    refusals), its services built; everything closed on the way out. A plan that reuses another
    meeting's code raises :class:`bot.services.meetings.CodeTaken` before the meeting is
    written, unless ``same_meeting`` (:func:`bot.services.build_services`)."""
    async with open_storage(loaded, exclusive=exclusive) as storage:
        files = FileStore(loaded.drafts_dir)
        if exclusive == "run":
            await _sweep_staged(files)
        services = await build_services(
            loaded.config,
            storage.sessions,
            SystemClock(),
            files=files,
            same_meeting=same_meeting,
        )
        yield App(loaded, catalog, storage, services, os.environ if env is None else env)


async def _sweep_staged(files: FileStore) -> None:
    """At a run's start: the uploads' temporary files a process killed while it staged them
    left in the store, removed once they are old enough to be nobody's upload on its way
    (:meth:`storage.files.FileStore.sweep_staged`); how many is logged. Unreadable store:
    logged and left (the uploads say so when they come)."""
    try:
        swept = await asyncio.to_thread(files.sweep_staged)
    except OSError as exc:
        log.warning("the file store's leftover uploads were not swept: %s", type(exc).__name__)
        return
    if swept:
        log.info("removed %d leftover upload file(s) from the file store", swept)


def stop_on_signals(
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> asyncio.Event:
    """An event set when the process is asked to stop (Ctrl-C, a service manager's SIGTERM)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in signals:
        with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
            loop.add_signal_handler(signum, stop.set)
    return stop


def freeze_startup_heap() -> None:
    """Exempt what start-up built (modules, config, catalog, PTB's and SQLAlchemy's tables) from
    the garbage collector's full passes (``gc.freeze``): it lives as long as the process, and
    rescanning it on every full pass costs a surge of taps about a tenth of its throughput
    (bench/load.py)."""
    gc.collect()
    gc.freeze()
