"""Receiving updates from Telegram so that stopping the bot loses none and repeats none.

Telegram keeps an update until the bot confirms it, and delivers it again otherwise: for long
polling, an update is confirmed by asking getUpdates for the ones after it (``offset``); for a
webhook, by answering its request with 200. python-telegram-bot's ``Updater`` confirms as soon as
it has *fetched* an update (the next getUpdates, and one more on stop) and answers 200 before the
update is handled; so an update fetched but not handled yet was lost when the bot stopped —
unless stopping waited for all of them, which with thousands queued took ten minutes.

Here an update is confirmed only once it is handled (``ChatOrderedUpdateProcessor.outcome``).
Stopping then takes seconds: no update is fetched or accepted any more, the ones being handled
finish, and every other one stays with Telegram, which delivers it again at the next start. An
update handled but not confirmed yet (one handled before an earlier one still in hand) comes
again too; the bot knows its id and skips it (:mod:`handlers.telegram.dedupe`).

- :class:`Poller`: getUpdates with the offset of the oldest update not handled yet. Telegram
  returns the 100 oldest unconfirmed updates, so at most 100 are in hand at once from that
  oldest one on, and a poll returns at once while any is in hand: the poller then asks again
  as updates finish (or every :data:`RECHECK` seconds), and long-polls only when it holds none.
- :class:`WebhookReceiver`: each request is answered once its update is handled, 200; an
  update the bot stopped before handling is answered 503, and Telegram sends it again later.
  Telegram keeps at most ``max_connections`` (40) requests open at once, so no more updates
  than that are ever in hand; when the bot stops, it stops listening, so Telegram's next tries
  fail to connect until the bot is back.

Both hand PTB a tap's update with the message the button was on reduced to where it is
(:func:`reduced`): Telegram sends the whole of that message with every tap, and the bot has no
use for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from http import HTTPStatus
from typing import Any

import tornado.iostream
import tornado.web
from telegram import Bot, Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import JSONDict, ODVInput
from telegram.error import TelegramError
from telegram.ext import Application, ExtBot
from telegram.request import BaseRequest, RequestData
from tornado.httpserver import HTTPServer

from handlers.telegram.updates import ChatOrderedUpdateProcessor

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
# A webhook handler on another server: the request's headers and body in, the status out.
Hook = Callable[[Mapping[str, str], bytes], Awaitable[int]]
# Mounts a handler on another server's route for a path; returns how to take it off.
Mount = Callable[[str, Hook], Callable[[], None]]

POLL_TIMEOUT = 10.0  # seconds a long poll waits for updates, when none is in hand
RECHECK = 0.5  # seconds between polls while updates are in hand (they return at once)
LIMIT = 100  # updates a poll returns at most (Telegram's maximum)
BACKOFF_MAX = 30.0  # seconds between polls that fail, at most
ANSWER_FLUSH = 5.0  # seconds closing waits for answers still being written to Telegram
# What a tap's update keeps of the message its button was on: where that message is. The date
# too: PTB tells a message the bot can no longer see by its date of 0; and a topic's thread,
# which PTB reads only where the message says it is a topic's.
TAPPED_MESSAGE_KEEPS = ("message_id", "chat", "date", "message_thread_id", "is_topic_message")


def reduced(update: Any) -> Any:
    """``update`` (Telegram's JSON) with the message a tap's button was on reduced to where it
    is (:data:`TAPPED_MESSAGE_KEEPS`); anything else as it is. ``update`` itself is not changed.

    Telegram sends that whole message with every tap, the invitation card's text, its entities
    and keyboard and its sender, and PTB builds all of it into objects: a tap on a card built by
    hand in that shape took 0.18 ms of CPU to parse where the reduced one takes 0.09, on one
    host (bench/README.md). The bot reads none of it: a tap is the person, the chat and the
    button's data (:func:`handlers.telegram.events.event_of`), and the bot never edits the
    messages it sent. (PTB's ``arbitrary_callback_data``, which the bot does not use, would
    need the keyboard.)
    """
    query = update.get("callback_query") if isinstance(update, dict) else None
    if not isinstance(query, dict) or not isinstance(message := query.get("message"), dict):
        return update
    place = {key: message[key] for key in TAPPED_MESSAGE_KEEPS if key in message}
    return {**update, "callback_query": {**query, "message": place}}


def update_of(data: Any, bot: Bot) -> Update:
    """The ``Update`` of Telegram's JSON for one update as the bot receives it: :func:`reduced`."""
    return Update.de_json(reduced(data), bot)


class UpdatesRequest(BaseRequest):
    """The poll's requests over ``inner``, each update in getUpdates' answer :func:`reduced`.

    PTB sends only getUpdates through a bot's ``get_updates_request`` and turns its answer into
    ``Update`` objects itself; :meth:`parse_json_payload` is where an answer can be changed
    before that. Everything else is ``inner``'s.
    """

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner

    @property
    def read_timeout(self) -> float | None:
        """``inner``'s (PTB adds the long poll's wait to it)."""
        return self.inner.read_timeout

    async def initialize(self) -> None:
        """Initialize ``inner``."""
        await self.inner.initialize()

    async def shutdown(self) -> None:
        """Shut ``inner`` down."""
        await self.inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """``inner``'s request."""
        return await self.inner.do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )

    # PTB's is a static method; this one needs ``inner``'s.
    def parse_json_payload(self, payload: bytes) -> JSONDict:  # type: ignore[override]
        """``inner``'s parse, with every update of the answer :func:`reduced`."""
        answer = self.inner.parse_json_payload(payload)
        updates = answer.get("result") if isinstance(answer, dict) else None
        if isinstance(updates, list):
            answer["result"] = [reduced(update) for update in updates]
        return answer


class Poller:
    """Long polling that confirms an update to Telegram only once it is handled."""

    def __init__(
        self,
        application: AnyApplication,
        processor: ChatOrderedUpdateProcessor,
        *,
        timeout: float = POLL_TIMEOUT,
        recheck: float = RECHECK,
    ) -> None:
        self._bot = application.bot
        self._queue = application.update_queue
        self._processor = processor
        self._timeout, self._recheck = timeout, recheck
        self._in_hand: set[int] = set()  # fetched and not handled yet
        self._highest = 0  # the newest update id fetched
        self._progress = asyncio.Event()
        self._stopping = False
        self._long_poll = False
        self.failures = 0  # polls that failed in a row (readiness: bot.health)
        self._task: asyncio.Task[None] | None = None

    @property
    def left(self) -> int:
        """Updates fetched and not handled: Telegram delivers them again."""
        return len(self._in_hand)

    async def start(self) -> None:
        """Make sure no webhook is set (updates pending at Telegram stay), then poll."""
        await self._bot.delete_webhook()
        self._task = asyncio.create_task(self._run(), name="hoinghi-polling")

    async def stop(self) -> None:
        """Fetch no more: a poll on its way returns first, unless it is a long wait."""
        self._stopping = True
        self._progress.set()
        if self._task is None:
            return
        if self._long_poll:  # holds nothing: nothing is lost by cutting it
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def close(self) -> None:
        """Confirm to Telegram the updates handled since the last poll (every one before the
        oldest left unhandled)."""
        if not self._highest:
            return
        try:
            await self._bot.get_updates(offset=self._offset(), timeout=0, limit=1)
        except TelegramError as exc:
            # They come again at the next start, and are skipped as handled.
            log.warning("the last handled updates were not confirmed: %s", type(exc).__name__)

    def _offset(self) -> int:
        """Confirms every update before the oldest one still in hand."""
        return min(self._in_hand) if self._in_hand else self._highest + 1

    async def _run(self) -> None:
        self.failures = 0
        while not self._stopping:
            offset = self._offset()
            self._long_poll = not self._in_hand
            try:
                updates = await self._bot.get_updates(
                    offset=offset,
                    timeout=self._timeout if self._long_poll else 0,
                    limit=LIMIT,
                    allowed_updates=Update.ALL_TYPES,
                )
            except Exception as exc:  # a network or Telegram error, or data PTB cannot read
                self.failures += 1
                wait = min(BACKOFF_MAX, 2.0 ** (self.failures - 1))
                log.warning("getUpdates failed (%s): again in %.0f s", type(exc).__name__, wait)
                await self._pause(wait)
                continue
            finally:
                self._long_poll = False
            self.failures = 0
            new = [update for update in updates if update.update_id > self._highest]
            for update in new:
                self._hand_over(update)
            if not new and self._in_hand:
                # Only updates in hand came back: ask again once one of them is done. When the
                # poll was full, only the oldest one's end lets a new update in.
                full = len(updates) >= LIMIT
                await self._pause(self._recheck, moved_from=offset if full else None)

    def _hand_over(self, update: Update) -> None:
        update_id = update.update_id
        self._highest = update_id
        self._in_hand.add(update_id)
        if self._stopping:  # fetched as the bot stops: left to Telegram like the others
            return
        outcome = self._processor.outcome(update_id)
        outcome.add_done_callback(lambda done: self._settled(update_id, done))
        self._queue.put_nowait(update)

    def _settled(self, update_id: int, outcome: asyncio.Future[bool]) -> None:
        if outcome.result():
            self._in_hand.discard(update_id)
            self._progress.set()

    async def _pause(self, seconds: float, *, moved_from: int | None = None) -> None:
        """Wait ``seconds``, or less: until an update is done (with ``moved_from``, until the
        offset moves from it), or the poller stops."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not self._stopping:
                    self._progress.clear()
                    await self._progress.wait()
                    if moved_from is None or self._offset() != moved_from:
                        return


class WebhookReceiver:
    """Telegram's webhook requests, each answered once its update is handled."""

    def __init__(
        self,
        application: AnyApplication,
        processor: ChatOrderedUpdateProcessor,
        *,
        listen: str,
        port: int,
        path: str,
        url: str,
        secret: str,
        mount: Mount | None = None,
    ) -> None:
        self._bot = application.bot
        self._queue = application.update_queue
        self._processor = processor
        self._listen, self._port, self._path = listen, port, path
        self._url, self._secret = url, secret
        self._stopping = False
        self._refused = 0
        self._server: HTTPServer | None = None
        self._mount = mount
        self._unmount: Callable[[], None] | None = None
        # Requests whose answer is not written to Telegram yet: closing waits for them, so an
        # update handled just before the stop is confirmed rather than delivered again.
        self._answering = 0
        self._all_answered = asyncio.Event()
        self._all_answered.set()

    @property
    def left(self) -> int:
        """Updates answered 503 because the bot was stopping: Telegram sends them again."""
        return self._refused

    async def start(self) -> None:
        """Listen (or take the web server's route), then tell Telegram where to deliver
        updates and the secret to show."""
        if self._mount is not None:
            self._unmount = self._mount(self._path.strip("/"), self._answer_status)
        else:
            routes = [(rf"/{re.escape(self._path)}/?", _UpdateRequest, {"receiver": self})]
            self._server = HTTPServer(tornado.web.Application(routes))
            self._server.listen(self._port, address=self._listen)
        await self._bot.set_webhook(
            url=self._url, secret_token=self._secret, allowed_updates=Update.ALL_TYPES
        )

    async def stop(self) -> None:
        """Accept no more requests (a request already open is answered 503)."""
        self._stopping = True
        if self._server is not None:
            self._server.stop()

    async def close(self) -> None:
        """Close the connections left open once every request's answer is written (each has
        its status by now: the updates were handled or left); on the web server, leave its
        route (it answers 503 until the bot is back)."""
        if self._unmount is not None:
            self._unmount()
            self._unmount = None
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ANSWER_FLUSH):
                    await self._all_answered.wait()
            await self._server.close_all_connections()
            self._server = None

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around one request, from its arrival until its answer is written."""
        self._answering += 1
        self._all_answered.clear()
        try:
            yield
        finally:
            self._answering -= 1
            if not self._answering:
                self._all_answered.set()

    async def _answer_status(self, headers: Mapping[str, str], body: bytes) -> int:
        return int(await self.answer(headers, body))

    async def answer(self, headers: Any, body: bytes) -> HTTPStatus:
        """The status for one request: 403 without the secret, 200 once its update is handled,
        503 if the bot stopped first."""
        if headers.get("Content-Type") != "application/json":
            return HTTPStatus.FORBIDDEN
        token = headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(token.encode(), self._secret.encode()):
            return HTTPStatus.FORBIDDEN
        if self._stopping:
            self._refused += 1
            return HTTPStatus.SERVICE_UNAVAILABLE
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise TypeError("not an object")
            update = update_of(data, self._bot)
        except (ValueError, TypeError, KeyError):
            log.warning("a webhook request that is no update was refused")
            return HTTPStatus.BAD_REQUEST
        if isinstance(self._bot, ExtBot):
            self._bot.insert_callback_data(update)
        outcome = self._processor.outcome(update.update_id)
        await self._queue.put(update)
        if await outcome:
            return HTTPStatus.OK
        self._refused += 1
        return HTTPStatus.SERVICE_UNAVAILABLE


class _UpdateRequest(tornado.web.RequestHandler):
    """One POST from Telegram."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, receiver: WebhookReceiver) -> None:
        """Tornado's per-request set-up: the receiver the request is for."""
        self.receiver = receiver

    async def post(self) -> None:
        """Answer when the update is handled (or refused), and wait until the answer is
        written: closing the server before would lose a 200 for an update already handled."""
        with self.receiver.answering():
            self.set_status(await self.receiver.answer(self.request.headers, self.request.body))
            with contextlib.suppress(tornado.iostream.StreamClosedError):
                await self.finish()

    def log_exception(self, *args: Any) -> None:
        """Tornado's request dumps could show an update's text: never logged."""
