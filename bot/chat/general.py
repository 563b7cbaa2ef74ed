"""Help, the calendar file, and the hints for what the bot did not ask for."""

from __future__ import annotations

from bot.chat.replies import may_still_come, still_welcome
from bot.chat.turn import Turn
from bot.domain.drafts import DraftLine, DraftStatus
from bot.domain.ics import ics_filename
from bot.domain.outbound import Answer, FilePart, Outbound
from bot.domain.rsvp import RsvpStatus
from bot.services.meetings import meeting_calendar
from bot.services.views import RsvpView
from bot.texts import Html
from bot.texts.formatting import file_size
from bot.texts.presenters import compose_buttons, withdrawn_notice

ICS_MIME = "text/calendar"


async def help_text(turn: Turn) -> Answer:
    """What a delegate can do, and what the office can do if the sender is office staff."""
    parts = [turn.html("help.delegate", contact=turn.config.office.contact)]
    if (await turn.caller()).is_office:
        parts.append(turn.html("help.office"))
    return Answer.say("\n\n".join(parts))


async def hint(turn: Turn, *, linked: bool | None = None) -> Answer:
    """A short hint for stickers, photos or stray text in private, for who is writing: never
    silence. The bot passes no free text on, so each is told where to write instead: a delegate
    to answer the invitation's choices (past the deadline, that the answer stands), a task's
    contact to report on /nhiemvu, the office to its commands. Past the deadline one who
    declined or never answered is told she may still come, with her code for the desk
    (:func:`welcome_closing`), as her card and her page say it."""
    caller = await turn.caller()
    if linked is None:
        linked = caller.linked
    if caller.is_office:
        key = "hint.office"
    elif not linked:
        key = turn.not_linked_key
    elif caller.person is not None and caller.person.is_contact:
        key = "hint.contact"
    elif caller.person is not None and caller.person.withdrawn:
        return Answer.say(withdrawn_notice(turn.catalog, turn.config))
    elif not turn.services.rsvp.is_open():
        mine = await turn.services.invitations.whoami(turn.account)
        rsvp = mine.rsvp if mine is not None else None
        if caller.person is not None and rsvp is not None:
            welcome = await welcome_closing(turn, caller.person.id, rsvp)
            if welcome is not None:
                return turn.say("hint.closed_may_come", welcome=welcome)
        answered = rsvp is not None and rsvp.status is not RsvpStatus.NO_ANSWER
        key = "hint.closed" if answered else "hint.closed_no_answer"
    elif await turn.services.tasks.board_for(turn.account):  # a district chair: both
        key = "hint.use_buttons_tasks"
    else:
        key = "hint.use_buttons"
    return turn.say(key, contact=turn.config.office.contact, title=turn.config.meeting.title)


async def welcome_closing(turn: Turn, person_id: int, rsvp: RsvpView) -> Html | None:
    """What one who :func:`~bot.chat.replies.may_still_come` is told in chat past the
    deadline — she may still come, and the code to show at the desk
    (:func:`~bot.chat.replies.still_welcome`); None for anyone else, once she is checked in,
    or once the meeting is over."""
    now = turn.services.ctx.clock.now()
    if not may_still_come(turn.config, rsvp, is_open=turn.services.rsvp.is_open(), now=now):
        return None
    desk = await turn.services.invitations.desk_pass(person_id)
    if desk.checked_in is not None:  # she came after all: in the hall, nothing to ask
        return None
    return still_welcome(turn.catalog, turn.config, desk.code, rsvp.status)


async def unreadable(turn: Turn) -> Answer:
    """Something a channel without files cannot hand over (a photo, a sticker, a file, a voice
    note): what to do instead, with the person's own page link (she may have no invitation to
    find it in: a task contact, or a slip put away). A speaker whose speech is still to come is
    told where it goes — the upload on her page, or typed here, with that choice — since a
    file or a photo of the printed draft is what she most likely sent. Someone not linked yet
    is told how to link."""
    invitations = turn.services.invitations
    if await invitations.whoami(turn.account) is None:
        return await hint(turn, linked=False)
    caller = await turn.caller()
    contact = turn.config.office.contact
    page = await invitations.page_link(caller.person.id) if caller.person is not None else None
    lines = await _speeches_to_come(turn)
    if lines:
        keys = ", ".join(line.theme_key for line in lines)
        buttons = tuple(row for line in lines for row in compose_buttons(turn.catalog, line))
        if page is None:
            return turn.say("hint.unreadable_speaker_no_page", buttons, keys=keys, contact=contact)
        return turn.say("hint.unreadable_speaker", buttons, keys=keys, url=page, contact=contact)
    if page is None:
        return turn.say("hint.unreadable_no_page", contact=contact)
    return turn.say("hint.unreadable", url=page, contact=contact)


async def unsupported(turn: Turn) -> Answer:
    """A photo, a sticker or a voice note in private on a channel that takes files: a speaker
    whose speech is still to come is told it is not taken as her speech and how to send it (a
    photo of the printed page is what she most likely sent), with the choice to type it;
    anyone else gets :func:`hint`."""
    lines = await _speeches_to_come(turn)
    if not lines:
        return await hint(turn)
    keys = ", ".join(line.theme_key for line in lines)
    buttons = tuple(row for line in lines for row in compose_buttons(turn.catalog, line))
    return turn.say(
        "hint.unsupported_speaker", buttons, keys=keys, contact=turn.config.office.contact
    )


async def _speeches_to_come(turn: Turn) -> list[DraftLine]:
    """The caller's speeches the office still waits for (neither withdrawn nor approved); none
    once her invitation is withdrawn."""
    caller = await turn.caller()
    if caller.person is None or caller.person.withdrawn:
        return []
    return [
        line
        for line in await turn.services.drafts.mine(turn.account) or ()
        if not line.withdrawn and line.status is not DraftStatus.FINAL
    ]


def stale(turn: Turn) -> Answer:
    """A choice the bot never offered (old or forged): say so, change nothing."""
    return Answer(toast=turn.toast("hint.stale_button", alert=True))


async def calendar(turn: Turn) -> Answer:
    """``/lich``: the meeting as an .ics file, for a linked delegate (or the office)."""
    caller = await turn.caller()
    if not caller.linked and not caller.is_office:
        return turn.not_linked()
    config = turn.config
    link = None
    if not turn.channel.capabilities.files_out and caller.person is not None:
        # A channel that carries no files links to the download on the personal page.
        link = await turn.services.invitations.calendar_link(caller.person.id)
    return Answer.of(
        Outbound(
            (
                FilePart(
                    ics_filename(config.meeting.code),
                    meeting_calendar(config, turn.catalog, turn.services.ctx.calendar),
                    ICS_MIME,
                    turn.html("meeting_pack.ics_caption"),
                    download_url=link,
                ),
            )
        )
    )


async def documents(turn: Turn) -> Answer:
    """``/tailieu``: the documents the office published, each with its download link on the
    caller's personal page (the chat carries no file: the page is where invitees download),
    for a linked invitee; one whose invitation was withdrawn is told so, as on the page, and a
    task contact, who is not invited, that they are for the invitees."""
    caller = await turn.caller()
    if caller.person is None:
        return turn.not_linked()
    if caller.person.withdrawn:
        return Answer.say(withdrawn_notice(turn.catalog, turn.config))
    contact = turn.config.office.contact
    if caller.person.is_contact:  # the documents are for the invitees; her page lists none
        return turn.say("documents.contact", contact=contact)
    published, token = await turn.services.documents.published_for(caller.person.id)
    if not published:
        return turn.say("documents.none", contact=contact)
    web = turn.config.web
    if web is None:  # no personal pages to download from
        return turn.say("documents.no_web", count=len(published), contact=contact)
    if token is None:  # her link was revoked
        return turn.say("documents.no_page", count=len(published), contact=contact)
    catalog = turn.catalog
    lines = "\n\n".join(
        turn.html(
            "documents.line_note" if line.note else "documents.line",
            title=line.title,
            type=catalog.plain(f"document_type.{line.suffix[1:]}"),
            size=file_size(catalog, line.size),
            note=line.note,  # whole, as the page shows it; escaped as every parameter
            link=web.document_url(token, line.id),
        )
        for line in published
    )
    # The lines are the catalog's HTML with their parameters escaped: put in as they are.
    return Answer.say(turn.catalog.html("documents.list", lines=Html(lines)))
