"""The suite's guard against asyncio tasks that die with nobody reading why
(``tests/unread_failures.py``)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from tests.unread_failures import GUARD, UnreadFailures


@contextmanager
def guarded_alone() -> Iterator[UnreadFailures]:
    """A guard of its own on the asyncio logger, the session's set aside meanwhile (what these
    tests provoke on purpose must not fail the session)."""
    logger = logging.getLogger("asyncio")
    guard = UnreadFailures()
    logger.removeHandler(GUARD)
    logger.addHandler(guard)
    try:
        yield guard
    finally:
        logger.removeHandler(guard)
        logger.addHandler(GUARD)


async def fails() -> None:
    """A task's work that fails."""
    raise LookupError("không tìm thấy")


async def test_a_task_collected_with_its_failure_unread_is_named_with_its_exception() -> None:
    with guarded_alone() as guard:
        task = asyncio.ensure_future(fails())
        await asyncio.wait([task])
        del task
        gc.collect()

    assert len(guard.found) == 1
    assert "coro=<fails()" in guard.found[0] and "exception=LookupError" in guard.found[0]


async def test_a_task_whose_failure_was_read_is_not_reported() -> None:
    with guarded_alone() as guard:
        task = asyncio.ensure_future(fails())
        await asyncio.wait([task])
        assert isinstance(task.exception(), LookupError)
        del task
        gc.collect()

    assert guard.found == []


def test_the_session_listens_with_the_guard_from_its_start() -> None:
    assert GUARD in logging.getLogger("asyncio").handlers
