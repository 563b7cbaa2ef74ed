"""Which automatic messages the plan calls for, and when each stops being worth sending."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.domain.outbound import OFFICE_PLACE, Audience, MessageKind
from bot.domain.timespec import TimeSpec

# Kinds planned as a series of reminders to one audience (several offsets before one deadline):
# each says the same thing again, so of those that fell due together only the newest is worth
# sending. The other automatic kinds say different things (the day before, the programme) or
# cannot fall due together (an overdue report is stale by the next morning's).
REMINDER_SERIES = frozenset(
    {MessageKind.RSVP_REMINDER, MessageKind.TASK_REMINDER, MessageKind.DRAFT_REMINDER}
)


# The kinds planned at each draft deadline: the plan's, and those the office gave speakers of
# their own (re-planned when it assigns or withdraws one).
DRAFT_KINDS = frozenset({MessageKind.DRAFT_REMINDER, MessageKind.DRAFT_MISSING})


# Kinds that name the meeting's date to a delegate (the deadline before the meeting, «ngày mai»,
# «hôm nay»): whoever got one before the meeting moved was told the old date.
DATED_KINDS = frozenset(
    {MessageKind.RSVP_REMINDER, MessageKind.DAY_BEFORE, MessageKind.MORNING_AGENDA}
)
# The messages for those who come (the day-before reminder, the morning's agenda): the outbox
# skips a copy for one who no longer comes, and one who comes after they went gets her own.
TO_THOSE_WHO_COME = frozenset({MessageKind.DAY_BEFORE, MessageKind.MORNING_AGENDA})


# The hours of the day, in the meeting's zone, a reminder caught up late may go at: one due at
# 08:00 that a bot stopped overnight finds at 02:00 waits for the morning rather than wake
# anyone (:func:`waits_for_morning`). A reminder the plan itself times outside them goes then.
WAKING_HOURS = (time(7, 0), time(21, 0))


def at_night(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether ``moment`` falls outside :data:`WAKING_HOURS` in ``zone``."""
    wakes, sleeps = WAKING_HOURS
    return not wakes <= moment.astimezone(zone).time() < sleeps


def waking_day_end(moment: datetime, zone: ZoneInfo) -> datetime:
    """When the waking hours end (:data:`WAKING_HOURS`) on the day a reminder held at
    ``moment`` goes: today's evening, or tomorrow's once this evening's has begun."""
    _, sleeps = WAKING_HOURS
    local = moment.astimezone(zone)
    day = local.date() if local.time() < sleeps else local.date() + timedelta(days=1)
    return datetime.combine(day, sleeps, tzinfo=zone)


def waits_for_morning(kind: str, due_at: datetime, now: datetime, zone: ZoneInfo) -> bool:
    """Whether a reminder of a series (:data:`REMINDER_SERIES`) due at ``due_at`` and found
    late at ``now`` waits for the waking hours: it is night now and was not at its planned
    time, so only the bot's stop put it in the night. Its window decides the rest: still open
    in the morning, it goes then; closed before, it is skipped like any reminder past it."""
    return kind in REMINDER_SERIES and at_night(now, zone) and not at_night(due_at, zone)


def reminder_series(kind: str, audience: str) -> tuple[str, str] | None:
    """The series a message of ``kind`` to ``audience`` belongs to (the same reminder before the
    same deadline: RSVP chasing, one task's reminders, one draft deadline's), or None when it
    is no reminder of a series."""
    return (kind, audience) if kind in REMINDER_SERIES else None


# Between a slot and its anchor in a key; no plan time, code or task key holds it.
ANCHOR_MARK = "|"
# The longest key the outbox stores (``OutboundMessage.dedupe_key``), and what an anchor takes
# of it: the mark and a Unix time in seconds.
MAX_KEY = 80
_ANCHOR_ROOM = 11
# A slot too long for that keeps its start (readable in the database) and a digest of the whole.
_DIGEST_CHARS = 16


@dataclass(frozen=True)
class PlannedMessage:
    """An automatic message: what, to whom, when, and until when it may still go.

    ``slot`` names its place in the plan (the day-before reminder, the second RSVP chase);
    ``anchor`` is the day it is timed from when that moves with the meeting's date (the start's,
    a deadline's counted from it: :func:`_day_of`). A message for another anchor is another
    message: when the meeting is postponed, the day-before reminder already sent for the old
    date goes again for the new one; when it only starts later that day, it does not.
    """

    kind: MessageKind
    slot: str
    audience: str
    due_at: datetime
    expires_at: datetime
    report_to: str
    anchor: datetime | None = None
    # What the row carries for the composer (the morning programme of a later day: ``day``).
    params: Mapping[str, object] | None = None

    @property
    def dedupe_key(self) -> str:
        """The row's key: the slot, and the anchor's Unix time when it has one."""
        if self.anchor is None:
            return keyed_slot(self.slot)
        return f"{keyed_slot(self.slot)}{ANCHOR_MARK}{int(self.anchor.timestamp())}"


def _day_of(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``moment``'s day in the meeting's zone: what a message is timed from, as an
    anchor. A start or deadline moved within its day leaves what was said of it («ngày mai», the
    day of the deadline) true, so the message is the same one; moved to another day, another."""
    return datetime.combine(moment.astimezone(zone).date(), time(0), tzinfo=zone).astimezone(UTC)


def keyed_slot(slot: str) -> str:
    """``slot`` as a key carries it: itself, or, when it would leave an anchor no room within
    :data:`MAX_KEY` (a 40-character meeting code, a task's key and a time written as a date),
    its start and a digest of the whole, so two slots still make two keys."""
    room = MAX_KEY - _ANCHOR_ROOM
    if len(slot) <= room:
        return slot
    digest = hashlib.sha256(slot.encode()).hexdigest()[:_DIGEST_CHARS]
    return f"{slot[: room - _DIGEST_CHARS - 1]}#{digest}"


def slot_of(dedupe_key: str) -> str:
    """The slot a planned message's key names, as keys carry it (:func:`keyed_slot`), its
    anchor aside (a key written before keys carried their anchor is its slot alone)."""
    return keyed_slot(dedupe_key.partition(ANCHOR_MARK)[0])


def planned_messages(
    config: Config, own_deadlines: Mapping[datetime, datetime] | None = None
) -> list[PlannedMessage]:
    """RSVP chasing, the day-before reminder, the meeting-morning agenda, task and speech-draft
    reminders for ``config``; ``own_deadlines``: the deadlines the office gave speakers of their
    own, each with when the first of them was assigned (:func:`_draft_messages`)."""
    meeting = config.meeting
    office = OFFICE_PLACE  # the office's group chats, else each staff member privately
    deadline = meeting.rsvp_deadline_at
    planned = [
        PlannedMessage(
            kind=MessageKind.RSVP_REMINDER,
            slot=f"{meeting.code}:{MessageKind.RSVP_REMINDER}:{spec.text}",
            audience=Audience.NO_ANSWER,
            due_at=spec.resolve(deadline, meeting.zone),
            expires_at=deadline,  # chasing after the deadline only confuses
            report_to=office,
            anchor=_day_of(deadline, meeting.zone),
        )
        for spec in config.reminders.rsvp_chase
    ]
    if config.reminders.day_before is not None:
        planned.append(
            PlannedMessage(
                kind=MessageKind.DAY_BEFORE,
                slot=f"{meeting.code}:{MessageKind.DAY_BEFORE}",
                audience=Audience.PRESENT,
                due_at=meeting.resolve(config.reminders.day_before),
                # "Tomorrow" is false once the meeting day has begun.
                expires_at=meeting.resolve(TimeSpec.parse("0d@00:00")),
                report_to=office,
                anchor=_day_of(meeting.starts_at, meeting.zone),
            )
        )
    if config.reminders.meeting_morning is not None:
        planned += _morning_messages(config, config.reminders.meeting_morning, office)
    planned += _task_messages(config, office)
    planned += _draft_messages(config, office, own_deadlines or {})
    return planned


def _morning_messages(config: Config, spec: TimeSpec, office: str) -> list[PlannedMessage]:
    """The morning programme: once, before the meeting's start; at a meeting of several days,
    each day at the same hour too (its ``day`` for the outbox and the composer) — for a
    programme written day by day (:meth:`Config.agenda_by_day`) each day's that has items,
    with that day's items, each good until its day ends (the next day's programme replaces
    it; a first day without items has none: a heading over nothing, ``check`` warns); for one
    without days, the whole programme each day to those who begin coming that day
    (:func:`bot.domain.rsvp.morning_programme_on`), each good until the meeting ends."""
    meeting = config.meeting
    first = meeting.local(meeting.resolve(spec))
    anchor = _day_of(meeting.starts_at, meeting.zone)
    slot = f"{meeting.code}:{MessageKind.MORNING_AGENDA}"
    by_day = config.agenda_by_day()
    days = [day for day, _ in config.agenda_days()] if by_day else range(1, meeting.days + 1)
    planned = []
    for day in days:
        if by_day and day < meeting.days:
            ends = datetime.combine(meeting.day_date(day + 1), time(0), tzinfo=meeting.zone)
        else:
            ends = meeting.ends_at  # the agenda is pointless once the meeting is over
        planned.append(
            PlannedMessage(
                kind=MessageKind.MORNING_AGENDA,
                # The first day's keeps the slot it always had: a plan given days later is
                # the same message for it, not another to send again.
                slot=slot if day == 1 else f"{slot}:{day}",
                audience=Audience.PRESENT,
                due_at=(first + timedelta(days=day - 1)).astimezone(UTC),
                expires_at=ends.astimezone(UTC),
                report_to=office,
                anchor=anchor,
                params=None if day == 1 else {"day": day},
            )
        )
    return planned


def _draft_messages(
    config: Config, office: str, own_deadlines: Mapping[datetime, datetime]
) -> list[PlannedMessage]:
    """For each deadline the themes use, and each the office gave speakers of their own:
    reminders to speakers with nothing sent, and the office's list at the deadline.

    A speaker given a deadline of her own is reminded at the plan's offsets before it, except
    those already past when she was assigned (the assignment's message told her the deadline
    then; a reminder at once would be planned late, and reported so): ``own_deadlines`` maps
    each such deadline to the earliest assignment still holding it."""
    meeting = config.meeting
    plan = {config.draft_deadline(theme.key) for theme in config.themes}
    planned = []
    for deadline in sorted(plan | own_deadlines.keys()):
        stamp = f"{int(deadline.timestamp())}"
        audience = f"{Audience.DRAFT_MISSING}:{stamp}"
        since = None if deadline in plan else own_deadlines[deadline]
        for spec in config.drafts.reminders:
            due = spec.resolve(deadline, meeting.zone)
            if since is not None and due <= since:
                continue
            planned.append(
                PlannedMessage(
                    kind=MessageKind.DRAFT_REMINDER,
                    # Its deadline is in the slot already (a deadline of its own per theme).
                    slot=f"{meeting.code}:{MessageKind.DRAFT_REMINDER}:{stamp}:{spec.text}",
                    audience=audience,
                    due_at=due,
                    # After the deadline the office calls; a bot nag would not help.
                    expires_at=deadline,
                    report_to=office,
                )
            )
        planned.append(
            PlannedMessage(
                kind=MessageKind.DRAFT_MISSING,
                slot=f"{meeting.code}:{MessageKind.DRAFT_MISSING}:{stamp}",
                audience=f"{Audience.OFFICE}:{stamp}",
                due_at=deadline,
                expires_at=meeting.starts_at,
                report_to=office,
            )
        )
    return planned


def _task_messages(config: Config, office: str) -> list[PlannedMessage]:
    """Reminders before each task's deadline; an overdue report every morning after the first."""
    meeting = config.meeting
    planned = []
    for task in config.tasks:
        deadline = meeting.resolve(task.deadline)
        for spec in task.reminders:
            due = spec.resolve(deadline, meeting.zone)
            planned.append(
                PlannedMessage(
                    kind=MessageKind.TASK_REMINDER,
                    slot=f"{meeting.code}:{MessageKind.TASK_REMINDER}:{task.key}:{spec.text}",
                    audience=f"{Audience.TASK}:{task.key}",
                    due_at=due,
                    expires_at=max(due, deadline),  # after the deadline, escalation takes over
                    report_to=office,
                    anchor=_day_of(deadline, meeting.zone),
                )
            )
    at = config.reminders.task_escalation
    if at is None or not config.tasks:
        return planned
    first = min(meeting.local(meeting.resolve(t.deadline)).date() for t in config.tasks)
    last = meeting.local(meeting.starts_at).date()
    day = first + timedelta(days=1)
    while day <= last:
        due = datetime.combine(day, at, tzinfo=meeting.zone).astimezone(UTC)
        planned.append(
            PlannedMessage(
                kind=MessageKind.TASK_OVERDUE,
                slot=f"{meeting.code}:{MessageKind.TASK_OVERDUE}:{day.isoformat()}",
                audience=Audience.OFFICE,
                due_at=due,
                expires_at=due + timedelta(hours=10),  # the morning report is stale by evening
                report_to=office,
            )
        )
        day += timedelta(days=1)
    return planned
