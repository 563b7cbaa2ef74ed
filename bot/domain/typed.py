"""What people type, made storable (PostgreSQL refuses U+0000 in text, so it never gets in),
and made comparable the way they type it on a phone (no diacritics, no case)."""

from __future__ import annotations

import re
import unicodedata


def typed(text: str) -> str:
    """``text`` without NUL characters, otherwise as typed (line breaks kept)."""
    return text.replace("\x00", "")


def one_line(text: str) -> str:
    """``text`` as one line: NUL removed, runs of whitespace collapsed to single spaces."""
    return " ".join(typed(text).split())


def fold(text: str) -> str:
    """Text as people may type it on a phone: no diacritics, no case, no symbols, single
    spaces ("✅ Tham dự" and "tham du" fold alike)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    words = re.sub(r"[^\w]+", " ", plain.casefold())
    return " ".join(words.split())
