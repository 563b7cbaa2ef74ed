"""A person blocking (or unblocking) the bot: Telegram tells us with a my_chat_member update."""

from __future__ import annotations

from telegram import ChatMember, Update

from handlers.telegram.context import Context, account_of, services_of


async def on_my_chat_member(update: Update, context: Context) -> None:
    """Mark the delegate unreachable when they block the bot, reachable when they return."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    status = change.new_chat_member.status
    reachable = status not in (ChatMember.BANNED, ChatMember.LEFT)
    await services_of(context).invitations.set_reachable(
        account_of(update), reachable=reachable, reason=f"my_chat_member: {status}"
    )
