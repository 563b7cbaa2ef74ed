"""What people type, made storable (PostgreSQL refuses U+0000 in text, so it never gets in)
and comparable (:func:`fold`: as a phone types it, without diacritics or case)."""

from __future__ import annotations

import re
import unicodedata


def typed(text: str) -> str:
    """``text`` without NUL characters, otherwise as typed (line breaks kept)."""
    return text.replace("\x00", "")


def one_line(text: str) -> str:
    """``text`` as one line: NUL removed, runs of whitespace collapsed to single spaces."""
    return " ".join(typed(text).split())


def shortened(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with «…»."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def opening(text: str, limit: int) -> str:
    """``text``'s first words, to recognise it by: cut at a word within ``limit`` characters,
    «…» where it was cut."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def fold(text: str) -> str:
    """Text as people may type it on a phone: no diacritics, no case, no symbols, single
    spaces ("✅ Tham dự" and "tham du" fold alike; "Nguyễn Thị Hà" is "nguyen thi ha")."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    words = re.sub(r"[^\w]+", " ", plain.casefold())
    return " ".join(words.split())


# How a name may start when people write it the way letters address someone: «Đồng chí Lê Văn
# Hùng», «đ/c Hùng», «Đ.c Hùng». The bot adds «đồng chí» itself.
# Written as a title, «chí» in lower case (or the whole title in capitals) and a whole word:
# «Đồng Chính Nghĩa» and «Đồng Chí Thanh» (Đồng a surname) are names.
_HONORIFIC = re.compile(r"^(?:[Đđ]ồng\s+chí\b|ĐỒNG\s+CHÍ\b|[Đđ]\s*[/.]\s*[Cc]\b\.?)[\s:,.]*")


def bare_name(text: str) -> str:
    """A person's name without the honorific it was typed with (the bot says «đồng chí»); the
    text as it was if nothing would be left."""
    name = _HONORIFIC.sub("", unicodedata.normalize("NFC", text), count=1).strip()
    return name or text


def honorific_only(text: str) -> bool:
    """Whether ``text`` is an honorific and nothing more («Đồng chí», «đ/c»): no name in it."""
    return not _HONORIFIC.sub("", unicodedata.normalize("NFC", text.strip()), count=1).strip()


_WORD = re.compile(r"[^\W\d_]+")


def written_in_capitals(name: str) -> bool:
    """Whether a name is written entirely in capitals («NGUYỄN VĂN AN»), as many lists do."""
    return name.isupper() and len(_WORD.findall(name)) > 0 and len(name) > 1


def in_title_case(name: str) -> str:
    """A name as Vietnamese writes one: each word's first letter a capital, the rest small
    («NGUYỄN VĂN AN» → «Nguyễn Văn An»; «H'HEN NIÊ» → «H'Hen Niê», «ĐỖ-LÊ» → «Đỗ-Lê»)."""
    return _WORD.sub(lambda word: word.group(0)[0].upper() + word.group(0)[1:].lower(), name)
