"""Speech drafts (tham luận): assignments to themes, versions, the office's comments and verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.contact import Contact, Reached
from bot.domain.ids import parse_id
from bot.domain.rsvp import RsvpStatus

DRAFT_ACTION_PREFIX = "dr:"
# A typed draft may run over many messages; beyond this it belongs in a file.
MAX_TEXT_DRAFT = 60_000
# Versions one speaker may send for one theme: far past any real revision, and with files of
# 20 MB at most, a bound on the disk one personal link can fill (400 MB).
MAX_VERSIONS = 20
# One comment or reply is one Telegram message with a header, so it stays under 4096.
MAX_COMMENT = 3_000
# The source of an assignment whose deadline the office gave itself: a re-sync of the plan
# leaves that deadline alone (the plan's own deadline moves the others).
OWN_DEADLINE = "deadline"


class DraftStatus(StrEnum):
    """Where a speaker's draft stands."""

    WAITING = "waiting"  # nothing sent yet
    SUBMITTED = "submitted"  # a version waits for the office
    REVISION = "revision"  # the office asked for changes
    FINAL = "final"  # the office approved it (đã chốt)


class DraftAction(StrEnum):
    """A draft button. Speakers: compose a text, finish it, cancel, reply, pick a theme for a
    file (the target is an assignment). Office: approve, ask for revision, open the file, and
    (where the channel has no reply threads) comment (the target is a version)."""

    COMPOSE = "compose"
    FINISH = "finish"
    CANCEL = "cancel"  # drop a draft being typed
    REPLY = "reply"
    STOP_REPLY = "noreply"  # not answering the office after all (a typed draft is kept)
    PICK = "pick"
    FINAL = "final"
    REVISE = "revise"
    GET_FILE = "getfile"
    COMMENT = "comment"
    STOP_COMMENT = "nocomment"  # not commenting after all (the target is the version)
    # Where choices are numbers typed, a verdict asks once more, naming the draft: these are
    # the answers to that question (decide, or leave it for now).
    FINAL_SURE = "finalok"
    REVISE_SURE = "reviseok"
    KEEP = "keep"


OFFICE_ACTIONS = frozenset(
    {
        DraftAction.FINAL, DraftAction.REVISE, DraftAction.GET_FILE, DraftAction.COMMENT,
        DraftAction.STOP_COMMENT, DraftAction.FINAL_SURE, DraftAction.REVISE_SURE,
        DraftAction.KEEP,
    }
)  # fmt: skip


@dataclass(frozen=True)
class ParsedAction:
    """What a draft button names: the action, its target, and for PICK the held file."""

    action: DraftAction
    target: int
    token: int | None = None


def draft_action(action: DraftAction, target: int, token: int | None = None) -> str:
    """Button data naming an action on an assignment or a version (``token``: which held
    file a PICK is for)."""
    data = f"{DRAFT_ACTION_PREFIX}{action.value}:{target}"
    return data if token is None else f"{data}:{token}"


def parse_draft_action(data: str | None) -> ParsedAction | None:
    """The action a button names, or None for anything the bot did not send."""
    if not data or not data.startswith(DRAFT_ACTION_PREFIX):
        return None
    action, _, rest = data.removeprefix(DRAFT_ACTION_PREFIX).partition(":")
    target, _, token = rest.partition(":")
    number, held = parse_id(target), parse_id(token) if token else None
    if number is None or (token and held is None):
        return None
    try:
        return ParsedAction(DraftAction(action), number, held)
    except ValueError:
        return None


@dataclass(frozen=True)
class VersionLine:
    """One stored version of a draft."""

    id: int
    number: int
    kind: str  # "file" or "text"
    display_name: str
    size: int
    sha256: str
    created_at: datetime


@dataclass(frozen=True)
class CommentLine:
    """One message of the thread between the office and a speaker."""

    from_office: bool
    author_name: str
    body: str
    created_at: datetime
    version_number: int | None
    file_ref: str | None = None  # a file sent with the comment (an edited draft)
    file_name: str | None = None
    file_channel: str | None = None  # the channel that holds ``file_ref``


@dataclass(frozen=True)
class DraftLine(Reached):
    """An assignment as boards, reminders and the export show it."""

    id: int
    theme_key: str
    theme_title: str
    code: str
    full_name: str
    position: str
    organization: str
    linked: bool
    deadline_at: datetime
    status: DraftStatus
    latest: VersionLine | None
    versions: int
    last_comment: CommentLine | None
    buffered_chunks: int = 0  # pieces of a draft being typed, not yet sent as a version
    buffered_chars: int = 0
    # How the office gets word to the speaker (roster.contact): a chat that takes the bot's
    # messages (a personal page opened is linked, but the bot cannot write to a page), else
    # her invitation to send first, else a call.
    contact: Contact = Contact.PHONE
    # The office withdrew the assignment («Hủy phân công»): no reminder, no new version, out of
    # every count; what was sent is kept and shown apart.
    withdrawn: bool = False
    # The speaker's invitation was withdrawn (she is off the list): no reminder goes to her,
    # and the office's «not sent yet» leaves her out, listing her apart.
    invitation_withdrawn: bool = False
    # The speaker's answer to her invitation where it keeps her from the hall: declined, or a
    # substitute sent (``substitute``: the name of who comes instead); None otherwise.
    away: RsvpStatus | None = None
    substitute: str | None = None

    @property
    def missing(self) -> bool:
        """Nothing sent yet."""
        return self.latest is None

    @property
    def owed(self) -> bool:
        """A speech still to receive: nothing sent yet, and her invitation stands. The one
        rule of every «not sent yet» and its count (reports, overview, /thamluan, the page)."""
        return self.missing and not self.invitation_withdrawn

    @property
    def excused(self) -> bool:
        """Nothing sent and her invitation withdrawn: she owes no speech, out of the count of
        those to receive (listed apart, marked)."""
        return self.missing and self.invitation_withdrawn

    def late(self, now: datetime) -> bool:
        """Past the deadline with the speech still owed."""
        return self.owed and now > self.deadline_at
