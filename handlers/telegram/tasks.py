"""The task board in Telegram: ``/nhiemvu``, the four task buttons, notes, files and links."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.domain.tasks import MAX_TASK_NOTE, TaskAction, parse_task_action, task_action
from bot.services.tasks import TaskResult, TaskStep
from bot.texts import Catalog, Html
from bot.texts.presenters import task_buttons, task_office_buttons, task_summary
from handlers.telegram.context import Context, account_of, catalog_of, services_of
from handlers.telegram.documents import fetch_document
from handlers.telegram.keyboards import markup
from handlers.telegram.misc import answer_query
from handlers.telegram.office import send_board

TASK_PATTERN = r"^task:"
MAX_EVIDENCE_BYTES = 20 * 1024 * 1024  # what a bot may download from Telegram


async def board(update: Update, context: Context) -> None:
    """``/nhiemvu``: every task for the office; one's own tasks, with buttons, for a contact."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    if services.is_office_admin(user.id):
        lines = await services.tasks.office_board()
        if not lines:
            await context.bot.send_message(chat.id, catalog.html("task_board.empty"))
            return
        texts = [catalog.html("task_board.office_title")]
        texts += [task_summary(catalog, config, line) for line in lines]
        buttons = task_office_buttons(catalog, lines)
        await send_board(context, chat.id, texts, buttons)
        return
    if chat.type != "private":
        return  # a delegate's tasks are shown in private only
    mine = await services.tasks.board_for(account_of(update))
    if not mine:
        key = "hint.not_linked" if mine is None else "task_board.none_for_you"
        await context.bot.send_message(chat.id, catalog.html(key, contact=config.office.contact))
        return
    for line in mine:
        keyboard = None if line.closed else markup(task_buttons(catalog, line.id))
        await context.bot.send_message(
            chat.id, task_summary(catalog, config, line), reply_markup=keyboard
        )


async def on_button(update: Update, context: Context) -> None:
    """A task button: an assignee's report, or the office closing a task or opening a file."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services, catalog = services_of(context), catalog_of(context)
    parsed = parse_task_action(query.data)
    if parsed is None:
        await answer_query(query, catalog.plain("hint.stale_button"), alert=True)
        return
    action, target = parsed
    if action in (TaskAction.CLOSE, TaskAction.GET_FILE):
        if not services.is_office_admin(user.id):
            await answer_query(query, catalog.plain("office.refused"), alert=True)
            return
        await answer_query(query)
        if action is TaskAction.GET_FILE:
            await _send_evidence(update, context, target)
            return
        result = await services.tasks.close(account_of(update), target)
    else:
        await answer_query(query)
        result = await services.tasks.report(account_of(update), target, action)
    await _reply(update, context, result)


async def on_text(update: Update, context: Context) -> bool:
    """Typed text the task board asked for (a note, what help, a link); False otherwise."""
    message = update.effective_message
    assert message is not None and message.text is not None
    result = await services_of(context).tasks.submit_text(
        account_of(update), message.text, message_id=message.message_id
    )
    if result.step is TaskStep.NOTHING_PENDING:
        return False
    if result.step is not TaskStep.DUPLICATE:
        await _reply(update, context, result)
    return True


async def on_document(update: Update, context: Context) -> bool:
    """A file sent as a task's deliverable; False when no task asked for one."""
    message = update.effective_message
    assert message is not None and message.document is not None
    services, catalog = services_of(context), catalog_of(context)
    account = account_of(update)
    if not await services.tasks.waiting_for_file(account):
        return False
    document = message.document
    name = document.file_name or catalog.plain("task.unnamed_file")
    reject = services.tasks.check_upload(name, document.file_size)
    if reject is not None:  # judged before downloading anything
        await message.reply_html(_rejected(catalog, reject))
        return True
    # The bytes are judged too (a program inside a .docx…) before the office hears of them.
    content = await fetch_document(context, document.file_id, "deliverable")
    if isinstance(content, str):
        text = _rejected(catalog, content) if content == "too_large" else None
        await message.reply_html(text or catalog.html("task.download_failed"))
        return True
    result = await services.tasks.submit_file(
        account, name=name, file_ref=document.file_id, content=content
    )
    await _reply(update, context, result)
    return True


def _rejected(catalog: Catalog, reject: str) -> Html:
    """Why a file cannot be a deliverable, and what to send instead."""
    if reject == "too_large":
        return catalog.html("task.file_too_large", limit_mb=MAX_EVIDENCE_BYTES // (1024 * 1024))
    return catalog.html(f"task.rejected_{reject}")


async def _send_evidence(update: Update, context: Context, evidence_id: int) -> None:
    chat = update.effective_chat
    assert chat is not None
    catalog = catalog_of(context)
    evidence = await services_of(context).tasks.evidence_file(evidence_id)
    if evidence is None or evidence.file_ref is None:
        await context.bot.send_message(chat.id, catalog.html("task.gone"))
        return
    # Telegram keeps the file: sending it by its id needs no download and no re-upload. The
    # name is the sender's (at most 300 characters): escaped, it is shown as they wrote it.
    caption = catalog.html("task.file_caption", name=evidence.name)
    await context.bot.send_document(chat.id, evidence.file_ref, caption=caption)


async def _reply(update: Update, context: Context, result: TaskResult) -> None:
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    task = result.task
    params: dict[str, object] = {"contact": config.office.contact, "limit": MAX_TASK_NOTE}
    if task is not None:
        params.update(key=task.key, title=task.title)
    if result.status is not None:
        params["status"] = catalog.plain(f"task_status.{result.status.value}")
    if result.step is TaskStep.REJECTED and result.reject is not None:
        text = _rejected(catalog, result.reject)
    else:
        text = catalog.html(f"task.{result.step.value}", **params)
    if result.step in _SHOWS_TASK and task is not None:
        text = Html(text + "\n\n" + task_summary(catalog, config, task))
    markup = None
    if result.step in _ASKS and task is not None:
        cancel = InlineKeyboardButton(
            catalog.plain("buttons.cancel"), callback_data=task_action(TaskAction.CANCEL, task.id)
        )
        markup = InlineKeyboardMarkup([[cancel]])
    await context.bot.send_message(account_of(update).chat_address, text, reply_markup=markup)


_SHOWS_TASK = (
    TaskStep.RECORDED,
    TaskStep.UNCHANGED,
    TaskStep.HELP_SENT,
    TaskStep.FILE_SAVED,
    TaskStep.CLOSED,
)
_ASKS = (TaskStep.ASK_NOTE, TaskStep.ASK_HELP, TaskStep.ASK_FILE)
