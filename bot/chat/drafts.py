"""Speech drafts in conversation: the boards, assignments, uploads, typed drafts, the choices of
speakers and office, and the office's comments that go to the speaker."""

from __future__ import annotations

import asyncio
import hashlib
import logging

from bot.chat import tasks
from bot.chat.turn import Turn
from bot.config import Config
from bot.domain.channels import FileTooLarge, FileUnavailable
from bot.domain.drafts import (
    MAX_COMMENT,
    MAX_TEXT_DRAFT,
    MAX_VERSIONS,
    OFFICE_ACTIONS,
    DraftAction,
    DraftStatus,
    draft_action,
    parse_draft_action,
)
from bot.domain.inbound import Action, Command, FileIn, Text, Unsupported
from bot.domain.outbound import Answer, Button, FilePart, Outbound, SharedFilePart
from bot.domain.timespec import parse_deadline
from bot.services.access import OfficeActor
from bot.services.drafts import (
    AssignOutcome,
    DraftResult,
    DraftStep,
    HeldUpload,
    ThreadPost,
    source_of,
)
from bot.texts import Catalog, Html
from bot.texts.formatting import file_size, moment, short_moment
from bot.texts.presenters import (
    compose_buttons,
    draft_board_line,
    draft_board_title,
    draft_file_buttons,
    draft_mine,
    draft_status_label,
    how_to_send_draft,
    themes_list,
    verdict_buttons,
)
from storage.files import read_stored

log = logging.getLogger(__name__)

UNASSIGN_WORDS = frozenset({"huy", "hủy", "xoa", "xóa", "remove"})
_MIME = "application/octet-stream"


# --- boards and assignments ----------------------------------------------------------------------


async def board(turn: Turn) -> Answer:
    """Every draft for the office; one's own assignments for a speaker."""
    catalog, config = turn.catalog, turn.config
    if (await turn.caller()).is_office:
        lines = await turn.services.drafts.board()
        if not lines:
            return turn.say("draft_board.empty")
        now = turn.services.ctx.clock.now()
        texts = [draft_board_title(catalog, config, lines)]
        texts += [draft_board_line(catalog, config, line, now) for line in lines]
        return Answer.say("\n\n".join(texts), tuple(draft_file_buttons(catalog, lines)))
    if turn.in_group:
        return Answer()  # a speaker's drafts are shown in private only
    return await mine(turn, quiet=False)


async def how_to_send(turn: Turn, *, later: bool = False) -> Html:
    """How the caller sends a draft on this channel (a file here, or on their page)."""
    page = None
    caller = await turn.caller()
    if not turn.channel.capabilities.files_in and caller.person is not None:
        page = await turn.services.invitations.page_link(caller.person.id)
    return how_to_send_draft(turn.catalog, turn.config, turn.channel, page, later=later)


async def mine(turn: Turn, *, quiet: bool, menu: bool = True) -> Answer:
    """A speaker's assignments with the choice to type one (one the office withdrew after she
    sent versions: that it did, and that they are kept); ``quiet`` says nothing to others.
    Without ``menu`` (another menu follows, where choices are numbers typed) the cards offer no
    choice and say that /thamluan offers it."""
    every = await turn.services.drafts.mine(turn.account, withdrawn=True)
    lines = (
        None if every is None else [line for line in every if line.versions or not line.withdrawn]
    )
    if not lines:
        if quiet:
            return Answer()
        key = turn.not_linked_key if lines is None else "draft_mine.none"
        return turn.say(key, contact=turn.config.office.contact).privately()
    catalog, contact = turn.catalog, turn.config.office.contact
    how = (
        await how_to_send(turn, later=not menu)
        if any(not line.withdrawn for line in lines)
        else Html("")
    )
    return Answer.of(
        *(
            Outbound.text(catalog.html("draft.withdrawn", key=line.theme_key, contact=contact))
            if line.withdrawn
            else Outbound.text(
                Html(draft_mine(catalog, turn.config, line) + "\n\n" + how),
                compose_buttons(catalog, line) if menu else (),
            )
            for line in lines
        )
    ).privately()


async def assign(turn: Turn, command: Command, office: OfficeActor) -> Answer:
    """``/phancong <code> <theme> [dd/mm HH:MM]`` assigns (by the deadline given, else the
    plan's); ``/phancong huy <code> <theme>`` withdraws."""
    catalog, config = turn.catalog, turn.config
    args = list(command.args)
    remove = bool(args) and args[0].casefold() in UNASSIGN_WORDS
    if remove:
        args = args[1:]
    themes = themes_list(catalog, config)
    if len(args) < 2 or (remove and len(args) != 2) or len(args) > 4:
        return turn.say("draft_office.usage", themes=themes)
    code, theme, typed = args[0], args[1], " ".join(args[2:])
    # What the office typed is echoed back cut short, so the answer always fits one message.
    params: dict[str, object] = {"code": code[:40], "key": theme[:40], "themes": themes}
    drafts = turn.services.drafts
    if remove:
        result = await drafts.unassign(office, code, theme)
    else:
        deadline = None
        if typed:
            deadline = parse_deadline(typed, config.meeting.zone, turn.services.ctx.clock.now())
            if deadline is None:
                return turn.say("draft_office.deadline_unreadable", typed=typed[:40], **params)
        result = await drafts.assign(office, code, theme, deadline)
    line = result.draft
    if line is not None:
        params.update(
            name=line.full_name,
            organization=line.organization,
            key=line.theme_key,
            deadline=moment(catalog, config.meeting.local(line.deadline_at)),
        )
    if result.person is not None:
        params.update(name=result.person[0], code=result.person[1])
    if result.deadline is not None:
        params.update(deadline=moment(catalog, config.meeting.local(result.deadline)))
    if result.outcome is AssignOutcome.DEADLINE_AFTER_START:
        params.update(start=moment(catalog, config.meeting.local(config.meeting.starts_at)))
    key = result.outcome.value
    if result.outcome is AssignOutcome.ASSIGNED:
        log.info("speech assigned by the office")
        if line is not None and line.versions:  # assigned again: what she sent is back
            said = catalog.html("draft_office.assigned", **params)
            more = catalog.html("draft_office.restored", versions=line.versions)
            return Answer.say(Html(f"{said} {more}"))
    elif result.outcome is AssignOutcome.REMOVED and line is not None and line.versions:
        key, params["versions"] = "removed_kept", line.versions  # kept, shown apart
    return turn.say(f"draft_office.{key}", **params)


# --- choices -------------------------------------------------------------------------------------


async def on_action(turn: Turn, action: Action) -> Answer:
    """A speaker's compose / done / cancel / reply / pick, or the office's approve / needs
    revision / open file / comment."""
    parsed = parse_draft_action(action.data)
    if parsed is None:
        return Answer(toast=turn.toast("hint.stale_button", alert=True))
    what, target = parsed.action, parsed.target
    account, drafts = turn.account, turn.services.drafts
    if what in OFFICE_ACTIONS:
        office = await turn.office()
        if office is None:
            return Answer(toast=turn.toast("office.refused", alert=True))
        if what is DraftAction.GET_FILE:
            return await _version_file(turn, target)
        if what is DraftAction.COMMENT:
            return reply(turn, await drafts.begin_comment(office, account, target)).privately()
        if what is DraftAction.STOP_COMMENT:  # «Hủy» under «gõ góp ý»: nothing is sent
            return (await _stop_comment(turn, target)).privately()
        if what is DraftAction.KEEP or (
            _ASKS_AGAIN.get(what) and not turn.channel.capabilities.buttons
        ):
            return await _decide_or_keep(turn, what, target)
        final = what in (DraftAction.FINAL, DraftAction.FINAL_SURE)
        status = DraftStatus.FINAL if final else DraftStatus.REVISION
        return _verdict(turn, office, await drafts.set_verdict(office, target, status))
    if what is DraftAction.COMPOSE:
        result = await drafts.compose(account, target)
    elif what is DraftAction.FINISH:
        result = await drafts.finish_text(account, target)
    elif what in (DraftAction.CANCEL, DraftAction.STOP_REPLY):
        result = await drafts.cancel(account, target, typing=what is DraftAction.CANCEL)
    elif what is DraftAction.REPLY:
        result = await drafts.begin_reply(account, target)
    else:  # PICK: the theme for a file that arrived earlier
        lines = await drafts.mine(account, withdrawn=True)
        chosen = next((line for line in lines or () if line.id == target), None)
        if chosen is not None and chosen.withdrawn and chosen.versions:
            # Withdrawn by the office since the choice was offered: said, the file kept held.
            return reply(turn, DraftResult(DraftStep.WITHDRAWN, draft=chosen)).privately()
        if lines is None or chosen is None or chosen.withdrawn:
            # Checked before the held file is taken: a wrong choice must not lose it.
            step = DraftStep.NOT_LINKED if lines is None else DraftStep.NOT_SPEAKER
            return reply(turn, DraftResult(step)).privately()
        held = await drafts.take_held(account, parsed.token)
        if held is None:
            return turn.say("draft.pick_expired").privately()
        result = await _fetch_and_store(turn, target, held)
    return reply(turn, result).privately()


# --- messages ------------------------------------------------------------------------------------


async def on_text(turn: Turn, text: Text) -> Answer | None:
    """Private text for the drafts: the office's comment (a reply to a draft post it got
    privately, or after choosing to comment), a piece of a typed draft, or a speaker's answer to
    the office. None when the text is none of these."""
    drafts = turn.services.drafts
    if text.reply_to is not None:  # where the office has no group, draft posts come privately
        replied = await drafts.office_post(turn.channel.name, text.chat.address, text.reply_to)
        if replied is not None and (office := await turn.office()) is not None:
            return await _comment(turn, office, replied, text.text, event_id=text.event_id)
    post = await drafts.pending_comment(turn.account)
    if post is not None:
        office = await turn.office()
        if office is not None:
            return await _comment(turn, office, post, text.text, event_id=text.event_id)
        await drafts.end_comment(turn.account)  # no longer office staff
    result = await drafts.take_text(
        turn.account, text.text, event_id=text.event_id, replied_to=text.reply_to
    )
    if result.step is DraftStep.NOTHING_PENDING:
        return None
    if result.step is DraftStep.REPEATED:
        return Answer()
    page = None
    if result.step is DraftStep.TOO_LONG and not turn.channel.capabilities.files_in:
        caller = await turn.caller()  # «send it whole as a file» can only mean her page here
        if caller.person is not None:
            page = await turn.services.invitations.page_link(caller.person.id)
    return reply(turn, result, page=page).privately()


async def on_file(turn: Turn, sent: FileIn) -> Answer | None:
    """A file from a speaker becomes a new version; None when the sender is no speaker and
    not linked, so the caller can give its usual hint."""
    drafts = turn.services.drafts
    target = await drafts.targets(turn.account)
    if target.step is DraftStep.NOT_LINKED:
        return None
    if target.step is DraftStep.NOT_SPEAKER:
        # A task's contact sending her deliverable without choosing «📎 Gửi sản phẩm» was told
        # she had no speech assigned: she is shown her tasks and how to send it.
        return await tasks.unasked_file(turn) or turn.say(
            "draft.not_speaker", contact=turn.config.office.contact
        )
    if target.step in (DraftStep.WITHDRAWN, DraftStep.INVITATION_WITHDRAWN):
        # Refused before anything is downloaded.
        return reply(turn, target).privately()
    name = sent.name or turn.catalog.plain("draft.unnamed_file")
    reject = drafts.check_upload(name, sent.size)
    if reject is not None:  # judged before downloading anything
        return turn.say(f"draft.rejected_{reject}")
    held = HeldUpload(turn.channel.name, sent.file_ref, name, sent.size, held_token(sent))
    if target.step is DraftStep.PICK_THEME:
        await drafts.hold(turn.account, held)
        rows = tuple(
            (
                Button(
                    turn.catalog.plain(
                        "buttons.draft_pick", key=line.theme_key, title=line.theme_title
                    )[:64],
                    draft_action(DraftAction.PICK, line.id, held.token),
                ),
            )
            for line in target.choices
        )
        return turn.say("draft.pick_theme", rows, name=name)
    assert target.draft is not None
    return reply(turn, await _fetch_and_store(turn, target.draft.id, held)).privately()


async def on_group_reply(turn: Turn, event: Text | FileIn | Unsupported) -> Answer:
    """A reply in an office group to a draft post: the comment (text, or a file such as an
    edited draft, with its caption) goes to the speaker. Replies to anything else are the office
    talking among themselves: the bot stays silent."""
    if event.reply_to is None or not await _is_office_group(turn):
        return Answer()
    drafts = turn.services.drafts
    post = await drafts.office_post(turn.channel.name, event.chat.address, event.reply_to)
    if post is None:
        return Answer()
    office = await turn.office()
    if office is None:
        return turn.say("draft_office.not_admin")
    attachment = None
    if isinstance(event, FileIn):
        name = event.name or turn.catalog.plain("draft.unnamed_file")
        attachment = HeldUpload(turn.channel.name, event.file_ref, name, event.size)
    body = (
        event.text
        if isinstance(event, Text)
        else event.caption
        if isinstance(event, FileIn)
        else ""
    )
    return await _comment(
        turn, office, post, body, event_id=event.event_id, attachment=attachment,
        supported=not isinstance(event, Unsupported), in_thread=True,
    )  # fmt: skip


async def _comment(
    turn: Turn,
    office: OfficeActor,
    post: ThreadPost,
    body: str,
    *,
    event_id: str | None,
    attachment: HeldUpload | None = None,
    supported: bool = True,
    in_thread: bool = False,
) -> Answer:
    result = await turn.services.drafts.comment_from_office(
        office,
        post,
        source=source_of(turn.channel.name, turn.event.chat.address, event_id),
        text=body,
        attachment=attachment,
        supported=supported,
        chosen_by=None if in_thread else turn.account,
    )
    if result.step is DraftStep.REPEATED:
        return Answer()
    if result.step is DraftStep.RELAYED:
        assert result.draft is not None
        # Chosen by «💬 Góp ý bản này» (whose «Hủy» was the newest menu): the post's again.
        again: tuple[tuple[Button, ...], ...] = ()
        if not in_thread and post.version_id is not None:
            again = await _post_choices(turn, post.version_id)
        if not result.draft.reachable:  # kept for her page and the report: nothing was sent
            return turn.say(
                "draft_office.relayed_unreached",
                again,
                name=result.draft.full_name,
                organization=result.draft.organization,
                page=_on_page(turn),
            )
        return turn.say(
            "draft_office.relayed",
            again,
            name=result.draft.full_name,
            organization=result.draft.organization,
        )
    if result.step is DraftStep.UNSUPPORTED:
        return turn.say("draft_office.unsupported")
    if result.step is DraftStep.COMMENT_TOO_LONG:
        return turn.say("draft.comment_too_long", limit=turn.catalog.number(MAX_COMMENT))
    if result.step is DraftStep.COMMENT_EMPTY:
        return turn.say("draft.comment_empty")
    return turn.say("draft_office.gone")


def _on_page(turn: Turn) -> Html:
    """That an unreached speaker reads it on her personal page, where there are pages."""
    return turn.catalog.html("draft_office.on_page") if turn.config.web is not None else Html("")


def _unreached(turn: Turn) -> Html:
    """That the bot cannot tell an unreached speaker of a verdict: the office is to phone her."""
    return turn.catalog.html("draft_office.unreached", page=_on_page(turn))


async def _is_office_group(turn: Turn) -> bool:
    places = await turn.services.audiences.office_groups(turn.channel.name)
    return turn.event.chat.address in places


def held_token(sent: FileIn) -> int:
    """What tells a held file apart in the theme choices: from the event's identity, so the
    same file delivered again is recognised (nine digits fit the choice's data)."""
    seed = sent.event_id or f"{sent.file_ref}:{sent.name}"
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") % 1_000_000_000


# --- helpers -------------------------------------------------------------------------------------


async def _fetch_and_store(turn: Turn, assignment_id: int, held: HeldUpload) -> DraftResult:
    """Fetch the upload from its channel (its size was checked before) and store a version."""
    files = turn.channel.files
    if files is None or held.channel != turn.channel.name:
        return DraftResult(DraftStep.DOWNLOAD_FAILED)
    try:
        content = await files.fetch(held.file_ref)
    except FileTooLarge:  # no size was announced, the platform measured it
        return DraftResult(DraftStep.REJECTED, reject="too_large")
    except FileUnavailable:
        return DraftResult(DraftStep.DOWNLOAD_FAILED)
    return await turn.services.drafts.store_file(
        turn.account, assignment_id, name=held.name, content=content, file_ref=held.file_ref
    )


async def _version_file(turn: Turn, version_id: int) -> Answer:
    stored = await turn.services.drafts.version_file(version_id)
    if stored is None:
        return turn.say("draft_office.gone")
    caption = turn.catalog.html(
        "draft_office.file_caption",
        key=stored.draft.theme_key,
        name=stored.draft.full_name,
        file=stored.version.display_name,
    )
    if stored.file_ref is not None and stored.channel == turn.channel.name:
        # The platform keeps the upload: sending it by its reference needs no re-upload.
        return Answer.of(Outbound((SharedFilePart(turn.channel.name, stored.file_ref, caption),)))
    content = await asyncio.to_thread(read_stored, stored.path)
    if content is None:
        return turn.say("file.lost", file=stored.version.display_name)
    decide: tuple[tuple[Button, ...], ...] = ()
    if not turn.channel.capabilities.buttons:  # the post's choices are an older menu by now
        version, threads = stored.version, turn.channel.capabilities.reply_threads
        decide = verdict_buttons(turn.catalog, version.id, version.number, comment=not threads)
    part = FilePart(
        stored.version.display_name, content, _MIME, caption, decide,
        download_url=stored.download_at(turn.config.web),
    )  # fmt: skip
    return Answer.of(Outbound((part,)))


# A verdict typed as a number, and the choice that confirms it.
_ASKS_AGAIN = {
    DraftAction.FINAL: DraftAction.FINAL_SURE,
    DraftAction.REVISE: DraftAction.REVISE_SURE,
}


async def _post_choices(turn: Turn, version_id: int) -> tuple[tuple[Button, ...], ...]:
    """A version post's choices again, where choices are typed numbers: after the clerk's
    comment or its «Hủy», the newest menu is the post's, as it was before she chose to
    comment (not the «Hủy» a «1» would answer long after). Nothing where there are buttons."""
    capabilities = turn.channel.capabilities
    if capabilities.buttons:
        return ()
    found = await turn.services.drafts.version_file(version_id)
    if found is None:
        return ()
    number = found.version.number
    return verdict_buttons(turn.catalog, version_id, number, comment=not capabilities.reply_threads)


async def _stop_comment(turn: Turn, version_id: int) -> Answer:
    """The clerk's «Hủy» under «gõ góp ý»: no comment is awaited any more, nothing sent."""
    ended = await turn.services.drafts.end_comment(turn.account)
    found = await turn.services.drafts.version_file(version_id) if ended else None
    if found is None:
        return reply(turn, DraftResult(DraftStep.NOTHING_PENDING))
    again = await _post_choices(turn, version_id)
    return turn.say("draft.cancelled", again, key=found.draft.theme_key)


async def _decide_or_keep(turn: Turn, what: DraftAction, version_id: int) -> Answer:
    """Where choices are numbers typed, a verdict names the draft and asks once more: the
    newest menu is whatever came last, and a draft posted while a clerk paged /chuatraloi
    turned her «1» for the next page into «✅ Chốt bản 1» of a draft she had not read.
    ``KEEP``: the clerk answered that question «not now»."""
    found = await turn.services.drafts.version_file(version_id)
    if found is None:
        return Answer(toast=turn.toast("draft_office.gone", alert=True))
    line, number = found.draft, found.version.number
    named = {"key": line.theme_key, "name": line.full_name, "number": number}
    catalog = turn.catalog
    if what is DraftAction.KEEP:  # the post's choices again: the newest menu is theirs
        threads = turn.channel.capabilities.reply_threads
        again = verdict_buttons(catalog, version_id, number, comment=not threads)
        return turn.say("draft_office.kept", again, **named)
    final = what is DraftAction.FINAL
    sure = Button(
        catalog.plain(
            "buttons.draft_final_sure" if final else "buttons.draft_revise_sure", number=number
        ),
        draft_action(_ASKS_AGAIN[what], version_id),
    )
    keep = Button(catalog.plain("buttons.draft_keep"), draft_action(DraftAction.KEEP, version_id))
    key = "draft_office.confirm_final" if final else "draft_office.confirm_revision"
    if not line.reachable:  # «khi đó bot sẽ báo người viết» would be untrue: she is to be phoned
        named["unreached"] = _unreached(turn)
        key = f"{key}_unreached"
    return turn.say(key, ((sure,), (keep,)), organization=line.organization, **named)


def _verdict(turn: Turn, office: OfficeActor, result: DraftResult) -> Answer:
    catalog = turn.catalog
    line, version = result.draft, result.version
    if result.step is DraftStep.GONE or line is None or version is None:
        return Answer(toast=turn.toast("draft_office.gone", alert=True))
    if result.step is DraftStep.SUPERSEDED:
        return Answer(toast=turn.toast("draft_office.superseded", alert=True, newer=result.newer))
    if result.step is DraftStep.UNCHANGED:
        status = draft_status_label(catalog, line.status)
        return Answer(toast=turn.toast("draft_office.unchanged", status=status))
    comment: tuple[tuple[Button, ...], ...] = ()
    final = line.status is DraftStatus.FINAL
    if not line.reachable:  # «Bot đã báo người viết» would be untrue: she is to be phoned
        key = (
            "draft_office.verdict_final_unreached"
            if final
            else "draft_office.verdict_revision_unreached"
        )
        return turn.say(
            key, by=office.name, key=line.theme_key, name=line.full_name, number=version.number,
            unreached=_unreached(turn),
        )  # fmt: skip
    if final:
        key = "draft_office.verdict_final"
    elif turn.channel.capabilities.reply_threads:
        key = "draft_office.verdict_revision"
    else:  # no post to reply to, and the post's choices are no longer the newest: offered here
        key = "draft_office.verdict_revision_typed"
        label = catalog.plain("buttons.draft_comment")
        comment = ((Button(label, draft_action(DraftAction.COMMENT, version.id)),),)
    return turn.say(
        key, comment, by=office.name, key=line.theme_key, name=line.full_name,
        number=version.number,
    )  # fmt: skip


def result_params(catalog: Catalog, config: Config, result: DraftResult) -> dict[str, object]:
    """The catalog parameters of a draft step's texts: its theme, version, sizes and limits
    (one source for the chat's reply and the personal page's)."""
    line = result.draft
    params: dict[str, object] = {
        "contact": config.office.contact,
        "limit": catalog.number(MAX_TEXT_DRAFT),
        "chunks": catalog.number(result.chunks),
        "chars": catalog.number(result.chars),
        "versions": catalog.number(MAX_VERSIONS),
    }
    if line is not None:
        params.update(key=line.theme_key, title=line.theme_title, name=line.full_name)
    if result.version is not None:
        params.update(
            number=result.version.number,
            time=short_moment(catalog, config.meeting.local(result.version.created_at)),
            size=file_size(catalog, result.version.size),
        )
    params["reopened"] = Html(
        catalog.html("draft.received_reopened", approved=result.reopened, number=params["number"])
        if result.reopened is not None and result.version is not None
        else ""
    )
    return params


def reply(turn: Turn, result: DraftResult, *, page: str | None = None) -> Answer:
    """What the bot tells the speaker (or the office member commenting) after a step;
    ``page``: her personal page, where a channel that takes no files sends a whole file."""
    catalog, config = turn.catalog, turn.config
    line = result.draft
    params = result_params(catalog, config, result)
    step = result.step
    if step is DraftStep.TOO_LONG and not turn.channel.capabilities.files_in:
        key = "draft.too_long_no_files" if page is not None else "draft.too_long_no_files_no_page"
        params["url"] = page or ""
    elif step is DraftStep.REJECTED:
        key = f"draft.rejected_{result.reject}"
    elif step is DraftStep.COMPOSING and result.chunks:
        key = "draft.composing_resume"
    elif step is DraftStep.COMMENT_TOO_LONG:
        key = "draft.comment_too_long"
        params["limit"] = catalog.number(MAX_COMMENT)
    elif step is DraftStep.NOT_LINKED:
        key = turn.not_linked_key
    elif step is DraftStep.NOT_SPEAKER:  # a choice for someone else's draft
        key = "draft.not_yours"
    else:
        key = f"draft.{step.value}"
    buttons: tuple[tuple[Button, ...], ...] = ()
    if step in (DraftStep.COMPOSING, DraftStep.CHUNK_ADDED, DraftStep.TOO_LONG) and line:
        buttons = (
            (
                Button(
                    catalog.plain("buttons.draft_finish"),
                    draft_action(DraftAction.FINISH, line.id),
                ),
                Button(catalog.plain("buttons.cancel"), draft_action(DraftAction.CANCEL, line.id)),
            ),
        )
    elif step is DraftStep.ASK_COMMENT and result.version is not None:
        # The office's typed comment, like every typed step, can be called off.
        target = result.version.id
        cancel = Button(
            catalog.plain("buttons.cancel"), draft_action(DraftAction.STOP_COMMENT, target)
        )
        buttons = ((cancel,),)
    elif step is DraftStep.ASK_REPLY and line is not None:
        cancel = Button(
            catalog.plain("buttons.cancel"), draft_action(DraftAction.STOP_REPLY, line.id)
        )
        buttons = ((cancel,),)
    return Answer.say(catalog.html(key, **params), buttons)
