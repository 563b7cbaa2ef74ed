"""Outbound messages as the core sees them: channel-neutral parts, recipients and results.

The core composes a message as parts (rich text in the catalog's small HTML subset, a venue,
a file, buttons); a channel adapter renders and sends each part and answers with a
:class:`SendResult`. Nothing here knows Telegram.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any


class MessageKind(StrEnum):
    """What an outbound message is for; each kind has its own skip window."""

    RSVP_REMINDER = "rsvp_reminder"
    DAY_BEFORE = "day_before"
    MORNING_AGENDA = "morning_agenda"
    BROADCAST = "broadcast"
    OFFICE_NOTE = "office_note"
    TASK_REMINDER = "task_reminder"
    TASK_OVERDUE = "task_overdue"
    DRAFT_ASSIGNED = "draft_assigned"  # a speaker learns their theme and deadline
    DRAFT_REMINDER = "draft_reminder"  # speakers who have sent nothing yet
    DRAFT_MISSING = "draft_missing"  # the office's list of missing drafts at the deadline
    DRAFT_VERSION = "draft_version"  # a new version, posted to the office chat
    DRAFT_COMMENT = "draft_comment"  # the office's comment, relayed to the speaker
    DRAFT_REPLY = "draft_reply"  # the speaker's answer, relayed to the office chat
    DRAFT_VERDICT = "draft_verdict"  # final or needs revision, told to the speaker
    ECHO = "echo"  # a step a person took on their personal page, confirmed in their chat
    # The person is told the office withdrew her invitation (only when the office chose to):
    # the one message the outbox still sends to a withdrawn invitation.
    INVITATION_WITHDRAWN = "invitation_withdrawn"
    # The invitation itself, with its choices, to a person whose chat account was kept from an
    # earlier meeting (carried at the list's import): she opens no link, so nothing else would
    # tell her of this one, and the office counts her as reached.
    INVITATION = "invitation"


# What goes to a person as an invitee: none of it reaches an invitation the office withdrew
# (what is about a speech or a task she still holds goes on until the office reassigns it).
INVITEE_KINDS = frozenset(
    {
        MessageKind.RSVP_REMINDER,
        MessageKind.DAY_BEFORE,
        MessageKind.MORNING_AGENDA,
        MessageKind.BROADCAST,
        MessageKind.INVITATION,
    }
)
# What the outbox holds back from an invitation the office withdrew: what goes to her as an
# invitee, and the reminders that ask her for a speech draft, which is no longer taken from her
# then (what is about the work she keeps, a comment or a verdict, still goes).
WITHDRAWN_HOLDS_BACK = INVITEE_KINDS | {MessageKind.DRAFT_REMINDER}


class MessageStatus(StrEnum):
    """Where an outbound message is in its life."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    DONE = "done"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class SkipReason(StrEnum):
    """Why a message went to nobody (kept in its params as ``skip_reason``)."""

    WINDOW_CLOSED = "window_closed"  # its time passed while the bot was not running
    NO_RECIPIENTS = "no_recipients"  # nobody was in its audience (all reported the task done)
    NOTHING_TO_SEND = "nothing_to_send"  # its content was empty (nothing overdue that morning)
    # A later reminder of the same series fell due with it (the bot was not running at its
    # time): the later one went instead, once.
    OVERTAKEN = "overtaken"
    # The office withdrew the recipient's invitation after the message was queued for her: a
    # delivery skipped so keeps this as its error; a message all of whose recipients were.
    WITHDRAWN = "withdrawn"
    # Queued in time, but its window closed before any copy went (the bot stopped while sending
    # it and ran again too late): every copy still to go ran out (each keeps :data:`RAN_OUT`).
    EXPIRED = "expired"


# The error a copy keeps when its message's window closed before it went.
RAN_OUT = "window closed"
# The error a send keeps when something on the office's network (a proxy, a firewall) refused
# it with a page of its own (an HTML 403 or 407, not the platform's answer): nothing went, and
# it is not the person blocking the bot; the report asks the office to look at its network.
PROXY_REFUSED = "refused by a proxy on the way (not the platform's answer)"

# ``created_by`` of the plan's automatic messages (schedules.planner).
BY_THE_PLAN = "plan"
# The params key (an ISO time) of a plan's message that fell due for people before any list was
# imported: the outbox left it waiting since then, and sends it once there is a list.
WAITED_FOR_LIST = "waited_for_list"


def waits_for_a_list(created_by: str | None, audience: str) -> bool:
    """Whether a message is one of the plan's to people: before any list it waits for one
    (the office's own notices, and what goes to the office, go as they always did)."""
    return created_by == BY_THE_PLAN and audience.partition(":")[0] != Audience.OFFICE


def skip_reason(params: Mapping[str, Any] | None) -> SkipReason:
    """Why a skipped message was not sent; a skip recorded before reasons were kept was the
    only kind there was then, a closed window."""
    return SkipReason((params or {}).get("skip_reason", SkipReason.WINDOW_CLOSED))


class DeliveryStatus(StrEnum):
    """Where one recipient's copy is."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    NOT_LINKED = "not_linked"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        """Nothing more will happen to this delivery (unless the office resends)."""
        return self not in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


class Audience(StrEnum):
    """Who a message goes to; ``GROUP`` is followed by ``:<group key>``, ``OFFICE`` may be
    followed by what the report is about."""

    LINKED = "linked"
    # Every invitee: those no chat reaches are counted as not linked, for the office to phone.
    EVERYONE = "everyone"
    ATTENDING = "attending"
    PRESENT = "present"  # attending delegates and those who send a substitute
    NO_ANSWER = "no_answer"
    DECLINED = "declined"
    # On the meeting day and after: invitees checked in at the desk (in person or by the
    # substitute they sent), and those who were not — the thank-you, the materials.
    CAME = "came"
    ABSENT = "absent"
    # On the meeting day: those expected (who answered they come or send a substitute) and not
    # checked in yet — the «Có mặt» page's «Chưa đến» (a room changed, a late start).
    AWAITED = "awaited"
    GROUP = "group"
    OFFICE = "office"
    TASK = "task"  # followed by ":<task key>": assignees who have not reported it done
    PERSON = "person"  # followed by ":<delegate id>": one person
    # Followed by ":<deadline as a UNIX time>": speakers due then with no draft sent yet.
    DRAFT_MISSING = "draft_missing"


# The audiences a notice may be sent to, as the chat and the dashboard offer them (the plan's
# groups follow), every invitee first.
NOTICE_AUDIENCES = (
    Audience.EVERYONE,
    Audience.LINKED,
    Audience.PRESENT,
    Audience.NO_ANSWER,
    Audience.DECLINED,
    Audience.CAME,
    Audience.ABSENT,
    Audience.AWAITED,  # last: the numbers the chat's menu gave the others are kept
)
# Who came and who did not: before the meeting's first day nobody is checked in, so «có mặt»
# would be nobody and «vắng mặt» every invitee. They are offered from that day on.
DAY_AUDIENCES = frozenset({Audience.CAME, Audience.ABSENT, Audience.AWAITED})


# The audiences that count one who sends a substitute through the substitute she named: a
# notice to them is hers to pass on (:func:`passed_on_to`).
_THROUGH_THE_NAMED = frozenset({Audience.AWAITED, Audience.PRESENT})


def passed_on_to(
    audience: str, *, sent_substitute: bool, substitute_name: str | None, stood_in_by: str | None
) -> str | None:
    """The substitute a notice is for, when its recipient is counted present through her (to
    those checked in: the one checked in, ``stood_in_by``) or expected through her (to those
    awaited on the meeting day, or to those who come before it: the one she named, when she
    answered she sends one — she is the one in the hall, with no account of her own); None
    when the notice is for the recipient herself. The chat's copy and the personal page both
    open such a notice with «Kính chuyển đồng chí …» by this rule; the preview counts them by
    its SQL reading (:func:`bot.services.roster.passed_on`)."""
    if audience == Audience.CAME:
        return stood_in_by
    if audience in _THROUGH_THE_NAMED and sent_substitute:
        return substitute_name
    return None


def notice_audiences(day_begun: bool) -> tuple[Audience, ...]:
    """The audiences a notice is offered to now: those of :data:`DAY_AUDIENCES` only once the
    meeting's first day has begun (:meth:`bot.config.Meeting.day_begun`)."""
    return tuple(a for a in NOTICE_AUDIENCES if day_begun or a not in DAY_AUDIENCES)


# Where office notes and reports go when no one chat is named: the office's group chats where
# it has them, else each staff member privately (bot.services.audiences).
OFFICE_PLACE = "office"
# A broadcast the office scheduled is still worth sending this long after its time.
BROADCAST_WINDOW = timedelta(hours=12)
# Sent later than this after its due time, a message is logged and reported as late.
LATE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class TextPart:
    """Rich text in the catalog's HTML subset (b, i, a, code), already escaped, with the
    choices it offers. ``ask_phone``: True offers a way to share one's own phone number where
    the channel has one, False withdraws it once it is no longer needed, None leaves it be."""

    html: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    ask_phone: bool | None = None


# Where choices are typed as numbers, menus that reach a person within this time of each other
# arrived together: a number both have is asked back, not taken as the newest's (the RSVP
# chase and the speech reminder of the example plan fall due in the same minute).
MENUS_TOGETHER = timedelta(minutes=10)


@dataclass(frozen=True)
class Button:
    """An inline button: a label and the action data it carries back."""

    label: str
    data: str


@dataclass(frozen=True)
class VenuePart:
    """A place on the map."""

    latitude: float
    longitude: float
    title: str
    address: str


@dataclass(frozen=True)
class FilePart:
    """A file to attach; ``download_url`` is where a channel that carries no files sends the
    person instead (their personal web page), when there is one."""

    filename: str
    content: bytes
    mime_type: str
    caption_html: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    download_url: str | None = None


@dataclass(frozen=True)
class SharedFilePart:
    """A file the platform already holds (a user's upload), sent again by its reference:
    no download, no re-upload. Only the channel it came from can send it."""

    channel: str
    file_ref: str
    caption_html: str = ""
    buttons: tuple[tuple[Button, ...], ...] = ()
    download_url: str | None = None


Part = TextPart | VenuePart | FilePart | SharedFilePart


@dataclass(frozen=True)
class Outbound:
    """A whole message for one recipient, in the order its parts are sent."""

    parts: tuple[Part, ...]

    @classmethod
    def text(cls, html: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> Outbound:
        """One text part."""
        return cls((TextPart(html, buttons),))

    @property
    def buttons(self) -> tuple[tuple[Button, ...], ...]:
        """The choices the message offers (those of its last part that has any)."""
        for part in reversed(self.parts):
            if not isinstance(part, VenuePart) and part.buttons:
                return part.buttons
        return ()


@dataclass(frozen=True)
class Toast:
    """The short note a channel shows right where a choice was tapped (Telegram's toast);
    ``alert`` when it must be acknowledged. A channel without taps sends it as a message when
    nothing else answers."""

    text: str
    alert: bool = False


@dataclass(frozen=True)
class Reply:
    """One message of an answer: where it goes and what it says.

    ``to`` is a chat address on the channel the event came from, None for the chat it came
    from; ``private`` sends it to the person's own chat instead (a file the office should not
    post in a group). ``if_unreachable`` is what to say in the event's chat when ``private``
    fails because the person never opened a private chat with the bot.
    """

    outbound: Outbound
    to: str | None = None
    private: bool = False
    if_unreachable: Outbound | None = None


@dataclass(frozen=True)
class Answer:
    """What the core answers to one inbound event: an optional toast, then messages."""

    replies: tuple[Reply, ...] = ()
    toast: Toast | None = None

    @classmethod
    def say(cls, html: str, buttons: tuple[tuple[Button, ...], ...] = ()) -> Answer:
        """One text message back to where the event came from."""
        return cls((Reply(Outbound.text(html, buttons)),))

    @classmethod
    def of(cls, *outbounds: Outbound, toast: Toast | None = None) -> Answer:
        """Messages back to where the event came from, in order."""
        return cls(tuple(Reply(outbound) for outbound in outbounds), toast)

    def then(self, other: Answer) -> Answer:
        """This answer followed by ``other`` (the first toast wins)."""
        return Answer(self.replies + other.replies, self.toast or other.toast)

    def privately(self) -> Answer:
        """The same messages, each to the sender's own chat (a choice tapped under a message
        in a group is answered to the person, not to the group)."""
        return Answer(
            tuple(Reply(r.outbound, private=True, if_unreachable=r.if_unreachable)
                  for r in self.replies),
            self.toast,
        )  # fmt: skip

    @property
    def is_silent(self) -> bool:
        """Nothing to say at all (an update the bot ignores)."""
        return not self.replies and self.toast is None


SILENCE = Answer()


class SendOutcome(StrEnum):
    """How one send went, as far as the outbox needs to know."""

    SENT = "sent"
    RATE_LIMITED = "rate_limited"  # retry after ``retry_after``; pause everything
    TRANSIENT = "transient"  # not sent (a server's refusal, no connection): retry with backoff
    # The request went out and its answer was lost (a timeout, a proxy's error page): it may
    # have been delivered; retried once more at most, since every try may be a copy read.
    MAYBE_SENT = "maybe_sent"
    BLOCKED = "blocked"  # the person blocked the bot or is gone: never retry
    FAILED = "failed"  # the platform refused this message: do not retry


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send, with what the outbox records."""

    outcome: SendOutcome
    platform_message_id: str | None = None
    retry_after: float | None = None
    error: str | None = None


def encode_buttons(rows: tuple[tuple[Button, ...], ...]) -> list[list[list[str]]]:
    """Buttons as JSON-friendly lists, to store with a message."""
    return [[[button.label, button.data] for button in row] for row in rows]


def decode_buttons(rows: object) -> tuple[tuple[Button, ...], ...]:
    """Buttons stored by :func:`encode_buttons`."""
    if not isinstance(rows, list):
        return ()
    return tuple(tuple(Button(str(label), str(data)) for label, data in row) for row in rows)


def audience_deadline(audience: str) -> datetime | None:
    """The deadline a ``draft_missing:<time>`` or ``office:<time>`` audience names."""
    _, _, stamp = audience.partition(":")
    return datetime.fromtimestamp(int(stamp), tz=UTC) if stamp.isdigit() else None
