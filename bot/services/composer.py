"""What the outbox sends, written with the text catalog: reminders, the agenda, broadcasts,
and the reports the office gets when a message has gone out."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from bot.config import Config
from bot.domain.channels import ChannelInfo
from bot.domain.checkin import CheckedIn
from bot.domain.clock import Clock
from bot.domain.drafts import DraftAction, DraftLine, DraftStatus, draft_action
from bot.domain.ics import ics_filename
from bot.domain.outbound import (
    PROXY_REFUSED,
    Audience,
    Button,
    DeliveryStatus,
    FilePart,
    MessageKind,
    Outbound,
    Part,
    SharedFilePart,
    SkipReason,
    TextPart,
    VenuePart,
    audience_deadline,
    decode_buttons,
    passed_on_to,
)
from bot.domain.phones import display_phone
from bot.domain.ports import DeliveryReport, MessageView, Problem, Recipient
from bot.domain.rsvp import RsvpStatus, answers_open
from bot.services.broadcasts import NAMED_NOT_LINKED
from bot.services.dashboard import DashboardService
from bot.services.drafts import DraftService
from bot.services.invitations import DeskPassOf
from bot.services.meetings import CalendarRevision, meeting_calendar
from bot.services.reports import ReportService
from bot.services.tasks import TaskService
from bot.texts import Catalog, Html
from bot.texts.formatting import delay, file_size, moment, short_moment
from bot.texts.presenters import (
    broadcast_html,
    checked_in_text,
    compose_buttons,
    deadline_text,
    draft_away,
    finish_buttons,
    how_to_send_draft,
    invitation_opening,
    meeting_details,
    ran_out_words,
    rsvp_buttons,
    task_buttons,
    task_summary,
    verdict_buttons,
    withdrawn_notice,
)
from storage.files import media_type, read_stored, sanitize_filename

ICS_MIME = "text/calendar"
_T = TypeVar("_T")  # a listed person: a delivery's problem, a speaker's line
# Kinds that go to the office chat itself.
_TO_OFFICE = frozenset(
    {
        MessageKind.TASK_OVERDUE,
        MessageKind.OFFICE_NOTE,
        MessageKind.DRAFT_VERSION,
        MessageKind.DRAFT_REPLY,
        MessageKind.DRAFT_MISSING,
    }
)
# Notices whose report gives, for one who sends a substitute, the substitute's phone number
# beside hers: the substitute is the one in the hall, on the way, or (to those who come, before
# the day) the one who will come.
_THROUGH_SUBSTITUTES = frozenset({Audience.CAME, Audience.AWAITED, Audience.PRESENT})


def _passed_on_to(message: MessageView, recipient: Recipient) -> str | None:
    """The substitute a notice is for (:func:`passed_on_to`)."""
    return passed_on_to(
        message.audience,
        sent_substitute=recipient.rsvp is RsvpStatus.SUBSTITUTE,
        substitute_name=recipient.substitute_name,
        stood_in_by=recipient.stood_in_by,
    )


# Kinds the office hears about only when someone was not reached.
# Of a reminder's copies skipped because what it asks for was done while it waited, the
# heading the office reads above their names.
_ANSWERED = {
    MessageKind.RSVP_REMINDER: "report.answered_rsvp",
    MessageKind.TASK_REMINDER: "report.answered_task",
}

_REPORT_PROBLEMS_ONLY = frozenset(
    {
        MessageKind.TASK_REMINDER,
        MessageKind.DRAFT_COMMENT,
        MessageKind.DRAFT_VERDICT,
        MessageKind.INVITATION_WITHDRAWN,
        MessageKind.INVITATION,
    }
)


def _may_have_arrived(problem: Problem) -> bool:
    """A failed copy the report names as one that may have arrived (no resend for it): the
    rule the resend and the notices page read in SQL (:func:`broadcasts.may_have_arrived`)."""
    return problem.maybe_sent_at is not None or problem.interrupted_at is not None


def resend_action(message_id: int) -> str:
    """The button data that resends a broadcast to those it failed to reach."""
    return f"bc:resend:{message_id}"


class MessageComposer:
    """Implements the outbox's Composer for this meeting."""

    def __init__(
        self,
        config: Config,
        catalog: Catalog,
        reports: ReportService,
        tasks: TaskService,
        drafts: DraftService,
        clock: Clock,
        calendar: CalendarRevision,
        *,
        calendar_link: Callable[[int], Awaitable[str | None]] | None = None,
        page_link: Callable[[int], Awaitable[str | None]] | None = None,
        desk_pass: Callable[[int], Awaitable[DeskPassOf]] | None = None,
        dashboard: DashboardService | None = None,
        in_hall: Callable[[], Awaitable[set[str]]] | None = None,
        meeting_id: int | None = None,
    ) -> None:
        self._config = config
        # The meeting whose messages these are: named on their RSVP buttons, so a button of
        # this meeting's invitation tapped while the next one runs answers nothing there.
        self._meeting_id = meeting_id
        # The codes of the invitees checked in: the morning programme's list to phone leaves
        # out those already in the hall.
        self._in_hall = in_hall
        # The overview's figures and its list to phone, which the RSVP chase's report repeats.
        self._dashboard = dashboard
        # Where a person downloads the .ics on their personal page, for a channel without files.
        self._calendar_link = calendar_link
        # Their personal page, where a channel that takes no files sends them to upload one.
        self._page_link = page_link
        # The personal code printed under the slip's QR, to show at the reception desk, and
        # her check-in once she is in (said in its place).
        self._desk_pass = desk_pass
        self._catalog = catalog
        self._reports = reports
        self._tasks = tasks
        self._drafts = drafts
        self._clock = clock
        self._calendar = calendar

    async def _how_to_send(self, channel: ChannelInfo, person_id: int) -> Html:
        """How a speaker sends their draft on ``channel`` (:func:`how_to_send_draft`)."""
        page = None
        if not channel.capabilities.files_in and self._page_link is not None:
            page = await self._page_link(person_id)
        return how_to_send_draft(self._catalog, self._config, channel, page)

    # --- what recipients get -------------------------------------------------------------------

    async def content(
        self,
        message: MessageView,
        recipient: Recipient | None,
        channel: ChannelInfo,
        *,
        repeat: bool = False,
    ) -> Outbound:
        """The message for one recipient on ``channel``; an office chat's copy that may be a
        repeat says so."""
        outbound = await self._content(message, recipient, channel)
        if repeat and recipient is None:
            # A stop caught the first copy in flight: it may have arrived, and the office must
            # not read the same report twice as two events. A delegate's copy goes unmarked:
            # the formal letter stays as written, and at most one batch repeats per stop.
            return self._marked_repeat(outbound)
        return outbound

    def _marked_repeat(self, outbound: Outbound) -> Outbound:
        if not outbound.parts or not isinstance(first := outbound.parts[0], TextPart):
            return outbound  # a file's caption has little room; the file itself is the same
        mark = self._catalog.html("report.repeat")
        marked = TextPart(Html(f"{mark}\n{first.html}"), first.buttons)
        return Outbound((marked, *outbound.parts[1:]))

    async def _content(
        self, message: MessageView, recipient: Recipient | None, channel: ChannelInfo
    ) -> Outbound:
        match message.kind:
            case MessageKind.OFFICE_NOTE:
                if message.body is None and "template" in message.params:
                    values = message.params.get("values") or {}
                    text = self._catalog.html(str(message.params["template"]), **values)
                    attached = await self._stored_deliverable(message.params.get("evidence_id"))
                    return Outbound((TextPart(text), *attached))
                return Outbound(
                    (TextPart(message.body or "", decode_buttons(message.params.get("buttons"))),)
                )
            case MessageKind.TASK_REMINDER:
                assert recipient is not None
                return await self._task_reminder(message, recipient)
            case MessageKind.TASK_OVERDUE:
                overdue = await self._tasks.overdue()
                if not overdue:
                    return Outbound(())
                lines = [self._catalog.html("task_overdue.title", count=len(overdue))]
                lines += [task_summary(self._catalog, self._config, task) for task in overdue]
                return Outbound((TextPart(Html("\n\n".join(lines))),))
            case MessageKind.RSVP_REMINDER:
                assert recipient is not None
                return Outbound((self._rsvp_reminder(recipient),))
            case MessageKind.DAY_BEFORE | MessageKind.MORNING_AGENDA:
                assert recipient is not None
                link = None
                if not channel.capabilities.files_out and self._calendar_link is not None:
                    link = await self._calendar_link(recipient.delegate_id)
                desk = None
                if self._desk_pass is not None:
                    desk = await self._desk_pass(recipient.delegate_id)
                # A programme written day by day: each morning's message is that day's.
                day = None
                if message.kind is MessageKind.MORNING_AGENDA and self._config.agenda_by_day():
                    day = int(message.params.get("day") or 1)
                return self._meeting_pack(
                    message.kind,
                    recipient,
                    day=day,
                    download_url=link,
                    desk_code=desk.code if desk is not None else None,
                    checked_in=desk.checked_in if desk is not None else None,
                    pin=channel.capabilities.location_pins,
                )
            case MessageKind.BROADCAST:
                substitute = None if recipient is None else _passed_on_to(message, recipient)
                return Outbound((self.broadcast_text(message.body or "", substitute),))
            case MessageKind.INVITATION_WITHDRAWN:
                return Outbound((TextPart(withdrawn_notice(self._catalog, self._config)),))
            case MessageKind.INVITATION:
                assert recipient is not None
                return Outbound((self._invitation(recipient),))
            case MessageKind.ECHO:
                # The confirmation the page showed, written by the same catalog text as in
                # chat (bot.services.echo): ready HTML.
                return Outbound((TextPart(Html(str(message.params.get("html", "")))),))
            case (
                MessageKind.DRAFT_ASSIGNED
                | MessageKind.DRAFT_REMINDER
                | MessageKind.DRAFT_COMMENT
                | MessageKind.DRAFT_VERDICT
            ):
                assert recipient is not None
                return await self._to_speaker(message, recipient, channel)
            case MessageKind.DRAFT_VERSION | MessageKind.DRAFT_REPLY | MessageKind.DRAFT_MISSING:
                return await self._to_office(message, channel)
        raise ValueError(f"no content for {message.kind}")

    async def _stored_deliverable(self, evidence_id: object) -> tuple[FilePart | TextPart, ...]:
        """The deliverable a note announces, as a document, when the file store keeps it (it
        came from a personal page: no chat platform holds it to send by reference)."""
        if not isinstance(evidence_id, int):
            return ()
        found = await self._tasks.evidence_file(evidence_id)
        if found is None or found.path is None:
            return ()
        content = await asyncio.to_thread(read_stored, found.path)
        if content is None:
            return (TextPart(self._catalog.html("file.lost", file=found.name)),)
        name = sanitize_filename(found.name, fallback="san-pham")
        caption = self._catalog.html("task.file_caption", name=found.name)
        return (FilePart(name, content, media_type(name), caption),)

    # --- speech drafts -------------------------------------------------------------------------

    async def _to_speaker(
        self, message: MessageView, recipient: Recipient, channel: ChannelInfo
    ) -> Outbound:
        catalog, meeting = self._catalog, self._config.meeting
        if message.kind is MessageKind.DRAFT_REMINDER:
            missing = await self._drafts.missing(
                audience_deadline(message.audience), person_id=recipient.delegate_id
            )
            how = await self._how_to_send(channel, recipient.delegate_id)
            return Outbound(
                tuple(
                    TextPart(
                        catalog.html(
                            "draft_reminder.text",
                            name=recipient.full_name,
                            key=line.theme_key,
                            theme=line.theme_title,
                            deadline=moment(catalog, meeting.local(line.deadline_at)),
                            away=self._speaker_away(line),
                            typed=self._typed_unsent(line),
                            how=how,
                        ),
                        (*finish_buttons(catalog, line), *compose_buttons(catalog, line)),
                    )
                    for line in missing
                )
            )
        if message.kind is MessageKind.DRAFT_COMMENT:
            found = await self._drafts.comment(int(message.params.get("comment_id", 0)))
            if found is None:
                return Outbound(())
            about, comment = found
            version = (
                catalog.html("draft_comment.version", number=comment.version_number)
                if comment.version_number
                else ""
            )
            reply = Button(
                catalog.plain("buttons.draft_reply"), draft_action(DraftAction.REPLY, about.id)
            )
            text = catalog.html(
                "draft_comment.text", key=about.theme_key, version=Html(version), body=comment.body
            )
            parts: list[Part] = [TextPart(text, ((reply,),))]
            if comment.file_ref is not None:  # an edited draft, kept by the office's platform
                name = comment.file_name or ""
                if comment.file_channel in (None, channel.name) and channel.capabilities.files_out:
                    caption = catalog.html("draft_comment.file", name=name)
                    parts.append(SharedFilePart(channel.name, comment.file_ref, caption))
                else:  # another platform holds it: it cannot travel here
                    parts.append(TextPart(catalog.html("draft_comment.file_elsewhere", name=name)))
            return Outbound(tuple(parts))
        line = await self._drafts.line(int(message.params.get("assignment_id", 0)))
        if line is None:
            return Outbound(())
        deadline = moment(catalog, meeting.local(line.deadline_at))
        if message.kind is MessageKind.DRAFT_ASSIGNED:
            text = catalog.html(
                "draft_assigned.text",
                name=recipient.full_name,
                title=meeting.title,
                key=line.theme_key,
                theme=line.theme_title,
                deadline=deadline,
                how=await self._how_to_send(channel, recipient.delegate_id),
            )
            return Outbound((TextPart(text, compose_buttons(catalog, line)),))
        status = DraftStatus(str(message.params.get("status")))
        found_version = await self._drafts.version_file(int(message.params.get("version_id", 0)))
        number = found_version.version.number if found_version is not None else line.versions
        if status is DraftStatus.FINAL:
            text = catalog.html("draft_verdict.final", key=line.theme_key, number=number)
        else:
            before = self._clock.now() < line.deadline_at
            when = (
                catalog.html("draft_verdict.before", deadline=deadline)
                if before
                else catalog.html("draft_verdict.asap")
            )
            if channel.capabilities.files_in:
                text = catalog.html(
                    "draft_verdict.revision", key=line.theme_key, number=number, when=when
                )
            else:  # no file comes back through this chat: her page's upload, or typed here
                how = await self._how_to_send(channel, recipient.delegate_id)
                text = catalog.html(
                    "draft_verdict.revision_no_files",
                    key=line.theme_key,
                    number=number,
                    when=when,
                    how=how,
                )
                return Outbound((TextPart(text, compose_buttons(catalog, line)),))
        return Outbound((TextPart(text),))

    async def _to_office(self, message: MessageView, channel: ChannelInfo) -> Outbound:
        catalog, meeting = self._catalog, self._config.meeting
        if message.kind is MessageKind.DRAFT_MISSING:
            deadline = audience_deadline(message.audience) or self._drafts.deadline_at
            return Outbound((TextPart(await self._missing_report(deadline)),))
        if message.kind is MessageKind.DRAFT_REPLY:
            found = await self._drafts.comment(int(message.params.get("comment_id", 0)))
            if found is None:
                return Outbound(())
            line, comment = found
            more: tuple[tuple[Button, ...], ...] = ()
            if channel.capabilities.reply_threads:
                how = catalog.html("draft_post.reply_how_reply")
            elif line.latest is not None:
                # No reply to this message reaches the bot: the comment is chosen under it.
                number = line.latest.number
                how = catalog.html("draft_post.reply_how_choice", number=number)
                label = catalog.plain("buttons.draft_comment_more", number=number)
                more = ((Button(label, draft_action(DraftAction.COMMENT, line.latest.id)),),)
            else:
                how = Html("")
            text = catalog.html(
                "draft_post.reply",
                name=line.full_name,
                organization=line.organization,
                key=line.theme_key,
                body=comment.body,
                how=how,
            )
            return Outbound((TextPart(text, more),))
        stored = await self._drafts.version_file(int(message.params.get("version_id", 0)))
        if stored is None:
            return Outbound(())
        version, line = stored.version, stored.draft
        late = version.created_at > line.deadline_at
        caption = catalog.html(
            "draft_post.caption",
            key=line.theme_key,
            number=version.number,
            name=line.full_name,
            position=line.position,
            organization=line.organization,
            time=short_moment(catalog, meeting.local(version.created_at)),
            size=file_size(catalog, version.size),
            late=Html(catalog.html("draft_post.late") if late else ""),
            reopened=Html(
                catalog.html("draft_post.reopened", approved=message.params["reopened"])
                if message.params.get("reopened")
                else ""
            ),
            how=catalog.html(
                "draft_post.how_reply"
                if channel.capabilities.reply_threads
                else "draft_post.how_choice"
            ),
        )
        buttons = verdict_buttons(
            catalog, version.id, version.number, comment=not channel.capabilities.reply_threads
        )
        if stored.file_ref is not None and stored.channel == channel.name:
            # The platform still has the speaker's upload: send it by reference.
            return Outbound((SharedFilePart(channel.name, stored.file_ref, caption, buttons),))
        content = await asyncio.to_thread(read_stored, stored.path)
        if content is None:  # on record, not on disk: the post says so, and can decide
            lost = catalog.html("file.lost", file=version.display_name)
            return Outbound((TextPart(Html(f"{caption}\n\n{lost}"), buttons),))
        return Outbound(
            (
                FilePart(
                    version.display_name,
                    content,
                    media_type(version.display_name),
                    caption,
                    buttons,
                    download_url=stored.download_at(self._config.web),
                ),
            )
        )

    async def _missing_report(self, deadline: datetime) -> Html:
        catalog, meeting = self._catalog, self._config.meeting
        due = [line for line in await self._drafts.board() if line.deadline_at == deadline]
        # A speaker whose invitation was withdrawn is owed no speech (no reminder went to her):
        # out of the count and of «not sent yet», listed apart.
        away = [line for line in due if line.excused]
        board = [line for line in due if not line.excused]
        missing = [line for line in board if line.owed]
        lines = [
            catalog.html(
                "draft_missing.title",
                deadline=moment(catalog, meeting.local(deadline)),
                received=len(board) - len(missing),
                total=len(board),
            )
        ]
        lines += self._missing_lines(missing + away)
        if not missing:
            lines.append(catalog.html("draft_missing.all_in", total=len(board)))
        return Html("\n".join(lines))

    def _missing_lines(self, missing: list[DraftLine]) -> list[Html]:
        """«Not sent yet» with the speakers who owe a speech, then apart those whose
        invitation was withdrawn (no reminder goes to them)."""
        owing = [line for line in missing if line.owed]
        withdrawn = [line for line in missing if line.excused]
        return [
            *self._listed("draft_missing.list", owing, self._speaker_line),
            *self._listed("draft_missing.withdrawn", withdrawn, self._speaker_line),
        ]

    def _speaker_line(self, line: DraftLine) -> Html:
        """A speaker with no draft sent: her theme, and why she is away if she is."""
        catalog = self._catalog
        return catalog.html(
            "draft_missing.person", code=line.code, name=line.full_name,
            organization=line.organization, key=line.theme_key, away=draft_away(catalog, line),
        )  # fmt: skip

    def _listed(self, key: str, people: list[_T], line: Callable[[_T], Html]) -> list[Html]:
        """A heading counting ``people`` and one line each (:meth:`_problem_lines`,
        :meth:`_missing_lines`); nothing at all for nobody."""
        if not people:
            return []
        return [self._catalog.html(key, count=len(people)), *map(line, people)]

    def _typed_unsent(self, line: DraftLine) -> Html:
        """For a reminder to a speaker who typed her speech as messages and never chose «Xong»:
        that the office has not received it, and how to send it; empty otherwise. She believes
        she sent it, and the reminder would read as if nothing was done."""
        if not line.buffered_chunks:
            return Html("")
        return self._catalog.html(
            "draft_reminder.typed",
            chunks=self._catalog.number(line.buffered_chunks),
            chars=self._catalog.number(line.buffered_chars),
        )

    def _speaker_away(self, line: DraftLine) -> Html:
        """For a reminder to a speaker who declined or sent a substitute: that the office still
        expects the speech (the assignment stands until it withdraws it); empty otherwise."""
        contact = self._config.office.contact
        if line.substitute:
            return self._catalog.html(
                "draft_reminder.away_substitute", substitute=line.substitute, contact=contact
            )
        if line.away is not None:
            return self._catalog.html("draft_reminder.away_declined", contact=contact)
        return Html("")

    def _invitation(self, recipient: Recipient) -> TextPart:
        """The invitation card, as /trangthai shows it, to a person whose chat account came
        from an earlier meeting: it says why it comes here; the choices while answers are open."""
        catalog, config = self._catalog, self._config
        meeting = config.meeting
        is_open = answers_open(self._clock.now(), meeting.rsvp_deadline_at)
        closing = catalog.html(
            "card.answer_until" if is_open else "card.answers_closed",
            deadline=deadline_text(catalog, config),
            contact=config.office.contact,
        )
        text = "\n\n".join(
            [
                *invitation_opening(
                    catalog,
                    config,
                    recipient.full_name,
                    recipient.position,
                    recipient.organization,
                ),
                catalog.html("card.carried"),
                closing,
            ]
        )
        return TextPart(
            Html(text), rsvp_buttons(catalog, config, meeting=self._meeting_id) if is_open else ()
        )

    def _rsvp_reminder(self, recipient: Recipient) -> TextPart:
        catalog, meeting = self._catalog, self._config.meeting
        text = catalog.html(
            "reminder.rsvp",
            name=recipient.full_name,
            title=meeting.title,
            date=moment(catalog, meeting.local(meeting.starts_at)),
            deadline=deadline_text(catalog, self._config),
            contact=self._config.office.contact,
        )
        return TextPart(text, rsvp_buttons(catalog, self._config, meeting=self._meeting_id))

    async def _task_reminder(self, message: MessageView, recipient: Recipient) -> Outbound:
        key = message.audience.partition(":")[2]
        task = await self._tasks.line(key)
        if task is None or task.closed:
            return Outbound(())
        catalog = self._catalog
        text = catalog.html(
            "task_reminder.text",
            name=recipient.full_name,
            key=task.key,
            title=task.title,
            description=task.description or "—",
            deliverable=task.deliverable or "—",
            deadline=moment(catalog, self._config.meeting.local(task.deadline_at)),
        )
        return Outbound((TextPart(text, task_buttons(catalog, task.id)),))

    def _meeting_pack(
        self,
        kind: MessageKind,
        recipient: Recipient,
        *,
        day: int | None = None,
        download_url: str | None = None,
        desk_code: str | None = None,
        checked_in: CheckedIn | None = None,
        pin: bool = True,
    ) -> Outbound:
        """The day-before reminder or the morning programme (``day``'s items alone, for a
        programme written day by day); ``pin``: the place goes as a map
        pin too (a channel without pins would send it as a second text repeating the hall,
        the address and the map link the programme already gives). Sent once she (or her
        substitute) is in — a pack gone late —, it says so in place of the desk's code."""
        catalog, config = self._catalog, self._config
        venue = config.meeting.venue
        sent_substitute = recipient.rsvp is RsvpStatus.SUBSTITUTE and recipient.substitute_name
        # One who sent a substitute is not asked to come: the pack is for them to pass on.
        intro = "intro_substitute" if sent_substitute else "intro"
        parts = [catalog.html(f"{kind.value}.{intro}", name=recipient.full_name)]
        if sent_substitute:
            parts.append(catalog.html("meeting_pack.substitute", name=recipient.substitute_name))
        # What to show at the desk, as the personal page shows it from the day before: a chat
        # carries no QR (on Zalo not even a file), so the code printed under it — passed on,
        # for a substitute, who has no slip of her own.
        if checked_in is not None:
            now = self._clock.now()
            parts.append(Html(html.escape(checked_in_text(catalog, config, checked_in, now))))
        elif desk_code and sent_substitute:
            parts.append(catalog.html(
                "meeting_pack.desk_code_substitute", code=desk_code, name=recipient.substitute_name
            ))  # fmt: skip
        elif desk_code:
            parts.append(catalog.html("meeting_pack.desk_code", code=desk_code))
        parts.append(meeting_details(catalog, config, day=day))
        parts.append(catalog.html("meeting_pack.contact", contact=config.office.contact))
        place = (VenuePart(venue.latitude, venue.longitude, venue.name, venue.address),)
        return Outbound(
            (
                TextPart(Html("\n\n".join(parts))),
                *(place if pin else ()),
                FilePart(
                    ics_filename(config.meeting.code),
                    self.calendar_file(),
                    ICS_MIME,
                    catalog.html("meeting_pack.ics_caption"),
                    download_url=download_url,
                ),
            )
        )

    def calendar_file(self) -> bytes:
        """The meeting as an .ics file (the same file wherever the bot attaches it)."""
        return meeting_calendar(self._config, self._catalog, self._calendar)

    def broadcast_text(self, body: str, substitute: str | None = None) -> TextPart:
        """An office broadcast as delegates see it; to one who gets it for the ``substitute``
        she sent (:func:`_passed_on_to`), with a line at the top asking her to pass it on: the
        one in the hall, or on the way, is the substitute, not she."""
        text = broadcast_html(self._catalog, self._config.office.name, body)
        if substitute:
            line = self._catalog.html("broadcast.for_substitute", name=substitute)
            text = Html(f"{line}\n\n{text}")
        return TextPart(text)

    # --- what the office gets ------------------------------------------------------------------

    def kind_label(self, message: MessageView) -> str:
        """A short name for a message in reports."""
        # Only a notice is called by a number (every notice has one: the office's confirmation,
        # or the outbox as it queues a notice put in it some other way, gave it).
        label = self._catalog.plain(f"kind.{message.kind.value}", number=message.number)
        if message.kind is MessageKind.TASK_REMINDER:
            # Several tasks' reminders go at one hour (each task's -7d@08:00): the report says
            # whose, or the office reads two «nhắc nhiệm vụ» reports alike.
            return f"{label} {message.audience.partition(':')[2]}"
        return label

    async def completion_report(self, report: DeliveryReport) -> TextPart | None:
        """Sent, blocked, failed with reasons, and who never opened their link."""
        kind = report.message.kind
        if kind in _TO_OFFICE or kind in (MessageKind.DRAFT_ASSIGNED, MessageKind.ECHO):
            # It went to the office itself, or (an assignment notice) a speaker who has not
            # linked yet sees it in /thamluan, or (an echo) the person saw it on their page:
            # nothing to report back.
            return None
        if (
            report.skipped is not None
            and kind is not MessageKind.BROADCAST
            and report.skipped is not SkipReason.EXPIRED
        ):
            # An automatic message that found nobody to tell (every task reported done, nothing
            # overdue): nothing went out, so there is nothing to report. The office's own notice
            # is reported even then: they sent it and must learn it reached nobody; and so is a
            # reminder whose every copy ran out (the bot stopped while sending it): it was due.
            return None
        reached_all = set(report.counts) <= {DeliveryStatus.SENT, DeliveryStatus.SKIPPED}
        if kind in _REPORT_PROBLEMS_ONLY and reached_all:
            return None  # the office hears only about problems
        catalog, counts = self._catalog, report.counts
        number = catalog.number  # «1.234», as the dashboard writes the same figures
        lines = [
            catalog.html("report.title", what=self.kind_label(report.message)),
            catalog.html(
                "report.counts",
                sent=number(counts[DeliveryStatus.SENT]),
                blocked=number(counts[DeliveryStatus.BLOCKED]),
                failed=number(counts[DeliveryStatus.FAILED]),
                not_linked=number(counts[DeliveryStatus.NOT_LINKED]),
                skipped=number(counts[DeliveryStatus.SKIPPED]),
            ),
        ]
        if report.ran_out:  # named, the first few: the office phones them
            first = await self._reports.ran_out(report.message.id, limit=NAMED_NOT_LINKED)
            key, params = ran_out_words(catalog, "report.ran_out", report.ran_out, first)
            lines.append(catalog.html(key, **params))
        if report.late_by:
            lines.append(catalog.html("report.late", delay=delay(catalog, report.late_by)))
        if report.message.kind is MessageKind.RSVP_REMINDER:
            overall = (await self._reports.counts()).overall
            lines.append(
                catalog.html(
                    "report.rsvp_status",
                    answered=number(overall.total - overall.by_status[RsvpStatus.NO_ANSWER]),
                    total=number(overall.total),
                    no_answer=number(overall.by_status[RsvpStatus.NO_ANSWER]),
                    not_linked=number(overall.total - overall.linked),
                )
            )
        if report.message.kind is MessageKind.DRAFT_REMINDER:
            due = audience_deadline(report.message.audience)
            lines += self._missing_lines(await self._drafts.missing(due))
        morning = report.message.kind is MessageKind.MORNING_AGENDA
        # On the meeting morning, those already in the hall (checked in, or their substitute)
        # are no one to chase: left out of every list, and counted at its end.
        in_hall = await self._in_hall() if morning and self._in_hall is not None else set()
        failed = [p for p in report.failed if p.code not in in_hall]
        lines += self._problem_lines("report.failed", failed, with_error=True)
        if report.message.kind is MessageKind.RSVP_REMINDER and self._dashboard is not None:
            # Whom to phone about an answer, by the overview's rule and in its words: the
            # unanswered whom the invitation reached and no chat does (the blocked among them);
            # those not sent it yet are to be sent it first, not phoned.
            lines += await self._to_phone_lines(self._dashboard)
        elif morning:
            lines += self._morning_to_phone(report, in_hall, len(report.failed) - len(failed))
        else:
            # To those present, awaited or coming: a substitute is who is in the hall, on the
            # way or to come, so her number is given beside the delegate's.
            phone = "substitute" if report.message.audience in _THROUGH_SUBSTITUTES else "own"
            lines += self._problem_lines("report.blocked", report.blocked, phone=phone)
            lines += self._problem_lines("report.not_linked", report.not_linked, phone=phone)
        lines += self._problem_lines("report.withdrawn", report.withdrawn)
        if kind in _ANSWERED:
            lines += self._problem_lines(_ANSWERED[kind], report.answered)
        buttons: tuple[tuple[Button, ...], ...] = ()
        # A resend sends again only the copies no send may have delivered: those that may
        # have arrived are named above with the advice to phone, and are left (each send of
        # them may be one more copy on her phone).
        doubted = sum(_may_have_arrived(problem) for problem in report.failed)
        retryable = counts[DeliveryStatus.FAILED] - doubted
        if report.message.kind is MessageKind.BROADCAST and counts[DeliveryStatus.FAILED]:
            if retryable:
                label = catalog.plain("buttons.resend", count=number(retryable))
                buttons = ((Button(label, resend_action(report.message.id)),),)
            if doubted:
                key = "report.resend_kept" if retryable else "report.resend_none"
                lines.append(catalog.html(key, count=number(retryable), kept=number(doubted)))
        return TextPart(Html("\n".join(lines)), buttons)

    def _morning_to_phone(
        self, report: DeliveryReport, in_hall: set[str], failed_in_hall: int
    ) -> list[Html]:
        """The morning programme's list to phone: those it could not reach, less those already
        in the hall (checked in, or their substitute: ``in_hall``), with what the call is for;
        then how many were left out, of this list and of the failed (``failed_in_hall``)."""
        blocked = [p for p in report.blocked if p.code not in in_hall]
        not_linked = [p for p in report.not_linked if p.code not in in_hall]
        lines = []
        if blocked or not_linked:
            lines.append(self._catalog.html("report.morning_call"))
        lines += self._problem_lines("report.blocked", blocked, phone="own")
        lines += self._problem_lines("report.not_linked", not_linked, phone="own")
        left_out = (
            failed_in_hall
            + len(report.blocked) + len(report.not_linked) - len(blocked) - len(not_linked)
        )  # fmt: skip
        if left_out:
            lines.append(
                self._catalog.html("report.morning_in_hall", count=self._catalog.number(left_out))
            )
        return lines

    async def _to_phone_lines(self, dashboard: DashboardService) -> list[Html]:
        """The overview's «Cần gọi điện thoại» as a chat reads it: how many, the first as the
        overview lists them with their phone numbers, where the rest are, and how many are not
        counted because their invitation has not gone out."""
        catalog = self._catalog
        figures = await dashboard.figures()
        rows = await dashboard.to_phone() if figures.to_phone else []
        lines = [catalog.html("report.to_phone", count=catalog.number(figures.to_phone))]
        no_number = catalog.plain("dash.overview.to_phone_no_number")
        lines += [
            catalog.html(
                "report.person_phone",
                code=row.code,
                name=row.full_name,
                phone=display_phone(row.phone) if row.phone else no_number,
            )
            for row in rows
        ]
        more = figures.to_phone - len(rows)
        if more > 0:
            web = self._config.web
            if web is not None:
                link = web.office_url("delegates?reach=no&answer=no_answer&sent=yes")
                lines.append(
                    catalog.html("report.to_phone_more", more=catalog.number(more), link=link)
                )
            else:
                lines.append(catalog.html("report.to_phone_more_file", more=catalog.number(more)))
        if not figures.to_phone and not figures.unsent:
            lines.append(catalog.html("dash.overview.to_phone_none"))
        if figures.unsent:
            lines.append(
                catalog.html("report.to_phone_unsent", count=catalog.number(figures.unsent))
            )
        return lines

    def _problem_lines(
        self,
        key: str,
        problems: list[Problem],
        *,
        with_error: bool = False,
        phone: str = "",
    ) -> list[Html]:
        """One line per problem: with its error, or (``phone``: "own") with her number to
        phone, or ("substitute") with her substitute's too where she sends one."""
        if with_error:
            line = self._error_line
        elif phone:  # a list to phone: each with her number, as the overview lists them
            line = partial(self._phone_line, substitutes=phone == "substitute")
        else:
            line = self._person_line
        return self._listed(key, problems, line)

    def _error_line(self, problem: Problem) -> Html:
        """A delivery that failed: why, and whether she may have it all the same."""
        catalog, local = self._catalog, self._config.meeting.local
        who = {"code": problem.code, "name": problem.full_name, "error": problem.error or ""}
        if problem.maybe_sent_at is not None:
            # A send got no answer after it went out: the person may well have it; the outbox
            # tried once more at most, so as not to send the same notice many times. Where that
            # send was of a part before the last, the rest never went: her message is
            # incomplete whatever became of that part.
            when = short_moment(catalog, local(problem.maybe_sent_at))
            if problem.parts is None:
                return catalog.html("report.person_maybe_sent", time=when, **who)
            sent, total = problem.parts
            return catalog.html(
                "report.person_maybe_partial", sent=sent, total=total, part=sent + 1, time=when,
                **who,
            )  # fmt: skip
        if problem.interrupted_at is not None:
            # The copy on the wire when the bot was stopped may well have arrived: failing to
            # send it again says nothing about that one.
            when = short_moment(catalog, local(problem.interrupted_at))
            return catalog.html("report.person_maybe_received", time=when, **who)
        if problem.error == PROXY_REFUSED:
            # Nothing went: the office's own network refused it, not the person.
            return catalog.html("report.person_proxy", code=problem.code, name=problem.full_name)
        return catalog.html("report.person_error", **who)

    def _phone_line(self, problem: Problem, *, substitutes: bool) -> Html:
        """Someone to phone, with her number; with her substitute's too (``substitutes``)
        where she sends one."""
        catalog = self._catalog
        no_number = catalog.plain("dash.overview.to_phone_no_number")
        number = problem.phone and display_phone(problem.phone)
        who = {"code": problem.code, "name": problem.full_name, "phone": number or no_number}
        if substitutes and problem.substitute_name:
            theirs = problem.substitute_phone and display_phone(problem.substitute_phone)
            return catalog.html(
                "report.person_phone_substitute", substitute=problem.substitute_name,
                substitute_phone=theirs or no_number, **who,
            )  # fmt: skip
        return catalog.html("report.person_phone", **who)

    def _person_line(self, problem: Problem) -> Html:
        return self._catalog.html("report.person", code=problem.code, name=problem.full_name)

    def skip_notice(self, message: MessageView, late_by: timedelta) -> TextPart | None:
        """Why a message did not go: its time had passed while the bot was not running."""
        if message.kind in (
            MessageKind.TASK_OVERDUE,
            MessageKind.TASK_REMINDER,
            MessageKind.DRAFT_REMINDER,
            MessageKind.DRAFT_MISSING,
        ):
            # The next morning's overdue report (for drafts, /thamluan) says what matters; a
            # notice per missed reminder would not.
            return None
        catalog, meeting = self._catalog, self._config.meeting
        due = moment(catalog, meeting.local(message.due_at)) if message.due_at else "—"
        return TextPart(
            catalog.html(
                "report.skipped",
                what=self.kind_label(message),
                due=due,
                delay=delay(catalog, late_by),
            )
        )
