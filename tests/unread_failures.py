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
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

# How the event loop's report of a task (or a future) collected with its failure unread ends.
UNREAD = "exception was never retrieved"


class UnreadFailures(logging.Handler):
    """Keeps the event loop's reports of tasks collected with their failure unread: the
    report's line naming the task (its coroutine and its exception)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record`` if it is such a report."""
        lines = record.getMessage().splitlines()
        if lines and lines[0].endswith(UNREAD):
            self.found.append(lines[1].strip() if len(lines) > 1 else lines[0])


GUARD = UnreadFailures()


@contextmanager
def reported_apart() -> Iterator[UnreadFailures]:
    """For a block that leaves failures unread on purpose, or checks that it leaves none: a
    guard of its own meanwhile, the session's set aside; what the block left behind is
    collected before it ends, so the guard holds every report of it."""
    logger = logging.getLogger("asyncio")
    guard = UnreadFailures()
    logger.removeHandler(GUARD)
    logger.addHandler(guard)
    try:
        yield guard
        gc.collect()
    finally:
        logger.removeHandler(guard)
        logger.addHandler(GUARD)


def pytest_configure(config: pytest.Config) -> None:
    """Listen from the start of the session."""
    logging.getLogger("asyncio").addHandler(GUARD)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Collect what is left, and fail the session if any task's failure went unread."""
    gc.collect()
    if GUARD.found and session.exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # an interrupt or a crash says more


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name each task whose failure went unread."""
    if GUARD.found:
        terminalreporter.section("asyncio tasks that died with nobody reading why", red=True)
        for found in GUARD.found:
            terminalreporter.line(found)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop listening."""
    logging.getLogger("asyncio").removeHandler(GUARD)
