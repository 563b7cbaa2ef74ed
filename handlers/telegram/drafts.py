"""Speech drafts in Telegram: ``/thamluan``, ``/phancong``, uploads, typed drafts, the ``dr:``
buttons, and replies in the office chat that become comments to the speaker."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.domain.drafts import (
    MAX_COMMENT,
    MAX_TEXT_DRAFT,
    OFFICE_ACTIONS,
    DraftAction,
    DraftStatus,
    draft_action,
    parse_draft_action,
)
from bot.services.drafts import AssignOutcome, DraftResult, DraftStep, HeldUpload
from bot.texts import Html
from bot.texts.formatting import file_size, moment, short_moment
from bot.texts.presenters import (
    compose_buttons,
    draft_board_line,
    draft_board_title,
    draft_file_buttons,
    draft_mine,
    draft_status_label,
    themes_list,
)
from handlers.telegram.context import Context, account_of, catalog_of, services_of
from handlers.telegram.documents import fetch_document
from handlers.telegram.keyboards import markup
from handlers.telegram.misc import answer_query
from handlers.telegram.office import office_only, send_board

log = logging.getLogger(__name__)

DRAFT_PATTERN = r"^dr:"
UNASSIGN_WORDS = frozenset({"huy", "hủy", "xoa", "xóa", "remove"})


# --- commands ------------------------------------------------------------------------------------


async def board(update: Update, context: Context) -> None:
    """``/thamluan``: every draft for the office; one's own assignments for a speaker."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    if services.is_office_admin(user.id):
        lines = await services.drafts.board()
        if not lines:
            await context.bot.send_message(chat.id, catalog.html("draft_board.empty"))
            return
        now = services.ctx.clock.now()
        texts = [draft_board_title(catalog, config, lines)]
        texts += [draft_board_line(catalog, config, line, now) for line in lines]
        buttons = draft_file_buttons(catalog, lines)
        await send_board(context, chat.id, texts, buttons)
        return
    if chat.type != "private":
        return  # a speaker's drafts are shown in private only
    await show_mine(update, context, quiet=False)


async def show_mine(update: Update, context: Context, *, quiet: bool) -> None:
    """A speaker's assignments with the compose button; ``quiet`` says nothing to others."""
    services, catalog = services_of(context), catalog_of(context)
    chat_address = account_of(update).chat_address
    mine = await services.drafts.mine(account_of(update))
    if not mine:
        if quiet:
            return
        key = "hint.not_linked" if mine is None else "draft_mine.none"
        await context.bot.send_message(
            chat_address, catalog.html(key, contact=services.config.office.contact)
        )
        return
    for line in mine:
        text = Html(
            draft_mine(catalog, services.config, line) + "\n\n" + catalog.html("draft_mine.how")
        )
        await context.bot.send_message(
            chat_address, text, reply_markup=markup(compose_buttons(catalog, line))
        )


@office_only
async def assign(update: Update, context: Context) -> None:
    """``/phancong <code> <theme>`` assigns; ``/phancong huy <code> <theme>`` withdraws."""
    message = update.effective_message
    assert message is not None
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    args = list(context.args or [])
    remove = bool(args) and args[0].casefold() in UNASSIGN_WORDS
    if remove:
        args = args[1:]
    themes = themes_list(catalog, config)
    if len(args) != 2:
        await message.reply_html(catalog.html("draft_office.usage", themes=themes))
        return
    code, theme = args
    actor = account_of(update).actor
    drafts = services.drafts
    result = await (drafts.unassign if remove else drafts.assign)(actor, code, theme)
    line = result.draft
    # What the office typed is echoed back cut short, so the answer always fits one message.
    params: dict[str, object] = {"code": code[:40], "key": theme[:40], "themes": themes}
    if line is not None:
        params.update(
            name=line.full_name,
            organization=line.organization,
            key=line.theme_key,
            deadline=moment(catalog, config.meeting.local(line.deadline_at)),
        )
    await message.reply_html(catalog.html(f"draft_office.{result.outcome.value}", **params))
    if result.outcome is AssignOutcome.ASSIGNED:
        log.info("speech assigned by the office")


# --- buttons -------------------------------------------------------------------------------------


async def on_button(update: Update, context: Context) -> None:
    """A ``dr:`` button: a speaker's compose / done / cancel / reply / pick, or the office's
    approve / needs revision / open file."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services, catalog = services_of(context), catalog_of(context)
    parsed = parse_draft_action(query.data)
    if parsed is None:
        await answer_query(query, catalog.plain("hint.stale_button"), alert=True)
        return
    action, target = parsed.action, parsed.target
    account = account_of(update)
    drafts = services.drafts
    if action in OFFICE_ACTIONS:
        if not services.is_office_admin(user.id):
            await answer_query(query, catalog.plain("office.refused"), alert=True)
            return
        if action is DraftAction.GET_FILE:
            await answer_query(query)
            await _send_version(update, context, target)
            return
        status = DraftStatus.FINAL if action is DraftAction.FINAL else DraftStatus.REVISION
        result = await drafts.set_verdict(account, target, status)
        await _answer_verdict(update, context, result)
        return
    await answer_query(query)
    if action is DraftAction.COMPOSE:
        result = await drafts.compose(account, target)
    elif action is DraftAction.FINISH:
        result = await drafts.finish_text(account, target)
    elif action in (DraftAction.CANCEL, DraftAction.STOP_REPLY):
        result = await drafts.cancel(account, target, typing=action is DraftAction.CANCEL)
    elif action is DraftAction.REPLY:
        result = await drafts.begin_reply(account, target)
    else:  # PICK: the theme for a document that arrived earlier
        mine = await drafts.mine(account)
        if mine is None or target not in {line.id for line in mine}:
            # Checked before the held file is taken: a wrong button must not lose it.
            step = DraftStep.NOT_LINKED if mine is None else DraftStep.NOT_SPEAKER
            await _reply(update, context, DraftResult(step))
            return
        held = await drafts.take_held(account, parsed.token)
        if held is None:
            await _say(update, context, catalog.html("draft.pick_expired"))
            return
        result = await _download_and_store(update, context, target, held)
    await _reply(update, context, result)


# --- messages ------------------------------------------------------------------------------------


async def on_text(update: Update, context: Context) -> bool:
    """Private text for the drafts: a piece of a typed draft, or an answer to the office.
    False when the text is neither, so the next handler may take it."""
    message = update.effective_message
    assert message is not None and message.text is not None
    result = await services_of(context).drafts.take_text(
        account_of(update),
        message.text,
        message_id=message.message_id,
        replied_to=_replied_to_bot(context, message),
    )
    if result.step is DraftStep.NOTHING_PENDING:
        return False
    if result.step is not DraftStep.REPEATED:
        await _reply(update, context, result)
    return True


async def on_document(update: Update, context: Context) -> bool:
    """A document from a speaker becomes a new version; False when the sender is no speaker
    (and not linked), so the caller can give its usual hint."""
    message = update.effective_message
    assert message is not None and message.document is not None
    services, catalog = services_of(context), catalog_of(context)
    drafts = services.drafts
    target = await drafts.targets(account_of(update))
    if target.step is DraftStep.NOT_LINKED:
        return False
    if target.step is DraftStep.NOT_SPEAKER:
        await message.reply_html(
            catalog.html("draft.not_speaker", contact=services.config.office.contact)
        )
        return True
    document = message.document
    name = document.file_name or catalog.plain("draft.unnamed_file")
    reject = drafts.check_upload(name, document.file_size)
    if reject is not None:  # judged before downloading anything
        await message.reply_html(catalog.html(f"draft.rejected_{reject}"))
        return True
    held = HeldUpload(document.file_id, name, document.file_size, message.message_id)
    if target.step is DraftStep.PICK_THEME:
        await drafts.hold(account_of(update), held)
        buttons = [
            [
                InlineKeyboardButton(
                    catalog.plain("buttons.draft_pick", key=line.theme_key, title=line.theme_title)[
                        :64
                    ],
                    callback_data=draft_action(DraftAction.PICK, line.id, held.token),
                )
            ]
            for line in target.choices
        ]
        await message.reply_html(
            catalog.html("draft.pick_theme", name=name), reply_markup=InlineKeyboardMarkup(buttons)
        )
        return True
    assert target.draft is not None
    result = await _download_and_store(update, context, target.draft.id, held)
    await _reply(update, context, result)
    return True


async def on_office_reply(update: Update, context: Context) -> None:
    """A reply in the office chat to a draft post: the comment (text, or a file such as an
    edited draft, with its caption) goes to the speaker. Replies to anything else are the
    office talking among themselves: the bot stays silent."""
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    assert message is not None and user is not None and chat is not None
    services, catalog = services_of(context), catalog_of(context)
    if services.config.office.chat_id != chat.id:
        return
    replied_to = _replied_to_bot(context, message)
    if replied_to is None:
        return
    document = message.document
    attachment = None
    if document is not None:
        name = document.file_name or catalog.plain("draft.unnamed_file")
        attachment = HeldUpload(document.file_id, name, document.file_size, message.message_id)
    result = await services.drafts.comment_from_office(
        account_of(update),
        chat_address=str(chat.id),
        message_id=message.message_id,
        replied_to=replied_to,
        author_name=user.full_name,
        text=message.text or message.caption or "",
        allowed=services.is_office_admin(user.id),
        attachment=attachment,
        supported=message.text is not None or document is not None,
    )
    if result.step in (DraftStep.NOT_A_DRAFT_POST, DraftStep.REPEATED):
        return
    if result.step is DraftStep.RELAYED:
        assert result.draft is not None
        text = catalog.html(
            "draft_office.relayed",
            name=result.draft.full_name,
            organization=result.draft.organization,
        )
    elif result.step is DraftStep.NOT_ALLOWED:
        text = catalog.html("draft_office.not_admin")
    elif result.step is DraftStep.UNSUPPORTED:
        text = catalog.html("draft_office.unsupported")
    elif result.step is DraftStep.COMMENT_TOO_LONG:
        text = catalog.html("draft.comment_too_long", limit=MAX_COMMENT)
    elif result.step is DraftStep.COMMENT_EMPTY:
        text = catalog.html("draft.comment_empty")
    else:
        text = catalog.html("draft_office.gone")
    await message.reply_html(text)


# --- helpers -------------------------------------------------------------------------------------


def _replied_to_bot(context: Context, message: Message) -> int | None:
    """The id of the bot's message this one replies to, if it replies to the bot."""
    original = message.reply_to_message
    if original is None or original.from_user is None or original.from_user.id != context.bot.id:
        return None
    return original.message_id


async def _download_and_store(
    update: Update, context: Context, assignment_id: int, held: HeldUpload
) -> DraftResult:
    """Fetch the upload from Telegram (at most 20 MB, checked before) and store a version."""
    content = await fetch_document(context, held.file_ref, "draft")
    if content == "too_large":
        return DraftResult(DraftStep.REJECTED, reject="too_large")
    if isinstance(content, str):
        return DraftResult(DraftStep.DOWNLOAD_FAILED)
    return await services_of(context).drafts.store_file(
        account_of(update), assignment_id, name=held.name, content=content, file_ref=held.file_ref
    )


async def _send_version(update: Update, context: Context, version_id: int) -> None:
    chat = update.effective_chat
    assert chat is not None
    catalog = catalog_of(context)
    stored = await services_of(context).drafts.version_file(version_id)
    if stored is None:
        await context.bot.send_message(chat.id, catalog.html("draft_office.gone"))
        return
    caption = catalog.plain(
        "draft_office.file_caption",
        key=stored.draft.theme_key,
        name=stored.draft.full_name,
        file=stored.version.display_name,
    )
    if stored.file_ref is not None:
        # Telegram keeps the upload: sending it by its id needs no re-upload.
        await context.bot.send_document(
            chat.id, stored.file_ref, caption=caption[:1000], parse_mode=None
        )
        return
    await context.bot.send_document(
        chat.id,
        stored.path.read_bytes(),
        filename=stored.version.display_name,
        caption=caption[:1000],
        parse_mode=None,
    )


async def _answer_verdict(update: Update, context: Context, result: DraftResult) -> None:
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    assert query is not None and user is not None and chat is not None
    catalog = catalog_of(context)
    line, version = result.draft, result.version
    if result.step is DraftStep.GONE or line is None or version is None:
        await answer_query(query, catalog.plain("draft_office.gone"), alert=True)
        return
    if result.step is DraftStep.SUPERSEDED:
        await answer_query(
            query, catalog.plain("draft_office.superseded", newer=result.newer), alert=True
        )
        return
    if result.step is DraftStep.UNCHANGED:
        await answer_query(
            query,
            catalog.plain(
                "draft_office.unchanged", status=draft_status_label(catalog, line.status)
            ),
        )
        return
    await answer_query(query)
    key = (
        "draft_office.verdict_final"
        if line.status is DraftStatus.FINAL
        else "draft_office.verdict_revision"
    )
    await context.bot.send_message(
        chat.id,
        catalog.html(
            key, by=user.full_name, key=line.theme_key, name=line.full_name, number=version.number
        ),
    )


async def _say(update: Update, context: Context, text: str) -> None:
    await context.bot.send_message(account_of(update).chat_address, text)


async def _reply(update: Update, context: Context, result: DraftResult) -> None:
    """Tell the speaker what happened."""
    services, catalog = services_of(context), catalog_of(context)
    config = services.config
    line = result.draft
    params: dict[str, object] = {
        "contact": config.office.contact,
        "limit": MAX_TEXT_DRAFT,
        "chunks": result.chunks,
        "chars": result.chars,
    }
    if line is not None:
        params.update(key=line.theme_key, title=line.theme_title)
    if result.version is not None:
        params.update(
            number=result.version.number,
            time=short_moment(catalog, config.meeting.local(result.version.created_at)),
            size=file_size(catalog, result.version.size),
        )
    buttons = None
    step = result.step
    if step is DraftStep.REJECTED:
        key = f"draft.rejected_{result.reject}"
    elif step is DraftStep.COMPOSING and result.chunks:
        key = "draft.composing_resume"
    elif step is DraftStep.COMMENT_TOO_LONG:
        key = "draft.comment_too_long"
        params["limit"] = MAX_COMMENT
    elif step is DraftStep.NOT_LINKED:
        key = "hint.not_linked"
    elif step is DraftStep.NOT_SPEAKER:  # a button for someone else's draft
        key = "draft.not_yours"
    else:
        key = f"draft.{step.value}"
    if (
        step in (DraftStep.COMPOSING, DraftStep.CHUNK_ADDED, DraftStep.TOO_LONG)
        and line is not None
    ):
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        catalog.plain("buttons.draft_finish"),
                        callback_data=draft_action(DraftAction.FINISH, line.id),
                    ),
                    InlineKeyboardButton(
                        catalog.plain("buttons.cancel"),
                        callback_data=draft_action(DraftAction.CANCEL, line.id),
                    ),
                ]
            ]
        )
    elif step is DraftStep.ASK_REPLY and line is not None:
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        catalog.plain("buttons.cancel"),
                        callback_data=draft_action(DraftAction.STOP_REPLY, line.id),
                    )
                ]
            ]
        )
    await _say_with(update, context, catalog.html(key, **params), buttons)


async def _say_with(
    update: Update, context: Context, text: str, buttons: InlineKeyboardMarkup | None
) -> None:
    await context.bot.send_message(account_of(update).chat_address, text, reply_markup=buttons)
