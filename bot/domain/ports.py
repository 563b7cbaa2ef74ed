"""The ports between the core and what drives it: the channels that send, the composer that
writes, and the audiences that say who receives what.

The outbox (:mod:`schedules.outbox`) sends through these and nothing else; the services
implement the composer and the audiences; each channel adapter implements a sender. None of them
imports another: the composition root (:mod:`bot.app`) plugs them together.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.channels import Capabilities, ChannelInfo
from bot.domain.outbound import (
    DeliveryStatus,
    MessageKind,
    Outbound,
    Part,
    SendResult,
    SkipReason,
    TextPart,
)
from bot.domain.rsvp import RsvpStatus


class ChannelSender(Protocol):
    """A messaging platform, as the outbox uses it."""

    channel: str
    capabilities: Capabilities

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        """The parts as this platform sends them (e.g. long text split to its limit)."""
        ...

    async def send(self, address: str, part: Part) -> SendResult:
        """Send one part; never raises for platform errors, answers with a result."""
        ...


@dataclass(frozen=True)
class MessageView:
    """An outbound message as the composer sees it."""

    id: int
    kind: MessageKind
    audience: str
    body: str | None
    params: Mapping[str, Any]
    due_at: datetime | None
    number: int | None = None  # a notice's number within its meeting (what the office reads)


@dataclass(frozen=True)
class Recipient:
    """A person receiving a message, with what personalises it."""

    delegate_id: int
    code: str
    full_name: str
    position: str
    organization: str
    group_key: str
    rsvp: RsvpStatus
    substitute_name: str | None
    # The substitute checked in at the desk in her place, when one is (not undone).
    stood_in_by: str | None = None
    # «Tham dự» for these meeting days only (``rsvps.days``); None: every day.
    days: tuple[date, ...] | None = None


@dataclass(frozen=True)
class Problem:
    """A recipient the office should know about: who, and why they did not get it."""

    code: str
    full_name: str
    error: str | None = None
    # When a stop caught this delivery in flight: the copy on the wire then may have arrived.
    interrupted_at: datetime | None = None
    # When a send of it got no answer after its request went out: that copy may have arrived.
    maybe_sent_at: datetime | None = None
    # (parts confirmed, total) when that send was of a part before the last, so the parts after
    # it never went: her message is incomplete.
    parts: tuple[int, int] | None = None
    # Her phone number as stored (E.164), for the lists the office is asked to phone.
    phone: str | None = None
    # The substitute she named and the substitute's phone (as stored), when she sends one: on
    # the meeting day, the one in the hall or on the way is the substitute.
    substitute_name: str | None = None
    substitute_phone: str | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """How a finished message went, for the office."""

    message: MessageView
    counts: Mapping[DeliveryStatus, int]
    failed: list[Problem]
    blocked: list[Problem]
    not_linked: list[Problem]
    late_by: timedelta | None = None
    # Set when the message went to nobody at all: it ends skipped, not sent.
    skipped: SkipReason | None = None
    # Recipients not sent it because the office withdrew their invitation meanwhile.
    withdrawn: list[Problem] = field(default_factory=list)
    # Recipients of a reminder not sent it because, while it waited its turn, what it asks for
    # was done: the RSVP answered, the task reported done (or closed, or no longer theirs).
    answered: list[Problem] = field(default_factory=list)
    # Copies that never went because the message's window closed first (the bot stopped while
    # sending it): counted, not listed (a notice to thousands would list thousands).
    ran_out: int = 0


class Composer(Protocol):
    """Writes what the outbox sends (implemented in the core, with the text catalog)."""

    async def content(
        self,
        message: MessageView,
        recipient: Recipient | None,
        channel: ChannelInfo,
        *,
        repeat: bool = False,
    ) -> Outbound:
        """The message for one recipient (``None`` for an office chat) on ``channel``;
        ``repeat`` when an earlier copy may have arrived (a stop caught it in flight)."""
        ...

    async def completion_report(self, report: DeliveryReport) -> TextPart | None:
        """What to tell the office when a message has gone to everyone it could reach."""
        ...

    def skip_notice(self, message: MessageView, late_by: timedelta) -> TextPart | None:
        """What to tell the office when a message was skipped because its time had passed."""
        ...


@dataclass(frozen=True)
class Account:
    """One of a person's chat accounts, as the outbox addresses it."""

    channel: str
    chat_address: str
    reachable: bool
    unreachable_reason: str | None = None


@dataclass(frozen=True)
class Addressee:
    """A person an audience names, and their accounts, the best one first (the one they used
    last, reachable on a channel that is running)."""

    delegate_id: int
    accounts: tuple[Account, ...]


class Audiences(Protocol):
    """Who an audience names, and where the office's notes go."""

    async def people(
        self,
        session: AsyncSession,
        audience: str,
        channels: Collection[str],
        *,
        day: int | None = None,
    ) -> list[Addressee]:
        """The people of ``audience``, each with their accounts on ``channels``; ``day``: the
        meeting day (1 = the first) a morning programme is for — at a meeting of several days,
        only those it is for (expected that day, or beginning that day)."""
        ...

    def comes_on(self, recipient: Recipient, day: int) -> bool:
        """Whether ``recipient`` comes on meeting day ``day`` (1 = the first) by her answer as
        it is now: asked as a copy of that day's morning programme, queued before she changed
        her days, is claimed."""
        ...

    async def anyone(self, session: AsyncSession, audience: str) -> bool:
        """Whether ``audience`` names anyone, on a chat or not (one row looked for)."""
        ...

    async def places(
        self, session: AsyncSession, report_to: str, channels: Collection[str]
    ) -> list[tuple[str, str]]:
        """The chats (channel, address) that ``report_to`` names on ``channels``: one chat, or
        for the office, its group chats, else each staff member privately."""
        ...

    async def accounts_of(
        self, session: AsyncSession, delegate_id: int, channels: Collection[str]
    ) -> tuple[Account, ...]:
        """A person's accounts on ``channels``, the best one first."""
        ...

    async def has_list(self, session: AsyncSession, audience: str) -> bool:
        """Whether the list ``audience`` is drawn from has been imported at all (anyone on it,
        a withdrawn invitation too), as against an audience that happens to be empty."""
        ...
