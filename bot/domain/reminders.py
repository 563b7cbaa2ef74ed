"""Which automatic messages the plan calls for, and when each stops being worth sending."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.domain.outbound import Audience, MessageKind
from bot.domain.timespec import TimeSpec


@dataclass(frozen=True)
class PlannedMessage:
    """An automatic message: what, to whom, when, and until when it may still go."""

    kind: MessageKind
    dedupe_key: str
    audience: str
    due_at: datetime
    expires_at: datetime
    report_to: str | None


def planned_messages(config: Config) -> list[PlannedMessage]:
    """RSVP chasing, the day-before reminder and the meeting-morning agenda for ``config``."""
    meeting = config.meeting
    office = str(config.office.chat_id) if config.office.chat_id is not None else None
    deadline = meeting.rsvp_deadline_at
    planned = [
        PlannedMessage(
            kind=MessageKind.RSVP_REMINDER,
            dedupe_key=f"{meeting.code}:{MessageKind.RSVP_REMINDER}:{spec.text}",
            audience=Audience.NO_ANSWER,
            due_at=spec.resolve(deadline, meeting.zone),
            expires_at=deadline,  # chasing after the deadline only confuses
            report_to=office,
        )
        for spec in config.reminders.rsvp_chase
    ]
    if config.reminders.day_before is not None:
        planned.append(
            PlannedMessage(
                kind=MessageKind.DAY_BEFORE,
                dedupe_key=f"{meeting.code}:{MessageKind.DAY_BEFORE}",
                audience=Audience.PRESENT,
                due_at=meeting.resolve(config.reminders.day_before),
                # "Tomorrow" is false once the meeting day has begun.
                expires_at=meeting.resolve(TimeSpec.parse("0d@00:00")),
                report_to=office,
            )
        )
    if config.reminders.meeting_morning is not None:
        planned.append(
            PlannedMessage(
                kind=MessageKind.MORNING_AGENDA,
                dedupe_key=f"{meeting.code}:{MessageKind.MORNING_AGENDA}",
                audience=Audience.PRESENT,
                due_at=meeting.resolve(config.reminders.meeting_morning),
                expires_at=meeting.ends_at,  # the agenda is pointless once the meeting is over
                report_to=office,
            )
        )
    return planned
