"""Small but well-formed Office files built in memory, and hostile variations of them.

The bytes are deterministic (fixed timestamps), so the same arguments give the same file and
tests of dedup by hash keep working.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_STAMP = (2024, 5, 1, 8, 0, 0)
# The main part of each OOXML type and the content type [Content_Types].xml gives it.
MAIN_PARTS = {
    "docx": (
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ),
    "xlsx": (
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ),
    "pptx": (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    ),
}
MACRO_MAIN_TYPE = "application/vnd.ms-word.document.macroEnabled.main+xml"
ODF_MIME = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}


def zip_bytes(
    members: Iterable[tuple[str, bytes]], *, comment: bytes = b"", stored: Iterable[str] = ()
) -> bytes:
    """A ZIP archive of ``members`` in order (deflated unless named in ``stored``)."""
    keep = set(stored)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, _STAMP)
            info.compress_type = zipfile.ZIP_STORED if name in keep else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
        archive.comment = comment
    return buffer.getvalue()


def content_types(part: str, content_type: str) -> bytes:
    """A ``[Content_Types].xml`` declaring ``part`` with ``content_type``."""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="{_CT}">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>'
    ).encode()


def office_members(
    kind: str, text: str = "", *, main_type: str | None = None
) -> list[tuple[str, bytes]]:
    """The members of a minimal ``kind`` file (docx, xlsx, pptx, odt, ods, odp) saying ``text``."""
    body = f"<?xml version='1.0' encoding='UTF-8'?><doc><t>{text}</t></doc>".encode()
    if kind in ODF_MIME:
        return [
            ("mimetype", ODF_MIME[kind].encode()),
            ("content.xml", body),
            ("META-INF/manifest.xml", b"<manifest/>"),
        ]
    part, declared = MAIN_PARTS[kind]
    return [
        ("[Content_Types].xml", content_types(part, main_type or declared)),
        ("_rels/.rels", b"<Relationships/>"),
        (part, body),
    ]


def office(
    kind: str,
    text: str = "",
    *,
    extra: Iterable[tuple[str, bytes]] = (),
    size: int | None = None,
    main_type: str | None = None,
) -> bytes:
    """A minimal ``kind`` file saying ``text``, with ``extra`` members, exactly ``size`` bytes
    long if given (padded with a stored member and the archive comment)."""
    members = office_members(kind, text, main_type=main_type) + list(extra)
    stored = {"mimetype"} if kind in ODF_MIME else set()
    content = zip_bytes(members, stored=stored)
    if size is None:
        return content
    if size - len(content) > 60_000:
        pad = ("word/media/pad.bin", b"\x00" * (size - len(content) - 60_000))
        stored.add(pad[0])
        members.append(pad)
        content = zip_bytes(members, stored=stored)
    missing = size - len(content)
    if not 0 <= missing <= 65_535:
        raise ValueError(f"cannot pad {kind} of {len(content)} bytes to {size}")
    return zip_bytes(members, stored=stored, comment=b" " * missing)


def docx(text: str, size: int = 2048) -> bytes:
    """A real .docx saying ``text``, exactly ``size`` bytes long, unique per ``text``."""
    return office("docx", text, size=size)
