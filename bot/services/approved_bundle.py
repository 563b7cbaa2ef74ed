"""The approved speeches as one .zip (the dashboard's «Tải các bản đã chốt (.zip)»): each
approved version's file, numbered in the themes' order and named so it sorts and reads on any
computer (``01-1.1-DB031-Nguyen-Thi-Lan-Phuong.docx``), and a short index, ``danh-sach.csv``.

Plain values in, bytes out: it runs in a worker thread, off the event loop. Each file is copied
into the archive from the file store in chunks (``ZipFile.write``), never read whole."""

from __future__ import annotations

import re
import shutil
import unicodedata
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from bot.config import Meeting
from bot.documents.workbook import Cell, csv_bytes
from bot.services.drafts import ApprovedDraft
from bot.texts import Catalog
from bot.texts.presenters import actor_label

INDEX = "danh-sach.csv"
TEXT_SUFFIX = ".txt"
# A speaker's name in a file's name, at most (folded to ASCII): the rest is short already.
NAME_CHARS = 60
HEADINGS = (
    "number", "file", "theme", "theme_title", "name", "organization", "code", "version",
    "approved_at", "approved_by",
)  # fmt: skip


def approved_names(items: Sequence[ApprovedDraft]) -> list[str]:
    """Each approved draft's name in the archive, in ``items``' order:
    ``<STT>-<theme key>-<code>-<name in ASCII>.<ext>``, the number padded so they sort."""
    width = max(2, len(str(len(items))))
    names = []
    for number, item in enumerate(items, 1):
        line = item.draft
        suffix = _ascii(Path(item.version.display_name).suffix.lower(), ".")
        parts = (
            f"{number:0{width}d}",
            _ascii(line.theme_key, "."),
            _ascii(line.code),
            _ascii(line.full_name)[:NAME_CHARS].strip("-"),
        )
        names.append("-".join(part for part in parts if part) + (suffix or TEXT_SUFFIX))
    return names


def write_approved_zip(
    target: IO[bytes], catalog: Catalog, meeting: Meeting, items: Sequence[ApprovedDraft]
) -> list[ApprovedDraft]:
    """The archive of ``items`` to ``target``, its index first; returns those whose file the
    store no longer holds (left out, and marked so in the index). The speeches' files are
    stored as they are (a .docx or .pdf is compressed already: deflating it again costs the
    server's time for nothing), the index deflated."""
    index, files, lost = _bundle(catalog, meeting, items)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(INDEX, index, compress_type=zipfile.ZIP_DEFLATED)
        for path, name in files:
            archive.write(path, name)
    return lost


def write_approved_folder(
    directory: Path, catalog: Catalog, meeting: Meeting, items: Sequence[ApprovedDraft]
) -> list[ApprovedDraft]:
    """The same files and index as :func:`write_approved_zip`, copied into ``directory``
    (``hoinghi drafts export --approved``); returns those whose file the store no longer
    holds."""
    index, files, lost = _bundle(catalog, meeting, items)
    for path, name in files:
        shutil.copyfile(path, directory / name)
    (directory / INDEX).write_bytes(index)
    return lost


def _bundle(
    catalog: Catalog, meeting: Meeting, items: Sequence[ApprovedDraft]
) -> tuple[bytes, list[tuple[Path, str]], list[ApprovedDraft]]:
    """What either form holds: the index, each file still in the store with its name, and the
    drafts whose file the store no longer holds."""
    names = approved_names(items)
    lost = [item for item in items if not item.path.is_file()]
    index = approved_index(catalog, meeting, items, names, lost)
    files = [(item.path, name) for item, name in zip(items, names, strict=True) if item not in lost]
    return index, files, lost


def approved_index(
    catalog: Catalog,
    meeting: Meeting,
    items: Sequence[ApprovedDraft],
    names: Sequence[str],
    lost: Sequence[ApprovedDraft] = (),
) -> bytes:
    """The index: one row per approved draft (number, file, theme, speaker, code, version, when
    and by whom it was approved, named as Nhật ký names them: :func:`actor_label`), as CSV
    that Excel reads."""
    headings = [catalog.plain(f"approved_bundle.heading.{name}") for name in HEADINGS]
    rows: list[list[Cell]] = []
    for number, (item, name) in enumerate(zip(items, names, strict=True), 1):
        line = item.draft
        rows.append(
            [
                number,
                catalog.plain("drafts_export.lost_cell") if item in lost else name,
                line.theme_key,
                line.theme_title,
                line.full_name,
                line.organization,
                line.code,
                item.version.number,
                meeting.local(item.approved_at) if item.approved_at is not None else None,
                actor_label(catalog, item.approved_by, item.approved_account),
            ]
        )
    return csv_bytes(headings, rows)


def _ascii(text: str, keep: str = "") -> str:
    """``text`` in plain letters and digits, words joined by «-» ("Nguyễn Thị Hà" →
    "Nguyen-Thi-Ha"); the characters in ``keep`` kept ("1.1")."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    allowed = "A-Za-z0-9" + re.escape(keep)
    return "-".join(re.findall(f"[{allowed}]+", plain))
