"""The outbox's Telegram channel: renders neutral parts and maps Telegram's answers.

It uses its own ``Bot`` without python-telegram-bot's rate limiter: the outbox paces bulk
sending itself and must see every 429 to pause everything, not have it retried out of sight.
For the same reason it is not given the bot's retries of 5xx and timeouts
(:mod:`handlers.telegram.requests`): each send is tried once and the outbox retries it by its
own durable rules (attempts counted on the row, backoff in plan time), never twice over.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.request import BaseRequest

from bot.config import TelegramSettings
from bot.domain.outbound import (
    Button,
    FilePart,
    Outbound,
    Part,
    SendOutcome,
    SendResult,
    SharedFilePart,
    TextPart,
    VenuePart,
)
from handlers.telegram.render import split_lines

log = logging.getLogger(__name__)

CHANNEL = "telegram"
# Telegram's answers that mean the person cannot be reached at all (not a bug in the message).
_UNREACHABLE = ("chat not found", "user is deactivated", "bot was blocked", "bot was kicked")


def _keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows]
    )


class TelegramSender:
    """Sends outbox parts through the Bot API."""

    channel = CHANNEL

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    @classmethod
    def build(
        cls, token: str, settings: TelegramSettings, *, request: BaseRequest | None = None
    ) -> TelegramSender:
        """A sender with its own Bot (initialise it with ``async with sender.bot``)."""
        return cls(
            Bot(
                token,
                base_url=settings.api_base_url,
                base_file_url=settings.file_base_url,
                request=request,
            )
        )

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        """Split text over Telegram's 4096 characters at line breaks; buttons go last."""
        parts: list[Part] = []
        for part in outbound.parts:
            if not isinstance(part, TextPart):
                parts.append(part)
                continue
            *head, last = split_lines(part.html.split("\n"))
            parts += [TextPart(chunk) for chunk in head]
            parts.append(TextPart(last, part.buttons))
        return parts

    async def send(self, address: str, part: Part) -> SendResult:
        """Send one part and say how it went; Telegram's errors become outcomes."""
        chat_id = int(address)
        try:
            if isinstance(part, TextPart):
                sent = await self.bot.send_message(
                    chat_id,
                    part.html,
                    parse_mode=ParseMode.HTML,
                    reply_markup=_keyboard(part.buttons),
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
            elif isinstance(part, VenuePart):
                sent = await self.bot.send_venue(
                    chat_id, part.latitude, part.longitude, part.title, part.address
                )
            else:
                sent = await self._send_file(chat_id, part)
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
        return SendResult(SendOutcome.SENT, platform_message_id=str(sent.message_id))

    async def _send_file(self, chat_id: int, part: FilePart | SharedFilePart):  # type: ignore[no-untyped-def]
        # A shared file is one Telegram already holds: its file_id needs no upload.
        document = (
            part.file_ref
            if isinstance(part, SharedFilePart)
            else InputFile(part.content, filename=part.filename)
        )
        return await self.bot.send_document(
            chat_id,
            document,
            caption=part.caption_html or None,
            parse_mode=ParseMode.HTML,
            reply_markup=_keyboard(part.buttons),
        )


def retry_after_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds, whichever type PTB gives it in."""
    with warnings.catch_warnings():  # PTB warns while it moves retry_after to timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
