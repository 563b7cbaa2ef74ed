"""The task board in conversation: the board, the four reports, notes, files and links, and the
office closing a task or opening a deliverable."""

from __future__ import annotations

import asyncio

from bot.chat.turn import Turn
from bot.domain.channels import FileTooLarge, FileUnavailable
from bot.domain.inbound import Action, FileIn, Text
from bot.domain.outbound import Answer, Button, FilePart, Outbound, SharedFilePart, TextPart
from bot.domain.tasks import (
    MAX_TASK_FILES,
    MAX_TASK_NOTE,
    TaskAction,
    TaskLine,
    parse_task_action,
    task_action,
)
from bot.services.access import Caller
from bot.services.tasks import TaskResult, TaskStep
from bot.texts import Html
from bot.texts.presenters import (
    ask_for_deliverable,
    task_buttons,
    task_office_buttons,
    task_summary,
)
from storage.files import media_type, read_stored, sanitize_filename

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024  # the largest file a chat platform hands a bot


async def board(turn: Turn) -> Answer:
    """Every task for the office; one's own tasks, with their choices, for a contact."""
    catalog, config = turn.catalog, turn.config
    caller = await turn.caller()
    if caller.is_office:
        lines = await turn.services.tasks.office_board()
        if not lines:
            return turn.say("task_board.empty")
        texts = [catalog.html("task_board.office_title")]
        texts += [task_summary(catalog, config, line) for line in lines]
        rows = tuple(task_office_buttons(catalog, lines))
        return Answer.say("\n\n".join(texts), rows)
    if turn.in_group:
        return Answer()  # a person's tasks are shown in private only
    mine = await turn.services.tasks.board_for(turn.account)
    if not mine:
        key = turn.not_linked_key if mine is None else "task_board.none_for_you"
        return turn.say(key, contact=config.office.contact)
    return _own_tasks(turn, mine, caller)


async def own(turn: Turn) -> Answer | None:
    """A person's own tasks, each with her part and its choices (office staff too: not the
    office's board); None when she has none."""
    mine = await turn.services.tasks.board_for(turn.account)
    if not mine:
        return None
    return _own_tasks(turn, mine, await turn.caller())


async def contact_status(turn: Turn) -> Answer:
    """``/trangthai`` of someone with no invitation: her own tasks with their choices, as
    linking shows them (office staff too: the office's board, whose «close» choices a «1»
    typed next would answer where choices are numbers, is /nhiemvu's); office staff with no
    task of their own get the board, a contact with none is told so."""
    mine = await own(turn)
    if mine is not None:
        return mine
    return await board(turn)


def _own_tasks(turn: Turn, mine: list[TaskLine], caller: Caller) -> Answer:
    """A contact's own tasks, each with her part of it and its choices."""
    catalog, config = turn.catalog, turn.config
    code = caller.person.code if caller.person is not None else None
    return Answer.of(
        *(
            Outbound.text(
                task_summary(catalog, config, line, only=code),
                () if line.closed else task_buttons(catalog, line.id),
            )
            for line in mine
        )
    )


async def unasked_file(turn: Turn) -> Answer | None:
    """A file from a contact with open tasks who was not asked for one (no speech of hers
    waits for it): which task it is for cannot be guessed, so her own tasks are shown with
    the way to send it (to office staff too, who are also a task's contact); None for anyone
    without an open task."""
    mine = await turn.services.tasks.board_for(turn.account)
    if not mine or all(line.closed for line in mine):
        return None
    return turn.say("task.file_unasked").then(_own_tasks(turn, mine, await turn.caller()))


async def on_action(turn: Turn, action: Action) -> Answer:
    """An assignee's report, or the office closing a task or opening a file."""
    parsed = parse_task_action(action.data)
    if parsed is None:
        return Answer(toast=turn.toast("hint.stale_button", alert=True))
    what, target = parsed
    tasks = turn.services.tasks
    if what in (TaskAction.CLOSE, TaskAction.GET_FILE):
        office = await turn.office()
        if office is None:
            return Answer(toast=turn.toast("office.refused", alert=True))
        if what is TaskAction.GET_FILE:
            return await _evidence(turn, target)
        return reply(turn, await tasks.close(office, target)).privately()
    result = await tasks.report(turn.account, target, what)
    if result.step is TaskStep.ASK_FILE and not turn.channel.capabilities.files_in:
        caller = await turn.caller()
        page = None
        if caller.person is not None:
            page = await turn.services.invitations.page_link(caller.person.id)
        return reply(turn, result, page=page, only=await _reporter(turn)).privately()
    return reply(turn, result, only=await _reporter(turn)).privately()


async def on_text(turn: Turn, text: Text) -> Answer | None:
    """Typed text the board asked for (a note, what help, a link); None otherwise."""
    result = await turn.services.tasks.submit_text(turn.account, text.text, event_id=text.event_id)
    if result.step is TaskStep.NOTHING_PENDING:
        return None
    if result.step is TaskStep.DUPLICATE:
        return Answer()
    return reply(turn, result, only=await _reporter(turn)).privately()


async def on_file(turn: Turn, sent: FileIn) -> Answer | None:
    """A file sent as a task's deliverable; None when no task asked for one."""
    tasks = turn.services.tasks
    if not await tasks.waiting_for_file(turn.account):
        return None
    name = sent.name or turn.catalog.plain("task.unnamed_file")
    reject = tasks.check_upload(name, sent.size)
    if reject is not None:  # judged before downloading anything
        return Answer.say(_rejected(turn, reject))
    # The bytes are judged too (a program inside a .docx…) before the office hears of them.
    files = turn.channel.files
    try:
        if files is None:
            raise FileUnavailable
        content = await files.fetch(sent.file_ref)
    except FileTooLarge:  # no size was announced, the platform measured it
        return Answer.say(_rejected(turn, "too_large"))
    except FileUnavailable:
        return turn.say("task.download_failed")
    result = await tasks.submit_file(
        turn.account, name=name, file_ref=sent.file_ref, content=content
    )
    return reply(turn, result, only=await _reporter(turn)).privately()


async def _reporter(turn: Turn) -> str | None:
    """The code of a contact reporting on a task, whose reply shows her own part of it; None
    for the office, whose replies show the whole task."""
    caller = await turn.caller()
    return None if caller.is_office or caller.person is None else caller.person.code


def _rejected(turn: Turn, reject: str) -> str:
    """Why a file cannot be a deliverable, and what to send instead."""
    if reject == "too_large":
        return turn.html("task.file_too_large", limit_mb=MAX_EVIDENCE_BYTES // (1024 * 1024))
    return turn.html(f"task.rejected_{reject}")


async def _evidence(turn: Turn, evidence_id: int) -> Answer:
    evidence = await turn.services.tasks.evidence_file(evidence_id)
    if evidence is None:
        return turn.say("task.gone")
    # The name is the sender's (at most 300 characters): escaped, it is shown as they wrote it.
    caption = turn.html("task.file_caption", name=evidence.name)
    if evidence.file_ref is not None and evidence.channel == turn.channel.name:
        # The platform keeps the file: sending it by its reference needs no download.
        part = SharedFilePart(turn.channel.name, evidence.file_ref, caption)
        return Answer.of(Outbound((part,)))
    if evidence.path is not None:  # uploaded on a personal page: the file store keeps it
        content = await asyncio.to_thread(read_stored, evidence.path)
        if content is None:
            return turn.say("file.lost", file=evidence.name)
        name = sanitize_filename(evidence.name, fallback="san-pham")
        return Answer.of(Outbound((FilePart(name, content, media_type(name), caption),)))
    return turn.say("task.gone")


def reply(
    turn: Turn, result: TaskResult, *, page: str | None = None, only: str | None = None
) -> Answer:
    """What the bot says after a task step; ``page``: the person's page, where a channel that
    takes no files sends them to upload a deliverable; ``only``: the contact's code, whose own
    part of the task is shown (``task_summary``)."""
    catalog, config = turn.catalog, turn.config
    task = result.task
    params: dict[str, object] = {
        "contact": config.office.contact,
        "limit": catalog.number(MAX_TASK_NOTE),
        "files": catalog.number(MAX_TASK_FILES),
    }
    if task is not None:
        params.update(key=task.key, title=task.title)
    if result.status is not None:
        params["status"] = catalog.plain(f"task_status.{result.status.value}")
    if result.step is TaskStep.REJECTED and result.reject is not None:
        text = Html(_rejected(turn, result.reject))
    elif result.step is TaskStep.ASK_FILE and task is not None:
        text = ask_for_deliverable(catalog, config, turn.channel, task.key, page)
    else:
        text = catalog.html(f"task.{result.step.value}", **params)
    if result.step in _SHOWS_TASK and task is not None:
        text = Html(text + "\n\n" + task_summary(catalog, config, task, only=only))
    buttons: tuple[tuple[Button, ...], ...] = ()
    on_card = turn.channel.capabilities.buttons  # choices stay on the card: none typed
    if result.step in _ASKS and task is not None:
        cancel = Button(catalog.plain("buttons.cancel"), task_action(TaskAction.CANCEL, task.id))
        buttons = ((cancel,),)
    elif result.step in _REPORTED and task is not None and not task.closed and not on_card:
        # Where choices are numbers typed (Zalo), the task's four again under the report: the
        # numbers typed next are the newest menu's, and a finished prompt left only «Hủy»
        # (a «3 – Cần hỗ trợ» after a progress note was refused). A card's buttons stay.
        buttons = task_buttons(catalog, task.id)
    return Answer.of(Outbound((TextPart(text, buttons),)))


_SHOWS_TASK = (
    TaskStep.RECORDED,
    TaskStep.UNCHANGED,
    TaskStep.HELP_SENT,
    TaskStep.FILE_SAVED,
    TaskStep.CLOSED,
    TaskStep.RECORDED_MEANWHILE,
)
_ASKS = (TaskStep.ASK_NOTE, TaskStep.ASK_HELP, TaskStep.ASK_FILE)
_REPORTED = (
    TaskStep.RECORDED,
    TaskStep.UNCHANGED,
    TaskStep.HELP_SENT,
    TaskStep.FILE_SAVED,
    TaskStep.RECORDED_MEANWHILE,  # her taps again, to report herself if the record is wrong
)
