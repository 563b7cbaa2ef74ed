"""Characters nobody can see: controls, zero-width and other format characters, bidi controls.

They arrive by copy and paste (a zero-width space from a web page, a BOM from a joined file)
or on purpose: "DB001" followed by a zero-width space is a second code that looks like the
first, an escape sequence rewrites the office's terminal, a right-to-left override shows a
name in another order than it is stored. The import refuses or strips them; the files the
bot writes never contain them.
"""

from __future__ import annotations

import unicodedata
from typing import Final

# Embeddings, overrides and isolates: they reorder what follows them on screen, so the text
# shown is not the text stored. The marks (U+200E, U+200F, U+061C) only nudge neutral
# characters and count as ordinary invisible characters.
BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Letters and symbols that draw nothing, used to make blank-looking names and codes.
_FILLERS: Final = frozenset("\u034f\u115f\u1160\u2800\u3164\uffa0")
# Line breaks and tabs are layout, not hidden content: a cell may keep them.
_LAYOUT: Final = frozenset("\t\n\r")
# What an XML document (a .xlsx, a .docx) cannot hold beside the controls: the two
# noncharacters of the BMP, and surrogates. lxml refuses a whole row holding one.
_NOT_XML: Final = frozenset("\ufffe\uffff")


def is_invisible(char: str) -> bool:
    """Whether `char` is a control (whitespace aside), format (Cf) or filler character."""
    category = unicodedata.category(char)
    if category == "Cf":
        return True
    if category == "Cc":
        return not char.isspace()
    return char in _FILLERS


def _plainly_visible(text: str) -> bool:
    """True when `text` has no control, format or filler character, checked in C: Python's
    printable characters exclude every Cc and Cf one (and line breaks and tabs, which then
    take the slow way). Most text is like this, and a 10,000-row file has 70,000 cells."""
    return text.isprintable() and _FILLERS.isdisjoint(text)


def invisible_in(text: str) -> list[str]:
    """The invisible characters of `text` as code points ("U+200B"), each once, in order."""
    if _plainly_visible(text):
        return []
    found = dict.fromkeys(code_point(c) for c in text if is_invisible(c))
    return list(found)


def strip_invisible(text: str) -> str:
    """`text` without its invisible characters (whitespace is left to the caller)."""
    if _plainly_visible(text):
        return text
    return "".join(c for c in text if not is_invisible(c))


def shown(text: str) -> str:
    """`text` with each invisible character written as <U+XXXX>, for a message about it."""
    return "".join(f"<{code_point(c)}>" if is_invisible(c) else c for c in text)


def printable(text: str) -> str:
    """`text` as a file the bot writes may hold it: no invisible or control character but
    line breaks and tabs, and nothing an XML document cannot hold."""
    if _plainly_visible(text):  # neither a surrogate nor U+FFFE/U+FFFF is printable
        return text
    return "".join(c for c in text if c in _LAYOUT or not (is_invisible(c) or _unwritable(c)))


def _unwritable(char: str) -> bool:
    """Whether ``char`` is a control, a surrogate or a noncharacter XML refuses."""
    return unicodedata.category(char) in ("Cc", "Cs") or char in _NOT_XML


def code_point(char: str) -> str:
    """ "U+200B" for a zero-width space."""
    return f"U+{ord(char):04X}"
