"""Office commands: statistics and who has not answered. Only for ``[office] admin_ids``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from functools import wraps
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.domain.outbound import Button
from bot.domain.tokens import deep_link
from bot.services.invitations import OfficeStep
from handlers.telegram import render
from handlers.telegram.context import Context, account_of, catalog_of, services_of

Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def office_only(handler: Handler) -> Handler:
    """Refuse politely in private unless the sender is an office admin; in a group, where a
    refusal would only be noise for everyone, a non-admin's office command is ignored."""

    @wraps(handler)
    async def guarded(update: Update, context: Context) -> None:
        user, message, chat = update.effective_user, update.effective_message, update.effective_chat
        assert message is not None
        if user is None or not services_of(context).is_office_admin(user.id):
            if chat is None or chat.type == "private":
                await message.reply_html(catalog_of(context).html("office.refused"))
            return
        await handler(update, context)

    return guarded


# Telegram caps an inline keyboard at about 100 buttons; a long board spreads them out.
MAX_BUTTONS_PER_MESSAGE = 50


async def send_board(
    context: Context,
    chat_id: int,
    texts: Sequence[str],
    buttons: Sequence[tuple[Button, ...]],
) -> None:
    """A board: its blocks split at Telegram's length limit, the buttons under the last part
    (and, beyond 50, under short follow-up messages)."""
    *head, last = render.split_lines("\n\n".join(texts).split("\n"))
    for text in head:
        await context.bot.send_message(chat_id, text)
    rows = [
        [InlineKeyboardButton(button.label, callback_data=button.data) for button in row]
        for row in buttons
    ]
    chunks = [
        rows[i : i + MAX_BUTTONS_PER_MESSAGE] for i in range(0, len(rows), MAX_BUTTONS_PER_MESSAGE)
    ]
    first = InlineKeyboardMarkup(chunks[0]) if chunks else None
    await context.bot.send_message(chat_id, last, reply_markup=first)
    for chunk in chunks[1:]:
        await context.bot.send_message(
            chat_id,
            catalog_of(context).html("misc.more_buttons"),
            reply_markup=InlineKeyboardMarkup(chunk),
        )


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


@office_only
async def reissue(update: Update, context: Context) -> None:
    """``/caplai <code>``: a new personal link for a delegate; the old one stops working.

    The link is a secret, so it is only ever shown in a private chat."""
    message, chat = update.effective_message, update.effective_chat
    assert message is not None and chat is not None
    services, catalog = services_of(context), catalog_of(context)
    if chat.type != "private":
        await message.reply_html(catalog.html("office.private_only"))
        return
    if len(context.args or []) != 1:
        await message.reply_html(catalog.html("office.reissue_usage"))
        return
    code = (context.args or [""])[0]
    result = await services.invitations.reissue(account_of(update).actor, code)
    if result.step is OfficeStep.UNKNOWN_PERSON or result.delegate is None:
        await message.reply_html(catalog.html("office.unknown_person", code=code))
        return
    assert result.token is not None
    await message.reply_html(
        catalog.html(
            "office.reissued",
            name=result.delegate.full_name,
            code=result.delegate.code,
            link=deep_link(context.bot.username, result.token),
        )
    )


@office_only
async def unlink(update: Update, context: Context) -> None:
    """``/golienket <code>``: forget the Telegram account linked to a delegate (a lost phone)."""
    message = update.effective_message
    assert message is not None
    services, catalog = services_of(context), catalog_of(context)
    if len(context.args or []) != 1:
        await message.reply_html(catalog.html("office.unlink_usage"))
        return
    code = (context.args or [""])[0]
    result = await services.invitations.unlink(account_of(update).actor, code)
    if result.step is OfficeStep.UNKNOWN_PERSON or result.delegate is None:
        await message.reply_html(catalog.html("office.unknown_person", code=code))
        return
    key = "office.unlinked" if result.step is OfficeStep.UNLINKED else "office.was_not_linked"
    await message.reply_html(
        catalog.html(key, name=result.delegate.full_name, code=result.delegate.code)
    )
