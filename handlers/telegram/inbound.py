"""Every update the bot answers: turned into the core's event, handed to the inbox, and the
answer rendered back into Telegram.

A tap is answered at once with its toast (``answerCallbackQuery`` is not rate limited, and a tap
not answered within seconds fails for the person); the messages that follow it wait for the
chat's turn in Telegram's rate limits (:func:`handlers.telegram.updates.reply_later`), so a
surge of taps is recorded as fast as it comes.
"""

from __future__ import annotations

import logging

from telegram import Bot, CallbackQuery, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.domain.channels import ChannelInfo, FileTooLarge, FileUnavailable
from bot.domain.inbound import Command, Event
from bot.domain.outbound import Answer, Outbound, Toast
from bot.texts import Catalog
from handlers.telegram.channel import foreign_status, proxy_refused
from handlers.telegram.context import Context, catalog_of, inbox_of_bot_data
from handlers.telegram.events import CHANNEL, event_of
from handlers.telegram.render import CAPABILITIES, send_outbound
from handlers.telegram.updates import reply_later

log = logging.getLogger(__name__)


class TelegramFiles:
    """Files people sent, fetched from Telegram by their file id (at most 20 MB for a bot)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def fetch(self, file_ref: str) -> bytes:
        """The file's bytes; raises FileTooLarge or FileUnavailable."""
        try:
            telegram_file = await self._bot.get_file(file_ref)
            return bytes(await telegram_file.download_as_bytearray())
        except BadRequest as exc:
            if "too big" in exc.message.lower():  # no size was announced, Telegram measured it
                raise FileTooLarge from None
            log.warning("file download refused: %s", type(exc).__name__)
            raise FileUnavailable from None
        except TelegramError as exc:
            log.warning("file download failed: %s", type(exc).__name__)
            raise FileUnavailable from None


def channel_info(bot: Bot) -> ChannelInfo:
    """Telegram as the core sees it."""
    return ChannelInfo(CHANNEL, CAPABILITIES, TelegramFiles(bot))


async def on_update(update: Update, context: Context) -> None:
    """Hand the update to the core and render its answer."""
    bot = context.bot
    event = event_of(update, bot.id, bot.username)
    if event is None:
        return
    if isinstance(event, Command) and event.name == "id":
        await _id_command(update, context)
        return
    answer = await inbox_of_bot_data(context.bot_data).handle(event, channel_info(bot))
    query = update.callback_query
    if query is not None:
        await answer_query(query, answer.toast)
        if answer.replies:
            await reply_later(context, update, _send(context, event, answer))
        return
    await _send(context, event, answer)


async def _send(context: Context, event: Event, answer: Answer) -> None:
    catalog = catalog_of(context)
    for reply in answer.replies:
        chat = event.account.chat_address if reply.private else reply.to or event.chat.address
        try:
            await send_outbound(context.bot, int(chat), reply.outbound, catalog)
        except (Forbidden, BadRequest) as exc:
            if reply.if_unreachable is None:
                raise
            if proxy_refused(exc):
                # A proxy's HTML 403 on the way is the office's network refusing the request,
                # not Telegram's «Forbidden»: she may well have opened the chat, and «open a
                # private chat with the bot» would send her to do what she did (the outbox
                # reads it so too: PROXY_REFUSED). She is told what stopped it instead.
                log.warning("private message refused by a proxy: HTTP %d", foreign_status(exc))
                refused = Outbound.text(catalog.html("errors.proxy_private"))
                await send_outbound(context.bot, int(event.chat.address), refused, catalog)
                return
            # A person who never opened a private chat with the bot (or blocked it): Telegram
            # says "Forbidden" or "chat not found"; they are told where they wrote instead.
            log.info("private message not sent: %s", type(exc).__name__)
            await send_outbound(context.bot, int(event.chat.address), reply.if_unreachable, catalog)
            return


async def answer_query(query: CallbackQuery, toast: Toast | None) -> None:
    """Answer a tap; a query already answered (a redelivered update) is no error."""
    try:
        if toast is None:
            await query.answer()
        else:
            await query.answer(toast.text, show_alert=toast.alert)
    except BadRequest as exc:
        status = foreign_status(exc)  # a proxy's page: its status, never the page PTB quotes
        if status is not None:
            log.info("callback query not answered: HTTP %d from a proxy", status)
        else:
            log.info("callback query not answered: %s", exc.message)


async def _id_command(update: Update, context: Context) -> None:
    """``/id``: the numbers an office needs for ``admin_ids`` and ``chat_id`` (Telegram's own)."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    assert message is not None and user is not None and chat is not None
    catalog: Catalog = catalog_of(context)
    await message.reply_html(catalog.html("misc.id", user_id=user.id, chat_id=chat.id))
