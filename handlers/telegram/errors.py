"""The last resort: log what broke (never tokens or message bodies) and tell both sides."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError

from handlers.telegram.channel import foreign_status
from handlers.telegram.context import Context, catalog_of, services_of

log = logging.getLogger(__name__)


def _describe(update: object) -> str:
    if not isinstance(update, Update):
        return type(update).__name__
    kinds = [
        name
        for name in (
            "message",
            "edited_message",
            "callback_query",
            "my_chat_member",
            "channel_post",
        )
        if getattr(update, name, None) is not None
    ]
    return f"update {update.update_id} ({', '.join(kinds) or 'other'})"


async def on_error(update: object, context: Context) -> None:
    """Log the failure with context; apologise to the user; leave a short note to the office."""
    error = context.error
    where = _describe(update)
    status = foreign_status(error) if isinstance(error, TelegramError) else None
    if status is not None:
        # A proxy's or firewall's page, whatever PTB made of its status (a 403 «Forbidden», a
        # 404 or 401 «InvalidToken», a 409 «Conflict», a 5xx «NetworkError»): the office's
        # network, not the person and not a bug of ours. Its status alone: PTB's message (and
        # so a traceback) holds the whole page, which may quote the address, token and all.
        log.warning("telegram error while handling %s: HTTP %d from a proxy", where, status)
        return
    if isinstance(error, NetworkError | Forbidden | RetryAfter):
        # The platform, not our code: PTB retries polling itself, a blocked user is no bug, and
        # a flood limit that outlasted the retries would only be made worse by an apology.
        log.warning("telegram error while handling %s: %s", where, type(error).__name__)
        return
    log.error("unexpected error while handling %s", where, exc_info=error)
    catalog = catalog_of(context)
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is not None and chat.type == "private":
        await _try_send(context, chat.id, catalog.html("errors.unexpected"))
    office_chat = services_of(context).config.office.chat_id
    if office_chat is not None:
        note = catalog.html("errors.office_note", where=where, kind=type(error).__name__)
        await _try_send(context, office_chat, note)


async def _try_send(context: Context, chat_id: int, text: str) -> None:
    try:
        await context.bot.send_message(chat_id, text)
    except TelegramError as exc:  # reporting an error must not raise another one
        log.warning("could not deliver an error notice: %s", type(exc).__name__)
