"""The suite fails when an asyncio task died and nobody read why.

A task whose failure is never read (its ``result()`` or ``exception()``) is reported by the event
loop when the task is garbage-collected — "Task exception was never retrieved", logged at that
moment, in the middle of whatever runs then — and the failure goes no further. In the product
that is an error dropped without a trace; in the suite it was worse: on CPython 3.11.7 the log's
traceback, formatted while pytest was parsing a file, broke pytest's own parse ("AST constructor
recursion depth mismatch"), ending the session in an INTERNALERROR that hid every result.

So every such report during the session is kept, the last ones collected at its end, and the
session fails naming each task (``conftest.py`` loads this plugin).
"""

from __future__ import annotations

import gc
import logging

import pytest

UNREAD = "Task exception was never retrieved"


class UnreadFailures(logging.Handler):
    """Keeps the event loop's reports of tasks collected with their failure unread: the
    report's line naming the task (its coroutine and its exception)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record`` if it is such a report."""
        lines = record.getMessage().splitlines()
        if lines and lines[0] == UNREAD:
            self.found.append(lines[1].strip() if len(lines) > 1 else UNREAD)


GUARD = UnreadFailures()


def pytest_configure(config: pytest.Config) -> None:
    """Listen from the start of the session."""
    logging.getLogger("asyncio").addHandler(GUARD)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Collect what is left, and fail the session if any task's failure went unread."""
    gc.collect()
    if GUARD.found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name each task whose failure went unread."""
    if GUARD.found:
        terminalreporter.section("asyncio tasks that died with nobody reading why", red=True)
        for found in GUARD.found:
            terminalreporter.line(found)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop listening."""
    logging.getLogger("asyncio").removeHandler(GUARD)
