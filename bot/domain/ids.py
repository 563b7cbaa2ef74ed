"""Record ids as they come back in button data: digits only, within a database integer."""

from __future__ import annotations

import re

_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits: "²".isdigit() is True, int("²") is not


def parse_id(text: str) -> int | None:
    """The id ``text`` names, or None for anything a database column could not hold."""
    return int(text) if _ID.fullmatch(text) else None
