"""RSVP answers and the rules for changing them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RsvpStatus(StrEnum):
    """What a delegate has answered."""

    NO_ANSWER = "no_answer"
    ATTENDING = "attending"
    DECLINED = "declined"
    SUBSTITUTE = "substitute"

    @property
    def is_present(self) -> bool:
        """Someone will take the seat: the delegate or their substitute."""
        return self in (RsvpStatus.ATTENDING, RsvpStatus.SUBSTITUTE)


# Longest free texts we accept in chat; longer ones are refused with a clear answer, not cut.
MAX_REASON = 500
MAX_SUBSTITUTE_NAME = 120
MAX_SUBSTITUTE_POSITION = 200
MAX_SUBSTITUTE_UNIT = 300


@dataclass(frozen=True)
class RsvpAnswer:
    """A complete answer as the delegate gave it."""

    status: RsvpStatus
    reason: str | None = None
    substitute_name: str | None = None
    substitute_position: str | None = None
    # Optional: an answer given before migration 0026 has neither (its position holds the
    # unit glued); the phone is E.164 (bot.domain.phones.normalize_phone).
    substitute_unit: str | None = None
    substitute_phone: str | None = None

    def __post_init__(self) -> None:
        if self.status is RsvpStatus.SUBSTITUTE and not (
            self.substitute_name and self.substitute_position
        ):
            raise ValueError("a substitute needs a name and a position")
        if self.status is not RsvpStatus.SUBSTITUTE and (
            self.substitute_name
            or self.substitute_position
            or self.substitute_unit
            or self.substitute_phone
        ):
            raise ValueError("only a substitute answer names a substitute")
        if self.status is not RsvpStatus.DECLINED and self.reason:
            raise ValueError("only a declined answer has a reason")


def answers_open(now: datetime, deadline: datetime) -> bool:
    """Answers may be given or changed up to and including the deadline."""
    return now <= deadline


def unit_typed_once(typed: str, own_unit: str) -> str:
    """The substitute's unit as meant when a box that held the delegate's own unit was typed
    after rather than over: «Sở Nội vụSở Nội vụ» is «Sở Nội vụ»; her unit with another glued
    after it («Thành ủy Hà NộiSở Nội vụ», no space, a capital) is the other. Anything else,
    «Sở Nội vụ Hà Nội» included, is kept as typed."""
    text = typed.strip()
    for gap in ("", " "):  # the same words twice, glued or with a space between
        half, odd = divmod(len(text) - len(gap), 2)
        if half and not odd and text == text[:half] + gap + text[:half]:
            return text[:half]
    own = own_unit.strip()
    if own and text.startswith(own):
        after = text[len(own) :]
        if after[:1].isupper():  # glued: a unit never runs a capital on without a space
            return after
    return text


class RsvpChoice(StrEnum):
    """A button the delegate can press."""

    ATTEND = "attend"
    DECLINE = "decline"
    DECLINE_WITHOUT_REASON = "decline_skip"
    SUBSTITUTE = "substitute"
    SAME_UNIT = "same_unit"  # the substitute is from the delegate's own unit
    SKIP_PHONE = "skip_phone"  # no phone for the substitute
    CANCEL = "cancel"


RSVP_ACTION_PREFIX = "rsvp:"


def rsvp_action(choice: RsvpChoice) -> str:
    """The action data a channel puts on a button for ``choice`` (names no record)."""
    return f"{RSVP_ACTION_PREFIX}{choice.value}"


def parse_rsvp_action(data: str | None) -> RsvpChoice | None:
    """The choice an action names, or None for anything the bot did not send."""
    if not data or not data.startswith(RSVP_ACTION_PREFIX):
        return None
    try:
        return RsvpChoice(data.removeprefix(RSVP_ACTION_PREFIX))
    except ValueError:
        return None
