"""The value types of the drafts: what the use cases take and what they answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from bot.config import WebSettings
from bot.domain.drafts import DraftLine, VersionLine
from storage.content import RejectCode


class DraftStep(StrEnum):
    """What happened, so the adapter knows what to say."""

    RECEIVED = "received"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    NOT_LINKED = "not_linked"
    NOT_SPEAKER = "not_speaker"
    PICK_THEME = "pick_theme"
    PICK_PENDING = "pick_pending"  # text typed while a file waits for its theme
    GONE = "gone"
    COMPOSING = "composing"
    CHUNK_ADDED = "chunk_added"
    TOO_LONG = "too_long"
    EMPTY = "empty"
    CANCELLED = "cancelled"
    NOTHING_PENDING = "nothing_pending"
    REPEATED = "repeated"  # a redelivered message: already handled
    ASK_REPLY = "ask_reply"
    RELAYED = "relayed"
    NOT_A_DRAFT_POST = "not_a_draft_post"
    VERDICT = "verdict"
    UNCHANGED = "unchanged"
    SUPERSEDED = "superseded"
    NOT_ALLOWED = "not_allowed"  # a reply in the office chat from someone not on the staff list
    COMMENT_TOO_LONG = "comment_too_long"
    COMMENT_EMPTY = "comment_empty"
    DOWNLOAD_FAILED = "download_failed"
    UNSUPPORTED = "unsupported"  # a reply to a draft post that is neither text nor a file
    ASK_COMMENT = "ask_comment"  # the office chose to comment: its next text is the comment
    TOO_MANY_VERSIONS = "too_many_versions"  # MAX_VERSIONS sent: nothing more is stored
    WITHDRAWN = "withdrawn"  # the office withdrew the assignment: no new version is taken
    # The speaker's invitation was withdrawn: her page asks no speech of her, nothing is taken.
    INVITATION_WITHDRAWN = "invitation_withdrawn"


@dataclass(frozen=True)
class DraftResult:
    """The step reached and what the reply needs."""

    step: DraftStep
    draft: DraftLine | None = None
    version: VersionLine | None = None
    reject: RejectCode | None = None
    chunks: int = 0
    chars: int = 0
    choices: tuple[DraftLine, ...] = ()
    newer: int | None = None  # the newer version a stale verdict button was overtaken by
    # The version the office had approved when this one came: the new one reopens the speech.
    reopened: int | None = None


@dataclass(frozen=True)
class HeldUpload:
    """A file a person sent, kept by the channel it came through (``file_ref`` works there
    only): a draft waiting for the speaker to say which theme it is for (``token`` tells the
    held files apart), or a file the office attached to a comment."""

    channel: str
    file_ref: str
    name: str
    size: int | None
    token: int = 0


@dataclass(frozen=True)
class ThreadPost:
    """What an office comment answers: a draft, and the version it is about (if known)."""

    assignment_id: int
    version_id: int | None


@dataclass(frozen=True)
class VersionFile:
    """What the outbox and the office need to send a version again."""

    version: VersionLine
    draft: DraftLine
    channel: str | None
    file_ref: str | None
    path: Path

    def download_at(self, web: WebSettings | None) -> str | None:
        """Where the office downloads this version on its dashboard, for a chat that carries
        no files; None without the web server."""
        if web is None:
            return None
        return web.office_url(f"drafts/{self.draft.id}/versions/{self.version.number}")


class AssignOutcome(StrEnum):
    """How an office assignment command ended."""

    ASSIGNED = "assigned"
    ALREADY = "already"
    REMOVED = "removed"
    NOT_ASSIGNED = "not_assigned"
    ALREADY_REMOVED = "already_removed"  # withdrawn before: a repeated withdrawal changes nothing
    UNKNOWN_PERSON = "unknown_person"
    UNKNOWN_THEME = "unknown_theme"
    WITHDRAWN = "withdrawn"  # the person's invitation was withdrawn: no new speech for them
    DEADLINE_NEEDED = "deadline_needed"  # the plan's deadline has passed: the office gives one
    DEADLINE_PAST = "deadline_past"  # the deadline the office gave has passed already
    # The deadline the office gave is at or after the meeting's start: the drafts are read before.
    DEADLINE_AFTER_START = "deadline_after_start"


@dataclass(frozen=True)
class AssignResult:
    """An assignment change and the line it concerns."""

    outcome: AssignOutcome
    draft: DraftLine | None = None
    # The person named, for a refusal that names them (a withdrawn invitation): name, code.
    person: tuple[str, str] | None = None
    # The deadline a refusal names: the plan's, or the one given, already past.
    deadline: datetime | None = None


@dataclass(frozen=True)
class DraftSync:
    """What syncing the plan's speakers did."""

    created: int
    removed: int
    unknown_speakers: list[str]


@dataclass(frozen=True)
class ExportedDraft:
    """One row of the export index."""

    draft: DraftLine
    file_name: str | None
    # The latest version's file is not in the file store (its folder was not restored with the
    # database, or was removed by hand): nothing was copied for it.
    lost: bool = False


@dataclass(frozen=True)
class ApprovedDraft:
    """A live assignment whose draft the office approved (đã chốt): the version approved (its
    newest: a later version reopens the draft), when and by whom, and where its file lives."""

    draft: DraftLine
    version: VersionLine
    approved_at: datetime | None
    approved_by: str  # the person's name, else the account as audited
    approved_account: str  # as audited: «dashboard:NV01», «telegram:123456», «cli»
    path: Path
