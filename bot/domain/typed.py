"""What people type, made storable: PostgreSQL refuses U+0000 in text, so it never gets in."""

from __future__ import annotations


def typed(text: str) -> str:
    """``text`` without NUL characters, otherwise as typed (line breaks kept)."""
    return text.replace("\x00", "")


def one_line(text: str) -> str:
    """``text`` as one line: NUL removed, runs of whitespace collapsed to single spaces."""
    return " ".join(typed(text).split())
