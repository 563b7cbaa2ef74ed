"""A channel's monthly allowance (a free Zalo bot's reported 50 people and 3,000 messages a
month) and where its use stands: the core counts and warns without knowing which platform it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo


class QuotaLevel(StrEnum):
    """Where a figure stands against its limit."""

    OK = "ok"
    NEAR = "near"  # past the warning threshold
    FULL = "full"  # at or over the limit


@dataclass(frozen=True)
class ChannelQuota:
    """One bot's limits: people linked to it, messages it sends in a calendar month (in
    ``zone``, the platform's own month), and the share of either at which the office is
    warned."""

    channel: str  # the channel its accounts and deliveries are recorded under
    label: str  # how the office calls the bot ("Zalo", "Zalo 2")
    monthly_messages: int
    linked_people: int
    warn_at: float
    zone: str

    def month(self, instant: datetime) -> tuple[datetime, datetime, str]:
        """The calendar month (in the quota's zone) holding ``instant``: its start and the
        next month's start, in UTC, and its key (``2026-12``)."""
        local = instant.astimezone(ZoneInfo(self.zone))
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        end = start.replace(year=year, month=month)
        return start.astimezone(UTC), end.astimezone(UTC), f"{start.year:04d}-{start.month:02d}"

    def level(self, used: int, limit: int) -> QuotaLevel:
        """``used`` of ``limit``: under the threshold, past it, or at the limit."""
        if used >= limit:
            return QuotaLevel.FULL
        if used >= limit * self.warn_at:
            return QuotaLevel.NEAR
        return QuotaLevel.OK


@dataclass(frozen=True)
class QuotaUse:
    """A bot's figures this month: people linked (in all), and the messages it sent this month
    on its own (the outbox's deliveries, each part one) and in reply to a message."""

    quota: ChannelQuota
    people: int
    sent: int
    replies: int
    month_key: str  # "2026-12"

    @property
    def messages(self) -> int:
        """Every message the bot sent this month, what the platform's allowance counts."""
        return self.sent + self.replies

    @property
    def month(self) -> int:
        """The month's number (12 for December)."""
        return int(self.month_key[5:])

    @property
    def people_level(self) -> QuotaLevel:
        """Linked people against the limit."""
        return self.quota.level(self.people, self.quota.linked_people)

    @property
    def messages_level(self) -> QuotaLevel:
        """This month's messages against the limit."""
        return self.quota.level(self.messages, self.quota.monthly_messages)

    @property
    def in_use(self) -> bool:
        """True once the bot has linked anyone or sent anything this month: a bot never used
        is not reported."""
        return self.people > 0 or self.messages > 0
