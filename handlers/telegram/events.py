"""Telegram updates as the core's neutral events."""

from __future__ import annotations

from typing import TypedDict

from telegram import ChatMember, Message, MessageEntity, Update

from bot.domain.channels import Chat, ChatAccount
from bot.domain.inbound import (
    Action,
    Command,
    Event,
    FileIn,
    PhoneShared,
    Reachability,
    Text,
    Unsupported,
)

CHANNEL = "telegram"


class _Origin(TypedDict):
    """What every event says of where it came from."""

    account: ChatAccount
    chat: Chat
    event_id: str


def account_of(update: Update) -> ChatAccount:
    """The chat account that sent ``update`` (a private chat: the user is the chat)."""
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    # Delegates talk to the bot in private, where the chat id is the user id; a button on an
    # old message may come without its chat, so the user id is the address that always works.
    return ChatAccount(
        channel=CHANNEL,
        external_id=str(user.id),
        chat_address=str(user.id),
        display_name=user.full_name,
    )


def chat_of(update: Update) -> Chat:
    """The chat ``update`` happened in: a group, or the sender's private chat."""
    chat = update.effective_chat
    if chat is None:
        user = update.effective_user
        return Chat(str(user.id) if user else "")
    return Chat(str(chat.id), is_group=chat.type != "private")


def event_of(update: Update, bot_id: int, bot_username: str) -> Event | None:
    """The event an update carries, or None for updates the core has no use for (edits,
    channel posts, a group's membership changes, a command meant for another bot)."""
    if update.effective_user is None:
        return None
    base = _Origin(account=account_of(update), chat=chat_of(update), event_id=str(update.update_id))
    if update.callback_query is not None:
        return Action(**base, data=update.callback_query.data or "")
    if update.my_chat_member is not None:
        change = update.my_chat_member
        if change.chat.type != "private":
            return None
        status = change.new_chat_member.status
        return Reachability(
            **base,
            reachable=status not in (ChatMember.BANNED, ChatMember.LEFT),
            reason=f"my_chat_member: {status}",
        )
    message = update.message  # edits are deliberately ignored: an answer is a new message
    if message is None:
        return None
    reply_to = _replied_to_bot(message, bot_id)
    if message.text is not None:
        if _is_command(message):
            head, *args = message.text[1:].split() or [""]
            name, _, to_bot = head.partition("@")  # /thongke@hoinghi_bot in a group
            if to_bot and to_bot.casefold() != bot_username.casefold():
                # Meant for another bot: none of ours in a group, a hint in private.
                return None if message.chat.type != "private" else Unsupported(**base)
            return Command(**base, name=name, args=tuple(args))
        return Text(**base, text=message.text, reply_to=reply_to)
    if message.document is not None:
        document = message.document
        return FileIn(
            **base,
            name=document.file_name or "",
            size=document.file_size,
            file_ref=document.file_id,
            caption=message.caption or "",
            reply_to=reply_to,
        )
    if message.contact is not None and message.chat.type == "private":
        user = update.effective_user
        return PhoneShared(
            **base, phone=message.contact.phone_number, own=message.contact.user_id == user.id
        )
    return Unsupported(**base, reply_to=reply_to)


def _is_command(message: Message) -> bool:
    """A command as Telegram marks it: a bot_command entity at the very start."""
    return any(
        entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0
        for entity in message.entities
    )


def _replied_to_bot(message: Message, bot_id: int) -> str | None:
    """The id of the bot's message this one replies to, if it replies to the bot."""
    original = message.reply_to_message
    if original is None or original.from_user is None or original.from_user.id != bot_id:
        return None
    return str(original.message_id)
