"""Office commands: statistics and who has not answered. Only for ``[office] admin_ids``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from functools import wraps
from typing import Any

from telegram import Update

from handlers.telegram import render
from handlers.telegram.context import Context, catalog_of, services_of

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def office_only(handler: Handler) -> Handler:
    """Refuse politely unless the sender is an office admin."""

    @wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        user, message = update.effective_user, update.effective_message
        assert message is not None
        if user is None or not services_of(context).is_office_admin(user.id):
            await message.reply_html(catalog_of(context).html("office.refused"))
            return
        await handler(update, context)

    return guarded


async def _send_lines(update: Update, context: Context, lines: Sequence[str]) -> None:
    chat = update.effective_chat
    assert chat is not None
    for text in render.split_lines(lines):
        await context.bot.send_message(chat.id, text)


@office_only
async def counts(update: Update, context: Context) -> None:
    """``/thongke``: answers by status and group against the capacity."""
    services = services_of(context)
    result = await services.reports.counts()
    await _send_lines(update, context, render.counts(catalog_of(context), services.config, result))


@office_only
async def unanswered(update: Update, context: Context) -> None:
    """``/chuatraloi``: who has not answered, by group, in protocol order."""
    groups = await services_of(context).reports.unanswered()
    await _send_lines(update, context, render.unanswered(catalog_of(context), groups))
