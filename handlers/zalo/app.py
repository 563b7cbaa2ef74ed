"""The Zalo channel: updates in (long polling or the web server's webhook), the core's answers
out as plain texts, and the outbox's sender; built by :func:`bot.app` from ``ZALO_BOT_TOKEN``
and ``[zalo]``.

Replies share the bot's sending budget with the outbox (``[zalo] messages_per_second``): a
person's answer goes before bulk sending, and a 429 pauses both.

A reply is never given up on a passing refusal, as on Telegram
(:class:`handlers.telegram.limiter.RetryingRateLimiter`): a 429 waits its ``retry_after`` (the
whole bot pauses), a 5xx the platform answers or a connection that never opened is tried again
after 1, 2, 4… seconds; the texts of an answer go in order, one after another, and the chat's
next message is handled only after (:class:`handlers.zalo.receiving.Dispatcher` runs one chat's
updates in turn). A reply is tried for at most :data:`REPLY_PATIENCE` seconds: the person's next
messages wait behind it, and a platform down longer is not a blip. What still did not go is
kept (in memory, per chat, the last :data:`MISSED_KEPT` texts of at most :data:`MISSED_CHATS`
chats; lost when the bot stops) and sent again, headed by a line saying so, before her next
message is handled; a new text for a chat never overtakes the texts kept for it (they still
not going, it is kept behind them). Once a resend has been refused past the patience too, the
next is tried once, not waited for: her later messages are not held a minute each (and the
poller, :class:`handlers.zalo.receiving.Poller`, counts her queue as one chat, so the other
chats' messages are fetched meanwhile). A menu whose message did not reach her is marked
unseen in the core (:meth:`bot.chat.Inbox.unseen`), so a number she types before seeing it is
not taken as the choice (a notice's «Gửi ngay», an invitation's «Tham dự»); once its text is
resent and reaches her, it is stored again as her menu (:meth:`bot.chat.Inbox.shown`).

Every text Zalo accepted is counted in the bot's monthly figure
(:meth:`bot.services.quotas.QuotaService.replied`): a text refused and tried again until
accepted counts once; one whose answer was lost is not counted (nothing says it went).

Never twice: Zalo has no idempotency key, so a text whose request may have reached the platform
(its answer lost: a timeout, a dropped connection, a proxy's error page) is neither tried
again nor resent later — a confirmation such as «📤 Đã xếp thông báo» or «✅ Đã ghi nhận» is
never shown twice; when it carried the menu, the menu is marked unseen all the same, so a
number typed next is answered with the choices rather than taken. A refusal the platform itself
answers (429, 5xx ``{"ok": false}``) is taken at its word: not sent, so tried again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Any

from bot.chat import Inbox
from bot.config import ZaloSettings
from bot.domain.channels import ChannelInfo, ChatAccount
from bot.domain.inbound import Event
from bot.domain.outbound import Answer, Button, Outbound, SendOutcome
from bot.errors import ChannelUnavailable
from bot.services import Services
from bot.services.handled_events import HandledEvents
from bot.texts import Catalog
from handlers.zalo.channel import DEFAULT_RETRY_AFTER, ZaloSender, outcome_of
from handlers.zalo.client import ZaloApiError, ZaloClient, ZaloError, ZaloNetworkError
from handlers.zalo.events import CHANNEL, event_of, message_id
from handlers.zalo.receiving import Dispatcher, Poller, WebhookReceiver
from handlers.zalo.render import CAPABILITIES, texts
from schedules.ratelimit import Pacer

log = logging.getLogger(__name__)

TOKEN_ENV = "ZALO_BOT_TOKEN"  # noqa: S105 (a variable name, not a secret)
WEBHOOK_SECRET_ENV = "ZALO_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
STOP_GRACE = 5.0  # seconds a stop waits for the updates in hand
# Seconds an answer's texts are tried for (429 waits and back-offs included): longer than a
# platform's passing refusals (a few seconds), short enough that the person's next messages,
# which wait behind it, are not held for long once the platform is down.
REPLY_PATIENCE = 60.0
REPLY_BACKOFF = 1.0  # seconds before the first retry of a 5xx or a failed connection; then ×2
MISSED_KEPT = 8  # texts kept per chat to send again
MISSED_CHATS = 1024  # chats with texts kept, the oldest forgotten first
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
    # The replies' clock (retries wait on it): a test's or a rehearsal's virtual time.
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        self.dispatcher: Dispatcher | None = None  # while receiving
        self.poller: Poller | None = None  # while receiving by long polling
        self.handled = HandledEvents(self.services.ctx, channel=self.channel)
        self.info = ChannelInfo(self.channel, CAPABILITIES)
        # Per chat: the texts that did not reach it, to send again before its next message;
        # at most MISSED_CHATS chats, the one kept for longest forgotten first (see _keep).
        self.missed: OrderedDict[str, _Kept] = OrderedDict()
        self.retried = 0  # reply sends tried again
        self.gave_up = 0  # reply texts kept to send again (each time)

    async def handle(self, update: dict[str, Any]) -> None:
        """One update, to the end: skipped if its message was handled already, else what did
        not reach the chat before sent again, the update handed to the core, its answer sent,
        and its id recorded (not when handling failed: a copy may then still do what failed).

        The menu she reads last is the one her next number answers: her answer's when it
        reached her, else a menu sent again now (stored again, also when the core then fails),
        else her answer's menu that did not reach her is marked unseen."""
        event = event_of(update, self.channel)
        if event is None:
            return
        ident = message_id(update)
        if ident is not None and await self.handled.seen(self.bot_id, ident):
            log.info("a zalo message was handled already; the copy is skipped")
            return
        # Sent before the core reads her message, but stored only after: she typed it before
        # this reached her, so a number in it is not an answer to what is sent again now.
        resent = await self._resend(event.chat.address)
        try:
            answer = await self.inbox.handle(event, self.info)
        except Exception:
            log.exception("unexpected error while handling a zalo message")
            await self._say(
                event.chat.address, Outbound.text(self.catalog.html("errors.unexpected"))
            )
            if resent:  # it reached her all the same: the menu her next number answers
                await self.inbox.shown(event.account, resent)
            return
        await self.answer(event, answer, resent)
        if ident is not None:
            await self.handled.record(self.bot_id, ident)

    async def answer(self, event: Event, answer: Answer, resent: tuple[Button, ...] = ()) -> None:
        """Send the core's answer: each reply's texts in order; a toast as a message when
        nothing else answers (there is no tap to show it on). A text for a chat that has texts
        kept goes after them (sent again first; kept behind them when they still do not go).
        Then leave stored the menu the person reads last (``resent``: the menu sent again to
        her before it), as :meth:`handle` says; and for another chat whose kept texts went
        again here, the menu they delivered."""
        outbounds: list[tuple[str, Outbound]] = []
        for reply in answer.replies:
            address = (
                event.account.chat_address if reply.private else reply.to or event.chat.address
            )
            outbounds.append((address, reply.outbound))
        if answer.toast is not None and not answer.replies:
            outbounds.append((event.chat.address, Outbound.text(answer.toast.text)))
        # The text that carries the menu: the last of the last message offering choices.
        menu_at = max((i for i, (_, out) in enumerate(outbounds) if out.buttons), default=None)
        menu: tuple[Button, ...] = ()
        if menu_at is not None and outbounds[menu_at][0] == event.account.chat_address:
            menu = tuple(button for row in outbounds[menu_at][1].buttons for button in row)
        fate = _Sent.NO  # how the text carrying the menu went
        deadlines: dict[str, float] = {}  # per chat: a chat's trouble is its own
        failed: set[str] = set()  # chats whose texts here stop: the rest kept, in order
        others: dict[str, tuple[Button, ...]] = {}  # menus sent again to other chats
        try:
            for index, (address, outbound) in enumerate(outbounds):
                if address not in deadlines:
                    if address != event.chat.address and address in self.missed:
                        # (hers went before the core read hers)
                        again = await self._resend(address)
                        if address == event.account.chat_address:
                            resent = again or resent
                        elif again:
                            others[address] = again
                    deadlines[address] = self.now() + REPLY_PATIENCE
                pieces = texts(outbound, self.catalog)
                for number, text in enumerate(pieces):
                    carries = menu if index == menu_at and number == len(pieces) - 1 else ()
                    if address in failed or address in self.missed:  # behind those kept
                        self._keep(address, text, carries)
                        continue
                    sent = await self._send(address, text, deadlines[address])
                    if carries:
                        fate = sent
                    if sent is not _Sent.YES:
                        failed.add(address)
                        if sent is _Sent.NO:  # (maybe shown: never twice; refused: the same)
                            self._keep(address, text, carries)
        except asyncio.CancelledError:  # the bot stops: the texts in memory go with it
            if menu and fate is not _Sent.YES:
                await asyncio.shield(self.inbox.unseen(event.account, menu))
            await asyncio.shield(self._shown_to(others))
            raise
        await self._shown_to(others)
        if menu and fate is _Sent.YES:
            return  # hers is the answer's menu, stored by the core
        if resent and fate is not _Sent.MAYBE:  # (one that may have reached her: unseen)
            await self.inbox.shown(event.account, resent)
        elif menu:
            await self.inbox.unseen(event.account, menu)

    async def _shown_to(self, menus: dict[str, tuple[Button, ...]]) -> None:
        """Store each chat's menu that reached it sent again (by chat address: a private
        chat's address is its person's)."""
        for address, choices in menus.items():
            await self.inbox.shown(ChatAccount(self.channel, address, address), choices)

    async def _resend(self, address: str) -> tuple[Button, ...]:
        """Send again, headed by a line saying so, the texts that did not reach ``address``;
        the menu of the last of them that went (no menu: empty).

        Each text is waited for as a reply is, unless their last resend gave up as well: the
        platform has been refusing that chat for minutes, and her next messages, waiting behind,
        are not held another minute each; the first is then tried once (it going, the rest
        are waited for again), and what does not go is kept for her next message."""
        kept = self.missed.pop(address, None)
        if kept is None:
            return ()
        patience = 0.0 if kept.resend_gave_up else REPLY_PATIENCE
        deadline = self.now() + patience
        pieces: list[tuple[str, tuple[Button, ...]]] = [
            (self.catalog.plain("hint.resending"), ()),
            *kept.texts,
        ]
        menu: tuple[Button, ...] = ()
        for number, (text, carries) in enumerate(pieces):
            sent = await self._send(address, text, deadline)
            if sent is _Sent.YES:
                menu = carries or menu
                if not patience:  # the platform takes her messages again
                    patience = REPLY_PATIENCE
                    deadline = self.now() + patience
                continue
            first = max(1, number + (0 if sent is _Sent.NO else 1))  # (see answer(); no header)
            for again, again_carries in pieces[first:]:
                self._keep(address, again, again_carries)
            if sent is _Sent.NO and address in self.missed:
                self.missed[address].resend_gave_up = True
            break
        return menu

    def _keep(self, address: str, text: str, menu: tuple[Button, ...] = ()) -> None:
        """Keep ``text`` (carrying ``menu``, the choices of the person of that chat) to send
        again before ``address``'s next message: the last MISSED_KEPT texts of a chat."""
        self.gave_up += 1
        kept = self.missed.setdefault(address, _Kept())
        self.missed.move_to_end(address)
        kept.texts.append((text, menu))
        del kept.texts[:-MISSED_KEPT]
        while len(self.missed) > MISSED_CHATS:
            self.missed.popitem(last=False)

    async def _say(self, address: str, outbound: Outbound) -> bool:
        """Send ``outbound`` as texts, retried as a reply is (kept behind texts kept for
        ``address``); False once one did not go (the rest is not sent)."""
        deadline = self.now() + REPLY_PATIENCE
        for text in texts(outbound, self.catalog):
            if address in self.missed:
                self._keep(address, text)
                return False
            if await self._send(address, text, deadline) is not _Sent.YES:
                return False
        return True

    async def _send(self, address: str, text: str, deadline: float) -> _Sent:
        """Send one text, trying again what the platform refused in passing until
        ``deadline``: whether it went (:class:`_Sent`)."""
        failures = 0
        while True:
            flooded = False
            try:
                async with self.budget.slot(None, urgent=True):
                    await self.client.send_message(address, text)
                self.services.quotas.replied(self.channel)  # one of the bot's monthly allowance
                return _Sent.YES
            except ZaloApiError as exc:
                reason: object = exc.code
                # Read as the outbox reads Zalo's refusals (its codes are not documented).
                outcome = outcome_of(exc)
                if outcome.outcome is SendOutcome.RATE_LIMITED:
                    flooded = True
                    wait = outcome.retry_after or DEFAULT_RETRY_AFTER
                elif outcome.outcome is SendOutcome.TRANSIENT:
                    wait = REPLY_BACKOFF * 2**failures
                elif outcome.outcome is SendOutcome.MAYBE_SENT:  # a proxy's page: it may have gone
                    log.info("a zalo reply may not have been sent: %s", exc.status)
                    self.services.quotas.replied(self.channel)  # Zalo probably counted it
                    return _Sent.MAYBE
                else:  # this message refused (blocked, malformed): trying again does the same
                    log.info("a zalo reply was not sent: %s", exc.code)
                    return _Sent.REFUSED
            except ZaloNetworkError as exc:
                if exc.maybe_sent:
                    log.warning("a zalo reply may not have been sent: no answer from the platform")
                    self.services.quotas.replied(self.channel)  # Zalo probably counted it
                    return _Sent.MAYBE
                reason, wait = "no connection", REPLY_BACKOFF * 2**failures
            if flooded:
                self.budget.pause(wait)  # the whole bot waits (the outbox too): in its slot
            if self.now() + wait > deadline:
                log.warning(
                    "a zalo reply was not sent (%s): given up after %d tries", reason, failures + 1
                )
                return _Sent.NO
            failures += 1
            self.retried += 1
            log.info("a zalo reply was refused (%s): tried again in %.1f s", reason, wait)
            if not flooded:
                await self.sleep(wait)


@dataclass
class _Kept:
    """The texts that did not reach one chat, each with the menu it carries for the person of
    that chat (none: empty), to send again before her next message."""

    texts: list[tuple[str, tuple[Button, ...]]] = field(default_factory=list)
    # Their resend gave up too (the platform has refused that chat for minutes): the next
    # resend is tried once, not waited for.
    resend_gave_up: bool = False


class _Sent(Enum):
    """How a reply's text went."""

    YES = auto()
    NO = auto()  # not shown, refused in passing past the patience (or nothing went out)
    REFUSED = auto()  # not shown, and never will be (blocked, malformed): not kept
    MAYBE = auto()  # the request went out and its answer was lost


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
        await adapter.services.quotas.flush()  # the replies counted, stored
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
