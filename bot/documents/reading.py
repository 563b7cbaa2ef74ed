"""A speech draft's text for reading in a page: a .txt decoded, a .docx's paragraphs taken from
``word/document.xml`` (nothing run, no entity expanded, a bounded read); other kinds are for
downloading only."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO
from xml.parsers import expat

# The most of a document the page shows: a speech is a few pages, far under this.
MAX_SHOWN = 200_000
# The most of word/document.xml read out of the archive (its text is a fraction of it).
MAX_XML = 8 * 1024 * 1024
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main "  # expat's "ns name"
_P, _T = f"{_W}p", f"{_W}t"
_BREAKS = {f"{_W}tab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n"}
_CHUNK = 64 * 1024  # read and parsed at a time


@dataclass(frozen=True)
class Reading:
    """A document's paragraphs, and whether they were cut at :data:`MAX_SHOWN`."""

    paragraphs: tuple[str, ...]
    cut: bool = False


def readable(name: str) -> bool:
    """Whether a draft named ``name`` can be shown as text (.txt, .docx)."""
    return PurePath(name).suffix.lower() in (".txt", ".docx")


def draft_text(name: str, content: bytes) -> Reading | None:
    """The text of a draft named ``name`` for reading; None for kinds shown only as a download
    or a document that cannot be read."""
    suffix = PurePath(name).suffix.lower()
    if suffix == ".txt":
        text = content[: MAX_SHOWN * 4].decode("utf-8-sig", errors="replace")
        return _bounded(text.replace("\r\n", "\n").split("\n"))
    if suffix == ".docx":
        paragraphs = _docx_paragraphs(content)
        return None if paragraphs is None else _bounded(paragraphs)
    return None


class _Refused(Exception):
    """A part this reader will not read: a DTD, or more than :data:`MAX_XML`."""


# What a document that cannot be read raises: an archive, a member or its XML unreadable.
_UNREADABLE = (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError)
_UNREADABLE_XML = (expat.ExpatError, _Refused)


def _docx_paragraphs(content: bytes) -> list[str] | None:
    try:
        with (
            zipfile.ZipFile(io.BytesIO(content)) as archive,
            archive.open("word/document.xml") as member,
        ):
            return _paragraphs(member)
    except (*_UNREADABLE, *_UNREADABLE_XML):
        return None


def _paragraphs(member: IO[bytes]) -> list[str]:
    """The paragraphs of ``word/document.xml`` in document order (a paragraph holding another,
    in a text box, has its text too), parsed as it is read. A DTD is refused by expat's own
    handlers, whatever the encoding: Word declares none, and one could only serve to expand
    entities (in UTF-16 its bytes do not spell ``<!DOCTYPE``)."""
    paragraphs: list[str] = []
    open_ones: list[tuple[int, list[str]]] = []  # (index in paragraphs, its pieces so far)
    in_text = False

    def start(tag: str, _attributes: object) -> None:
        nonlocal in_text
        in_text = tag == _T
        if tag == _P:
            open_ones.append((len(paragraphs), []))
            paragraphs.append("")
        elif tag in _BREAKS:
            add(_BREAKS[tag])

    def end(tag: str) -> None:
        nonlocal in_text
        in_text = False
        if tag == _P and open_ones:
            index, pieces = open_ones.pop()
            paragraphs[index] = "".join(pieces)

    def add(text: str) -> None:
        for _, pieces in open_ones:
            pieces.append(text)

    def refuse(*_: object) -> None:
        raise _Refused

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = lambda data: add(data) if in_text else None
    read = 0
    while chunk := member.read(_CHUNK):
        read += len(chunk)
        if read > MAX_XML:
            raise _Refused
        parser.Parse(chunk, False)
    parser.Parse(b"", True)
    return paragraphs


def _bounded(paragraphs: list[str]) -> Reading:
    """At most :data:`MAX_SHOWN` characters, blank runs at both ends dropped."""
    kept: list[str] = []
    total, cut = 0, False
    for paragraph in paragraphs:
        if total + len(paragraph) > MAX_SHOWN:
            kept.append(paragraph[: MAX_SHOWN - total])
            cut = True
            break
        kept.append(paragraph)
        total += len(paragraph)
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return Reading(tuple(kept), cut)
