"""The outbox's Telegram channel: renders neutral parts and maps Telegram's answers.

It uses its own ``Bot`` without python-telegram-bot's rate limiter: the outbox paces bulk
sending itself and must see every 429 to pause everything, not have it retried out of sight.
For the same reason it is not given the bot's retries of 5xx and timeouts
(:mod:`handlers.telegram.limiter`): each send is tried once and the outbox retries it by its
own durable rules (attempts counted on the row, backoff in plan time), never twice over.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from datetime import timedelta

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.request import BaseRequest

from bot.config import TelegramSettings
from bot.domain.outbound import Outbound, Part, SendOutcome, SendResult
from bot.texts import Catalog
from handlers.telegram.render import CAPABILITIES, CHANNEL, prepare, send_part
from handlers.telegram.request import new_request

log = logging.getLogger(__name__)

# Telegram's answers that mean the person cannot be reached at all (not a bug in the message).
_UNREACHABLE = ("chat not found", "user is deactivated", "bot was blocked", "bot was kicked")


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
        except RetryAfter as exc:
            return SendResult(
                SendOutcome.RATE_LIMITED,
                retry_after=retry_after_seconds(exc),
                error="429 Too Many Requests",
            )
        except Forbidden as exc:
            return SendResult(SendOutcome.BLOCKED, error=f"403 {exc.message}")
        except BadRequest as exc:
            unreachable = any(marker in exc.message.lower() for marker in _UNREACHABLE)
            outcome = SendOutcome.BLOCKED if unreachable else SendOutcome.FAILED
            return SendResult(outcome, error=f"400 {exc.message}")
        except NetworkError as exc:  # timeouts and 5xx: worth another try
            return SendResult(SendOutcome.TRANSIENT, error=f"{type(exc).__name__}: {exc.message}")
        except TelegramError as exc:
            return SendResult(SendOutcome.FAILED, error=f"{type(exc).__name__}: {exc.message}")
        return SendResult(SendOutcome.SENT, platform_message_id=str(message_id))


def retry_after_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds, whichever type PTB gives it in."""
    with warnings.catch_warnings():  # PTB warns while it moves retry_after to timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
