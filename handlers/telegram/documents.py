"""Files in chat: ``/baocao`` (the office's report workbook), ``/lich`` (the .ics), and the
download of documents people send (drafts, deliverables)."""

from __future__ import annotations

import logging
from typing import Literal

from telegram import InputFile, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.domain.ics import ics_filename
from bot.services.meetings import meeting_calendar
from bot.services.report_file import office_report_workbook
from handlers.telegram.context import Context, account_of, catalog_of, services_of
from handlers.telegram.office import office_only

log = logging.getLogger(__name__)


@office_only
async def report(update: Update, context: Context) -> None:
    """``/baocao``: the report workbook, sent to the admin in private (never into a group,
    where everyone would see the delegates' answers and phone-free contact state)."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    assert message is not None and user is not None and chat is not None
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    content = office_report_workbook(catalog, config, await services.office_report.collect())
    now = config.meeting.local(services.ctx.clock.now())
    name = catalog.plain("report_file.name", code=config.meeting.code, stamp=f"{now:%Y%m%d-%H%M}")
    try:
        await context.bot.send_document(
            user.id,
            InputFile(content, filename=name),
            caption=catalog.html("report_file.caption", time=f"{now:%H:%M %d/%m/%Y}"),
        )
    except (Forbidden, BadRequest) as exc:
        # An admin who never opened a private chat with the bot (or blocked it) cannot receive
        # files there: Telegram says "Forbidden" or "chat not found".
        log.info("report not sent privately: %s", type(exc).__name__)
        await message.reply_html(catalog.html("report_file.open_private"))
        return
    if chat.type != "private":
        await message.reply_html(catalog.html("report_file.sent_private"))


async def calendar(update: Update, context: Context) -> None:
    """``/lich``: the meeting as an .ics file, for a linked delegate (or the office)."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    if (
        not services.is_office_admin(user.id)
        and await services.invitations.whoami(account_of(update)) is None
    ):
        await message.reply_html(catalog.html("hint.not_linked", contact=config.office.contact))
        return
    await message.reply_document(
        InputFile(
            meeting_calendar(config, catalog, services.ctx.calendar),
            filename=ics_filename(config.meeting.code),
        ),
        caption=catalog.html("meeting_pack.ics_caption"),
    )


async def fetch_document(
    context: Context, file_ref: str, what: str
) -> bytes | Literal["too_large", "failed"]:
    """The bytes of a document someone sent (its announced size was checked before), or why
    not: ``too_large`` when no size was announced and Telegram measured it, else ``failed``.
    ``what`` names the upload in the log."""
    try:
        telegram_file = await context.bot.get_file(file_ref)
        return bytes(await telegram_file.download_as_bytearray())
    except BadRequest as exc:
        if "too big" in exc.message.lower():
            return "too_large"
        log.warning("%s download refused: %s", what, type(exc).__name__)
    except TelegramError as exc:
        log.warning("%s download failed: %s", what, type(exc).__name__)
    return "failed"
