"""A simulated Zalo Bot API, written from ``shared/reference/zalo-bot-api.md``, that the Zalo
adapter talks to over its ordinary HTTP layer (in process through :attr:`FakeZaloApi.transport`,
or over loopback through ``tests.fakes.server.FakeBotApiServer``).

What it plays, as the reference describes the platform:

- every method is ``POST /bot<TOKEN>/<method>`` with a JSON (or form, or query) body; answers
  are ``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": …, "description": …}``;
- ``getUpdates {timeout}`` returns ONE update object (no array, no ``update_id``: the message's
  ``message_id`` is its only identity); an idle long poll ends with HTTP 408
  ``{"ok": false, "description": "Request timeout"}``; it is refused while a webhook is set;
- ``sendMessage`` (1–2,000 characters), ``sendPhoto`` (a URL, caption ≤ 2,000), ``sendSticker``,
  ``sendChatAction``, ``setWebhook``/``deleteWebhook``/``getWebhookInfo``, ``getMe``;
- users are opaque hex ids; they type texts and send stickers, images and things the bot cannot
  read (``message.unsupported.received``); the bot cannot write first to someone who never
  wrote, nor to someone who blocked it.

What a correct adapter never does is a *violation* (recorded in :attr:`FakeZaloApi.violations`,
answered 400 so the adapter sees a refusal, and :meth:`FakeZaloApi.assert_no_violations` fails
the test): an unknown method, a missing ``chat_id``, a text that is empty or over 2,000
characters, a parameter the method does not take (``reply_markup``, ``parse_mode``: Zalo has no
buttons and no formatting), any file sent (a multipart upload, a ``document``), a photo that is
not a URL, a webhook secret outside 8–256 characters, getUpdates while a webhook is set.
Refusals a correct adapter must cope with (a user who blocked the bot, injected faults) are not.

The error answers for a blocked user and for flooding are not documented (see the reference):
the fake answers 403 ``Forbidden: …`` and 429 with ``parameters.retry_after``, as Telegram does
and as the reference says the outbox must treat them.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

JsonDict = dict[str, Any]

TEXT_LIMIT = 2000
SECRET_MIN, SECRET_MAX = 8, 256
WEBHOOK_HEADER = "X-Bot-Api-Secret-Token"
# The methods of the reference and the parameters each takes (``chat_id`` first where needed).
METHODS: dict[str, frozenset[str]] = {
    "getMe": frozenset(),
    "getUpdates": frozenset({"timeout"}),
    "sendMessage": frozenset({"chat_id", "text"}),
    "sendPhoto": frozenset({"chat_id", "photo", "caption"}),
    "sendSticker": frozenset({"chat_id", "sticker"}),
    "sendChatAction": frozenset({"chat_id", "action"}),
    "setWebhook": frozenset({"url", "secret_token"}),
    "deleteWebhook": frozenset(),
    "getWebhookInfo": frozenset(),
}
SENDING = frozenset({"sendMessage", "sendPhoto", "sendSticker"})
_FILE_PARAMS = frozenset({"document", "file", "audio", "video", "voice"})


class ZaloSpecViolation(AssertionError):
    """The adapter sent a request the real Zalo Bot API would have refused."""


@dataclass
class ZaloCall:
    """One request the adapter made, as the fake understood it, and how it was answered."""

    method: str
    params: JsonDict
    status: int = 200
    error_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Fault:
    status: int
    error_code: int
    description: str
    retry_after: int | None
    timeout: bool
    chat_id: str | None
    proxy_page: bool = False  # a proxy's error page, not Zalo's JSON
    delivered: bool = False  # the message went through; only the answer is lost


@dataclass
class _User:
    id: str
    name: str
    wrote: bool = False
    blocked: bool = False
    received: list[JsonDict] = field(default_factory=list)


class FakeZaloUser:
    """A Zalo user writing to the bot: each method queues the update the platform would send
    (for getUpdates, or :meth:`FakeZaloApi.push` to a webhook) and returns it."""

    def __init__(self, fake: FakeZaloApi, user: _User) -> None:
        self._fake = fake
        self._user = user

    @property
    def id(self) -> str:
        """The user's opaque id (also their private chat's)."""
        return self._user.id

    @property
    def name(self) -> str:
        """Their display name."""
        return self._user.name

    def text(self, text: str) -> JsonDict:
        """Type ``text`` to the bot."""
        return self._fake._incoming(self._user, "message.text.received", {"text": text})

    def sticker(self) -> JsonDict:
        """Send a sticker."""
        content = {"sticker": "sticker-id-7f3a", "url": "https://zalo-api.test/sticker.png"}
        return self._fake._incoming(self._user, "message.sticker.received", content)

    def image(self, caption: str = "") -> JsonDict:
        """Send a photo (with a caption)."""
        content = {"photo": "https://zalo-api.test/photo.jpg", "caption": caption}
        return self._fake._incoming(self._user, "message.image.received", content)

    def unsupported(self) -> JsonDict:
        """Send what the bot cannot read (a file, a voice note, a location)."""
        return self._fake._incoming(self._user, "message.unsupported.received", {})

    def block(self) -> None:
        """Block the bot: sending to them is refused from now on (Zalo says nothing else)."""
        self._user.blocked = True

    @property
    def messages(self) -> list[JsonDict]:
        """What the bot sent them, oldest first (``method`` and its parameters)."""
        return list(self._user.received)

    @property
    def texts(self) -> list[str]:
        """The texts (and photo captions) the bot sent them, oldest first."""
        return [m.get("text") or m.get("caption") or "" for m in self._user.received]

    @property
    def last_text(self) -> str:
        """The last text the bot sent them."""
        texts = self.texts
        if not texts:
            raise AssertionError(f"the bot sent nothing to {self.name}")
        return texts[-1]


class _Transport(httpx.AsyncBaseTransport):
    def __init__(self, fake: FakeZaloApi) -> None:
        self._fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._fake._handle(request)
        finally:
            self._fake._activity.set()


class FakeZaloApi:
    """The fake Zalo Bot API: users, their updates, the bot's calls and their checks."""

    def __init__(
        self,
        *,
        token: str = "4821539067:fake-zalo-bot-secret-of-the-tests",  # noqa: S107 (made up)
        bot_id: str = "4821539067",
        bot_name: str = "Bot Hội nghị (thử)",
        messages_per_second: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``messages_per_second``: refuse sends over that rate with 429 (a sliding second,
        timed by ``clock``), counted in :attr:`rate_limited`; None: no limit."""
        self.token = token
        self.bot_id = bot_id
        self.bot_name = bot_name
        # Where the adapter is pointed (``[zalo] api_base_url``); the loopback server sets it.
        self.base_url = "https://zalo-api.test"
        self.base_file_url = self.base_url  # (the loopback server sets both; Zalo has no files)
        self.transport: httpx.AsyncBaseTransport = _Transport(self)
        self.calls: list[ZaloCall] = []
        self.violations: list[str] = []
        self.webhook_url = ""
        self.webhook_secret = ""
        self.messages_per_second = messages_per_second
        self.rate_limited = 0
        self.returned = 0  # updates getUpdates has handed out
        self.accepted: list[float] = []  # when each message was accepted (``clock``)
        self._clock = clock or time.monotonic
        self._window: deque[float] = deque()
        self._users: dict[str, _User] = {}
        self._queue: deque[JsonDict] = deque()
        self._queue_changed = asyncio.Event()
        self._poller_waiting = asyncio.Event()
        self._activity = asyncio.Event()
        self._faults: dict[str, deque[_Fault]] = {}
        self._ids = itertools.count(1)

    # --- the world ----------------------------------------------------------------------------

    def user(self, name: str, *, user_id: str | None = None, wrote: bool = False) -> FakeZaloUser:
        """A new Zalo user with an opaque hex id (as the platform gives: no order, no number);
        ``wrote``: one who has written to the bot already (the bot may answer them)."""
        if user_id is None:
            seed = f"{self.bot_id}:{name}:{next(self._ids)}".encode()
            user_id = hashlib.sha256(seed).hexdigest()[:20]
        self._users[user_id] = _User(user_id, name, wrote=wrote)
        return FakeZaloUser(self, self._users[user_id])

    def enqueue(self, update: JsonDict) -> None:
        """Queue ``update`` for getUpdates (again, for a redelivery: same ``message_id``)."""
        self._queue.append(update)
        self._queue_changed.set()

    def redeliver(self, update: JsonDict) -> None:
        """Deliver ``update`` a second time, as the platform may: the same message id."""
        self.enqueue(update)

    @property
    def pending(self) -> int:
        """Updates queued and not fetched yet."""
        return len(self._queue)

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 500,
        description: str = "Internal Server Error: injected failure",
        status: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
        timeout: bool = False,
        chat_id: str | None = None,
        proxy_page: bool = False,
        delivered: bool = False,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (to ``chat_id`` only, if given) with
        this error; ``status`` is the HTTP status (default ``error_code``: 200 plays a refusal
        with a 2xx status, which the reference warns of), or an httpx timeout, or
        (``proxy_page``) a reverse proxy's HTML error page with that status. ``delivered``: a
        message sent goes through to the user all the same — the platform did it, and only its
        answer is lost (the case a sender cannot tell from one that never arrived)."""
        fault = _Fault(
            error_code if status is None else status,
            error_code,
            description,
            retry_after,
            timeout,
            chat_id,
            proxy_page,
            delivered,
        )
        self._faults.setdefault(method, deque()).extend([fault] * times)

    def drop_faults(self, method: str, chat_id: str) -> int:
        """Forget the faults still waiting for ``method`` calls to ``chat_id``; how many."""
        faults = self._faults.get(method, deque())
        dropped = [fault for fault in faults if fault.chat_id == chat_id]
        for fault in dropped:
            faults.remove(fault)
        return len(dropped)

    # --- inspecting ----------------------------------------------------------------------------

    def assert_no_violations(self) -> None:
        """Raise :class:`ZaloSpecViolation` listing every violation seen so far."""
        if self.violations:
            raise ZaloSpecViolation(
                f"{len(self.violations)} Zalo Bot API violation(s):\n" + "\n".join(self.violations)
            )

    def calls_to(self, method: str) -> list[ZaloCall]:
        """Every recorded call to ``method``, refused ones included."""
        return [call for call in self.calls if call.method == method]

    def sent(self) -> list[ZaloCall]:
        """Every message the platform accepted (sendMessage, sendPhoto, sendSticker)."""
        return [c for c in self.calls if c.method in SENDING and c.error_code is None]

    async def wait_until(self, condition: Callable[[], bool], *, limit: float = 10.0) -> None:
        """Return once ``condition()`` holds, re-checked after every call the adapter makes
        (never a fixed sleep; ``limit`` only bounds a test that would hang)."""
        async with asyncio.timeout(limit):
            while not condition():
                self._activity.clear()
                await self._activity.wait()

    async def wait_for_poller(self) -> None:
        """Return once a long poll waits for an update."""
        await self._poller_waiting.wait()

    async def push(self, update: JsonDict, *, secret: str | None = None) -> int:
        """Deliver ``update`` to the webhook as the platform does (its body wrapped in
        ``{"ok": true, "result": …}``, the secret in the header); returns the HTTP status.
        ``secret``: a different header value (a forger's)."""
        if not self.webhook_url:
            raise AssertionError("no webhook is set")
        if update in self._queue:  # delivered now, not by getUpdates
            self._queue.remove(update)
        body = {"ok": True, "result": update}
        headers = {WEBHOOK_HEADER: self.webhook_secret if secret is None else secret}
        async with httpx.AsyncClient() as client:
            response = await client.post(self.webhook_url, json=body, headers=headers)
        return response.status_code

    # --- HTTP ------------------------------------------------------------------------------------

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != f"bot{self.token}":
            self.violations.append("a request to a wrong token or URL")
            return _answer(401, 401, "Unauthorized")
        method = parts[1]
        body = await request.aread()
        params, problem = _params(request, body)
        call = ZaloCall(method, params)
        self.calls.append(call)
        if request.method != "POST":
            problem = problem or f"{request.method} instead of POST"
        if method not in METHODS:
            return self._violation(call, f"unknown method {method!r}", status=404)
        if problem:
            return self._violation(call, problem)
        if problem := _check(method, params):
            return self._violation(call, problem)
        fault = self._next_fault(call)
        if fault is not None:
            if fault.delivered and method in SENDING:
                self._deliver(call)
            if fault.timeout:
                call.error = "timeout"
                raise httpx.ReadTimeout("injected timeout", request=request)
            if fault.proxy_page:
                call.status, call.error = fault.status, "proxy page"
                page = f"<html><body><h1>{fault.status} {fault.description}</h1></body></html>"
                return httpx.Response(
                    fault.status, text=page, headers={"content-type": "text/html"}
                )
            call.status, call.error_code, call.error = (
                fault.status,
                fault.error_code,
                fault.description,
            )
            return _answer(fault.status, fault.error_code, fault.description, fault.retry_after)
        if method in SENDING and self.messages_per_second is not None:
            wait = self._over_rate()
            if wait is not None:
                self.rate_limited += 1
                return self._refuse(call, 429, "Too Many Requests", retry_after=wait)
        run: Callable[[ZaloCall], Awaitable[httpx.Response]] = getattr(self, f"_m_{method}")
        return await run(call)

    def _violation(self, call: ZaloCall, why: str, *, status: int = 400) -> httpx.Response:
        self.violations.append(f"{call.method}: {why}")
        return self._refuse(call, status, f"Bad Request: {why}")

    def _refuse(
        self, call: ZaloCall, code: int, description: str, *, retry_after: int | None = None
    ) -> httpx.Response:
        call.status, call.error_code, call.error = code, code, description
        return _answer(code, code, description, retry_after)

    def _next_fault(self, call: ZaloCall) -> _Fault | None:
        faults = self._faults.get(call.method, deque())
        for fault in faults:
            if fault.chat_id is None or fault.chat_id == call.params.get("chat_id"):
                faults.remove(fault)
                return fault
        return None

    def _over_rate(self) -> int | None:
        """Seconds to wait when one more message would go over the rate, else None (and the
        message is counted)."""
        assert self.messages_per_second is not None
        now = self._clock()
        while self._window and now - self._window[0] >= 1.0:
            self._window.popleft()
        if len(self._window) >= self.messages_per_second:
            return max(1, round(1.0 - (now - self._window[0])))
        self._window.append(now)
        return None

    # --- methods ---------------------------------------------------------------------------------

    async def _m_getMe(self, call: ZaloCall) -> httpx.Response:
        result = {
            "id": self.bot_id,
            "account_name": self.bot_name,
            "account_type": "BASIC",
            "can_join_groups": False,
        }
        return _ok(result)

    async def _m_getUpdates(self, call: ZaloCall) -> httpx.Response:
        if self.webhook_url:
            return self._violation(call, "getUpdates while a webhook is set")
        timeout = float(call.params.get("timeout", 30))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._queue:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return self._refuse(call, 408, "Request timeout")
            self._queue_changed.clear()
            self._poller_waiting.set()
            try:
                await asyncio.wait_for(self._queue_changed.wait(), remaining)
            except TimeoutError:
                return self._refuse(call, 408, "Request timeout")
            finally:
                self._poller_waiting.clear()
        self.returned += 1
        return _ok(self._queue.popleft())

    async def _m_sendMessage(self, call: ZaloCall) -> httpx.Response:
        return self._deliver(call)

    async def _m_sendPhoto(self, call: ZaloCall) -> httpx.Response:
        return self._deliver(call)

    async def _m_sendSticker(self, call: ZaloCall) -> httpx.Response:
        return self._deliver(call)

    async def _m_sendChatAction(self, call: ZaloCall) -> httpx.Response:
        user = self._users.get(str(call.params["chat_id"]))
        if user is None or user.blocked or not user.wrote:
            return self._refuse(call, 403, "Forbidden: the user cannot be reached")
        return _ok(True)

    async def _m_setWebhook(self, call: ZaloCall) -> httpx.Response:
        self.webhook_url = str(call.params["url"])
        self.webhook_secret = str(call.params["secret_token"])
        return _ok(True)

    async def _m_deleteWebhook(self, call: ZaloCall) -> httpx.Response:
        self.webhook_url = self.webhook_secret = ""
        return _ok(True)

    async def _m_getWebhookInfo(self, call: ZaloCall) -> httpx.Response:
        if not self.webhook_url:
            return self._refuse(call, 404, "Not Found")  # as a third party measured
        return _ok({"url": self.webhook_url, "updated_at": int(time.time() * 1000)})

    def _deliver(self, call: ZaloCall) -> httpx.Response:
        user = self._users.get(str(call.params["chat_id"]))
        if user is not None and user.blocked:
            return self._refuse(call, 403, "Forbidden: the user has blocked the bot")
        if user is None or not user.wrote:
            # The bot cannot write first to someone who never wrote to it.
            return self._refuse(call, 403, "Forbidden: the user has not interacted with the bot")
        user.received.append({"method": call.method, **call.params})
        self.accepted.append(self._clock())
        message_id = f"b{next(self._ids):x}"
        return _ok({"message_id": message_id, "date": int(time.time() * 1000)})

    # --- updates ---------------------------------------------------------------------------------

    def _incoming(self, user: _User, event_name: str, content: JsonDict) -> JsonDict:
        user.wrote = True
        message = {
            "message_id": hashlib.sha256(f"m{next(self._ids)}".encode()).hexdigest()[:24],
            "date": int(time.time() * 1000),
            "chat": {"id": user.id, "chat_type": "PRIVATE"},
            "from": {"id": user.id, "display_name": user.name},
            **content,
        }
        update = {"event_name": event_name, "message": message}
        self.enqueue(update)
        return update


def _params(request: httpx.Request, body: bytes) -> tuple[JsonDict, str | None]:
    """The call's parameters from its JSON, form or query string, and what is wrong with it
    (a file sent, a body that cannot be read)."""
    params: JsonDict = dict(parse_qsl(urlsplit(str(request.url)).query))
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/"):
        return params, "a file was sent (multipart upload): Zalo bots send no files"
    if not body:
        return params, None
    try:
        if content_type.startswith("application/json"):
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                return params, "a JSON body that is not an object"
            params.update(decoded)
        else:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError):
        return params, "an undecodable body"
    return params, None


def _check(method: str, params: JsonDict) -> str | None:
    """What the real API would refuse in a well-formed call to ``method``."""
    unknown = sorted(set(params) - METHODS[method])
    if set(unknown) & _FILE_PARAMS:
        return f"a file was sent ({', '.join(unknown)}): Zalo bots send no files"
    if unknown:
        return f"parameters the method does not take: {', '.join(unknown)}"
    if "chat_id" in METHODS[method] and not str(params.get("chat_id") or ""):
        return "chat_id is missing"
    if method == "sendMessage":
        text = params.get("text")
        if not isinstance(text, str) or not text:
            return "text is missing or empty"
        if len(text) > TEXT_LIMIT:
            return f"text of {len(text)} characters (at most {TEXT_LIMIT})"
    if method == "sendPhoto":
        photo = str(params.get("photo") or "")
        if not photo.startswith(("https://", "http://")):
            return "photo is not a URL (a Zalo bot sends photos by URL only)"
        if len(str(params.get("caption") or "")) > TEXT_LIMIT:
            return f"caption over {TEXT_LIMIT} characters"
    if method == "sendSticker" and not params.get("sticker"):
        return "sticker is missing"
    if method == "sendChatAction" and params.get("action") != "typing":
        return "action other than typing"
    if method == "setWebhook":
        url, secret = str(params.get("url") or ""), str(params.get("secret_token") or "")
        # Zalo wants HTTPS; the loopback web server of the tests stands for the office's proxy.
        if not (url.startswith("https://") or url.startswith("http://127.0.0.1:")):
            return f"webhook url {url!r} is not HTTPS"
        if not SECRET_MIN <= len(secret) <= SECRET_MAX:
            return f"secret_token of {len(secret)} characters (8–256)"
    return None


def _ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "result": result})


def _answer(
    status: int, error_code: int, description: str, retry_after: int | None = None
) -> httpx.Response:
    payload: JsonDict = {"ok": False, "error_code": error_code, "description": description}
    if retry_after is not None:
        payload["parameters"] = {"retry_after": retry_after}
    return httpx.Response(status, json=payload)
