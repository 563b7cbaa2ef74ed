"""Logging that never writes a token, a phone number in full or what people typed, at any level.

Two guards, both on every record whatever its logger's level:

* Below WARNING, a library's record keeps its text and its numbers, and every other value is
  hidden (:class:`LibraryValuesFilter`). At DEBUG, python-telegram-bot logs each update it
  processes (typed text, shared phone numbers, ``/start`` tokens, file names), its API calls
  with their parameters and webhook bodies; aiosqlite and SQLAlchemy log SQL parameters and rows.
  The values are where those live; the templates still say what happened.
* Every line, tracebacks included, has the bot token, anything shaped like a bot token or a
  personal link's token, and phone numbers redacted (:class:`RedactingFormatter`).

Our own loggers log codes, counts and ids only, so their values are kept.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.domain.phones import mask_phone, normalize_phone

REDACTED = "[REDACTED]"
HIDDEN = "[…]"
OWN_LOGGERS = ("hoinghi", "bot", "handlers", "storage", "schedules")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What every LogRecord has: anything else on a record is an ``extra`` its caller gave.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
# The logger SQLAlchemy's ``echo`` gives a handler of its own, which no root filter reaches.
SQL_ECHO_LOGGER = "sqlalchemy.engine.Engine"

_CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[a-zA-Z%]")
# Anybody's bot token (what @BotFather issues), e.g. inside a URL a library quotes.
_BOT_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
# A deep link's payload: the personal token after ``/start`` or ``start=``.
_START_PAYLOAD = re.compile(r"(/start(?:@\w+)?\s+|\bstart=)[A-Za-z0-9_-]+")
# A personal link's token on its own (bot.domain.tokens: 32 base64url characters).
_LINK_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")
# Phone numbers as Telegram and the office write them: +84…, 84… or 0… and 9–10 more digits,
# or any + and 8–15 digits. Telegram ids, update ids and times have none of these shapes.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{8,15}|84\d{9,10}|0\d{9,10})(?!\w)")


class RedactingFormatter(logging.Formatter):
    """Redact the secrets given, and every token or phone number, wherever they appear in the
    formatted line, tracebacks included."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = [secret for secret in secrets if secret]

    @property
    def secrets(self) -> list[str]:
        """The secrets given so far."""
        return list(self._secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Redact ``secrets`` as well."""
        self._secrets += [secret for secret in secrets if secret and secret not in self._secrets]

    def format(self, record: logging.LogRecord) -> str:
        """The usual line, with every secret replaced and phone numbers masked."""
        return redact(super().format(record), self._secrets)


class JsonFormatter(RedactingFormatter):
    """One JSON object a line (``[logging] format = "json"``): ``time`` (UTC, ISO 8601),
    ``level``, ``logger``, ``message``, ``exception`` when there is one, and the extras our own
    loggers give that are numbers or booleans. Every string is redacted as a text line is."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("%(message)s", secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line, its secrets replaced and phone numbers masked."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage(), self._secrets),
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info), self._secrets)
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text, self._secrets)
        if _is_own(record.name):  # a library's extras are its own business: never written
            for key, value in vars(record).items():
                if key not in _RECORD_FIELDS and isinstance(value, int | float | bool):
                    entry.setdefault(key, value)
        return json.dumps(entry, ensure_ascii=False)


def redact(line: str, secrets: Iterable[str] = ()) -> str:
    """``line`` with ``secrets``, bot tokens and personal tokens replaced, phone numbers masked."""
    for secret in secrets:
        line = line.replace(secret, REDACTED)
    line = _BOT_TOKEN.sub(REDACTED, line)
    line = _START_PAYLOAD.sub(lambda m: m.group(1) + REDACTED, line)
    line = _LINK_TOKEN.sub(REDACTED, line)
    return _PHONE.sub(lambda m: mask_phone(normalize_phone(m.group()) or m.group()), line)


class LibraryValuesFilter(logging.Filter):
    """Below WARNING, a library's record keeps its message and its numbers; every other value
    (an update, request parameters, an SQL row) becomes ``[…]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; it is always kept."""
        if record.levelno < logging.WARNING and not _is_own(record.name):
            record.msg, record.args = _without_values(record.msg, record.args), None
        return True


def _is_own(name: str) -> bool:
    return name.split(".", 1)[0] in OWN_LOGGERS


def _without_values(msg: object, args: Any) -> str:
    template = msg if isinstance(msg, str) else f"<{type(msg).__name__}>"
    if not args:
        return template
    try:
        if isinstance(args, Mapping):
            return template % {key: _number_or_hidden(value) for key, value in args.items()}
        return template % tuple(_number_or_hidden(value) for value in args)
    except (TypeError, ValueError, KeyError):  # e.g. %d given [...]: hide every value
        return _CONVERSION.sub(lambda m: "%" if m.group() == "%%" else HIDDEN, template)


def _number_or_hidden(value: object) -> object:
    return value if isinstance(value, int | float) else HIDDEN


def mask_secrets(secrets: Iterable[str]) -> None:
    """Redact ``secrets`` too from now on (tokens known only once the plan is read: a further
    bot's token variable is named there)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, RedactingFormatter):
            handler.formatter.add(secrets)


def use_format(name: str) -> None:
    """Write the log as ``text`` lines or ``json`` lines from now on (``[logging] format``),
    with the same secrets redacted."""
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if not isinstance(formatter, RedactingFormatter):
            continue
        if name == "json" and not isinstance(formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter(formatter.secrets))
        elif name == "text" and isinstance(formatter, JsonFormatter):
            handler.setFormatter(RedactingFormatter(TEXT_FORMAT, formatter.secrets))


def setup_logging(level: int = logging.INFO, *, secrets: Iterable[str] = ()) -> None:
    """Log to stderr; at every level, no token, phone number in full or personal value."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(TEXT_FORMAT, secrets))
    values = LibraryValuesFilter()
    handler.addFilter(values)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    echo = logging.getLogger(SQL_ECHO_LOGGER)
    if not any(isinstance(f, LibraryValuesFilter) for f in echo.filters):
        echo.addFilter(values)
    # Below are levels that keep -v readable: httpx logs every request (and the token is in
    # Telegram's URLs), telegram.Bot each API call, aiosqlite and SQLAlchemy each statement.
    # The filters above, not these levels, are what keeps personal data out of the log.
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
