"""Who a substitute named may already be: another invitee of the meeting who is coming, found
by her phone or, without one, by her name and unit — or the delegate herself, by her name.

A person invited comes on her own invitation: named as another's substitute she would be
counted twice and awaited twice at the desk (:data:`bot.services.rsvp.RsvpStep`'s
SUBSTITUTE_IS_INVITED; ``hoinghi check`` names such answers recorded before).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, or_, select

from bot.domain.rsvp import RsvpStatus
from bot.domain.typed import bare_name, fold
from bot.services.roster import invited, listed_of
from storage.models import Delegate, Rsvp


@dataclass(frozen=True)
class Invitee:
    """Another person invited to the meeting, whom a substitute named may already be."""

    code: str
    full_name: str
    phone: str | None
    organization: str = ""


def is_herself(substitute_name: str, own_name: str) -> bool:
    """Whether the substitute named is the delegate herself: her name whatever its case and
    honorific, and typed without diacritics (:func:`fold`) as a phone may type it. A name
    typed with its diacritics is compared with them: «Cấn Thị Thanh Hòa», her deputy, is not
    «Cấn Thị Thanh Hoa», nor «Trần Văn Hưng» «Trần Văn Hùng» — Vietnamese names that differ by
    a mark alone are different people."""
    if not own_name:
        return False
    named = bare_name(substitute_name)
    if fold(named) != fold(own_name):
        return False
    if _has_marks(named):
        return _marked(named) == _marked(own_name)
    return True


def invited_as(
    others: Iterable[Invitee], name: str, phone: str | None, unit: str
) -> Invitee | None:
    """The one invitee among ``others`` the substitute named is: the one of her phone (E.164,
    as :func:`normalize_phone` makes it) when a phone is given — a namesake of another number
    is another person —, else the one of her name (:func:`is_herself`'s comparison) and her
    ``unit`` (the substitute's, as it will be recorded): a namesake in another unit is another
    person (names repeat across a city's districts). Two invitees who match is no answer: not
    guessed, the substitute is taken as named."""
    if phone is not None:
        same = [other for other in others if other.phone == phone]
    else:
        same = [
            other
            for other in others
            if is_herself(name, other.full_name) and fold(other.organization) == fold(unit)
        ]
    return same[0] if len(same) == 1 else None


def invitees_on(
    connection: Connection, meeting_id: int, delegate_id: int, name: str, phone: str | None
) -> tuple[Invitee, ...]:
    """The meeting's invitees but ``delegate_id`` who are coming on their own invitation (on
    the list as delegates, invitation standing, not declined nor sending a substitute of their
    own) and whose folded name holds ``name``'s or whose phone is ``phone``: the few a
    substitute so named may be, by the database, then compared by :func:`invited_as`. One who
    declined may well come in another's place: she is no one's double then."""
    wanted: list[ColumnElement[bool]] = []
    if folded := fold(name):
        wanted.append(Delegate.search_text.contains(folded, autoescape=True))
    if phone is not None:
        wanted.append(Delegate.phone == phone)
    if not wanted:
        return ()
    not_coming = (RsvpStatus.DECLINED.value, RsvpStatus.SUBSTITUTE.value)
    rows = connection.execute(
        select(Delegate.code, Delegate.full_name, Delegate.phone, Delegate.organization)
        .outerjoin(Rsvp, Rsvp.delegate_id == Delegate.id)
        .where(
            listed_of(meeting_id),
            invited(),
            Delegate.id != delegate_id,
            or_(Rsvp.status.is_(None), Rsvp.status.not_in(not_coming)),
            or_(*wanted),
        )
    )
    return tuple(Invitee(row.code, row.full_name, row.phone, row.organization) for row in rows)


def _has_marks(text: str) -> bool:
    """Whether ``text`` was typed with any Vietnamese mark (a tone, a hat, a horn, «đ»)."""
    decomposed = unicodedata.normalize("NFD", text)
    return any(unicodedata.category(c) == "Mn" for c in decomposed) or "đ" in text.casefold()


def _marked(text: str) -> str:
    """``text`` compared with its marks kept: one composition, no case, single spaces."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())
