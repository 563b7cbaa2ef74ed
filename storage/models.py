"""Tables: meeting, delegates, identities, invitations, RSVPs, audit, outbox, tasks, drafts.

Every outgoing bulk message will be a row too (the outbox of deliveries addresses a delegate
through a channel identity), so identities carry the chat address and reachability.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from storage.base import Base, Id, UTCDateTime


class Meeting(Base):
    """The meeting a config describes; synced from the config at start."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The plan's end (migration 0031): another meeting's link is «đã kết thúc» only after its
    # last day, not after its first. NULL on a row not synced since (its start stands in).
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The revision of the meeting's calendar event (bot.services.meetings): SEQUENCE, a digest
    # of what the event says, and when that last changed (DTSTAMP).
    calendar_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    calendar_fingerprint: Mapped[str | None] = mapped_column(String(64))
    calendar_revised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def fold_code(code: str) -> str:
    """A person's code as lists and commands are matched: without case or spaces around it
    ("db001" is DB001), and whatever Unicode form it was typed in ("ĐB-Hòa" typed with
    Unikey's «Unicode tổ hợp» or pasted from Word or a PDF is "o" and a combining grave: NFD).
    NFC before casefold(), and after it too: casefold() does not keep every letter composed
    ("ǰ" folds to "j" and a combining caron)."""
    composed = unicodedata.normalize("NFC", code.strip())
    return unicodedata.normalize("NFC", composed.casefold())


def _folded_code_of_row(context: DefaultExecutionContext) -> str:
    """``delegates.folded_code`` of a row inserted as a plain row (an import's new people)."""
    parameters: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return fold_code(parameters["code"])


class Delegate(Base):
    """A person invited to the meeting, as the office's list describes them."""

    __tablename__ = "delegates"
    __table_args__ = (UniqueConstraint("meeting_id", "code"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    full_name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200))
    group_key: Mapped[str] = mapped_column(String(40), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    rank: Mapped[int | None] = mapped_column(Integer)
    # "delegate" (invited, counts against capacity) or "contact" (answers for a task only).
    role: Mapped[str] = mapped_column(String(16), default="delegate", server_default="delegate")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Code, name, unit and position folded as a phone types them (no diacritics, no case), what
    # the dashboard's search looks in: kept by the writes (bot.services.delegates, migration
    # 0019), since neither SQLite nor a bare PostgreSQL can strip Vietnamese diacritics.
    search_text: Mapped[str] = mapped_column(String(640), default="", server_default="")
    # The office withdrew the invitation («Rút giấy mời», bot.services.withdrawals): the person
    # stays on the list, marked, out of every audience and count, until re-invited (both None).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_reason: Mapped[str | None] = mapped_column(String(500))
    # The code as :func:`fold_code` has it, what every lookup of a typed code reads through
    # ix_delegates_meeting_folded_code (storage.queries.delegate_by_code, migration 0022):
    # casefold() is Python's, which neither SQLite's lower() (ASCII only) nor PostgreSQL's
    # matches. Set with the code, on an object as in a plain INSERT (an import's new people);
    # nothing changes a code once written (an import finds the people there by it). Up to
    # three times the code's 32 characters ("ß" is "ss").
    folded_code: Mapped[str] = mapped_column(
        String(96), default=_folded_code_of_row, server_default=""
    )

    rsvp: Mapped[Rsvp] = relationship(back_populates="delegate", lazy="raise", uselist=False)

    @validates("code")
    def _fold_code(self, key: str, code: str) -> str:
        self.folded_code = fold_code(code)
        return code


# A typed code found in one indexed read, whatever it is (0022).
Index("ix_delegates_meeting_folded_code", Delegate.meeting_id, Delegate.folded_code)


class ChannelIdentity(Base):
    """A chat account (on any channel) linked to a person; a person may have one per channel.

    ``pending_input`` remembers what the bot asked this account for (a decline reason, a
    substitute's name), so a conversation survives a restart. ``last_seen_at`` (the last event
    from it) decides which of a person's accounts messages go to. ``menu`` is the last set of
    choices sent to an account of a channel without buttons, for the number typed next, with
    those sent shortly before it (``storage.queries.remember_menu``).
    ``recent_events`` holds the channel's ids of the last events whose effect was stored with
    this account, so a copy delivered again after a crash changes nothing.
    """

    __tablename__ = "channel_identities"
    __table_args__ = (
        # Once per meeting: the same account may be a person's in several meetings of the
        # database (carried to the next conference's invitation by their phone number).
        UniqueConstraint("meeting_id", "channel", "external_id"),
        UniqueConstraint("delegate_id", "channel"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # The delegate's meeting, kept here for the unique key above.
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    delegate_id: Mapped[int] = mapped_column(ForeignKey("delegates.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_address: Mapped[str] = mapped_column(String(64))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    linked_via: Mapped[str] = mapped_column(String(16))
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    pending_input: Mapped[str | None] = mapped_column(String(32))
    pending_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    menu: Mapped[dict[str, Any] | list[list[str]] | None] = mapped_column(JSON)
    recent_events: Mapped[list[str] | None] = mapped_column(JSON)


class PersonRole(Base):
    """A role a person holds (``office``, ``checkin``), who granted it and when."""

    __tablename__ = "person_roles"
    __table_args__ = (UniqueConstraint("person_id", "role"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_by: Mapped[str] = mapped_column(String(80))


class Invitation(Base):
    """A personal invitation: its token (the link's key) and its personal code (what a person
    types where no link can carry the token); re-issuing revokes both and adds a new row."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delegate_id: Mapped[int] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), index=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    # Canonical (eight characters, no dash: bot.domain.tokens), unique among every row ever
    # issued, so a revoked code can never come back as someone else's.
    link_code: Mapped[str] = mapped_column(String(8), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The office's mark that this link was sent (migration 0025): when, how (Zalo, SMS…), by
    # which staff member (their name). A re-issued link is a new row: unmarked.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_via: Mapped[str | None] = mapped_column(String(16))
    sent_by: Mapped[str | None] = mapped_column(String(200))


class Rsvp(Base):
    """A delegate's answer; one row per delegate, created with status ``no_answer``."""

    __tablename__ = "rsvps"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delegate_id: Mapped[int] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    substitute_name: Mapped[str | None] = mapped_column(String(200))
    substitute_position: Mapped[str | None] = mapped_column(String(200))
    # Apart from the position since migration 0026: the substitute's unit (None on an answer
    # given before, whose position holds «chức vụ, đơn vị» glued) and her phone (E.164).
    substitute_unit: Mapped[str | None] = mapped_column(String(300))
    substitute_phone: Mapped[str | None] = mapped_column(String(20))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Since migration 0030, at a meeting of several days: the days «tham dự» covers, their ISO
    # dates joined by commas in date order (bot.domain.rsvp.stored_days); None: every day.
    days: Mapped[str | None] = mapped_column(String(200))

    delegate: Mapped[Delegate] = relationship(back_populates="rsvp", lazy="raise")


class AuditEntry(Base):
    """Who changed what, when, from what to what."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # The meeting whose process wrote the entry (several meetings may share the database);
    # stamped from the session (storage.uow.meeting_sessions), None only on a session that
    # belongs to no meeting.
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Id)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# The dashboard's Nhật ký by author or kind, and a delegate's history, newest first.
Index("ix_audit_log_meeting_at", AuditEntry.meeting_id, AuditEntry.at)
Index("ix_audit_log_actor_at", AuditEntry.actor, AuditEntry.at)
Index("ix_audit_log_action_at", AuditEntry.action, AuditEntry.at)
# The dashboard's log filtered by kind of change within its meeting (0019).
Index("ix_audit_log_meeting_action_at", AuditEntry.meeting_id, AuditEntry.action, AuditEntry.at)
Index("ix_audit_log_subject", AuditEntry.entity, AuditEntry.entity_id, AuditEntry.at)


class OutboundMessage(Base):
    """Something the bot sends to many: a reminder, a broadcast, the agenda, an office note.

    Automatic kinds carry a ``dedupe_key`` so planning them twice creates one row. A
    broadcast is composed in chat while ``status`` is ``draft`` (``draft_step`` says what the
    office is asked for next). ``expires_at`` closes the window after which a message that
    could not go out in time is skipped instead of sent late.
    """

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    audience: Mapped[str] = mapped_column(String(64))
    body: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))
    report_to: Mapped[str | None] = mapped_column(String(64))
    draft_step: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A notice's number within its meeting, 1, 2, 3 … in the order the office confirmed them
    # (sent or scheduled), given at confirmation and never changed (0021); None for a draft
    # and for every other kind.
    number: Mapped[int | None] = mapped_column(Integer)


# One notice a number, within its meeting (other kinds have none: NULLs never collide).
Index(
    "ux_outbound_messages_number", OutboundMessage.meeting_id, OutboundMessage.number, unique=True
)


class Delivery(Base):
    """One recipient of one outbound message, and how sending it went.

    pending → sending → sent / failed / blocked; ``not_linked`` and ``skipped`` are final
    states for recipients who could not be reached at all. ``parts_sent`` lets a multi-part
    message resume after a crash without repeating the parts already delivered;
    ``interrupted_at`` says when a stop caught it in flight, so the copy on the wire then may
    have arrived although nothing recorded it; ``maybe_sent_at`` when a send of it got no answer
    after its request went out (a timeout, a proxy's error page): that copy may have arrived
    too, so it is tried once more at most (:mod:`schedules.outbox`); ``parts_total`` how many
    parts her message had, kept when a second such send of a part before the last ended it.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("message_id", "recipient"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="CASCADE"), index=True
    )
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16))
    chat_address: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(300))
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    interrupted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    maybe_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    parts_total: Mapped[int | None] = mapped_column(Integer)
    # Who holds a delivery in flight (``host:pid:random``) and until when: several processes
    # share one outbox on PostgreSQL, and recovery takes back only leases that expired.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SendSlot(Base):
    """The next moment a send may start as one bot, shared by every process sending as it:
    ``bot_key`` is a hash of the bot's token (never the token), ``next_at`` seconds of the
    database server's clock (epoch)."""

    __tablename__ = "send_slots"

    bot_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[float] = mapped_column(Float)
    # The earliest each of the next window's starts may be (a ring, ``turn`` its next place):
    # a start's floor is set by the one a window's count before it (storage.sharing).
    floors: Mapped[list[float]] = mapped_column(
        ARRAY(Float).with_variant(JSON(), "sqlite"), server_default="{}"
    )
    turn: Mapped[int] = mapped_column(Integer, server_default="0")


Index("ix_deliveries_due", Delivery.status, Delivery.next_attempt_at)


class Task(Base):
    """A preparation task of the plan (section VI), kept in step with the config."""

    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("meeting_id", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    owner: Mapped[str] = mapped_column(String(500))
    deliverable: Mapped[str | None] = mapped_column(String(500))
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TaskAssignment(Base):
    """One person answering for a task (a district task has one per district chair)."""

    __tablename__ = "task_assignments"
    __table_args__ = (UniqueConstraint("task_id", "person_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_by: Mapped[str | None] = mapped_column(String(80))


class TaskEvidence(Base):
    """A deliverable attached to an assignment: a file (kept by the platform, or in the file
    store when it came from the personal page) or a link."""

    __tablename__ = "task_evidence"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("task_assignments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2000))
    channel: Mapped[str | None] = mapped_column(String(16))
    file_ref: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(Integer)
    # A file kept in the content-addressed store (uploaded on the personal page): its digest;
    # indexed for the look whether any row still names a blob (storage.queries.blobs_named).
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))


class SpeechAssignment(Base):
    """A speaker asked to speak on a theme of section IV, and where their draft stands."""

    __tablename__ = "speech_assignments"
    __table_args__ = (UniqueConstraint("meeting_id", "theme_key", "person_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    theme_key: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), index=True
    )
    # "plan" (from the config, removed with it), "office" (added by /phancong or the dashboard,
    # by the plan's deadline) or "deadline" (added so, with a deadline of its own that a reload
    # of the plan leaves alone).
    source: Mapped[str] = mapped_column(String(8))
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Withdrawn by the office: kept (a re-sync of the plan must not bring it back), not shown.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_by: Mapped[str | None] = mapped_column(String(80))
    # A draft being typed over several messages; kept here, not in the chat's pending
    # question, so an RSVP tap in between loses none of it.
    text_buffer: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DraftVersion(Base):
    """One upload of a draft: the blob lives in the file store under its SHA-256."""

    __tablename__ = "draft_versions"
    __table_args__ = (UniqueConstraint("assignment_id", "number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("speech_assignments.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    display_name: Mapped[str] = mapped_column(String(300))
    suffix: Mapped[str] = mapped_column(String(10))
    # The platform's own reference to the upload, so the office gets it without a re-upload.
    channel: Mapped[str | None] = mapped_column(String(16))
    file_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))


class DraftComment(Base):
    """One message of the thread between the office and a speaker about a draft."""

    __tablename__ = "draft_comments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("speech_assignments.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("draft_versions.id", ondelete="SET NULL")
    )
    from_office: Mapped[bool] = mapped_column(Boolean)
    author: Mapped[str] = mapped_column(String(80))
    author_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # A file sent with the comment (an edited draft), kept by the platform it came through.
    file_channel: Mapped[str | None] = mapped_column(String(16))
    file_ref: Mapped[str | None] = mapped_column(String(200))
    file_name: Mapped[str | None] = mapped_column(String(300))
    # The chat message it came from ("<chat>:<message id>"): a redelivered update adds nothing.
    source_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Replies in a chat name the message they answer; the bot finds the draft through the delivery.
Index("ix_deliveries_platform_message", Delivery.chat_address, Delivery.platform_message_id)


class LinkFailure(Base):
    """A wrong invitation token sent by a chat account: five in an hour slow that account down."""

    __tablename__ = "link_failures"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


Index(
    "ix_channel_identities_channel_external_id",
    ChannelIdentity.channel,
    ChannelIdentity.external_id,
)
Index("ix_link_failures_account", LinkFailure.channel, LinkFailure.external_id, LinkFailure.at)


class HandledEvent(Base):
    """An event a chat platform delivered and the bot handled to the end, by the identity the
    platform gave it (Telegram's update id, another platform's message id) and the bot it came
    to: a copy delivered again keeps that identity and is skipped. Rows older than two days are
    removed as new ones come (Telegram keeps an update at most 24 hours)."""

    __tablename__ = "handled_events"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    bot_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ReplyCount(Base):
    """How many messages a bot's replies sent in a calendar month (``2026-12``, in the zone of
    its platform's month), by the channel the bot is recorded under (``zalo``, ``zalo2``…).
    Replies are no deliveries, and a platform's monthly allowance (a free Zalo bot's 3,000)
    counts them too. Only ever added to (``messages = messages + n``, one statement), never read
    and written back: replies counted at once, by several processes too, lose none."""

    __tablename__ = "reply_counts"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    messages: Mapped[int] = mapped_column(Integer)


class Checkin(Base):
    """Someone let in at the reception desk on the meeting day: an invitee (``kind`` delegate),
    the substitute they sent (``substitute``, named here), or a guest who is not on the list
    (``guest``: their name, position and unit here; no ``delegate_id``, except a person whose
    invitation was withdrawn, let in as a guest from her card: tied to her, so that it is her
    one check-in if she is invited again). Who let them in, at
    which desk (a short label the desk chose) and when; an undo keeps the row, with who undid
    it and when, so the record says what happened at the door.

    An invitee is in at most once a meeting day: one row per delegate and ``day`` without
    ``undone_at`` (the partial unique index, on SQLite and PostgreSQL alike). ``request_key``
    is the desk's own key for a form it sent: the same form sent again over poor Wi-Fi records
    nothing twice.
    """

    __tablename__ = "checkins"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    full_name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))
    organization: Mapped[str | None] = mapped_column(String(200))
    # The invitee's answer when they came (a decliner who came after all stays visible).
    answer: Mapped[str | None] = mapped_column(String(16))
    desk: Mapped[str] = mapped_column(String(40))
    # When she arrived: the tap's time, which a desk that lost the network sends with its
    # later tap (bounded, bot.services.checkin); ``entered_at`` when the row was written (None
    # before migration 0028: the same). The undo window and «Vừa điểm danh» count from that.
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime())
    entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_by: Mapped[str] = mapped_column(String(80))
    staff_name: Mapped[str] = mapped_column(String(200))
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    undone_by: Mapped[str | None] = mapped_column(String(80))
    # The meeting day it counts for (bot.config.Meeting.meeting_day of her arrival): at a
    # meeting of several days she is checked in each day she comes (migration 0029).
    day: Mapped[date] = mapped_column(Date)


Index(
    "uq_checkins_present",
    Checkin.delegate_id,
    Checkin.day,
    unique=True,
    sqlite_where=Checkin.undone_at.is_(None),
    postgresql_where=Checkin.undone_at.is_(None),
)


class StaffSession(Base):
    """A sign-in of office staff to the dashboard: a one-time link (``kind`` "link", used once
    within minutes) or the browser session it opened (``kind`` "session", a working day). Only
    the SHA-256 of the secret is kept: the database never holds a key that opens anything."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("delegates.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Where a link was sent ("telegram", "cli"), or the browser a session was opened in.
    origin: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A link used, or a session signed out: either way it opens nothing any more.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MeetingDocument(Base):
    """A document the office publishes to every personal page before the day (the draft
    review report, the programme, a summary): its bytes live in the file store under their
    SHA-256, which :func:`storage.queries.blobs_named` counts, so a purge never removes them
    while a row names them. Hidden by the office (``hidden_at``): kept, off the pages, and
    publishable again."""

    __tablename__ = "meeting_documents"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(1000))
    file_name: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # The staff member's name, as the list shows who published it (the audit log has the key).
    published_by: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
