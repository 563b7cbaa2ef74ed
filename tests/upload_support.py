"""An upload's file bytes under watch, for the tests of the tasks' and the drafts' uploads: the
order of the file store's fsyncs and the transactions, and an upload cancelled while its bytes
are being written."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from collections.abc import Coroutine
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.files
from handlers.telegram.dedupe import flush_handled
from storage.files import FileStore, StagedFile
from tests.harness import BotHarness


async def write_and_transaction_order(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """What happens from now, in order: each transaction's begin and commit, and each fsync of
    the file store (a staged file's bytes, or a folder after a file was put in place). The
    chat's records made in passing (the updates handled, the accounts used) are stored first:
    they would ride in a transaction of their own a moment later."""
    await flush_handled(harness.app.bot_data)
    await harness.services.activity.flush()

    order: list[str] = []
    fsync = os.fsync

    def noted_fsync(fd: int) -> None:
        order.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        fsync(fd)

    monkeypatch.setattr(storage.files.os, "fsync", noted_fsync)
    event.listen(engine.sync_engine, "begin", lambda _: order.append("begin"))
    event.listen(engine.sync_engine, "commit", lambda _: order.append("commit"))
    return order


async def cancel_while_its_bytes_are_written(
    store: FileStore, monkeypatch: pytest.MonkeyPatch, upload: Coroutine[Any, Any, object]
) -> None:
    """Runs ``upload`` until its file's bytes are being written (its fsync held on an Event),
    cancels it there (a client gone, a shutdown), then lets the write finish and waits until
    the file store discards what was written."""
    writing, finish = threading.Event(), threading.Event()
    fsync = os.fsync

    def held_fsync(fd: int) -> None:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            writing.set()
            finish.wait(timeout=30)  # released below; bounded so a failure cannot hang
        fsync(fd)

    discarded = asyncio.Event()
    discard = store.discard

    def noted_discard(staged: StagedFile) -> None:
        discard(staged)
        discarded.set()

    monkeypatch.setattr(os, "fsync", held_fsync)
    monkeypatch.setattr(store, "discard", noted_discard)
    running = asyncio.ensure_future(upload)
    assert await asyncio.to_thread(writing.wait, 30)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    finish.set()
    await asyncio.wait_for(discarded.wait(), timeout=10)
