"""The suite's guard against asyncio tasks that die with nobody reading why
(``tests/unread_failures.py``)."""

from __future__ import annotations

import asyncio
import logging

from tests.unread_failures import GUARD, reported_apart


async def fails() -> None:
    """A task's work that fails."""
    raise LookupError("không tìm thấy")


async def test_a_task_collected_with_its_failure_unread_is_named_with_its_exception() -> None:
    with reported_apart() as guard:
        task = asyncio.ensure_future(fails())
        await asyncio.wait([task])
        del task

    assert len(guard.found) == 1
    assert "coro=<fails()" in guard.found[0] and "exception=LookupError" in guard.found[0]


async def test_a_future_collected_with_its_failure_unread_is_reported_too() -> None:
    with reported_apart() as guard:
        future = asyncio.get_running_loop().create_future()
        future.set_exception(LookupError("không tìm thấy"))
        del future

    assert len(guard.found) == 1
    assert "exception=LookupError" in guard.found[0]


async def test_a_task_whose_failure_was_read_is_not_reported() -> None:
    with reported_apart() as guard:
        task = asyncio.ensure_future(fails())
        await asyncio.wait([task])
        assert isinstance(task.exception(), LookupError)
        del task

    assert guard.found == []


def test_the_sessions_guard_listens_on_the_asyncio_logger() -> None:
    assert GUARD in logging.getLogger("asyncio").handlers
