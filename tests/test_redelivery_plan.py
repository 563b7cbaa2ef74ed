"""The whole plan (``hoinghi rehearse``) with every update delivered again, in order and late.

Telegram delivers an update again with the same update_id: right after the first copy (a webhook
retried at once) or after later updates of the same chat (a retry whose first request timed out
while the next one went through; getUpdates repeated after a restart). Every update of the
rehearsal is delivered twice in a row, and once more after the next update of its chat; the
database must end exactly as in a plain run with the same seed, and every person must have heard
from the bot exactly as often.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

import rehearsal.run as rehearsal
from bot.config import load_config
from bot.texts import load_catalog
from handlers.telegram.context import services_of_bot_data
from rehearsal.telegram_api import FakeBotApi, JsonDict
from storage.engine import create_engine, create_sessionmaker
from storage.models import (
    AuditEntry,
    Delegate,
    Delivery,
    DraftComment,
    DraftVersion,
    OutboundMessage,
    Rsvp,
    SpeechAssignment,
    Task,
    TaskAssignment,
)
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, ROOT

# The whole plan played twice over: `make test-slow`.
pytestmark = pytest.mark.slow

EXAMPLE_CONTACTS = ROOT / "examples" / "contacts.csv"
SEED = 60
TELEGRAM_KEEPS = timedelta(hours=24)

Deliver = Callable[[Any, JsonDict], Awaitable[None]]


@dataclass(frozen=True)
class Snapshot:
    """What a run left behind: the database's state and what each chat heard."""

    rsvps: list[tuple[Any, ...]]
    audit: Counter[str]
    draft_versions: list[tuple[Any, ...]]
    draft_comments: list[tuple[Any, ...]]
    draft_states: list[tuple[Any, ...]]
    tasks: list[tuple[Any, ...]]
    outbound: Counter[tuple[str, str]]
    deliveries: Counter[str]
    sent: Counter[int]  # messages the bot sent, per chat (edits not counted)
    kept: dict[int, int]  # messages each chat holds at the end
    transcript: list[str]
    checks: list[tuple[str, bool]]


async def database_state(path: Path) -> dict[str, Any]:
    """The rows the plan changes, by natural keys (codes, task keys), never by row ids."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    speaker = aliased(Delegate)
    try:
        async with create_sessionmaker(engine)() as session:
            rsvps = (
                await session.execute(
                    select(
                        Delegate.code,
                        Rsvp.status,
                        Rsvp.reason,
                        Rsvp.substitute_name,
                        Rsvp.substitute_position,
                    ).join(Rsvp, Rsvp.delegate_id == Delegate.id)
                )
            ).all()
            audit = Counter(await session.scalars(select(AuditEntry.action)))
            versions = (
                await session.execute(
                    select(
                        speaker.code,
                        SpeechAssignment.theme_key,
                        DraftVersion.number,
                        DraftVersion.kind,
                        DraftVersion.display_name,
                    )
                    .join(SpeechAssignment, SpeechAssignment.id == DraftVersion.assignment_id)
                    .join(speaker, speaker.id == SpeechAssignment.person_id)
                )
            ).all()
            comments = (
                await session.execute(
                    select(
                        speaker.code,
                        SpeechAssignment.theme_key,
                        DraftComment.from_office,
                        DraftComment.body,
                    )
                    .join(SpeechAssignment, SpeechAssignment.id == DraftComment.assignment_id)
                    .join(speaker, speaker.id == SpeechAssignment.person_id)
                )
            ).all()
            drafts = (
                await session.execute(
                    select(
                        speaker.code,
                        SpeechAssignment.theme_key,
                        SpeechAssignment.status,
                        SpeechAssignment.text_buffer,
                    ).join(speaker, speaker.id == SpeechAssignment.person_id)
                )
            ).all()
            tasks = (
                await session.execute(
                    select(
                        Task.key,
                        Delegate.code,
                        TaskAssignment.status,
                        TaskAssignment.note,
                        Task.closed_at.is_not(None),
                    )
                    .join(TaskAssignment, TaskAssignment.task_id == Task.id)
                    .join(Delegate, Delegate.id == TaskAssignment.person_id)
                )
            ).all()
            outbound = Counter(
                (kind, audience)
                for kind, audience in await session.execute(
                    select(OutboundMessage.kind, OutboundMessage.audience)
                )
            )
            deliveries = Counter(await session.scalars(select(Delivery.status)))
    finally:
        await engine.dispose()
    return {
        "rsvps": sorted(tuple(row) for row in rsvps),
        "audit": audit,
        "draft_versions": sorted(tuple(row) for row in versions),
        "draft_comments": sorted(tuple(row) for row in comments),
        "draft_states": sorted(tuple(map(str, row)) for row in drafts),
        "tasks": sorted(tuple(map(str, row)) for row in tasks),
        "outbound": outbound,
        "deliveries": deliveries,
    }


def chat_of(update: JsonDict) -> int:
    """The chat an update belongs to (a button: the chat of the message it sits on)."""
    for key in ("message", "edited_message", "my_chat_member"):
        if key in update:
            return int(update[key]["chat"]["id"])
    query = update["callback_query"]
    return int(query.get("message", {}).get("chat", {}).get("id", query["from"]["id"]))


@dataclass
class Redelivery:
    """Stands in for the rehearsal's ``deliver``: every update twice in a row, then once more
    after the next update of the same chat, if that comes within the day (Telegram keeps an
    update 24 hours at most; the plan's clock jumps days between some updates of one chat)."""

    deliver: Deliver
    waiting: dict[int, tuple[datetime, JsonDict]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    async def __call__(self, app: Any, update: JsonDict) -> None:
        now = services_of_bot_data(app.bot_data).ctx.clock.now()
        await self.deliver(app, update)
        await self.deliver(app, update)
        self.counts["updates"] += 1
        self.counts["deliveries"] += 2
        chat = chat_of(update)
        if chat in self.waiting:
            at, earlier = self.waiting.pop(chat)
            if now - at < TELEGRAM_KEEPS:
                await self.deliver(app, earlier)  # late: after a later update of its chat
                self.counts["deliveries"] += 1
                self.counts["late"] += 1
        self.waiting[chat] = (now, update)


def play(workdir: Path, monkeypatch: pytest.MonkeyPatch, deliver: Deliver | None) -> Snapshot:
    """Rehearse the example plan in ``workdir`` (with ``deliver`` standing in, if given)."""
    fakes: list[FakeBotApi] = []

    class RecordedFakeBotApi(FakeBotApi):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            fakes.append(self)

    loaded = load_config(EXAMPLE_CONFIG)
    with monkeypatch.context() as patch:
        patch.setattr(rehearsal, "FakeBotApi", RecordedFakeBotApi)
        if deliver is not None:
            patch.setattr(rehearsal, "deliver", deliver)
        result = asyncio.run(
            rehearsal.rehearse(
                loaded,
                load_catalog(loaded.config.meeting.locale),
                delegates=EXAMPLE_DELEGATES,
                contacts=EXAMPLE_CONTACTS,
                report=workdir / "bao-cao.xlsx",
                workdir=workdir,
                seed=SEED,
            )
        )
    [fake] = fakes
    fake.assert_no_violations()
    sent = fake.sent_counts()
    return Snapshot(
        **asyncio.run(database_state(workdir / "dien-tap.db")),
        sent=sent,
        kept={chat: len(fake.messages_to(chat)) for chat in sent},
        transcript=result.transcript,
        checks=result.checks,
    )


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """The rehearsal as it runs every day: each update delivered once."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return play(tmp_path_factory.mktemp("plain"), monkeypatch, None)


def test_the_plan_with_every_update_delivered_twice_and_late_ends_as_a_plain_run(
    plain: Snapshot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    redelivery = Redelivery(rehearsal.deliver)
    started = time.perf_counter()
    doubled = play(tmp_path, monkeypatch, redelivery)
    elapsed = time.perf_counter() - started

    for run in (plain, doubled):
        assert all(ok for _, ok in run.checks), [label for label, ok in run.checks if not ok]
    # Enough happened for the comparison to mean something: every kind of update of the plan,
    # copied late in the same chat more often than not.
    assert redelivery.counts["updates"] > 100 and redelivery.counts["late"] > 50
    assert sum(status != "no_answer" for _, status, *_ in plain.rsvps) > 50
    assert plain.draft_versions and plain.draft_comments and plain.audit["draft.verdict"]
    assert any(status != "todo" for _, _, status, *_ in plain.tasks)

    assert doubled.rsvps == plain.rsvps
    assert doubled.audit == plain.audit
    assert doubled.draft_versions == plain.draft_versions
    assert doubled.draft_comments == plain.draft_comments
    assert doubled.draft_states == plain.draft_states
    assert doubled.tasks == plain.tasks
    assert doubled.outbound == plain.outbound
    assert doubled.deliveries == plain.deliveries
    assert doubled.sent == plain.sent
    assert doubled.kept == plain.kept
    assert doubled.transcript == plain.transcript
    print(  # shown with -s: the figures of the run
        f"\n{redelivery.counts['updates']} updates, {redelivery.counts['deliveries']} deliveries "
        f"({redelivery.counts['late']} late copies), {elapsed:.1f} s"
    )
