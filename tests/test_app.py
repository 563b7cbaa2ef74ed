"""The composition root: a chat channel runs when its token is set, and the app starts and
stops its parts in order (channels, then the scheduler; the scheduler, then the channels)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

import bot.app
from bot.app import Channel, ChannelEntry, ChannelSetup, open_app
from bot.config import load_config
from bot.texts import load_catalog
from schedules.scheduler import OutboxScheduler
from storage.files import STAGED_MARGIN
from tests.channels.text_channel import TextChannel


async def test_a_channel_entry_runs_when_its_token_is_set_and_stops_after_the_scheduler(
    office: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new channel is one more entry in CHANNELS: set its token and `run` starts it beside
    the outbox; the Telegram entry, without a token, is not built at all."""
    steps: list[str] = []
    started = asyncio.Event()
    built: list[TextChannel] = []

    def build_text(setup: ChannelSetup) -> Channel:
        channel = TextChannel(setup.inbox, setup.catalog)
        built.append(channel)

        @asynccontextmanager
        async def receiving() -> AsyncIterator[None]:
            steps.append(f"text receives ({setup.token})")
            yield
            steps.append("text stops")

        return Channel(channel, receiving)

    text = ChannelEntry("text", "HOINGHI_TEXT_TOKEN", re.compile(r"t-\d+"), build_text)
    monkeypatch.setattr(bot.app, "CHANNELS", (bot.app.TELEGRAM, text))
    scheduler_stop = OutboxScheduler.stop

    async def stop_scheduler(self: OutboxScheduler) -> None:
        steps.append("scheduler stops")
        await scheduler_stop(self)

    monkeypatch.setattr(OutboxScheduler, "stop", stop_scheduler)

    def everything_started() -> None:  # in place of gc.freeze: the test process goes on
        steps.append("started")
        started.set()

    monkeypatch.setattr(bot.app, "freeze_startup_heap", everything_started)

    loaded = load_config(office / "config.toml")
    env = {"HOINGHI_TEXT_TOKEN": " t-42 "}  # no TELEGRAM_BOT_TOKEN
    async with open_app(loaded, load_catalog("vi"), env=env) as app:
        assert [entry.name for entry in app.channels()] == ["text"]
        stop = asyncio.Event()
        running = asyncio.create_task(app.run(stop))
        await asyncio.wait_for(started.wait(), timeout=30)
        # The running inbox answers the channel's people.
        answer = await built[0].person("Khách").type("/help")
        assert answer and "/trangthai" in answer[0]
        stop.set()
        await asyncio.wait_for(running, timeout=30)
    assert steps == ["text receives (t-42)", "started", "scheduler stops", "text stops"]


async def test_run_without_any_channel_refuses_to_start(office: Path) -> None:
    loaded = load_config(office / "config.toml")
    async with open_app(loaded, load_catalog("vi"), env={}) as app:
        assert app.channels() == []
        with pytest.raises(RuntimeError, match="no channel to run"):
            await app.run(asyncio.Event())


async def test_a_run_sweeps_the_uploads_a_killed_process_left_in_the_file_store(
    office: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Killed while staging an upload (hard shutdown, power cut): its temporary file stays beside
    # the blobs. The next run's start removes it, not a blob, not another process's upload on
    # its way, and logs how many (no names).
    loaded = load_config(office / "config.toml")
    folder = loaded.drafts_dir / "ab" / "cd"
    folder.mkdir(parents=True)
    blob, left, young = folder / ("abcd" + "0" * 60), folder / ".tmp-x1", folder / ".tmp-x2"
    for path in (blob, left, young):
        path.write_bytes(b"%PDF-1.7")
    long_ago = time.time() - STAGED_MARGIN - 60
    for path in (blob, left):
        os.utime(path, (long_ago, long_ago))
    caplog.set_level(logging.INFO, logger="bot.app")
    async with open_app(loaded, load_catalog("vi"), env={}, exclusive="run"):
        assert sorted(folder.iterdir()) == sorted([blob, young])
    assert [r.getMessage() for r in caplog.records if r.name == "bot.app"] == [
        "removed 1 leftover upload file(s) from the file store"
    ]
