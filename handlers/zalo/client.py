"""A small client of the Zalo Bot API over httpx: the methods the bot uses, nothing more.

Why not the PyPI package ``python-zalo-bot`` (0.1.9, read in full before deciding): it is
python-telegram-bot 21.6 with the names changed — about 7,000 lines, most of them Telegram's
(passport, media groups, ``offset``/``limit`` for a getUpdates that has neither) — and it
does not fit this platform where it matters: an idle long poll's HTTP 408 comes out as an error
to retry rather than "nothing yet", its ``Update`` keeps no ``event_name`` (so a sticker and a
file cannot be told apart), its default host is the old ``bot-api.zapps.me``, it logs every
call's parameters (message texts, user ids) at debug level, and it ships no type information
(``py.typed``) for our strict mypy. Its project metadata still carries template placeholders.
The methods the bot needs are six POSTs with a JSON body; this module speaks them in under two
hundred lines, answers with plain dicts, and is replaceable behind the channel port
(:class:`handlers.zalo.channel.ZaloSender`, :mod:`handlers.zalo.receiving`).

Errors: :class:`ZaloApiError` for every ``{"ok": false}`` answer (whatever the HTTP status:
the reference warns that a 2xx alone does not mean success), :class:`ZaloNetworkError` for a
request that got no answer. The token is in every URL: it is never put in an exception, and
the log's formatter redacts it from httpx's request lines (``ZALO_BOT_TOKEN`` is among
``bot.app.channel_secrets``).
"""

from __future__ import annotations

from typing import Any

import httpx

DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
# Seconds a long poll asks the platform to wait (its default is 30): short enough that a stop
# does not wait long for a poll holding nothing (it is cancelled anyway), long enough to cost
# almost no requests while nobody writes.
POLL_TIMEOUT = 25.0
REQUEST_TIMEOUT = 15.0  # seconds for any other call

JsonDict = dict[str, Any]


class ZaloError(Exception):
    """The Zalo Bot API could not do what was asked."""


class ZaloApiError(ZaloError):
    """The platform answered with a refusal: its HTTP status, error code and description."""

    def __init__(self, status: int, error_code: int | None, description: str) -> None:
        super().__init__(f"{status} {error_code}: {description}")
        self.status = status
        self.error_code = error_code
        self.description = description

    @property
    def code(self) -> int:
        """The error code, else the HTTP status."""
        return self.error_code if self.error_code is not None else self.status

    @property
    def retry_after(self) -> float | None:
        """Seconds the platform asked to wait, when it said so."""
        return self._retry_after

    _retry_after: float | None = None
    # False for an answer that is not the platform's JSON (a proxy's 502/504 page): the request
    # may have reached the platform, and nothing says what it did.
    from_platform: bool = True


class ZaloNetworkError(ZaloError):
    """No answer came: a connection that failed or a timeout (never the URL: it holds the
    token). ``maybe_sent``: the request may have reached the platform (it went out and its
    answer was lost), as against a connection that never opened."""

    def __init__(self, message: str, *, maybe_sent: bool = True) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class ZaloClient:
    """The Zalo Bot API of one bot."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._prefix = f"{base_url.rstrip('/')}/bot{token}/"
        self.request_timeout = REQUEST_TIMEOUT  # seconds a call (not a long poll) waits
        self._http = httpx.AsyncClient(
            transport=transport, timeout=REQUEST_TIMEOUT, follow_redirects=False
        )

    async def close(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def call(self, method: str, params: JsonDict, *, wait: float | None = None) -> Any:
        """``method`` with ``params`` as a JSON body; its ``result``, or :class:`ZaloError`."""
        wait = self.request_timeout if wait is None else wait
        try:
            response = await self._http.post(self._prefix + method, json=params, timeout=wait)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing went out: the platform cannot have done it.
            raise ZaloNetworkError(f"{method}: {type(exc).__name__}", maybe_sent=False) from None
        except httpx.TimeoutException:
            raise ZaloNetworkError(f"{method}: timed out") from None
        except httpx.HTTPError as exc:
            raise ZaloNetworkError(f"{method}: {type(exc).__name__}") from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            error = ZaloApiError(response.status_code, None, "an answer that is not JSON")
            error.from_platform = False
            raise error
        if payload.get("ok") is True:
            return payload.get("result")
        code = payload.get("error_code")
        error = ZaloApiError(
            response.status_code,
            code if isinstance(code, int) else None,
            str(payload.get("description") or ""),
        )
        parameters = payload.get("parameters")
        if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"), int | float):
            error._retry_after = float(parameters["retry_after"])
        raise error

    async def get_me(self) -> JsonDict:
        """The bot: ``id``, ``account_name``, ``account_type``, ``can_join_groups``."""
        result = await self.call("getMe", {})
        return result if isinstance(result, dict) else {}

    async def get_update(self, poll: float = POLL_TIMEOUT) -> JsonDict | None:
        """The next update (ONE, not a list), or None once ``poll`` seconds passed with
        nothing: the platform then answers HTTP 408, which is no error."""
        try:
            result = await self.call("getUpdates", {"timeout": int(poll)}, wait=poll + 10)
        except ZaloApiError as exc:
            if exc.status == 408 or exc.error_code == 408:
                return None
            raise
        return result if isinstance(result, dict) and result else None

    async def send_message(self, chat_id: str, text: str) -> JsonDict:
        """Send ``text`` (1–2,000 characters, plain) to ``chat_id``."""
        result = await self.call("sendMessage", {"chat_id": chat_id, "text": text})
        return result if isinstance(result, dict) else {}

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> JsonDict:
        """Send the photo at ``photo_url`` (the platform fetches it) with ``caption``."""
        params = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            params["caption"] = caption
        result = await self.call("sendPhoto", params)
        return result if isinstance(result, dict) else {}

    async def send_sticker(self, chat_id: str, sticker: str) -> JsonDict:
        """Send a sticker by its id."""
        result = await self.call("sendSticker", {"chat_id": chat_id, "sticker": sticker})
        return result if isinstance(result, dict) else {}

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        """Show "typing…" in the chat."""
        await self.call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> None:
        """Have updates POSTed to ``url`` (HTTPS) with ``secret_token`` in their header."""
        await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> None:
        """Back to getUpdates."""
        await self.call("deleteWebhook", {})

    async def get_webhook_info(self) -> JsonDict | None:
        """The webhook set, or None (a bot without one is answered 404)."""
        try:
            result = await self.call("getWebhookInfo", {})
        except ZaloApiError as exc:
            if exc.status == 404:
                return None
            raise
        return result if isinstance(result, dict) else None
