"""Personal invitation tokens: 192 random bits that fit Telegram's deep-link payload; and the
short personal code a person types from paper on a channel that carries no link payload."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Collection

TOKEN_BYTES = 24  # 192 bits; base64url gives 32 characters, well under the 64 allowed
_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32}$")
# A link pasted at the end of a sentence: «…/AbC…xyz.» or «(…/AbC…xyz)» — the chat that made it
# a link took the punctuation after it too. No token character can follow a token.
_TRAILED = re.compile(r"^([A-Za-z0-9_-]{32})[^A-Za-z0-9_-]{1,4}$")


def new_token() -> str:
    """A fresh unguessable token using only the characters deep links allow."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(text: str) -> bool:
    """Whether ``text`` has a token's shape (cheap check before any database look-up)."""
    return bool(_SHAPE.fullmatch(text))


def token_before_punctuation(text: str) -> str | None:
    """The token ``text`` starts with when only punctuation follows it (a link a chat took with
    the sentence's «.» or «)»), else None."""
    found = _TRAILED.fullmatch(text)
    return found.group(1) if found else None


# --- personal codes: what a person types from paper where no link can carry a token --------------

# Digits and consonants only. No look-alikes: 0/O, 1/I/L are all left out, so a code read from
# paper has one reading. No vowels and no W or D either: Vietnamese keyboards (Telex, VNI) turn
# letters typed after a vowel into tone marks ("AS" → "Á"), "W" into "Ư", "DD" or "D9" into
# "Đ" — a code without those letters reaches the bot exactly as it was typed.
CODE_ALPHABET = "23456789BCFGHJKMNPQRSTVXZ"
CODE_LENGTH = 8  # 25⁸ ≈ 1.5 × 10¹¹ codes, 37 bits
CODE_GROUP = 4  # shown as two groups of four: K7PX-M3QB
# What people type between or around the groups, all ignored: spaces, dashes of every width,
# dots, underscores.
_CODE_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−_.·]+")


def new_link_code(taken: Collection[str] = ()) -> str:
    """A fresh personal code (canonical: eight characters, no dash), none of ``taken``, with a
    letter in it: digits alone, written among words, read as a phone number's groups
    (:func:`find_link_code`), and about one code in ten thousand was never found there."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if code not in taken and not code.isdigit():
            return code


def format_link_code(code: str) -> str:
    """A canonical code as people read it: ``K7PX-M3QB``."""
    return f"{code[:CODE_GROUP]}-{code[CODE_GROUP:]}"


# A code among other words ("Mã của tôi là K7PX-M3QB", «K7PX M3QB»): two groups of four, apart
# from any letter or digit around them.
_CODE_IN_TEXT = re.compile(
    rf"(?<!\w)([{CODE_ALPHABET}]{{{CODE_GROUP}}})[\s\-‐‑‒–—―−_.·]?([{CODE_ALPHABET}]{{{CODE_GROUP}}})(?!\w)"
)


def find_link_code(text: str) -> str | None:
    """The code ``text`` is (:func:`parse_link_code`), or else the one code written among its
    words; None if it holds none, or more than one."""
    whole = parse_link_code(text)
    if whole is not None:
        return whole
    folded = unicodedata.normalize("NFKC", text).upper()
    found = {
        first + second
        for first, second in _CODE_IN_TEXT.findall(folded)
        # Among other words, digits alone are a phone number's groups («098 5367 2894»), not
        # a code: a code has a letter (all but one in ten thousand do).
        if not (first + second).isdigit()
    }
    return found.pop() if len(found) == 1 else None


def parse_link_code(text: str) -> str | None:
    """The canonical code ``text`` spells, whatever its case, spaces and dashes; None if it
    spells none (anything else a person writes)."""
    folded = _CODE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    if len(folded) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in folded):
        return None
    return folded


# A personal code mistyped with characters codes never use (0/O, 1/I/L, vowels…): two groups of
# four letters and digits, or eight together, with a letter and a digit in it (a name of two
# four-letter words, «Thuy Linh», or a phone number's groups are not taken for one).
_CODE_SHAPE = re.compile(r"^([A-Z0-9]{4})([\s\-‐‑‒–—―−_.·]?)([A-Z0-9]{4})$")
_DASHES = frozenset("-‐‑‒–—―−")


def code_shaped(text: str) -> str | None:
    """What ``text`` spells (upper case, no separators) when it is written like a personal
    code but is none (:func:`parse_link_code` finds none): a code misread from paper, to be
    told it is wrong rather than asked for a code again. None for anything else.

    No look-alike is mapped to a code's character: the alphabet leaves out 0, O, 1, I and L
    altogether, so «0» has no one reading (Q? D? 8?) that could be trusted."""
    if parse_link_code(text) is not None:
        return None
    found = _CODE_SHAPE.match(unicodedata.normalize("NFKC", text).strip().upper())
    if found is None:
        return None
    spelt = found.group(1) + found.group(3)
    if spelt.isdigit():  # a phone number's groups
        return None
    if spelt.isalpha() and not _letters_misread(spelt, dashed=found.group(2) in _DASHES):
        return None  # words: «Thuy Linh», «camonchi»
    return spelt


def _letters_misread(spelt: str, *, dashed: bool) -> bool:
    """Whether eight letters (no digit: about one code in twenty has none) are a code misread
    rather than words: written as the slip prints a code, two groups joined by a dash
    («KXPB-MQRI»), or with one letter alone outside the codes' alphabet (one character
    misread). Vietnamese written without its marks is never so: the alphabet has no vowel (A,
    E, I, O, U, Y), every syllable has one and none is longer than seven letters, so two words,
    or eight letters glued, have two vowels at least («Minh Tung», «camonchi»); and nobody
    greets the bot with two words joined by a dash. (With its marks it is no code's shape.)"""
    if dashed:
        return True
    return sum(char not in CODE_ALPHABET for char in spelt) <= 1
