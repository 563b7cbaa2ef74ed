"""Preparation tasks: what an assignee can report, and how a task stands overall."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

MAX_TASK_NOTE = 500


class TaskStatus(StrEnum):
    """An assignee's report on a task."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    NEED_HELP = "need_help"
    DONE = "done"


def is_overdue(deadline: datetime, now: datetime, *, done: bool, closed: bool) -> bool:
    """Past its deadline and neither done nor closed by the office."""
    return now > deadline and not done and not closed
