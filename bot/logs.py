"""Logging that never writes the bot token, and keeps chatty HTTP loggers quiet."""

from __future__ import annotations

import logging
from collections.abc import Iterable

REDACTED = "[REDACTED]"


class RedactingFormatter(logging.Formatter):
    """Replace each secret wherever it appears in the formatted line, tracebacks included."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        """The usual line, with every secret replaced."""
        line = super().format(record)
        for secret in self._secrets:
            line = line.replace(secret, REDACTED)
        return line


def setup_logging(level: int = logging.INFO, *, secrets: Iterable[str] = ()) -> None:
    """Log to stderr; request URLs (which carry the token) are never logged at INFO."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and Telegram's URLs contain the token.
    # telegram.Bot logs its API URLs, token included, at DEBUG; aiosqlite and SQLAlchemy log
    # SQL parameters (phone numbers, what people typed) at DEBUG: -v must not reveal them.
    for noisy in (
        "httpx",
        "httpcore",
        "telegram.Bot",
        "telegram.ext.ExtBot",
        "alembic",
        "aiosqlite",
        "sqlalchemy.engine",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "maximum number of running instances reached" every tick while a long drain runs is
    # expected (max_instances=1 is how a drain is never run twice), not worth a warning.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
