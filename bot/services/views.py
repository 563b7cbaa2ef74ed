"""Plain values the services hand to adapters: no ORM objects leave a transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain.rsvp import RsvpStatus, answer_mark, read_days
from storage.models import Delegate, Rsvp
from storage.queries import AnsweringRow


@dataclass(frozen=True)
class DelegateView:
    """A delegate as chat adapters show them."""

    id: int
    code: str
    full_name: str
    position: str
    organization: str
    group_key: str
    role: str = "delegate"
    withdrawn_at: datetime | None = None  # the office withdrew the invitation («Rút giấy mời»)
    withdrawn_reason: str | None = None

    @property
    def is_contact(self) -> bool:
        """A task contact rather than an invited delegate."""
        return self.role == "contact"

    @property
    def withdrawn(self) -> bool:
        """The office withdrew this person's invitation: nothing of it is in effect."""
        return self.withdrawn_at is not None

    @classmethod
    def of(cls, delegate: Delegate) -> DelegateView:
        """Copy the fields adapters need out of a row."""
        return cls(
            id=delegate.id,
            code=delegate.code,
            full_name=delegate.full_name,
            position=delegate.position,
            organization=delegate.organization,
            group_key=delegate.group_key,
            role=delegate.role,
            withdrawn_at=delegate.withdrawn_at,
            withdrawn_reason=delegate.withdrawn_reason,
        )


@dataclass(frozen=True)
class RsvpView:
    """A delegate's current answer."""

    status: RsvpStatus
    reason: str | None
    substitute_name: str | None
    substitute_position: str | None
    answered_at: datetime | None
    # Apart from the position since migration 0026: None on an answer given before it (its
    # position holds «chức vụ, đơn vị» glued), the phone None where none was given (E.164).
    substitute_unit: str | None = None
    substitute_phone: str | None = None
    # «Tham dự» at a meeting of several days for these days only (migration 0030); None:
    # every day.
    days: tuple[date, ...] | None = None

    def mark(self) -> str:
        """This answer's mark on the day buttons shown under it
        (:func:`bot.domain.rsvp.answer_mark`)."""
        return answer_mark(self.status, self.days, self.reason, self.substitute_name)

    @classmethod
    def of(cls, rsvp: Rsvp | AnsweringRow) -> RsvpView:
        """Copy an RSVP row (an ORM object, or read with its account as plain values)."""
        return cls(
            status=RsvpStatus(rsvp.status),
            reason=rsvp.reason,
            substitute_name=rsvp.substitute_name,
            substitute_position=rsvp.substitute_position,
            answered_at=rsvp.answered_at,
            substitute_unit=rsvp.substitute_unit,
            substitute_phone=rsvp.substitute_phone,
            days=read_days(rsvp.days),
        )
