"""Linking a Telegram account to a delegate: ``/start <token>`` or sharing a phone number."""

from __future__ import annotations

from telegram import ReplyKeyboardRemove, Update

from bot.services.invitations import LinkOutcome, LinkResult
from handlers.telegram import drafts, render, tasks
from handlers.telegram.context import Context, account_of, catalog_of, services_of
from handlers.telegram.keyboards import rsvp_keyboard, share_phone_keyboard


async def start(update: Update, context: Context) -> None:
    """Open a personal invitation, or explain how to get one."""
    message = update.effective_message
    assert message is not None
    services, catalog = services_of(context), catalog_of(context)
    account = account_of(update)
    if not context.args:
        mine = await services.invitations.whoami(account)
        if mine is not None:
            await _show_card(update, context, mine, intro_key="start.already_linked")
            return
        await message.reply_html(
            catalog.html(
                "start.welcome",
                office=services.config.office.name,
                title=services.config.meeting.title,
            ),
            reply_markup=share_phone_keyboard(catalog),
        )
        return
    result = await services.invitations.link_by_token(account, context.args[0])
    if result.told:  # slowed down and told so already in this window: no answer to a flood
        return
    await _answer_link(update, context, result)


async def contact(update: Update, context: Context) -> None:
    """Link by a shared phone number, if it is the sender's own and matches one delegate."""
    message = update.effective_message
    user = update.effective_user
    assert message is not None and message.contact is not None and user is not None
    services, catalog = services_of(context), catalog_of(context)
    if message.contact.user_id != user.id:
        await message.reply_html(
            catalog.html("start.phone_not_own"), reply_markup=share_phone_keyboard(catalog)
        )
        return
    result = await services.invitations.link_by_phone(
        account_of(update), message.contact.phone_number
    )
    await _answer_link(update, context, result)


async def _answer_link(update: Update, context: Context, result: LinkResult) -> None:
    message = update.effective_message
    assert message is not None
    services, catalog = services_of(context), catalog_of(context)
    contact_line = services.config.office.contact
    if result.outcome in (LinkOutcome.LINKED, LinkOutcome.ALREADY_LINKED):
        intro = "start.linked" if result.outcome is LinkOutcome.LINKED else "start.already_linked"
        await _show_card(update, context, result, intro_key=intro)
        return
    params: dict[str, object] = {"contact": contact_line}
    if result.retry_after is not None:  # slowed down after too many wrong links
        params["minutes"] = max(1, -(-int(result.retry_after.total_seconds()) // 60))
    if result.outcome is LinkOutcome.ACCOUNT_TAKEN and result.delegate is not None:
        params["name"] = result.delegate.full_name
    await message.reply_html(catalog.html(f"start.{result.outcome.value}", **params))


async def _show_card(
    update: Update, context: Context, result: LinkResult, *, intro_key: str
) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_html(
        catalog_of(context).html(intro_key), reply_markup=ReplyKeyboardRemove()
    )
    # A speaker learns their theme and deadline; the invitation (and its buttons) comes last,
    # where the screen ends.
    await drafts.show_mine(update, context, quiet=True)
    await _send_card(update, context, result)


async def _send_card(update: Update, context: Context, result: LinkResult) -> None:
    message = update.effective_message
    assert message is not None and result.delegate is not None and result.rsvp is not None
    if result.delegate.is_contact:  # a task contact has tasks, not an invitation
        await tasks.board(update, context)
        return
    services, catalog = services_of(context), catalog_of(context)
    is_open = services.rsvp.is_open()
    card = render.invitation_card(
        catalog, services.config, result.delegate, result.rsvp, is_open=is_open
    )
    # A long programme can exceed one message; the buttons go with the last part.
    *head, last = render.split_lines(card.split("\n"))
    for chunk in head:
        await message.reply_html(chunk)
    await message.reply_html(last, reply_markup=rsvp_keyboard(catalog) if is_open else None)


async def show_status(update: Update, context: Context) -> None:
    """``/trangthai``: the invitation card with the current answer and, while open, the buttons."""
    message = update.effective_message
    assert message is not None
    services, catalog = services_of(context), catalog_of(context)
    mine = await services.invitations.whoami(account_of(update))
    if mine is None:
        await message.reply_html(
            catalog.html("hint.not_linked", contact=services.config.office.contact)
        )
        return
    await _send_card(update, context, mine)
