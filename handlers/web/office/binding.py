"""What a staff session's forms are signed for, in one place for every dashboard section."""

from __future__ import annotations

from bot.services.signin import StaffVisit


def session_binding(visit: StaffVisit) -> str:
    """What a session's forms are signed for: the session (by its digest, never its key)."""
    return f"office|{visit.session_hash}"
