"""Online backup of the SQLite database, safe while the bot is running (SQLite's backup API)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class BackupError(Exception):
    """The backup could not be made; ``code`` says why in a form the CLI can translate."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy the database at ``source`` to a new file ``target``, consistently even while the
    bot writes (WAL included), then check the copy; returns its size in bytes."""
    if not source.is_file():
        raise BackupError("no_database")
    if target.exists():
        raise BackupError("target_exists")
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
