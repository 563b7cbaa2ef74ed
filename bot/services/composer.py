"""What the outbox sends, written with the text catalog: reminders, the agenda, broadcasts,
and the reports the office gets when a message has gone out."""

from __future__ import annotations

from datetime import timedelta

from bot.config import Config
from bot.domain.ics import CalendarEvent, build_ics, ics_filename
from bot.domain.outbound import (
    Button,
    DeliveryStatus,
    FilePart,
    MessageKind,
    Outbound,
    TextPart,
    VenuePart,
    decode_buttons,
)
from bot.domain.rsvp import RsvpStatus
from bot.services.reports import ReportService
from bot.services.rsvp import RsvpChoice, rsvp_action
from bot.services.tasks import TaskService
from bot.texts import Catalog, Html
from bot.texts.formatting import moment
from bot.texts.presenters import (
    broadcast_html,
    deadline_text,
    meeting_details,
    task_buttons,
    task_summary,
)
from schedules.clock import Clock
from schedules.outbox import DeliveryReport, MessageView, Problem, Recipient

ICS_MIME = "text/calendar"


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
        clock: Clock,
    ) -> None:
        self._config = config
        self._catalog = catalog
        self._reports = reports
        self._tasks = tasks
        self._clock = clock

    # --- what recipients get -------------------------------------------------------------------

    async def content(self, message: MessageView, recipient: Recipient | None) -> Outbound:
        """The message for one recipient."""
        match message.kind:
            case MessageKind.OFFICE_NOTE:
                if message.body is None and "template" in message.params:
                    values = message.params.get("values") or {}
                    text = self._catalog.html(str(message.params["template"]), **values)
                    return Outbound((TextPart(text),))
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
                return self._meeting_pack(message.kind, recipient)
            case MessageKind.BROADCAST:
                return Outbound((self.broadcast_text(message.body or ""),))
        raise ValueError(f"no content for {message.kind}")

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
        buttons = tuple(
            (Button(catalog.plain(f"buttons.{choice.value}"), rsvp_action(choice)),)
            for choice in (RsvpChoice.ATTEND, RsvpChoice.DECLINE, RsvpChoice.SUBSTITUTE)
        )
        return TextPart(text, buttons)

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

    def _meeting_pack(self, kind: MessageKind, recipient: Recipient) -> Outbound:
        catalog, config = self._catalog, self._config
        venue = config.meeting.venue
        parts = [catalog.html(f"{kind.value}.intro", name=recipient.full_name)]
        if recipient.rsvp is RsvpStatus.SUBSTITUTE and recipient.substitute_name:
            parts.append(catalog.html("meeting_pack.substitute", name=recipient.substitute_name))
        parts.append(meeting_details(catalog, config))
        parts.append(catalog.html("meeting_pack.contact", contact=config.office.contact))
        return Outbound(
            (
                TextPart(Html("\n\n".join(parts))),
                VenuePart(venue.latitude, venue.longitude, venue.name, venue.address),
                FilePart(
                    ics_filename(config.meeting.code),
                    self.calendar_file(),
                    ICS_MIME,
                    catalog.html("meeting_pack.ics_caption"),
                ),
            )
        )

    def calendar_file(self) -> bytes:
        """The meeting as an .ics file (the same file wherever the bot attaches it)."""
        meeting = self._config.meeting
        description = "\n".join(
            [meeting.title, ""]
            + [f"{item.start:%H:%M}–{item.end:%H:%M} {item.title}" for item in self._config.agenda]
        )
        return build_ics(
            CalendarEvent(
                uid=f"{meeting.code}@hoinghi",
                title=meeting.display_title,
                starts_at=meeting.starts_at,
                ends_at=meeting.ends_at,
                timezone=meeting.timezone,
                location=f"{meeting.venue.name}, {meeting.venue.address}",
                description=description,
                latitude=meeting.venue.latitude,
                longitude=meeting.venue.longitude,
                organizer_name=meeting.organizer,
                organizer_label=self._catalog.plain("ics.organizer"),
                url=meeting.venue.map_url,
                stamp=meeting.starts_at,
            )
        )

    def broadcast_text(self, body: str) -> TextPart:
        """An office broadcast as delegates see it."""
        return TextPart(broadcast_html(self._catalog, self._config.office.name, body))

    # --- what the office gets ------------------------------------------------------------------

    def kind_label(self, message: MessageView) -> str:
        """A short name for a message in reports."""
        return self._catalog.plain(f"kind.{message.kind.value}", id=message.id)

    async def completion_report(self, report: DeliveryReport) -> TextPart | None:
        """Sent, blocked, failed with reasons, and who never opened their link."""
        if report.message.kind in (MessageKind.TASK_OVERDUE, MessageKind.OFFICE_NOTE):
            return None  # it went to the office itself: nothing to report back
        reached_all = set(report.counts) <= {DeliveryStatus.SENT, DeliveryStatus.SKIPPED}
        if report.message.kind is MessageKind.TASK_REMINDER and reached_all:
            return None  # twenty reminders a plan: the office hears only about problems
        catalog, counts = self._catalog, report.counts
        lines = [
            catalog.html("report.title", what=self.kind_label(report.message)),
            catalog.html(
                "report.counts",
                sent=counts[DeliveryStatus.SENT],
                blocked=counts[DeliveryStatus.BLOCKED],
                failed=counts[DeliveryStatus.FAILED],
                not_linked=counts[DeliveryStatus.NOT_LINKED],
                skipped=counts[DeliveryStatus.SKIPPED],
            ),
        ]
        if report.late_by:
            lines.append(
                catalog.html("report.late", minutes=int(report.late_by / timedelta(minutes=1)))
            )
        if report.message.kind is MessageKind.RSVP_REMINDER:
            overall = (await self._reports.counts()).overall
            lines.append(
                catalog.html(
                    "report.rsvp_status",
                    answered=overall.total - overall.by_status[RsvpStatus.NO_ANSWER],
                    total=overall.total,
                    no_answer=overall.by_status[RsvpStatus.NO_ANSWER],
                    not_linked=overall.total - overall.linked,
                )
            )
        lines += self._problem_lines("report.failed", report.failed, with_error=True)
        lines += self._problem_lines("report.blocked", report.blocked)
        lines += self._problem_lines("report.not_linked", report.not_linked)
        buttons: tuple[tuple[Button, ...], ...] = ()
        retryable = counts[DeliveryStatus.FAILED]
        if report.message.kind is MessageKind.BROADCAST and retryable:
            label = catalog.plain("buttons.resend", count=retryable)
            buttons = ((Button(label, resend_action(report.message.id)),),)
        return TextPart(Html("\n".join(lines)), buttons)

    def _problem_lines(
        self, key: str, problems: list[Problem], *, with_error: bool = False
    ) -> list[Html]:
        if not problems:
            return []
        catalog = self._catalog
        lines = [catalog.html(key, count=len(problems))]
        for problem in problems:
            if with_error:
                lines.append(
                    catalog.html(
                        "report.person_error",
                        code=problem.code,
                        name=problem.full_name,
                        error=problem.error or "",
                    )
                )
            else:
                lines.append(
                    catalog.html("report.person", code=problem.code, name=problem.full_name)
                )
        return lines

    def skip_notice(self, message: MessageView, late_by: timedelta) -> TextPart | None:
        """Why a message did not go: its time had passed while the bot was not running."""
        if message.kind in (MessageKind.TASK_OVERDUE, MessageKind.TASK_REMINDER):
            # The next morning's overdue report says what matters; twenty notices would not.
            return None
        catalog, meeting = self._catalog, self._config.meeting
        due = moment(catalog, meeting.local(message.due_at)) if message.due_at else "—"
        return TextPart(
            catalog.html(
                "report.skipped",
                what=self.kind_label(message),
                due=due,
                hours=f"{late_by / timedelta(hours=1):.1f}".replace(".", ","),
            )
        )
