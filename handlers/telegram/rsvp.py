"""RSVP buttons and the typed answers that follow them."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.services.rsvp import RsvpResult, RsvpStep, parse_rsvp_action
from bot.texts.presenters import deadline_text
from handlers.telegram import broadcast, drafts, render, tasks
from handlers.telegram.context import Context, account_of, catalog_of, services_of
from handlers.telegram.keyboards import cancel_keyboard, decline_keyboard
from handlers.telegram.misc import answer_query, hint
from handlers.telegram.updates import reply_later


async def on_button(update: Update, context: Context) -> None:
    """A tap on Tham dự / Không tham dự / Cử người dự thay (or their follow-ups)."""
    query = update.callback_query
    assert query is not None
    catalog = catalog_of(context)
    choice = parse_rsvp_action(query.data)
    if choice is None:
        await answer_query(query, catalog.plain("hint.stale_button"), alert=True)
        return
    result = await services_of(context).rsvp.choose(account_of(update), choice)
    if result.step is RsvpStep.UNCHANGED:
        # A second tap or a redelivered update: nothing changed, and a toast says so.
        await answer_query(query, catalog.plain("rsvp.unchanged"))
        return
    toast = catalog.plain("rsvp.toast_recorded") if result.step is RsvpStep.RECORDED else None
    await answer_query(query, toast)
    # The toast answered the tap; the message may wait for Telegram's rate limit at a surge.
    await reply_later(context, update, _reply(update, context, result))


async def on_text(update: Update, context: Context) -> None:
    """Typed text in private: a reason, a substitute's name or position, or a hint."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if await broadcast.on_text(update, context):
        return  # an office member writing a notice
    if await tasks.on_text(update, context):
        return  # a note, a help request or a link for a task
    if await drafts.on_text(update, context):
        return  # a piece of a typed speech, or an answer to the office's comment
    result = await services_of(context).rsvp.submit_text(
        account_of(update), message.text, message_id=message.message_id
    )
    if result.step is RsvpStep.DUPLICATE:
        return  # a redelivered message: it was answered the first time
    if result.step in (RsvpStep.NOTHING_PENDING, RsvpStep.NOT_LINKED):
        await hint(update, context, linked=result.step is RsvpStep.NOTHING_PENDING)
        return
    await _reply(update, context, result)


async def _reply(update: Update, context: Context, result: RsvpResult) -> None:
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    markup: InlineKeyboardMarkup | None = None
    step = result.step
    if step in (RsvpStep.RECORDED, RsvpStep.CONFIRMED):
        assert result.rsvp is not None
        text = render.recorded(catalog, config, result.rsvp, result.previous)
    elif step is RsvpStep.UNCHANGED:
        text = catalog.html("rsvp.unchanged")
    elif step is RsvpStep.NOTHING_TO_CANCEL:
        text = catalog.html("rsvp.nothing_to_cancel")
    elif step is RsvpStep.ASK_REASON:
        text, markup = render.ask_reason(catalog, result.previous), decline_keyboard(catalog)
    elif step is RsvpStep.ASK_SUBSTITUTE_NAME:
        text, markup = catalog.html("rsvp.ask_substitute_name"), cancel_keyboard(catalog)
    elif step is RsvpStep.ASK_SUBSTITUTE_POSITION:
        text = catalog.html("rsvp.ask_substitute_position", name=result.substitute_name or "")
        markup = cancel_keyboard(catalog)
    elif step is RsvpStep.CANCELLED:
        assert result.rsvp is not None
        text = catalog.html("rsvp.cancelled", answer=render.answer(catalog, result.rsvp))
    elif step is RsvpStep.CLOSED:
        assert result.rsvp is not None
        text = catalog.html(
            "rsvp.closed",
            deadline=deadline_text(catalog, config),
            answer=render.answer(catalog, result.rsvp),
            contact=config.office.contact,
        )
    elif step is RsvpStep.TOO_LONG:
        text, markup = (
            catalog.html("rsvp.too_long", limit=result.limit or 0),
            cancel_keyboard(catalog),
        )
    elif step is RsvpStep.EMPTY:
        text, markup = catalog.html("rsvp.empty"), cancel_keyboard(catalog)
    else:  # NOT_LINKED from a button: the account was unlinked since the card was sent
        text = catalog.html("hint.not_linked", contact=config.office.contact)
    await context.bot.send_message(account_of(update).chat_address, text, reply_markup=markup)
