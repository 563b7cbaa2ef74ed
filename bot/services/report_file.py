"""The office's report workbook and the audit log as Vietnamese sheets (words from the catalog)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.config import Config
from bot.documents.workbook import Cell, Sheet, workbook_bytes
from bot.domain.outbound import DeliveryStatus
from bot.domain.phones import display_phone, mask_phone
from bot.domain.rsvp import RsvpStatus, read_days
from bot.domain.tasks import AssignmentLine
from bot.services.checkin import Attendance, CheckinView, counted_as, day_line
from bot.services.office_report import AuditRow, DelegateRow, MessageRow, OfficeReport
from bot.services.privacy import ERASED
from bot.services.reports import Tally
from bot.services.views import DelegateView
from bot.texts import Catalog
from bot.texts.formatting import day_list, file_size
from bot.texts.presenters import (
    action_label,
    answer_label,
    audience_label,
    channel_label,
    contact_word,
    draft_status_label,
    not_running,
)

# How a time inside an audited change is written (as the CSV writes date cells).
LOCAL_MOMENT = "%d/%m/%Y %H:%M"
# Where the dashboard serves the report workbook (under /office/): linked from a chat without files.
REPORT_DOWNLOAD = "report.xlsx"
_DELIVERY_COLUMNS = (
    DeliveryStatus.SENT,
    DeliveryStatus.BLOCKED,
    DeliveryStatus.FAILED,
    DeliveryStatus.NOT_LINKED,
    DeliveryStatus.SKIPPED,
)


def office_report_sheets(catalog: Catalog, config: Config, report: OfficeReport) -> list[Sheet]:
    """Delegates, the summary by group, speech drafts, tasks, sending, the copies that ran out
    and the check-ins, one sheet each."""
    local = _local(config)
    return [
        _delegates(catalog, config, report, local),
        _groups(catalog, report),
        _drafts(catalog, report, local),
        _tasks(catalog, report, local),
        _messages(catalog, config, report, local),
        _ran_out(catalog, report, local),
        checkin_sheet(catalog, config, report.checkins, report.attendance),
    ]


def checkin_table(
    catalog: Catalog, config: Config, records: list[tuple[CheckinView, DelegateView | None]]
) -> tuple[list[str], list[list[Cell]]]:
    """Every check-in (undone ones too: the record), invitees in protocol order and then
    guests: headings and rows for the "Điểm danh" sheet or ``hoinghi attendance export``."""
    local = _local(config)
    labels = {group.key: group.label for group in config.groups}
    rows: list[list[Cell]] = []
    for number, (view, person) in enumerate(records, start=1):
        undone_by = view.undone_name or view.undone_by  # a name, the account if none known
        rows.append(
            [
                number,
                person.code if person else None,
                person.full_name if person else None,
                labels.get(person.group_key, person.group_key) if person else None,
                view.full_name,
                view.position,
                view.organization,
                catalog.plain(f"checkin.kind.{counted_as(view, person)}"),  # as the totals
                catalog.plain(f"status.{view.answer.value}") if view.answer else None,
                view.desk,
                local(view.at),
                view.by,
                local(view.undone_at),
                undone_by,
            ]
        )
    names = (
        "number", "code", "invitee", "group", "name", "position", "organization", "kind",
        "answer", "desk", "at", "by", "undone_at", "undone_by",
    )  # fmt: skip
    return _headings(catalog, "checkins", names), rows


def checkin_sheet(
    catalog: Catalog,
    config: Config,
    records: list[tuple[CheckinView, DelegateView | None]],
    attendance: Attendance | None,
) -> Sheet:
    """The "Điểm danh" sheet: :func:`checkin_table` with the hall's totals under it."""
    headings, rows = checkin_table(catalog, config, records)
    footer: list[list[Cell]] = []
    if attendance is not None:
        # The same people the rows list (every invitee in, expected or not), then the split
        # the summary and the dashboard show, the guests, and the hall.
        guests = len(attendance.guests)
        withdrawn: list[list[Cell]] = (
            [[None, catalog.plain("report_sheet.checkins.withdrawn_row"),
              len(attendance.withdrawn)]]
            if attendance.withdrawn
            else []
        )  # fmt: skip
        footer = [
            [None, catalog.plain("report_sheet.checkins.present_row"), attendance.present],
            [None, catalog.plain("report_sheet.checkins.expected_row"),
             f"{catalog.number(attendance.arrived)}/{catalog.number(attendance.expected)}"],
            [None, catalog.plain("report_sheet.checkins.unexpected_row"), attendance.unexpected],
            [None, catalog.plain("report_sheet.checkins.substitutes_row"), attendance.substitutes],
            [None, catalog.plain("report_sheet.checkins.guests_row"), guests],
            *withdrawn,
            [None, catalog.plain("report_sheet.checkins.in_hall_row"), attendance.in_hall],
        ]  # fmt: skip
        if attendance.day is not None:
            # A meeting of several days: the rows are every day's, the totals today's (the whole
            # meeting's after it, each person once): said so, and each day's hall apart under.
            footer.insert(0, [None, day_line(catalog, attendance.day, attendance.whole), None])
            footer += [
                [None, catalog.plain("report_sheet.checkins.day_row", day=on.day, month=on.month),
                 count]
                for on, count in attendance.days
            ]  # fmt: skip
    return Sheet(
        catalog.plain("report_sheet.checkins.title"),
        headings,
        rows,
        wrap=frozenset({2, 3, 4, 5, 6}),
        footer=footer,
    )


def audit_table(
    catalog: Catalog, config: Config, rows: list[AuditRow]
) -> tuple[list[str], list[list[Cell]]]:
    """Every change with who, when, what: headings and rows for a CSV or a sheet, in Nhật ký's
    words (who as a person or a kind of account, what as the page labels it); the account as
    audited («dashboard:NV01», «cli:import») last, for the technician."""
    local = _local(config)
    names = ("at", "who", "action", "entity", "id", "before", "after", "subject", "account")
    headings = _headings(catalog, "audit", names)
    body: list[list[Cell]] = []
    for row in rows:
        kind, _, account = row.actor.partition(":")
        if row.person is not None:  # an admin who is also on the list is that person
            who = row.person
        elif row.is_office:
            who = catalog.plain("report_sheet.audit.office")
        elif account == ERASED:  # `hoinghi purge` erased the account, not who used it
            channel = _label(catalog, f"report_sheet.audit_value.channel_{kind}", kind)
            who = catalog.plain("report_sheet.audit.actor_erased", channel=channel)
        elif kind == "dashboard" and account:  # a clerk no longer on the list: the code
            who = account
        else:
            key = f"report_sheet.audit.actor_{kind}"
            who = catalog.plain(key) if catalog.has(key) else row.actor
        body.append(
            [
                local(row.at),
                who.strip(),
                action_label(catalog, row.action),
                _label(catalog, f"report_sheet.audit_entity.{row.entity}", row.entity),
                row.entity_id,
                _change(catalog, config, row, row.before),
                _change(catalog, config, row, row.after),
                row.subject,
                row.actor,
            ]
        )
    return headings, body


# --- sheets -------------------------------------------------------------------------------------


def _answer(catalog: Catalog, row: DelegateRow) -> str:
    """The answer column: the answer, or that the invitation was withdrawn (and why)."""
    if not row.withdrawn:
        return answer_label(catalog, row.status, row.days)  # «Tham dự ngày 29/5»
    if row.withdrawn_reason:
        return catalog.plain("withdrawn.label_reason", reason=row.withdrawn_reason)
    return catalog.plain("withdrawn.label")


def _delegates(catalog: Catalog, config: Config, report: OfficeReport, local: Any) -> Sheet:
    labels = {group.key: group.label for group in config.groups}
    yes = catalog.plain("report_sheet.yes")
    cannot = catalog.plain("report_sheet.cannot")
    not_linked = catalog.plain("report_sheet.not_linked")
    rows: list[list[Cell]] = []
    for number, row in enumerate(report.delegates, start=1):
        reachable = row.reachable
        rows.append(
            [
                number,
                row.code,
                row.full_name,
                row.position,
                row.organization,
                labels.get(row.group_key, row.group_key),
                _answer(catalog, row),
                row.reason,
                row.substitute_name,
                row.substitute_position,
                row.substitute_unit,
                display_phone(row.substitute_phone) if row.substitute_phone else None,
                local(row.answered_at),
                _reach(catalog, row) if row.linked else not_linked,
                None if reachable is None else (yes if reachable else cannot),
                _idle(catalog, row, report.token_envs)
                if row.only_idle
                else _unreachable(catalog, row.unreachable_reason),
            ]
        )
    names = (
        "number",
        "code",
        "name",
        "position",
        "organization",
        "group",
        "answer",
        "reason",
        "substitute",
        "substitute_position",
        "substitute_unit",
        "substitute_phone",
        "answered_at",
        "linked",
        "reachable",
        "reach_note",
    )  # fmt: skip  ("linked" names the channels that reach each person)
    return Sheet(
        catalog.plain("report_sheet.delegates.title"),
        _headings(catalog, "delegates", names),
        rows,
        # Sixteen columns since the substitute's unit and phone have theirs (migration 0026):
        # the long texts wrap narrower, so a row still prints on one page wide.
        wrap=frozenset({3, 4, 5, 7, 8, 9, 10, 13, 15}),
        wrap_width=18,
    )


def _reach(catalog: Catalog, row: DelegateRow) -> str:
    """The chat channels a linked person is reached on, then those they blocked, then those
    this installation does not run, by name."""
    name = channel_label
    blocked = [
        catalog.plain("report_sheet.blocked_channel", channel=name(catalog, c)) for c in row.blocked
    ]
    idle = [catalog.plain("report_sheet.idle_channel", channel=name(catalog, c)) for c in row.idle]
    return ", ".join([name(catalog, channel) for channel in row.channels] + blocked + idle)


def _idle(catalog: Catalog, row: DelegateRow, token_envs: Mapping[str, str]) -> str:
    """Why someone linked only on chats that do not run here is not written to: phone her."""
    return not_running(catalog, "report_sheet.unreachable", row.idle, token_envs)


def _groups(catalog: Catalog, report: OfficeReport) -> Sheet:
    counts = report.counts

    def cells(label: str, tally: Tally) -> list[Cell]:
        by = tally.by_status
        return [
            label,
            tally.total,
            by[RsvpStatus.ATTENDING],
            by[RsvpStatus.SUBSTITUTE],
            by[RsvpStatus.DECLINED],
            by[RsvpStatus.NO_ANSWER],
            tally.present,
            tally.linked,
        ]

    rows: list[list[Cell]] = [
        [number, *cells(group.label, group.tally)]
        for number, group in enumerate(counts.groups, start=1)
    ]
    footer: list[list[Cell]] = [
        [None, *cells(catalog.plain("report_sheet.groups.total_row"), counts.overall)],
        [None, catalog.plain("report_sheet.groups.capacity"), counts.capacity],
        [None, catalog.plain("report_sheet.groups.free"), counts.capacity - counts.overall.present],
    ]
    names = (
        "number", "group", "total", "attending", "substitute", "declined", "no_answer",
        "present", "linked",
    )  # fmt: skip
    return Sheet(
        catalog.plain("report_sheet.groups.title"),
        _headings(catalog, "groups", names),
        rows,
        wrap=frozenset({1}),
        footer=footer,
    )


def _drafts(catalog: Catalog, report: OfficeReport, local: Any) -> Sheet:
    rows: list[list[Cell]] = []
    for line in report.drafts:
        latest, comment = line.latest, line.last_comment
        rows.append(
            [
                line.theme_key,
                line.theme_title,
                line.code,
                line.full_name,
                line.organization,
                # As «Tham luận» and /thamluan mark her: how the office gets word to her.
                catalog.plain("dash.drafts.invitation_withdrawn")
                if line.invitation_withdrawn
                else contact_word(catalog, line.contact),
                local(line.deadline_at),
                catalog.plain("report_sheet.drafts.withdrawn")
                if line.withdrawn
                else draft_status_label(catalog, line.status),
                line.versions,
                local(latest.created_at) if latest else None,
                latest.size if latest else None,
                latest.display_name if latest else None,
                comment.body if comment else None,
            ]
        )
    names = (
        "theme", "theme_title", "code", "name", "organization", "contact", "deadline", "status",
        "versions", "received", "size", "file", "last_comment",
    )  # fmt: skip
    return Sheet(
        catalog.plain("report_sheet.drafts.title"),
        _headings(catalog, "drafts", names),
        rows,
        wrap=frozenset({1, 4, 5, 11, 12}),
    )


def _task_note(catalog: Catalog, person: AssignmentLine | None) -> str | None:
    """A person's note on a task; for a report the office recorded on her behalf, that it did,
    how the report came (the note) and who recorded it, as the task's page says."""
    if person is None or person.recorded_by is None:
        return person.note if person else None
    if person.note:
        return catalog.plain(
            "report_sheet.tasks.recorded_note", note=person.note, by=person.recorded_by
        )
    return catalog.plain("report_sheet.tasks.recorded", by=person.recorded_by)


def _tasks(catalog: Catalog, report: OfficeReport, local: Any) -> Sheet:
    rows: list[list[Cell]] = []
    for task in report.tasks:
        if task.closed:
            state = catalog.plain("task_state.closed")
        elif task.done:
            state = catalog.plain("task_state.done")
        elif task.overdue:
            state = catalog.plain("task_state.overdue")
        else:
            state = catalog.plain("task_state.open")
        people: list[AssignmentLine | None] = list(task.assignments) or [None]
        for person in people:
            rows.append(
                [
                    task.key,
                    task.title,
                    task.owner,
                    local(task.deadline_at),
                    state,
                    person.full_name if person else None,
                    person.organization if person else None,
                    # As «Nhiệm vụ» and /nhiemvu mark her: how the office gets word to her.
                    contact_word(catalog, person.contact) if person else None,
                    catalog.plain(f"task_status.{person.status.value}") if person else None,
                    _task_note(catalog, person),
                    local(person.updated_at) if person else None,
                ]
            )
    names = (
        "key", "title_column", "owner", "deadline", "state", "person", "organization", "contact",
        "status", "note", "updated_at",
    )  # fmt: skip
    return Sheet(
        catalog.plain("report_sheet.tasks.title"),
        _headings(catalog, "tasks", names),
        rows,
        wrap=frozenset({1, 2, 6, 7, 9}),
    )


def _messages(catalog: Catalog, config: Config, report: OfficeReport, local: Any) -> Sheet:
    rows: list[list[Cell]] = []
    for message in report.messages:
        rows.append(
            [
                # A notice's number, as the office calls it; the other kinds are not numbered.
                message.number,
                catalog.plain(f"kind.{message.kind.value}", number=message.number),
                audience_label(catalog, config, message.audience),
                local(message.due_at),
                _message_status(catalog, message),
                local(message.finished_at),
                sum(message.counts.values()),
                *(message.counts[status] for status in _DELIVERY_COLUMNS),
                message.counts[DeliveryStatus.PENDING] + message.counts[DeliveryStatus.SENDING],
            ]
        )
    names = (
        "id", "kind", "audience", "due_at", "status", "finished_at", "total", "sent", "blocked",
        "failed", "not_linked", "skipped", "waiting",
    )  # fmt: skip
    return Sheet(
        catalog.plain("report_sheet.messages.title"),
        _headings(catalog, "messages", names),
        rows,
        wrap=frozenset({2}),
    )


def _ran_out(catalog: Catalog, report: OfficeReport, local: Any) -> Sheet:
    """Everyone whose copy of a notice or a reminder never went because its window closed
    first (the bot was stopped past it), for the office to phone: the whole list the chat's
    report and the dashboard name the first few of."""
    rows: list[list[Cell]] = [
        [
            row.message.number,
            catalog.plain(f"kind.{row.message.kind.value}", number=row.message.number),
            local(row.message.due_at),
            row.code,
            row.full_name,
            row.position,
            row.organization,
        ]
        for row in report.ran_out
    ]
    names = ("number", "kind", "due_at", "code", "name", "position", "organization")
    return Sheet(
        catalog.plain("report_sheet.ran_out.title"), _headings(catalog, "ran_out", names), rows
    )


# --- helpers ------------------------------------------------------------------------------------


def _message_status(catalog: Catalog, message: MessageRow) -> str:
    """Where a message stands; a skipped one says why it was not sent."""
    if message.skip_reason is not None:
        return catalog.plain(f"report_sheet.message_skipped.{message.skip_reason.value}")
    return catalog.plain(f"report_sheet.message_status.{message.status.value}")


def _headings(catalog: Catalog, sheet: str, names: tuple[str, ...]) -> list[str]:
    return [catalog.plain(f"report_sheet.{sheet}.{name}") for name in names]


def _local(config: Config) -> Any:
    def local(instant: datetime | None) -> datetime | None:
        return config.meeting.local(instant) if instant is not None else None

    return local


def _label(catalog: Catalog, key: str, fallback: str) -> str:
    return catalog.plain(key) if catalog.has(key) else fallback


def _unreachable(catalog: Catalog, reason: str | None) -> str | None:
    """Why the bot cannot write to someone, in words (Telegram's own text kept as detail)."""
    if reason is None:
        return None
    lowered = reason.lower()
    if "blocked" in lowered or "kicked" in lowered:
        return catalog.plain("report_sheet.unreachable.blocked")
    if "deactivated" in lowered:
        return catalog.plain("report_sheet.unreachable.deleted")
    return catalog.plain("report_sheet.unreachable.other", detail=reason)


# Which catalog section names the values of an audited "status", by the action's prefix.
_STATUS_SECTIONS = {"rsvp": "status", "draft": "draft_status", "task": "task_status"}
CHANGE_SEPARATOR = "; "
# Keys whose few values the catalog words (report_sheet.audit_value.<key>_<value>).
_WORDED_KEYS = frozenset({"role", "via", "channel", "source", "kind"})
# Keys holding a phone number: the log and its download show them masked, every one alike.
_PHONE_KEYS = frozenset({"phone", "substitute_phone"})


def _change(
    catalog: Catalog, config: Config, row: AuditRow, value: dict[str, Any] | None
) -> str | None:
    """One side of an audited change as the office reads it: "Trạng thái: Tham dự; Lý do: …"
    (labels from the catalog, values in words, times in the meeting's zone; empty fields left
    out)."""
    if value is None:
        return None
    parts = [
        catalog.plain(
            "report_sheet.audit.change",
            field=_label(catalog, f"report_sheet.audit_field.{_field(row.action, key)}", key),
            value=_audited_value(catalog, config, row.action, row.names, key, item),
        )
        for key, item in value.items()
        if item is not None and item != ""
    ]
    return CHANGE_SEPARATOR.join(parts) or None


def change_lines(
    catalog: Catalog,
    config: Config,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    names: dict[int, str],
) -> list[str]:
    """An audited change as the office reads it, a line a field: "Trạng thái: Chưa trả lời →
    Tham dự" (labels and values in words as in the report's sheet; a field on one side only
    says what it was or became). A guest not on the list is named as one («Khách ngoài danh
    sách: …», not «Người: (trống)»); a file's digest is left to the downloaded log."""
    before, after = before or {}, after or {}
    empty = catalog.plain("dash.log.empty")
    lines = []
    hidden = set(_OFF_PAGE)
    guest = _unlisted_guest(action, after or before)
    if guest is not None:
        lines.append(catalog.plain("dash.log.guest", name=guest))
        hidden |= {"kind", "person_id", "name"}
    for key in [*before, *(key for key in after if key not in before)]:
        if key in hidden:
            continue
        old, new = before.get(key), after.get(key)
        if old == new and key in before and key in after:
            continue
        label = _label(catalog, f"report_sheet.audit_field.{_field(action, key)}", key)

        def worded(item: Any, key: str = key) -> str:
            if item is None or item == "":
                return empty
            return _audited_value(catalog, config, action, names, key, item)

        if key not in after:
            lines.append(catalog.plain("dash.log.was", field=label, value=worded(old)))
        elif key not in before:
            lines.append(catalog.plain("report_sheet.audit.change", field=label, value=worded(new)))
        else:
            lines.append(
                catalog.plain("dash.log.changed", field=label, old=worded(old), new=worded(new))
            )
    return lines


# Audited fields the log's page leaves to its download: a file's SHA-256 digest means nothing
# to an office reading the page, and an auditor comparing files reads it in the export.
# An account's id on its platform (a number for the personal page, 20 hex digits on Zalo)
# means nothing to the office either: the channel says where; the download keeps the id.
_OFF_PAGE = frozenset({"sha256", "external_id"})


def _unlisted_guest(action: str, side: dict[str, Any]) -> str | None:
    """The name of the guest a check-in recorded (or undid), when she is on no list."""
    if not action.startswith("checkin.") or side.get("kind") != "guest":
        return None
    if side.get("person_id") is not None:
        return None  # let in from her withdrawn invitation: «Người» names her
    return str(side.get("name") or "")


def _field(action: str, key: str) -> str:
    """The catalog name of an audited field, where one field means something else in another
    kind of change: "via" is how an account was linked, but how an answer was taken (by phone)
    and where a sign-in link was asked for (the command line, a chat)."""
    kind = action.partition(".")[0]
    if key == "via" and kind in ("rsvp", "staff"):
        return f"via_{kind}"
    return key


def _audited_value(
    catalog: Catalog, config: Config, action: str, names: dict[int, str], key: str, item: Any
) -> str:
    """One audited value in words."""
    if key == "audience" and isinstance(item, str):
        return audience_label(catalog, config, item)
    if key == "file" and action == "invitation.printed":  # which file took the links away
        return _label(catalog, f"report_sheet.audit_value.printed_{item}", str(item))
    if key == "via" and _field(action, key) != key:
        return _label(catalog, f"report_sheet.audit_value.{_field(action, key)}_{item}", str(item))
    if isinstance(item, bool):
        return catalog.plain(f"report_sheet.audit_value.{str(item).lower()}")
    if key == "status":
        section = _STATUS_SECTIONS.get(action.partition(".")[0])
        return _label(catalog, f"{section}.{item}", str(item)) if section else str(item)
    if key == "answer":
        return _label(catalog, f"status.{item}", str(item))
    if key == "days" and action == "rsvp.changed" and isinstance(item, str):
        with contextlib.suppress(ValueError):  # «2024-05-29» as «29/5»
            return day_list(catalog, read_days(item) or ())
    if key in _PHONE_KEYS and isinstance(item, str) and "*" not in item:
        # A substitute's number is kept whole in her answer's entry (as on the answer's row),
        # a delegate's own is masked when written: both read masked alike («+84*******678»).
        return mask_phone(item)
    if key == "group_key":
        group = config.group(str(item))
        return group.label if group is not None else str(item)
    if key == "person_id" and isinstance(item, int):
        return names.get(item, str(item))
    if key == "size" and isinstance(item, int):
        return file_size(catalog, item)
    if key == "reason" and action.startswith("identity."):
        return _unreachable(catalog, str(item)) or str(item)  # the platform's English words
    if key.endswith("_at") and isinstance(item, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(item)
            if moment.tzinfo is not None:
                return config.meeting.local(moment).strftime(LOCAL_MOMENT)
    if isinstance(item, list):  # the numbers of the sessions and links a sign-out ended
        return ", ".join(str(part) for part in item)
    if key in _WORDED_KEYS:
        return _label(catalog, f"report_sheet.audit_value.{key}_{item}", str(item))
    return str(item)


def office_report_workbook(catalog: Catalog, config: Config, report: OfficeReport) -> bytes:
    """The office's report as .xlsx bytes (what ``hoinghi report`` writes, ``/baocao`` sends)."""
    return workbook_bytes(office_report_sheets(catalog, config, report))
