"""Content-addressed file store for uploaded speech drafts (tham luận), from the personal
page, tasks' deliverables, and the documents the office publishes to the personal pages.

Blobs live under a configured root at ``root/ab/cd/<sha256>``: the path is derived only from the
digest of the content, so nothing a user sends ever becomes part of a path. The original file name
is kept only as a sanitized display name (for the database and for download names) and as the
source of the suffix, which the content must live up to (:func:`storage.content.check_content`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from storage.content import FileRejected, check_content
from storage.sharing import blobs_in_turn

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES: Final = (".docx", ".doc", ".pdf", ".odt", ".rtf", ".txt")
# A task's deliverable may also be a spreadsheet, a presentation, a photo or a short video.
DELIVERABLE_SUFFIXES: Final = (
    *ALLOWED_SUFFIXES,
    *(".xlsx", ".xls", ".ods", ".pptx", ".ppt", ".odp"),
    *(".jpg", ".jpeg", ".png", ".mp4", ".mov"),
)
# A document the office publishes to the personal pages (bot.services.documents): what any
# delegate's phone or office computer opens — a PDF, Word, Excel, PowerPoint, a photo.
DOCUMENT_SUFFIXES: Final = (".pdf", ".docx", ".xlsx", ".pptx", ".jpg", ".jpeg", ".png")
# What a stored file is sent as (a browser or a chat app opens it by this type).
MEDIA_TYPES: Final = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".rtf": "application/rtf",
    ".txt": "text/plain",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xls": "application/vnd.ms-excel",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".ppt": "application/vnd.ms-powerpoint",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
}
# Telegram's Bot API refuses to hand a bot any file larger than this.
MAX_BYTES: Final = 20 * 1024 * 1024
MAX_NAME_CHARS: Final = 120
# Most file systems cap a name at 255 bytes, and Vietnamese letters take up to 3 bytes in UTF-8,
# so 120 characters alone do not guarantee that a browser or desktop can save the download.
MAX_NAME_BYTES: Final = 255
# A staged file older than this was left by a process that died while it staged an upload
# (:meth:`FileStore.sweep_staged`): an upload's bytes are staged just before the transaction
# that records them, which puts them in place or has them discarded within seconds.
STAGED_MARGIN: Final = 3600.0
_STAGED_PREFIX: Final = ".tmp-"
DIR_MODE: Final = 0o750
FILE_MODE: Final = 0o640

_DIGEST = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")
# Punctuation that is harmless in a file name on every common OS and in a Content-Disposition.
_SAFE_PUNCTUATION = frozenset("-_.,()[]+&'!#~")
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    # Windows also reserves the superscript-digit forms (COM¹, LPT²…).
    | {f"{dev}{digit}" for dev in ("COM", "LPT") for digit in "0123456789¹²³"}
)


@dataclass(frozen=True)
class StoredFile:
    """What the database should record about a stored upload."""

    sha256: str
    size: int
    path: Path
    display_name: str
    suffix: str
    created: bool


@dataclass
class StagedFile:
    """An accepted upload written beside its blob, not yet in place (:meth:`FileStore.stage`):
    ``temporary`` is None once published or discarded, or when the blob was there already."""

    examined: StoredFile
    temporary: Path | None
    content: bytes = field(default=b"", repr=False)  # a blob found in place: its bytes, kept


def _split_name(name: str, fallback: str) -> tuple[str, str]:
    """Sanitize a user-supplied file name into (stem, lower-case suffix or "")."""
    name = unicodedata.normalize("NFC", name)
    # Clients on either OS may send a full path; only its last component is a name.
    name = re.split(r"[/\\]", name)[-1]
    kept: list[str] = []
    for char in name:
        category = unicodedata.category(char)
        if category[0] in "LNM" or char in _SAFE_PUNCTUATION:
            kept.append(char)
        elif category == "Cf":
            # Bidi overrides and zero-width characters only serve to disguise a name
            # ("evil\u202ecod.exe" shows as "evilexe.doc"), so they vanish without a trace.
            continue
        else:
            kept.append(" ")
    # Trailing dots go before the suffix is read: Windows saves "report.pdf." as "report.pdf".
    cleaned = " ".join("".join(kept).split()).rstrip(" .")
    stem, suffix = cleaned, ""
    dot = cleaned.rfind(".")
    if dot >= 0 and _SUFFIX.fullmatch(cleaned[dot:]):
        stem, suffix = cleaned[:dot], cleaned[dot:].lower()
    stem = _trim_stem(stem)
    # Windows refuses device names whatever follows the first dot ("CON.tar.docx" too).
    if stem.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    stem = _trim_stem(_cap(stem, MAX_NAME_CHARS - len(suffix), MAX_NAME_BYTES - len(suffix)))
    return stem or fallback, suffix


def _trim_stem(stem: str) -> str:
    """Strip leading dots/dashes (hidden files, CLI flags) and the trailing dots Windows drops."""
    return stem.lstrip(" .-").rstrip(" .")


def _cap(text: str, max_chars: int, max_bytes: int) -> str:
    """Cut text to at most max_chars characters and max_bytes UTF-8 bytes."""
    text = text[:max_chars]
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    return text


def sanitize_filename(name: str, *, fallback: str = "tham-luan") -> str:
    """A display name safe to store and to offer as a download name; never a path."""
    stem, suffix = _split_name(name, fallback)
    return stem + suffix


def media_type(name: str) -> str:
    """The media type a stored file is sent as, by its name's suffix."""
    return MEDIA_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def _validate_digest(sha256: str) -> str:
    """Return the digest if it is 64 lower-case hex characters, else raise ValueError."""
    if not isinstance(sha256, str) or not _DIGEST.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256


def read_stored(path: Path) -> bytes | None:
    """The content of a stored file; None when it cannot be read, which its reader answers in
    words: the store has lost it (on record, not on disk: the database restored without the
    files' folder), or it is there but unreadable (a restore that left the wrong owner), which
    is also logged for whoever runs the server."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("a stored file could not be read: %s", type(exc).__name__)
        return None


def check_upload(filename: str, size: int | None, allowed: tuple[str, ...]) -> str:
    """Return the suffix if name and announced size are acceptable, else raise FileRejected.

    Meant to run before downloading; ``size`` is None when the client did not announce one.
    """
    _stem, suffix = _split_name(filename, "")
    # The type goes first: telling someone an .exe is too large would send them the wrong way.
    if suffix not in allowed:
        raise FileRejected("bad_type", f"suffix {suffix or '(none)'!r} is not accepted")
    if size is not None:
        if size < 0:
            raise ValueError(f"negative size {size}")
        if size == 0:
            raise FileRejected("empty", "file is empty")
        if size > MAX_BYTES:
            raise FileRejected("too_large", f"{size} bytes is over {MAX_BYTES}")
    return suffix


class FileStore:
    """Blobs on disk under ``root``, addressed by the SHA-256 of their content."""

    def __init__(self, root: Path) -> None:
        """Remember the root (made absolute); nothing is created until the first put."""
        self.root = Path(root).resolve()

    def check(self, filename: str, size: int | None) -> str:
        """The suffix of a draft's name, if name and announced size are acceptable; else
        FileRejected (see :func:`check_upload`)."""
        return check_upload(filename, size, ALLOWED_SUFFIXES)

    def put(
        self, filename: str, content: bytes, allowed: tuple[str, ...] = ALLOWED_SUFFIXES
    ) -> StoredFile:
        """Validate and store content (a draft's types, unless ``allowed`` says others);
        identical content maps to the existing blob."""
        return self.keep(self.examine(filename, content, allowed), content)

    def examine(
        self, filename: str, content: bytes, allowed: tuple[str, ...] = ALLOWED_SUFFIXES
    ) -> StoredFile:
        """What :meth:`put` would record of content it accepts, without writing a byte
        (``created`` False); FileRejected if it is refused. :meth:`keep` then stores it."""
        suffix = check_upload(filename, len(content), allowed)
        check_content(suffix, content)
        digest = hashlib.sha256(content).hexdigest()
        return StoredFile(
            sha256=digest,
            size=len(content),
            path=self.path_for(digest),
            display_name=sanitize_filename(filename),
            suffix=suffix,
            created=False,
        )

    def keep(self, examined: StoredFile, content: bytes) -> StoredFile:
        """Store ``content`` that :meth:`examine` accepted as ``examined``; identical content
        maps to the existing blob."""
        staged = self.stage(examined, content)
        try:
            return self.publish(staged)
        finally:
            self.discard(staged)

    def stage(self, examined: StoredFile, content: bytes) -> StagedFile:
        """The slow half of :meth:`keep`, to do outside any transaction: ``content`` that
        :meth:`examine` accepted written and fsynced to a hidden temporary file beside its
        blob (none when the blob is there already). :meth:`publish` then puts it in place,
        in the transaction that records it; :meth:`discard` removes it when that transaction
        refuses it or fails before publishing."""
        path = examined.path
        # A blob with the right name but the wrong size was damaged outside this code; replace it.
        if path.is_file() and path.stat().st_size == len(content):
            return StagedFile(examined, None, content)
        return StagedFile(examined, self._write_temporary(path, content))

    async def stage_off_loop(self, examined: StoredFile, content: bytes) -> StagedFile:
        """:meth:`stage` in a worker thread. A caller cancelled while it writes (a client gone,
        a shutdown) cannot discard what it never received: the thread finishes the file and
        it is discarded then, so a cancelled upload leaves no temporary file behind."""
        writing = asyncio.ensure_future(asyncio.to_thread(self.stage, examined, content))
        try:
            return await asyncio.shield(writing)
        except asyncio.CancelledError:
            writing.add_done_callback(self._discard_written)
            raise

    @contextlib.asynccontextmanager
    async def staged(self, examined: StoredFile, content: bytes) -> AsyncIterator[StagedFile]:
        """``content`` staged (:meth:`stage_off_loop`) for the body to :meth:`publish` in the
        transaction that records it; discarded on the way out unless it was published — the
        upload refused, the transaction failed, the caller cancelled while it wrote or after —
        so that no bytes are left behind that no row names."""
        staged = await self.stage_off_loop(examined, content)
        try:
            yield staged
        finally:
            self.discard(staged)  # nothing if it was published

    def _discard_written(self, writing: asyncio.Future[StagedFile]) -> None:
        """:meth:`stage_off_loop`'s file, written after its caller was cancelled: removed."""
        if not writing.cancelled() and writing.exception() is None:
            self.discard(writing.result())

    def publish(self, staged: StagedFile) -> StoredFile:
        """Put a staged file in place (a rename and a directory fsync: quick enough to do
        while a transaction holds the database's write lock); its blob is then stored for
        good: a blob of the same content may be named by another row, so a transaction that
        fails after this leaves it (unnamed at worst, never a row without its blob)."""
        path = staged.examined.path
        if staged.temporary is None:
            if staged.content and not path.is_file():
                # Found in place when staged, gone since (removed by hand: ``hoinghi purge``
                # cannot, it runs only while no process takes uploads): written again now
                # rather than named by a row and missing.
                staged.temporary = self._write_temporary(path, staged.content)
            else:
                return replace(staged.examined, created=False)
        os.replace(staged.temporary, path)
        staged.temporary = None
        self._sync_directory(path.parent)
        return replace(staged.examined, created=True)

    async def publish_in(self, session: AsyncSession, staged: StagedFile) -> StoredFile:
        """:meth:`publish` in the transaction of ``session``, which records the row that names
        it, after taking the blob's turn (:func:`storage.sharing.blobs_in_turn`): a removal of
        the same bytes running at that moment («Hủy ghi nhận») either sees the row once this
        commits, or has removed the blob before, which :meth:`publish` then writes again."""
        await blobs_in_turn(session, [staged.examined.sha256])
        return await asyncio.to_thread(self.publish, staged)

    def discard(self, staged: StagedFile) -> None:
        """Remove a staged file that was not published (nothing if it was, or none was
        written): an upload refused, or a transaction failed, leaves no bytes behind."""
        if staged.temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged.temporary)
            staged.temporary = None

    def sweep_staged(self, *, older_than: float = STAGED_MARGIN, now: float | None = None) -> int:
        """Remove the staged files (:meth:`stage`) last written more than ``older_than``
        seconds before ``now`` (by default: the system's time), and say how many: a process
        killed while it staged an upload, or before its transaction put it in place, left its
        temporary file, which nothing else removes. A younger one may be another process's
        upload on its way (PostgreSQL: several processes share the store) and is left."""
        if not self.root.is_dir():
            return 0
        cutoff = (time.time() if now is None else now) - older_than
        removed = 0
        for path in self.root.glob(f"*/*/{_STAGED_PREFIX}*"):
            with contextlib.suppress(FileNotFoundError):  # put in place or swept meanwhile
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    def open(self, sha256: str) -> bytes:
        """The stored content for a digest; FileNotFoundError if it was never stored."""
        return self.path_for(sha256).read_bytes()

    def path_for(self, sha256: str) -> Path:
        """Where the blob for a digest lives; ValueError unless it is a 64-char lower-case hex."""
        digest = _validate_digest(sha256)
        return self.root / digest[:2] / digest[2:4] / digest

    def _write_temporary(self, path: Path, content: bytes) -> Path:
        """Write and fsync ``content`` to a hidden temporary file in ``path``'s directory (the
        same file system, so that a rename puts it in place whole)."""
        self._make_dirs(path.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=_STAGED_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(content)
                tmp.flush()
                os.fchmod(tmp.fileno(), FILE_MODE)
                os.fsync(tmp.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        return Path(tmp_name)

    @staticmethod
    def _sync_directory(directory: Path) -> None:
        """The rename itself only survives a power cut once the directory entry is on disk."""
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @staticmethod
    def _make_dirs(directory: Path) -> None:
        """Create missing directories top-down with DIR_MODE, whatever the umask says."""
        missing: list[Path] = []
        while not directory.is_dir():
            missing.append(directory)
            directory = directory.parent
        for each in reversed(missing):
            try:
                each.mkdir(mode=DIR_MODE)
            except FileExistsError:
                continue  # another writer created it first; its mode is theirs to have set
            each.chmod(DIR_MODE)
