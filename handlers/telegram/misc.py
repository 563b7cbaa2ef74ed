"""Help, ``/id``, and the hints for messages the bot did not ask for."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update
from telegram.error import BadRequest

from handlers.telegram.context import Context, account_of, catalog_of, services_of

log = logging.getLogger(__name__)


async def help_command(update: Update, context: Context) -> None:
    """``/help``: what a delegate can do, and what the office can do if this is an admin."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    services, catalog = services_of(context), catalog_of(context)
    parts = [catalog.html("help.delegate", contact=services.config.office.contact)]
    if services.is_office_admin(user.id):
        parts.append(catalog.html("help.office"))
    await message.reply_html("\n\n".join(parts))


async def id_command(update: Update, context: Context) -> None:
    """``/id``: the numbers an office needs for ``admin_ids`` and ``chat_id``."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    assert message is not None and user is not None and chat is not None
    await message.reply_html(catalog_of(context).html("misc.id", user_id=user.id, chat_id=chat.id))


async def hint(update: Update, context: Context, *, linked: bool | None = None) -> None:
    """A short hint for stickers, photos or stray text in private: never silence."""
    message = update.effective_message
    assert message is not None
    services, catalog = services_of(context), catalog_of(context)
    if linked is None:
        linked = await services.invitations.whoami(account_of(update)) is not None
    key = "hint.use_buttons" if linked else "hint.not_linked"
    await message.reply_html(catalog.html(key, contact=services.config.office.contact))


async def stale_button(update: Update, context: Context) -> None:
    """A button whose data we never sent (old or forged): say so, change nothing."""
    query = update.callback_query
    assert query is not None
    await answer_query(query, catalog_of(context).plain("hint.stale_button"), alert=True)


async def answer_query(
    query: CallbackQuery, text: str | None = None, *, alert: bool = False
) -> None:
    """Answer a button tap; a query already answered (a redelivered update) is no error."""
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as exc:
        log.info("callback query not answered: %s", exc.message)


async def on_document(update: Update, context: Context) -> None:
    """A document in private: a task's deliverable if one was asked for, else a speech draft
    from a speaker, else a hint."""
    from handlers.telegram import drafts, tasks  # both import this module for answer_query

    if await tasks.on_document(update, context):
        return
    if not await drafts.on_document(update, context):
        await hint(update, context)
