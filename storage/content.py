"""What an uploaded file's bytes must be for the type its name claims.

Every upload (a speech draft, a task's deliverable) is judged here after the download and before
anything is kept or posted to the office. Beyond the first bytes of each type:

- an Office Open XML file (.docx, .xlsx, .pptx) is a ZIP archive with ``[Content_Types].xml``
  declaring its main part (``word/document.xml``, ``xl/workbook.xml``, ``ppt/presentation.xml``)
  with the content type of that very type, and the part itself; no macros (``vbaProject.bin``,
  a macro-enabled main type: a .docm renamed .docx is not a .docx);
- an OpenDocument file (.odt, .ods, .odp) is a ZIP archive whose ``mimetype`` names its type,
  with ``content.xml``, and no Basic or script macros;
- in either, no member is a program (.exe, .js, .msi…) and no member name is a path that leaves
  the archive; and the archive is no bomb: the sizes its directory declares are capped, in total
  and in ratio, without inflating anything but the small ``[Content_Types].xml``;
- an old Office file (.doc, .xls, .ppt) is an OLE compound file holding that type's main stream
  (``WordDocument``, ``Workbook``, ``PowerPoint Document``), so an installer (.msi, also an OLE
  file) renamed .doc is refused, and no VBA macro storage;
- a .txt is UTF-8 (or UTF-16 with a byte order mark) text.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from typing import Final, Literal
from xml.parsers import expat

RejectCode = Literal[
    "empty", "too_large", "bad_type", "malformed", "macro", "program", "unpacked_too_large"
]

# What the directory of an archive may declare once unpacked, in total and per member.
MAX_UNPACKED_BYTES: Final = 200 * 1024 * 1024
MAX_RATIO: Final = 100  # Apache POI's default for Office files (a minimum inflate ratio of 1%)
RATIO_FROM_BYTES: Final = 1024 * 1024  # small members may compress better without harm
MAX_MEMBERS: Final = 5_000
MAX_CONTENT_TYPES_BYTES: Final = 1024 * 1024

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_MAGIC: Final[dict[str, tuple[bytes, ...]]] = {
    ".pdf": (b"%PDF",),
    ".docx": (_ZIP_MAGIC,),
    ".xlsx": (_ZIP_MAGIC,),
    ".pptx": (_ZIP_MAGIC,),
    ".odt": (_ZIP_MAGIC,),
    ".ods": (_ZIP_MAGIC,),
    ".odp": (_ZIP_MAGIC,),
    ".doc": (_OLE_MAGIC,),
    ".xls": (_OLE_MAGIC,),
    ".ppt": (_OLE_MAGIC,),
    ".rtf": (b"{\\rtf",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
}
# MP4 and QuickTime files are a series of boxes; the first is "ftyp" (older .mov: others).
_BOXES: Final[dict[str, tuple[bytes, ...]]] = {
    ".mp4": (b"ftyp",),
    ".mov": (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"),
}
# Office Open XML: the main part and the content type [Content_Types].xml must give it.
_OOXML: Final[dict[str, tuple[str, str]]] = {
    ".docx": (
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    ),
    ".xlsx": (
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    ),
    ".pptx": (
        "ppt/presentation.xml",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
    ),
}
_VBA_TYPE = "application/vnd.ms-office.vbaproject"
_ODF: Final[dict[str, str]] = {
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
}
# The stream an old Office file of each type cannot be without.
_OLE_MAIN: Final[dict[str, frozenset[str]]] = {
    ".doc": frozenset({"worddocument"}),
    ".xls": frozenset({"workbook", "book"}),
    ".ppt": frozenset({"powerpoint document"}),
}
# Storages where Word and Excel keep VBA projects.
_OLE_MACROS = frozenset({"macros", "_vba_project_cur", "vba"})
# What Windows runs when opened: none of it belongs inside a document.
PROGRAM_SUFFIXES: Final = frozenset(
    {".exe", ".dll", ".bat", ".cmd", ".com", ".scr", ".js", ".vbs", ".ps1", ".msi", ".jar"}
    | {".hta", ".jse", ".vbe", ".wsf", ".pif", ".cpl", ".lnk"}
)
# What reading a mangled archive can raise: each means it is not a sound file of its type.
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    RuntimeError,  # an encrypted member
    NotImplementedError,  # a compression method zipfile does not know
    ValueError,
    OSError,
    EOFError,
    struct.error,
    IndexError,
)
_TRAVERSAL = re.compile(r"(^|/)\.\.(/|$)|^[A-Za-z]:|^/|\\|\x00")
_ENDOFCHAIN = 0xFFFFFFFE


class FileRejected(ValueError):
    """An upload that is refused; ``code`` says why in a form the bot can translate."""

    def __init__(self, code: RejectCode, detail: str) -> None:
        """Keep the machine-readable code next to a detail meant for logs."""
        super().__init__(f"{code}: {detail}")
        self.code: RejectCode = code
        self.detail = detail


def check_content(suffix: str, content: bytes) -> None:
    """Raise FileRejected unless ``content`` is a sound file of the type ``suffix`` names."""
    if not content:
        raise FileRejected("empty", "file is empty")
    if suffix == ".txt":
        _check_text(content)
        return
    if suffix in _BOXES:
        if content[4:8] not in _BOXES[suffix]:
            raise FileRejected("bad_type", f"content does not start like a {suffix} file")
        return
    if not content.startswith(_MAGIC[suffix]):
        raise FileRejected("bad_type", f"content does not start like a {suffix} file")
    if suffix in _OOXML or suffix in _ODF:
        _check_archive(suffix, content)
    elif suffix in _OLE_MAIN:
        _check_ole(suffix, content)


def _check_text(content: bytes) -> None:
    # Only BOM-marked UTF-16 is accepted: guessing it from bare bytes misreads other text.
    encoding = "utf-16" if content[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileRejected("bad_type", f"text is not UTF-8 or UTF-16 with BOM: {exc}") from exc
    if "\x00" in text:
        raise FileRejected("bad_type", "text contains NUL characters")
    if not text.strip():
        raise FileRejected("empty", "text file holds only whitespace")


# --- ZIP-based formats -------------------------------------------------------------------------


def _check_archive(suffix: str, content: bytes) -> None:
    """Only the archive's directory is read, and the one small member that names the type."""
    # zipfile builds an object per directory entry (seconds for 200,000), whatever count the
    # archive announces; each entry starts with this signature, so counting them bounds it.
    entries = content.count(b"PK\x01\x02")
    if entries > MAX_MEMBERS:
        raise FileRejected("malformed", f"{entries} members, more than {MAX_MEMBERS}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except _UNREADABLE as exc:
        raise FileRejected("malformed", f"not a readable ZIP archive: {exc}") from exc
    with archive:
        members = archive.infolist()
        names = _check_members(members)
        _check_sizes(members, len(content))
        if suffix in _OOXML:
            _check_ooxml(suffix, archive, names)
        else:
            _check_odf(suffix, archive, names)


def _check_members(members: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """Refuse programs, macros by name and names that are paths out of the archive; return
    the members by lower-case name (Office part names ignore case)."""
    by_name: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        name = info.filename
        if _TRAVERSAL.search(name):
            raise FileRejected("malformed", f"member name {name!r} is a path out of the archive")
        folded = name.casefold()
        if folded in by_name:
            raise FileRejected("malformed", f"member {name!r} appears twice")
        by_name[folded] = info
        # Windows ignores trailing dots and spaces: "evil.exe. " runs as evil.exe.
        base = folded.rsplit("/", 1)[-1].rstrip(". ")
        dot = base.rfind(".")
        if dot >= 0 and base[dot:] in PROGRAM_SUFFIXES:
            raise FileRejected("program", f"member {name!r} is a program")
        if base == "vbaproject.bin" or folded.startswith("xl/macrosheets/"):
            raise FileRejected("macro", f"member {name!r} holds macros")
    return by_name


def _check_sizes(members: list[zipfile.ZipInfo], archive_size: int) -> None:
    """Refuse an archive whose directory declares more than it can decently hold."""
    total = 0
    for info in members:
        total += info.file_size
        if total > MAX_UNPACKED_BYTES:
            raise FileRejected(
                "unpacked_too_large", f"declares over {MAX_UNPACKED_BYTES} bytes unpacked"
            )
        if info.file_size > RATIO_FROM_BYTES and info.file_size > MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise FileRejected(
                "unpacked_too_large",
                f"member {info.filename!r} unpacks {info.file_size} from {info.compress_size}",
            )
    # Members sharing their compressed bytes (a bomb's trick) start at the same place, or
    # add up to more than the file.
    starts = {info.header_offset for info in members}
    if len(starts) < len(members) or sum(i.compress_size for i in members) > archive_size:
        raise FileRejected("malformed", "members overlap")


def _check_ooxml(suffix: str, archive: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo]) -> None:
    main_part, main_type = _OOXML[suffix]
    types = names.get("[content_types].xml")
    if types is None:
        raise FileRejected("malformed", "no [Content_Types].xml")
    declared = _content_types(archive, types)
    if any(_VBA_TYPE in kind for kind in declared.values()):
        raise FileRejected("macro", "declares a VBA project")
    kind = declared.get(f"/{main_part}")
    if kind is not None and "macroenabled" in kind:
        raise FileRejected("macro", f"main part is {kind}")
    if kind != main_type:
        raise FileRejected("malformed", f"main part /{main_part} is declared as {kind!r}")
    if main_part not in names:
        raise FileRejected("malformed", f"no {main_part}")


def _content_types(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, str]:
    """Part names (and ``*.ext`` for defaults) to lower-case content types."""
    if info.file_size > MAX_CONTENT_TYPES_BYTES:
        raise FileRejected("malformed", f"[Content_Types].xml of {info.file_size} bytes")
    try:
        with archive.open(info) as stream:
            # Read with a cap: the size the directory declares may lie.
            raw = stream.read(MAX_CONTENT_TYPES_BYTES + 1)
    except _UNREADABLE as exc:
        raise FileRejected("malformed", f"[Content_Types].xml unreadable: {exc}") from exc
    if len(raw) > MAX_CONTENT_TYPES_BYTES:
        raise FileRejected("malformed", "[Content_Types].xml larger than it says")
    declared: dict[str, str] = {}

    def element(name: str, attributes: dict[str, str]) -> None:
        tag = name.rsplit(" ", 1)[-1]
        kind = attributes.get("ContentType", "").strip().lower()
        if tag == "Override" and attributes.get("PartName"):
            declared[attributes["PartName"].strip().lower()] = kind
        elif tag == "Default" and attributes.get("Extension"):
            declared["*." + attributes["Extension"].strip().lower()] = kind

    def no_dtd(*_: object) -> None:
        # Content types never need a DTD; one could only serve to expand entities.
        raise FileRejected("malformed", "[Content_Types].xml has a DTD")

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_dtd
    parser.StartElementHandler = element
    try:
        parser.Parse(raw, True)
    except expat.ExpatError as exc:
        raise FileRejected("malformed", f"[Content_Types].xml: {exc}") from exc
    return declared


def _check_odf(suffix: str, archive: zipfile.ZipFile, names: dict[str, zipfile.ZipInfo]) -> None:
    mimetype = names.get("mimetype")
    if mimetype is None or mimetype.file_size > 200:
        raise FileRejected("malformed", "no mimetype member")
    try:
        with archive.open(mimetype) as stream:
            declared = stream.read(201).decode("ascii", "replace").strip()
    except _UNREADABLE as exc:
        raise FileRejected("malformed", f"mimetype unreadable: {exc}") from exc
    if declared != _ODF[suffix]:
        raise FileRejected("malformed", f"mimetype is {declared[:80]!r}")
    if "content.xml" not in names:
        raise FileRejected("malformed", "no content.xml")
    for name in names:
        if name.endswith("/"):
            continue  # a folder
        # Basic modules live in Basic/<library>/ beside the library's index, which alone is
        # no macro; Scripts/ holds macros in other languages.
        module = name.startswith("basic/") and name.count("/") >= 2
        if name.startswith("scripts/") or (module and not name.endswith("/script-lb.xml")):
            raise FileRejected("macro", f"member {name!r} holds macros")


# --- OLE compound files (.doc, .xls, .ppt) -----------------------------------------------------


def _check_ole(suffix: str, content: bytes) -> None:
    entries = _ole_entries(content)
    if not entries & _OLE_MAIN[suffix]:
        raise FileRejected("malformed", f"no {sorted(_OLE_MAIN[suffix])[0]} stream")
    if entries & _OLE_MACROS:
        raise FileRejected("macro", "holds a VBA storage")


def _ole_entries(content: bytes) -> set[str]:
    """The lower-case names of the storages and streams in an OLE compound file's directory."""
    try:
        return _read_ole_directory(content)
    except (struct.error, IndexError, ValueError) as exc:
        raise FileRejected("malformed", f"unreadable compound file: {exc}") from exc


def _read_ole_directory(content: bytes) -> set[str]:
    (shift,) = struct.unpack_from("<H", content, 0x1E)
    if shift not in (9, 12):
        raise ValueError(f"sector shift {shift}")
    size = 1 << shift
    sectors = len(content) // size - 1  # the header takes the place of the first sector

    def sector(number: int) -> bytes:
        if not 0 <= number < sectors:
            raise ValueError(f"sector {number} outside the file")
        start = (number + 1) * size
        return content[start : start + size]

    fat_count, first_directory = struct.unpack_from("<II", content, 0x2C)
    first_difat, difat_count = struct.unpack_from("<II", content, 0x44)
    fat_sectors = [n for n in struct.unpack_from("<109I", content, 0x4C) if n < _ENDOFCHAIN]
    per_sector = size // 4
    number = first_difat
    for _ in range(min(difat_count, sectors)):
        if number >= _ENDOFCHAIN:
            break
        values = struct.unpack(f"<{per_sector}I", sector(number))
        fat_sectors += [n for n in values[:-1] if n < _ENDOFCHAIN]
        number = values[-1]
    fat: list[int] = []
    for number in fat_sectors[: min(fat_count, sectors)]:
        fat += struct.unpack(f"<{per_sector}I", sector(number))
    names: set[str] = set()
    number, seen = first_directory, 0
    while number != _ENDOFCHAIN:
        seen += 1
        if seen > sectors or number >= len(fat):
            raise ValueError("directory chain loops or leaves the file")
        block = sector(number)
        for offset in range(0, size, 128):
            (length,) = struct.unpack_from("<H", block, offset + 64)
            kind = block[offset + 66]
            if kind in (1, 2, 5) and 2 <= length <= 64:
                raw = block[offset : offset + length - 2]
                names.add(raw.decode("utf-16-le", "replace").casefold())
        number = fat[number]
    return names
