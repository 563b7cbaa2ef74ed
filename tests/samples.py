"""Small but well-formed Office files built in memory, and hostile variations of them.

The bytes are deterministic (fixed timestamps), so the same arguments give the same file and
tests of dedup by hash keep working.
"""

from __future__ import annotations

import io
import struct
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


def office_file(
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
    return office_file("docx", text, size=size)


def ole(*entries: tuple[str, int], tail: bytes = b"") -> bytes:
    """An OLE compound file (the container of .doc, .xls, .ppt and .msi) whose directory holds
    ``entries`` as (name, type: 1 a storage, 2 a stream), all empty; ``tail`` follows."""
    free, end, fat_sector = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    # One FAT sector (sector 0), the directory in sector 1, no mini FAT, no DIFAT sectors.
    struct.pack_into("<IIIIIIII", header, 0x2C, 1, 1, 0, 4096, end, 0, end, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([free] * 108))
    fat = struct.pack("<128I", fat_sector, end, *([free] * 126))
    directory = b"".join(
        _ole_entry(name, kind) for name, kind in [("Root Entry", 5), *entries]
    ).ljust(512, b"\x00")
    if len(directory) > 512:
        raise ValueError("at most 3 entries fit one directory sector")
    return bytes(header) + fat + directory + tail


def _ole_entry(name: str, kind: int) -> bytes:
    encoded = name.encode("utf-16-le") + b"\x00\x00"
    entry = bytearray(128)
    entry[: len(encoded)] = encoded
    struct.pack_into("<HB", entry, 64, len(encoded), kind)
    struct.pack_into("<III", entry, 68, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)  # no siblings
    struct.pack_into("<II", entry, 116, 0xFFFFFFFE, 0)  # no data
    return bytes(entry)


def declare_sizes(content: bytes, unpacked: int) -> bytes:
    """``content`` with every member's unpacked size in the ZIP directory set to ``unpacked``
    (what a bomb declares, or hides), its data left as it is."""
    patched = bytearray(content)
    at = patched.find(b"PK\x01\x02")
    while at >= 0:
        struct.pack_into("<I", patched, at + 24, unpacked)
        at = patched.find(b"PK\x01\x02", at + 46)
    return bytes(patched)


def overlapping(content: bytes, name: str) -> bytes:
    """``content`` (a ZIP archive) with member ``name`` listed a second time under another name
    of the same length: two directory entries sharing one member's bytes, a bomb's trick."""
    end = content.rfind(b"PK\x05\x06")
    count, size, start = struct.unpack_from("<HII", content, end + 10)
    at = start
    while True:
        name_length, extra, comment = struct.unpack_from("<HHH", content, at + 28)
        length = 46 + name_length + extra + comment
        if content[at + 46 : at + 46 + name_length] == name.encode():
            break
        at += length
    entry = bytearray(content[at : at + length])
    entry[46] = ord("z") if entry[46] != ord("z") else ord("y")
    record = bytearray(content[end:])
    struct.pack_into("<HHI", record, 8, count + 1, count + 1, size + len(entry))
    return content[: start + size] + bytes(entry) + bytes(record)
