"""``/thongbao`` and ``/lichthongbao``: the office writes, targets, previews and sends notices."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.domain.ids import parse_id
from bot.domain.outbound import Audience, DeliveryStatus, MessageStatus
from bot.services.broadcasts import (
    BROADCAST_ACTION,
    MAX_BROADCAST,
    BroadcastResult,
    BroadcastStep,
    audience_action,
)
from bot.texts import Catalog, Html
from bot.texts.formatting import moment
from bot.texts.presenters import audience_label, broadcast_html
from handlers.telegram import render
from handlers.telegram.context import Context, account_of, catalog_of, services_of
from handlers.telegram.misc import answer_query
from handlers.telegram.office import office_only

BROADCAST_PATTERN = r"^bc:"
_SIMPLE_AUDIENCES = (Audience.LINKED, Audience.PRESENT, Audience.NO_ANSWER, Audience.DECLINED)


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data)


def _cancel_row(catalog: Catalog) -> list[InlineKeyboardButton]:
    return [_button(catalog.plain("buttons.cancel"), f"{BROADCAST_ACTION}cancel")]


@office_only
async def start(update: Update, context: Context) -> None:
    """``/thongbao``: begin a notice (in private: the text is typed there)."""
    chat = update.effective_chat
    if chat is not None and chat.type != "private":
        await context.bot.send_message(chat.id, catalog_of(context).html("broadcast.private_only"))
        return
    result = await services_of(context).broadcasts.start(account_of(update))
    await _reply(update, context, result)


@office_only
async def listing(update: Update, context: Context) -> None:
    """``/lichthongbao``: scheduled notices (with a cancel button each) and recent ones."""
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    items = await services.broadcasts.recent()
    chat = update.effective_chat
    assert chat is not None
    if not items:
        await context.bot.send_message(chat.id, catalog.html("broadcast.list_empty"))
        return
    lines: list[str] = [catalog.html("broadcast.list_title")]
    buttons = []
    for item in items:
        who = audience_label(catalog, config, item.audience)
        counts = item.deliveries
        if item.status is MessageStatus.SCHEDULED and item.due_at is not None:
            when = moment(catalog, config.meeting.local(item.due_at))
            lines.append(
                catalog.html(
                    "broadcast.list_scheduled",
                    id=item.id,
                    when=when,
                    audience=who,
                    preview=item.preview,
                )
            )
            buttons.append(
                [
                    _button(
                        catalog.plain("buttons.bc_cancel_id", id=item.id),
                        f"{BROADCAST_ACTION}cancel:{item.id}",
                    )
                ]
            )
        elif item.status is MessageStatus.QUEUED:
            lines.append(
                catalog.html(
                    "broadcast.list_sending",
                    id=item.id,
                    audience=who,
                    sent=counts[DeliveryStatus.SENT],
                    total=sum(counts.values()),
                )
            )
        else:
            lines.append(
                catalog.html(
                    "broadcast.list_done",
                    id=item.id,
                    audience=who,
                    sent=counts[DeliveryStatus.SENT],
                    blocked=counts[DeliveryStatus.BLOCKED],
                    failed=counts[DeliveryStatus.FAILED],
                    not_linked=counts[DeliveryStatus.NOT_LINKED],
                )
            )
    *head, last = render.split_lines(lines)
    for text in head:
        await context.bot.send_message(chat.id, text)
    markup = InlineKeyboardMarkup(buttons) if buttons else None
    await context.bot.send_message(chat.id, last, reply_markup=markup)


async def on_text(update: Update, context: Context) -> bool:
    """Typed text from an office admin composing a notice; False if no notice waits for it."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.text is not None and user is not None
    services = services_of(context)
    if not services.is_office_admin(user.id):
        return False
    result = await services.broadcasts.accept_text(account_of(update), message.text)
    if result is None:
        return False
    await _reply(update, context, result)
    return True


async def on_button(update: Update, context: Context) -> None:
    """Every ``bc:`` button: audience, groups, send now, schedule, cancel, resend."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services, catalog = services_of(context), catalog_of(context)
    if not services.is_office_admin(user.id):
        await answer_query(query, catalog.plain("office.refused"), alert=True)
        return
    action, _, rest = (query.data or "").removeprefix(BROADCAST_ACTION).partition(":")
    target, _, audience = rest.partition(":")
    message_id = parse_id(target)
    admin = account_of(update)
    broadcasts = services.broadcasts
    await answer_query(query)
    if action == "cancel":
        result = await broadcasts.cancel(admin, message_id)
    elif message_id is None:
        result = BroadcastResult(BroadcastStep.GONE)
    elif action == "aud":
        result = await broadcasts.choose_audience(admin, message_id, audience)
    elif action == "groups":
        await _send(
            update,
            context,
            catalog.html("broadcast.choose_group"),
            _groups(update, context, message_id),
        )
        return
    elif action == "now":
        result = await broadcasts.send_now(admin, message_id)
    elif action == "later":
        result = await broadcasts.ask_time(admin, message_id)
    elif action == "resend":
        result = await broadcasts.resend_failed(admin, message_id)
    else:
        result = BroadcastResult(BroadcastStep.GONE)
    await _reply(update, context, result)


def _groups(update: Update, context: Context, message_id: int) -> InlineKeyboardMarkup:
    config, catalog = services_of(context).config, catalog_of(context)
    rows = [
        [_button(group.label[:60], audience_action(message_id, f"{Audience.GROUP}:{group.key}"))]
        for group in config.groups_in_order
    ]
    return InlineKeyboardMarkup([*rows, _cancel_row(catalog)])


async def _send(
    update: Update, context: Context, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    chat = update.effective_chat
    user = update.effective_user
    chat_id = chat.id if chat is not None else user.id if user is not None else 0
    await context.bot.send_message(chat_id, text, reply_markup=markup)


async def _reply(update: Update, context: Context, result: BroadcastResult) -> None:
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    step, message_id = result.step, result.message_id
    markup: InlineKeyboardMarkup | None = None
    if step is BroadcastStep.ASK_TEXT:
        text = catalog.html("broadcast.ask_text", limit=MAX_BROADCAST)
        markup = InlineKeyboardMarkup([_cancel_row(catalog)])
    elif step is BroadcastStep.ASK_AUDIENCE:
        assert message_id is not None
        text = catalog.html("broadcast.ask_audience")
        rows = [
            [
                _button(
                    audience_label(catalog, config, audience), audience_action(message_id, audience)
                )
            ]
            for audience in _SIMPLE_AUDIENCES
        ]
        rows.append(
            [_button(catalog.plain("buttons.bc_groups"), f"{BROADCAST_ACTION}groups:{message_id}")]
        )
        markup = InlineKeyboardMarkup([*rows, _cancel_row(catalog)])
    elif step in (BroadcastStep.PREVIEW, BroadcastStep.NO_RECIPIENTS):
        await _preview(update, context, result)
        return
    elif step in (BroadcastStep.QUEUED, BroadcastStep.SCHEDULED):
        assert result.reach is not None
        when = moment(catalog, config.meeting.local(result.due_at)) if result.due_at else ""
        text = catalog.html(
            f"broadcast.{step.value}", id=message_id, reachable=result.reach.reachable, when=when
        )
    elif step is BroadcastStep.ASK_TIME:
        text = catalog.html("broadcast.ask_time", zone=config.meeting.timezone)
        markup = InlineKeyboardMarkup([_cancel_row(catalog)])
    elif step is BroadcastStep.PAST_TIME:
        assert result.due_at is not None
        when = moment(catalog, config.meeting.local(result.due_at))
        text = catalog.html("broadcast.past_time", when=when)
    elif step is BroadcastStep.CANCELLED:
        text = catalog.html("broadcast.cancelled", id=message_id)
    else:  # too long, empty, bad time, gone, resent, nothing to resend
        text = catalog.html(
            f"broadcast.{step.value}", id=message_id or "", limit=result.limit, count=result.count
        )
    await _send(update, context, text, markup)


async def _preview(update: Update, context: Context, result: BroadcastResult) -> None:
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    assert result.reach is not None and result.message_id is not None and result.audience
    reach = result.reach
    lines = [
        catalog.html("broadcast.preview_header"),
        broadcast_html(catalog, config.office.name, result.body or ""),
        catalog.html(
            "broadcast.preview_footer",
            audience=audience_label(catalog, config, result.audience),
            reachable=reach.reachable,
        ),
    ]
    if reach.blocked:
        lines.append(catalog.html("broadcast.preview_blocked", blocked=reach.blocked))
    if reach.not_linked:
        names = ", ".join(f"{code} {name}" for code, name in reach.not_linked)
        lines.append(
            catalog.html("broadcast.preview_not_linked", count=len(reach.not_linked), names=names)
        )
    if result.step is BroadcastStep.NO_RECIPIENTS:
        lines.append(catalog.html("broadcast.no_recipients"))
        rows = []
    else:
        rows = [
            [
                _button(
                    catalog.plain("buttons.bc_now"), f"{BROADCAST_ACTION}now:{result.message_id}"
                ),
                _button(
                    catalog.plain("buttons.bc_later"),
                    f"{BROADCAST_ACTION}later:{result.message_id}",
                ),
            ]
        ]
    rows.append(_cancel_row(catalog))
    *head, last = render.split_lines(Html("\n\n".join(lines)).split("\n"))
    for text in head:
        await _send(update, context, text)
    await _send(update, context, last, InlineKeyboardMarkup(rows))
