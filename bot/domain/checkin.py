"""What an invitee's page and messages know of her arrival at the reception desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# ``checkins.kind`` of a substitute let in on her invitee's card
# (bot.services.checkin.ArrivalKind.SUBSTITUTE).
SUBSTITUTE_CHECKIN = "substitute"


@dataclass(frozen=True)
class CheckedIn:
    """An invitee's check-in at the reception desk (not undone): when, at which desk, and, when
    it was the substitute she sent who came, the substitute's name as the desk wrote it."""

    at: datetime
    desk: str
    substitute_name: str | None = None
