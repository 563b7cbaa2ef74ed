"""A speech draft's text for reading in a page: a .txt decoded, a .docx's paragraphs taken from
``word/document.xml`` (nothing run, no entity expanded, a bounded read); other kinds are for
downloading only."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from xml.etree import ElementTree

# The most of a document the page shows: a speech is a few pages, far under this.
MAX_SHOWN = 200_000
# The most of word/document.xml read out of the archive (its text is a fraction of it).
MAX_XML = 8 * 1024 * 1024
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


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


def _docx_paragraphs(content: bytes) -> list[str] | None:
    try:
        with (
            zipfile.ZipFile(io.BytesIO(content)) as archive,
            archive.open("word/document.xml") as member,
        ):
            xml = member.read(MAX_XML + 1)
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, ValueError):
        return None
    if len(xml) > MAX_XML or b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        return None  # no document type is declared by Word: refuse entities outright
    try:
        root = ElementTree.fromstring(xml)  # noqa: S314 (bounded, no DOCTYPE: no entities)
    except ElementTree.ParseError:
        return None
    paragraphs: list[str] = []
    for paragraph in root.iter(f"{_W}p"):
        pieces: list[str] = []
        for element in paragraph.iter():
            if element.tag == f"{_W}t":
                pieces.append(element.text or "")
            elif element.tag == f"{_W}tab":
                pieces.append("\t")
            elif element.tag in (f"{_W}br", f"{_W}cr"):
                pieces.append("\n")
        paragraphs.append("".join(pieces))
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
