"""Preparation tasks: what an assignee can report, and how a task stands overall."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.domain.contact import Contact, Reached
from bot.domain.ids import parse_id

MAX_TASK_NOTE = 500
# Files one person may send for one task: with files of 20 MB at most, a bound on the disk one
# personal link can fill (400 MB), and on the notes the office gets.
MAX_TASK_FILES = 20

TASK_ACTION_PREFIX = "task:"


class TaskAction(StrEnum):
    """A task button."""

    DONE = "done"
    PROGRESS = "progress"
    HELP = "help"
    FILE = "file"
    CLOSE = "close"
    GET_FILE = "getfile"
    CANCEL = "cancel"  # stop being asked for a note, a description or a file


def task_action(action: TaskAction, target_id: int) -> str:
    """Button data for a task action (the id of a task, or of evidence for GET_FILE)."""
    return f"{TASK_ACTION_PREFIX}{action.value}:{target_id}"


def parse_task_action(data: str | None) -> tuple[TaskAction, int] | None:
    """The action and id a button names, or None for anything the bot did not send."""
    if not data or not data.startswith(TASK_ACTION_PREFIX):
        return None
    action, _, target = data.removeprefix(TASK_ACTION_PREFIX).partition(":")
    number = parse_id(target)
    try:
        return (TaskAction(action), number) if number is not None else None
    except ValueError:
        return None


class TaskStatus(StrEnum):
    """An assignee's report on a task."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    NEED_HELP = "need_help"
    DONE = "done"


def is_overdue(deadline: datetime, now: datetime, *, done: bool, closed: bool) -> bool:
    """Past its deadline and neither done nor closed by the office."""
    return now > deadline and not done and not closed


@dataclass(frozen=True)
class EvidenceLine:
    """A deliverable as the board lists it."""

    id: int
    kind: str
    name: str
    url: str | None
    by: str
    stored: bool = False  # a file this server keeps (uploaded on a personal page)
    by_code: str = ""  # the sender's code: a contact is shown her own deliverables only
    # Attached by the office to its record of her report (:meth:`TaskService.record_for`), not
    # sent by her: listed as the office's (and «Hủy ghi nhận» takes it off the task).
    by_office: bool = False


@dataclass(frozen=True)
class AssignmentLine(Reached):
    """One assignee's standing on a task."""

    code: str
    full_name: str
    organization: str
    status: TaskStatus
    note: str | None
    updated_at: datetime | None
    # How the office gets word to her (roster.contact): a chat that runs here and has not
    # blocked the bot (her reminders reach her), else her invitation to send first, else a call.
    contact: Contact
    # The office staff member who recorded the report on her behalf (given by phone, on
    # paper...; ``note`` then says how), or None for her own report or none.
    recorded_by: str | None = None


@dataclass(frozen=True)
class TaskHead:
    """A task as a short list names it: the overview's overdue tasks."""

    id: int
    key: str
    title: str
    owner: str
    deadline_at: datetime


@dataclass(frozen=True)
class TaskLine:
    """A task on a board."""

    id: int
    key: str
    title: str
    description: str
    owner: str
    deliverable: str | None
    deadline_at: datetime
    overdue: bool
    closed: bool
    assignments: list[AssignmentLine]
    evidence: list[EvidenceLine] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Every assignee reported it done."""
        return bool(self.assignments) and all(a.status is TaskStatus.DONE for a in self.assignments)

    @property
    def can_close(self) -> bool:
        """The office may still close it: neither closed nor done."""
        return not self.closed and not self.done

    @property
    def files(self) -> list[EvidenceLine]:
        """Deliverables kept as files (links open by themselves)."""
        return [e for e in self.evidence if e.kind == "file"]

    @property
    def last_update(self) -> datetime | None:
        """The latest report of any assignee."""
        times = [a.updated_at for a in self.assignments if a.updated_at is not None]
        return max(times) if times else None
