"""Personal invitation tokens: 192 random bits that fit Telegram's deep-link payload."""

from __future__ import annotations

import re
import secrets

TOKEN_BYTES = 24  # 192 bits; base64url gives 32 characters, well under the 64 allowed
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32}$")


def new_token() -> str:
    """A fresh unguessable token using only the characters deep links allow."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(text: str) -> bool:
    """Whether ``text`` has a token's shape (cheap check before any database look-up)."""
    return bool(_SHAPE.fullmatch(text))
