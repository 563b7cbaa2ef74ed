"""Online backup of the SQLite database, safe while the bot is running (SQLite's backup API)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path


class BackupError(Exception):
    """The backup could not be made; ``code`` says why in a form the CLI can translate."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def backup_sqlite(source: Path, target: Path, *, files_target: Path | None = None) -> int:
    """Copy the database at ``source`` to a new file ``target``, consistently even while the
    bot writes (WAL included), then check the copy; returns its size in bytes. Neither
    ``target`` nor ``files_target`` (where the uploaded files will go) may exist yet."""
    if not source.is_file():
        raise BackupError("no_database")
    if target.exists():
        raise BackupError("target_exists")
    if files_target is not None and files_target.exists():
        raise BackupError("files_target_exists")
    if not target.parent.is_dir():  # a mistyped path must not create folders
        raise BackupError("no_folder")
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            (result,) = dst.execute("PRAGMA integrity_check").fetchone()
        finally:
            dst.close()
    src.close()
    if result != "ok":
        target.unlink(missing_ok=True)
        raise BackupError("damaged")
    return target.stat().st_size


def files_backup_path(database_backup: Path) -> Path:
    """Where a database backup's uploaded files go: ``sao-luu.db`` → ``sao-luu-tham-luan``."""
    return database_backup.with_name(f"{database_backup.stem}-tham-luan")


def backup_files(source: Path, target: Path) -> tuple[int, int]:
    """Copy the file store's blobs under ``source`` into the new folder ``target`` (empty when
    nothing was uploaded yet); returns how many files and bytes. Blobs never change once
    written, so a copy taken while the bot runs holds every file the database backup names."""
    target.mkdir(mode=0o750)
    count = size = 0
    if not source.is_dir():
        return count, size
    for path in sorted(source.rglob("*")):
        # A temp file is an upload still being written: the database cannot name it yet.
        if not path.is_file() or path.name.startswith(".tmp-"):
            continue
        copied = target / path.relative_to(source)
        copied.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        shutil.copy2(path, copied)
        count, size = count + 1, size + copied.stat().st_size
    return count, size
