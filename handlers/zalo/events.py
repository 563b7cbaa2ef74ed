"""Zalo updates as the core's neutral events.

An update is ``{event_name, message: {message_id, date, chat: {id, chat_type}, from: {id,
display_name}, text | photo + caption | sticker}}``. A text is a :class:`Text`, or a
:class:`Command` when it starts with "/" (Zalo has no command entities: the slash is all
there is); a photo, a sticker and whatever the platform marks "unsupported" (a file, a voice
note, a location — and, by law, some senders' messages) are :class:`Unsupported`: the core
answers with a hint of what to do instead. The message id is the event's identity: a copy the
platform delivers again carries the same one.
"""

from __future__ import annotations

from typing import Any

from bot.domain.channels import Chat, ChatAccount
from bot.domain.inbound import Command, Event, Text, Unsupported

CHANNEL = "zalo"
TEXT = "message.text.received"


def message_of(update: dict[str, Any]) -> dict[str, Any] | None:
    """The update's message, or None for an update that carries none."""
    message = update.get("message")
    return message if isinstance(message, dict) else None


def message_id(update: dict[str, Any]) -> str | None:
    """The message's id, the only identity an update has."""
    message = message_of(update)
    value = message.get("message_id") if message else None
    return str(value) if value not in (None, "") else None


def chat_id(update: dict[str, Any]) -> str | None:
    """The chat the update came from (a private chat's id is the user's)."""
    message = message_of(update)
    if message is None:
        return None
    chat = message.get("chat")
    sender = message.get("from")
    value = (chat or {}).get("id") if isinstance(chat, dict) else None
    if value in (None, "") and isinstance(sender, dict):
        value = sender.get("id")
    return str(value) if value not in (None, "") else None


def event_of(update: dict[str, Any], channel: str = CHANNEL) -> Event | None:
    """The event an update carries, or None for one the core has no use for (no sender, a
    group's message: a basic bot is in no group). ``channel``: the bot's channel (``zalo``,
    ``zalo2``… when a meeting runs several bots)."""
    message = message_of(update)
    if message is None:
        return None
    sender = message.get("from")
    chat = message.get("chat")
    if not isinstance(sender, dict) or sender.get("id") in (None, ""):
        return None
    if isinstance(chat, dict) and str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        return None
    user_id = str(sender["id"])
    address = chat_id(update) or user_id
    account = ChatAccount(
        channel=channel,
        external_id=user_id,
        chat_address=address,
        display_name=str(sender.get("display_name") or ""),
    )
    origin = Chat(address)
    event_id = message_id(update)
    text = message.get("text")
    if update.get("event_name") == TEXT and isinstance(text, str):
        if text.startswith("/"):
            head, *args = text[1:].split() or [""]
            return Command(
                account=account, chat=origin, event_id=event_id, name=head, args=tuple(args)
            )
        return Text(account=account, chat=origin, event_id=event_id, text=text)
    return Unsupported(account=account, chat=origin, event_id=event_id)
