"""Logging that never writes the bot token, and keeps chatty HTTP loggers quiet."""

from __future__ import annotations

import logging
from collections.abc import Iterable

REDACTED = "[REDACTED]"


class RedactSecrets(logging.Filter):
    """Replace each secret wherever it appears in a record's message or arguments."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if secret]

    def _clean(self, value: object) -> object:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub the record in place; never drop it."""
        if self._secrets:
            record.msg = self._clean(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(self._clean(arg) for arg in record.args)
            elif isinstance(record.args, dict):
                record.args = {key: self._clean(arg) for key, arg in record.args.items()}
        return True


def setup_logging(level: int = logging.INFO, *, secrets: Iterable[str] = ()) -> None:
    """Log to stderr; request URLs (which carry the token) are never logged at INFO."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and Telegram's URLs contain the token.
    for noisy in ("httpx", "httpcore", "telegram.ext.ExtBot", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
