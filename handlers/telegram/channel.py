"""The outbox's Telegram channel: renders neutral parts and maps Telegram's answers.

It uses its own ``Bot`` without python-telegram-bot's rate limiter: the outbox paces bulk
sending itself and must see every 429 to pause everything, not have it retried out of sight.
For the same reason it is not given the bot's retries of 5xx and timeouts
(:mod:`handlers.telegram.limiter`): each send is tried once and the outbox retries it by its
own durable rules (attempts counted on the row, backoff in plan time), never twice over.

A request that went out and got no answer (a read or write timeout, a connection closed or
reset while the bot waited for the answer, a proxy's 5xx page) may have been delivered: it is
``maybe_sent``, tried once more at most by the outbox's rule for every channel
(:mod:`schedules.outbox`); :func:`maybe_sent` decides it for the replies' retries too. A
failure while connecting sent nothing. A proxy's own 4xx page (an HTML 403 or 407) is the
office's network refusing the request, never the person blocking the bot (``PROXY_REFUSED``).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from datetime import timedelta

from telegram import Bot
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest

from bot.config import TelegramSettings
from bot.domain.outbound import PROXY_REFUSED, Outbound, Part, SendOutcome, SendResult
from bot.texts import Catalog
from handlers.telegram.render import CAPABILITIES, CHANNEL, prepare, send_part
from handlers.telegram.request import new_request, quiet_unreadable_answers, went_out

log = logging.getLogger(__name__)

# Telegram's answers that mean the person cannot be reached at all (not a bug in the message).
_UNREACHABLE = ("chat not found", "user is deactivated", "bot was blocked", "bot was kicked")
# The status PTB names in the message of an answer it could not read as JSON.
_STATUS = re.compile(r"\((\d{3})\)\. Parsing the server response")


class TelegramSender:
    """Sends outbox parts through the Bot API."""

    channel = CHANNEL
    capabilities = CAPABILITIES

    def __init__(self, bot: Bot, catalog: Catalog) -> None:
        self.bot = bot
        self._catalog = catalog

    @classmethod
    def build(
        cls,
        token: str,
        settings: TelegramSettings,
        catalog: Catalog,
        *,
        request: BaseRequest | None = None,
    ) -> TelegramSender:
        """A sender with its own Bot (initialise it with ``async with sender.bot``)."""
        quiet_unreadable_answers()
        request = request or new_request(settings.http_client)
        return cls(
            Bot(
                token,
                base_url=settings.api_base_url,
                base_file_url=settings.file_base_url,
                request=request,
                # The sender never polls: without this the Bot built a second HTTP client for
                # getUpdates, loading the certificate store for nothing (0.05–0.15 s a start).
                get_updates_request=request,
            ),
            catalog,
        )

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        """Split text over Telegram's 4096 characters at line breaks; buttons go last."""
        return prepare(outbound, self._catalog)

    async def send(self, address: str, part: Part) -> SendResult:
        """Send one part and say how it went; Telegram's errors become outcomes."""
        try:
            message_id = await send_part(self.bot, int(address), part, self._catalog)
        except TelegramError as exc:
            return outcome_of(exc)
        return SendResult(SendOutcome.SENT, platform_message_id=str(message_id))


def outcome_of(exc: TelegramError) -> SendResult:
    """What the outbox does with one of Telegram's errors (or a network's on the way)."""
    if isinstance(exc, RetryAfter):
        return SendResult(
            SendOutcome.RATE_LIMITED,
            retry_after=retry_after_seconds(exc),
            error="429 Too Many Requests",
        )
    status = foreign_status(exc)
    if status is not None:
        log.warning("an answer that is not the Bot API's: HTTP %d (a proxy's page?)", status)
    if maybe_sent(exc):
        # Telegram may have delivered it, and the Bot API has no key to spot a copy: the
        # outbox tries it once more at most. A proxy's status is kept as a code: the office's
        # report prints it inside a Vietnamese sentence.
        error = f"HTTP {status} (proxy)" if status is not None else _error_text(exc)
        return SendResult(SendOutcome.MAYBE_SENT, error=error)
    if status is not None:
        # The office's network refused the request (nothing went): not the person blocking
        # the bot.
        return SendResult(SendOutcome.TRANSIENT, error=PROXY_REFUSED)
    if isinstance(exc, Forbidden):
        return SendResult(SendOutcome.BLOCKED, error=f"403 {exc.message}")
    if isinstance(exc, BadRequest):
        unreachable = any(marker in exc.message.lower() for marker in _UNREACHABLE)
        outcome = SendOutcome.BLOCKED if unreachable else SendOutcome.FAILED
        return SendResult(outcome, error=f"400 {exc.message}")
    if isinstance(exc, NetworkError):  # Telegram's 5xx, a connection that never opened: again
        return SendResult(SendOutcome.TRANSIENT, error=_error_text(exc))
    return SendResult(SendOutcome.FAILED, error=_error_text(exc))


def maybe_sent(exc: TelegramError) -> bool:
    """Whether a request that failed may have reached Telegram all the same: the one rule of
    the outbox (:func:`outcome_of`) and of the replies (:mod:`handlers.telegram.limiter`).

    Yes when it went out and no answer of Telegram's came back: a timeout or a connection
    that broke after it was sent (:func:`~handlers.telegram.request.went_out`), or a proxy's
    5xx or 408 page, which says nothing of what Telegram did with it (as Zalo's rule). No for
    every answer of Telegram's, for a failure before anything was sent (connecting), and for a
    proxy's own 4xx page (its 403 or 407 refused the request: :func:`proxy_refused`)."""
    if isinstance(exc, RetryAfter):
        return False
    status = foreign_status(exc)
    if status is not None:
        return status >= 500 or status == 408
    return isinstance(exc, NetworkError) and went_out(exc)


def proxy_refused(exc: TelegramError) -> bool:
    """Whether a proxy or firewall between the bot and Telegram refused the request with a
    page of its own (a 4xx that is not the Bot API's JSON; PTB reads an HTML 403 as
    ``Forbidden``): nothing went, and it says nothing of the person."""
    status = foreign_status(exc)
    return status is not None and not maybe_sent(exc)


def foreign_status(exc: TelegramError) -> int | None:
    """The HTTP status of an answer that was not the Bot API's JSON (a proxy's HTML page),
    else None. PTB raises such an error from the parsing error it met, and names the status
    in its message: «Forbidden (403). Parsing the server response … failed»."""
    if not isinstance(exc.__cause__, TelegramError) or isinstance(exc, TimedOut | RetryAfter):
        return None
    found = _STATUS.search(exc.message)
    return int(found.group(1)) if found else None


def _error_text(exc: TelegramError) -> str:
    return f"{type(exc).__name__}: {exc.message}"


def retry_after_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds, whichever type PTB gives it in."""
    with warnings.catch_warnings():  # PTB warns while it moves retry_after to timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
