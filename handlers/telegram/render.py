"""The core's messages as Telegram messages: HTML text cut at 4,096 characters with the choices
as inline buttons under the last part, venues as map pins, files as documents."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode

from bot.domain.channels import Capabilities
from bot.domain.outbound import (
    Button,
    Outbound,
    Part,
    SharedFilePart,
    TextPart,
    VenuePart,
)
from bot.texts import Catalog
from bot.texts.splitting import split_lines

CHANNEL = "telegram"
MESSAGE_LIMIT = 4096  # characters after entity parsing; we count the HTML, which is longer
# Telegram caps an inline keyboard at about 100 buttons; a long board spreads them out.
MAX_BUTTONS_PER_MESSAGE = 50

CAPABILITIES = Capabilities(
    buttons=True,
    files_out=True,
    files_in=True,
    reply_threads=True,
    location_pins=True,
    html=True,
    max_text=MESSAGE_LIMIT,
    groups=True,
    phone_request=True,
)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None
# The bot's messages show no link previews (its defaults, handlers.telegram.app.bot_defaults);
# a text sends the field as Telegram takes it, JSON-serialized once.
NO_LINK_PREVIEWS = LinkPreviewOptions(is_disabled=True)
_NO_PREVIEWS = json.dumps(NO_LINK_PREVIEWS.to_dict())


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    """The core's choices as an inline keyboard (None for no choices)."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows]
    )


def prepare(outbound: Outbound, catalog: Catalog) -> list[Part]:
    """The parts as Telegram takes them: text cut at line breaks to its limit, the choices
    under the last piece (beyond 50, under short follow-up messages)."""
    parts: list[Part] = []
    for part in outbound.parts:
        if not isinstance(part, TextPart):
            parts.append(part)
            continue
        *head, last = split_lines(part.html.split("\n"), MESSAGE_LIMIT)
        parts += [TextPart(chunk) for chunk in head]
        rows = part.buttons
        chunks = [
            rows[i : i + MAX_BUTTONS_PER_MESSAGE]
            for i in range(0, len(rows), MAX_BUTTONS_PER_MESSAGE)
        ]
        parts.append(TextPart(last, chunks[0] if chunks else (), part.ask_phone))
        if len(chunks) > 1:
            more = catalog.html("misc.more_buttons")
            parts += [TextPart(more, chunk) for chunk in chunks[1:]]
    return parts


@functools.lru_cache(maxsize=256)
def _inline_keyboard(rows: tuple[tuple[Button, ...], ...]) -> str:
    """The inline keyboard of ``rows``, JSON-serialized as Telegram takes it. A handful of
    keyboards (the answers, a task's states) go out with thousands of messages."""
    markup = keyboard(rows)
    assert markup is not None
    return json.dumps(markup.to_dict())


def _markup(part: TextPart, catalog: Catalog) -> Markup | str:
    if part.buttons:
        return _inline_keyboard(part.buttons)
    if part.ask_phone is True:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(catalog.plain("buttons.share_phone"), request_contact=True)]],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
    if part.ask_phone is False:
        return ReplyKeyboardRemove()
    return None


async def send_part(bot: Bot, chat_id: int | str, part: Part, catalog: Catalog) -> int:
    """Send one prepared part and return the message's id; Telegram's errors are raised as
    python-telegram-bot raises them."""
    if isinstance(part, TextPart):
        return await _send_text(bot, chat_id, part, catalog)
    if isinstance(part, VenuePart):
        venue = await bot.send_venue(
            chat_id, part.latitude, part.longitude, part.title, part.address
        )
        return venue.message_id
    if isinstance(part, SharedFilePart) and part.channel != CHANNEL:
        # Another platform holds it: Telegram cannot send it by that platform's reference.
        text = catalog.html("file.elsewhere") if not part.caption_html else part.caption_html
        return await send_part(bot, chat_id, TextPart(text, part.buttons), catalog)
    # A shared file is one Telegram already holds: its file_id needs no upload.
    document = (
        part.file_ref
        if isinstance(part, SharedFilePart)
        else InputFile(part.content, filename=part.filename)
    )
    sent = await bot.send_document(
        chat_id,
        document,
        caption=part.caption_html or None,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(part.buttons),
    )
    return sent.message_id


async def _send_text(bot: Bot, chat_id: int | str, part: TextPart, catalog: Catalog) -> int:
    """``send_message``'s request, without a ``Message`` built of Telegram's answer.

    Telegram answers a message with the whole of it (its entities, its keyboard, the sender),
    and ``send_message`` turns that into PTB objects: a quarter of a millisecond of CPU for each
    confirmation of a tap, a tenth of the tap (bench/README.md), for the one number kept of it.
    ``Bot._post`` is what ``send_message`` sends through: the bot's rate limiter and its errors
    apply alike, and the fields are those ``send_message`` sends for these arguments
    (tests/test_http_client.py compares the two requests). A ``Defaults`` entry for a field
    not named here (``disable_notification``, say) would not reach this request, nor would
    link preview options of the defaults beyond ``is_disabled`` (a URL to preview, say):
    ``send_message`` merges those in, and the bot's (:func:`handlers.telegram.app.bot_defaults`)
    have none. The keyboard and the preview options go as the JSON Telegram takes, serialized
    once (:func:`_inline_keyboard`): built and serialized anew, they were 60 µs a message.
    """
    data = {
        "chat_id": chat_id,
        "text": part.html,
        "parse_mode": ParseMode.HTML,
        "reply_markup": _markup(part, catalog),
        "link_preview_options": _NO_PREVIEWS,
    }
    sent = await bot._post("sendMessage", data)
    return int(sent["message_id"])


async def send_outbound(
    bot: Bot, chat_id: int | str, outbound: Outbound, catalog: Catalog
) -> Sequence[int]:
    """Send a whole message, part after part; the ids of its messages."""
    return [await send_part(bot, chat_id, part, catalog) for part in prepare(outbound, catalog)]
