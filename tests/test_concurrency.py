"""Many delegates at once: taps decided together in one transaction (group commit), updates of
different chats side by side, one chat's updates strictly in turn, and a tap's confirmation
sent after the tap so that the next person's tap is not kept waiting."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import Connection, event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.util import await_
from telegram import Update
from telegram.ext import ApplicationBuilder, CallbackContext, MessageHandler, filters

import handlers.telegram.app
from bot.domain.channels import ChatAccount
from bot.domain.rsvp import RsvpChoice, RsvpStatus
from bot.services import handled_events
from bot.services.batching import Batcher, GroupCommit
from bot.services.handled_events import HandledEvents
from bot.services.rsvp import RsvpResult
from handlers.telegram.app import serve
from handlers.telegram.dedupe import flush_handled
from handlers.telegram.updates import REPLIES_AT_ONCE, ChatOrderedUpdateProcessor, reply_later
from storage.models import AuditEntry, Delegate, HandledEvent, Meeting, Rsvp
from tests.fakes.telegram_api import FakeBotApi
from tests.harness import BotHarness

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
ATTENDING = "✅ Đã ghi nhận: đồng chí tham dự hội nghị."

# --- group commit ------------------------------------------------------------------------------


class Recorder:
    """A batch runner that records its batches and can be held inside the first one."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.hold = asyncio.Event()
        self.inside = asyncio.Event()

    async def run(self, items: Sequence[str]) -> list[str]:
        self.batches.append(list(items))
        self.inside.set()
        await self.hold.wait()
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]


async def test_a_lone_caller_is_run_at_once_in_a_batch_of_one() -> None:
    recorder = Recorder()
    recorder.hold.set()
    batcher = Batcher(recorder.run)
    assert await batcher.submit("a") == "A"
    assert recorder.batches == [["a"]]


async def test_callers_arriving_during_a_write_share_the_next_batch_in_order() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.run)
    first = asyncio.create_task(batcher.submit("a"))
    await recorder.inside.wait()  # "a" is being written
    later = [asyncio.create_task(batcher.submit(item)) for item in ("b", "c", "d")]
    await asyncio.sleep(0)  # let them queue (a scheduling point, not a wait for time)
    recorder.hold.set()
    assert await asyncio.gather(first, *later) == ["A", "B", "C", "D"]
    assert recorder.batches == [["a"], ["b", "c", "d"]]


async def test_a_batch_never_exceeds_its_maximum_size() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.run, max_batch=2)
    first = asyncio.create_task(batcher.submit("a"))
    await recorder.inside.wait()
    later = [asyncio.create_task(batcher.submit(item)) for item in ("b", "c", "d", "e", "f")]
    await asyncio.sleep(0)
    recorder.hold.set()
    await asyncio.gather(first, *later)
    assert recorder.batches == [["a"], ["b", "c"], ["d", "e"], ["f"]]


async def test_an_item_that_fails_fails_only_its_own_caller() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.run)
    first = asyncio.create_task(batcher.submit("a"))
    await recorder.inside.wait()
    later = [asyncio.create_task(batcher.submit(item)) for item in ("b", "bad", "c")]
    await asyncio.sleep(0)
    recorder.hold.set()
    results = await asyncio.gather(first, *later, return_exceptions=True)
    assert results[:2] == ["A", "B"] and results[3] == "C"
    assert isinstance(results[2], ValueError)
    # The shared batch failed, so each of its items was tried alone.
    assert recorder.batches == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]]


async def test_a_caller_that_gives_up_does_not_stop_the_others() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.run)
    first = asyncio.create_task(batcher.submit("a"))
    await recorder.inside.wait()
    impatient = asyncio.create_task(batcher.submit("b"))
    patient = asyncio.create_task(batcher.submit("c"))
    await asyncio.sleep(0)
    impatient.cancel()
    recorder.hold.set()
    assert await first == "A" and await patient == "C"
    assert impatient.cancelled()
    assert recorder.batches == [["a"], ["b", "c"]]  # the work of "b" was done all the same


async def test_an_item_that_may_wait_starts_no_batch_and_rides_in_the_next_a_caller_starts() -> (
    None
):
    recorder = Recorder()
    recorder.hold.set()
    batcher = Batcher(recorder.run)
    riding = batcher.enqueue("x", within=3600)
    await asyncio.sleep(0)  # a scheduling point: nothing was started for it
    assert recorder.batches == []
    assert await batcher.submit("a") == "A"
    assert await riding == "X"
    assert recorder.batches == [["x", "a"]]


async def test_an_item_that_may_wait_is_written_at_start_or_when_its_time_is_up() -> None:
    recorder = Recorder()
    recorder.hold.set()
    batcher = Batcher(recorder.run)
    kept = batcher.enqueue("x", within=3600)
    batcher.start()  # what a flush does
    assert await kept == "X"
    due = batcher.enqueue("y", within=0)  # nobody else comes: its own batch once its time is up
    assert await due == "Y"
    assert recorder.batches == [["x"], ["y"]]


async def test_a_drain_writes_what_waits_to_ride_and_what_a_write_in_hand_leaves_and_no_timer_is_left() -> (
    None
):
    # Before the event loop goes (a test's end, a shutdown): an item waiting an hour to ride,
    # and one that arrives while a batch is being written, are written before drain returns.
    recorder = Recorder()
    batcher = Batcher(recorder.run)
    first = asyncio.create_task(batcher.submit("a"))
    await recorder.inside.wait()  # "a" is being written
    riding = batcher.enqueue("x", within=3600)
    draining = asyncio.create_task(batcher.drain())
    await asyncio.sleep(0)
    assert not draining.done()
    recorder.hold.set()
    await draining
    assert (riding.done(), first.done()) == (True, True)
    assert (await first, await riding) == ("A", "X")
    assert recorder.batches == [["a"], ["x"]]
    later = batcher.enqueue("y", within=3600)  # nothing in hand: left to an hour's timer
    assert batcher._timer is not None
    await batcher.drain()
    assert (later.done(), await later) == (True, "Y")
    assert recorder.batches == [["a"], ["x"], ["y"]]
    assert batcher._timer is None and not batcher._writing()


async def test_group_commit_runs_each_work_once_a_transaction_and_a_failure_rolls_back_only_its_item(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    calls: list[tuple[str, list[str]]] = []
    hold, inside = asyncio.Event(), asyncio.Event()

    def answers(connection: Connection, items: Sequence[str]) -> list[str]:
        calls.append(("answers", list(items)))
        inside.set()
        await_(hold.wait())  # a work is synchronous: held as a statement's trip would hold it
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    def meetings(connection: Connection, codes: Sequence[str]) -> list[int]:
        calls.append(("meetings", list(codes)))
        connection.execute(
            insert(Meeting),
            [{"code": code, "title": code, "starts_at": NOW, "created_at": NOW} for code in codes],
        )
        return [len(code) for code in codes]

    commit = GroupCommit(sessions)
    first = asyncio.create_task(commit.submit(answers, "a"))
    await inside.wait()  # the first transaction is being written
    later = [
        asyncio.create_task(commit.submit(work, item))  # type: ignore[arg-type]
        for work, item in ((meetings, "m1"), (answers, "bad"), (meetings, "m22"), (answers, "b"))
    ]
    await asyncio.sleep(0)  # let them queue (a scheduling point, not a wait for time)
    hold.set()
    results = await asyncio.gather(first, *later, return_exceptions=True)

    assert results[:2] == ["A", 2] and results[3:] == [3, "B"]
    assert isinstance(results[2], ValueError)
    assert calls == [
        ("answers", ["a"]),
        # the next transaction: each work once, on its items in arrival order; it fails ...
        ("meetings", ["m1", "m22"]),
        ("answers", ["bad", "b"]),
        # ... so each item is written again alone, and only "bad" fails
        ("meetings", ["m1"]),
        ("answers", ["bad"]),
        ("meetings", ["m22"]),
        ("answers", ["b"]),
    ]
    async with sessions() as session:  # the failed transaction's meetings were rolled back
        assert (await session.scalars(select(Meeting.code).order_by(Meeting.code))).all() == [
            "m1",
            "m22",
        ]


def count_answer_writes(engine: AsyncEngine) -> Counter[str]:
    """Counts the statements that write answers from now on (an executemany counts once)."""
    writes: Counter[str] = Counter()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _statement(*args: Any) -> None:
        statement: str = args[2]
        if statement.startswith("UPDATE rsvps"):
            writes["update"] += 1

    return writes


async def test_simultaneous_taps_share_transactions_and_each_is_recorded_and_audited(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = [f"DB{n:03d}" for n in range(1, 41)]
    users = [await harness.open_invitation(code) for code in codes]
    writes = count_answer_writes(engine)
    # The taps reach the service together, whatever the machine's load: each waits at its
    # choice until all 40 are there. How far apart they would otherwise arrive depends on how
    # fast the reads before them finish (on PostgreSQL, on several pooled connections), and a
    # loaded machine spread them over more transactions than any bound a test could set.
    rsvp = harness.services.rsvp
    choose, arrived, together = rsvp.choose, [0], asyncio.Event()

    async def all_at_once(account: ChatAccount, choice: RsvpChoice) -> RsvpResult:
        arrived[0] += 1
        if arrived[0] == len(users):
            together.set()
        await together.wait()
        return await choose(account, choice)

    monkeypatch.setattr(rsvp, "choose", all_at_once)

    await asyncio.gather(*(harness.send(user.tap("✅ Tham dự")) for user in users))

    async with harness.services.ctx.sessions() as session:
        statuses = Counter(
            await session.scalars(
                select(Rsvp.status).join(Delegate).where(Delegate.code.in_(codes))
            )
        )
        audited = await session.scalar(
            select(func.count()).where(AuditEntry.action == "rsvp.changed")
        )
    assert statuses == Counter({RsvpStatus.ATTENDING: 40})
    assert audited == 40
    assert all(user.last_text().startswith(ATTENDING) for user in users)
    # Submitted in one turn of the event loop, the 40 answers are decided together in one
    # transaction (or in the next, if one is being written): one statement writes them all.
    assert writes["update"] == 1


async def test_a_lone_taps_transaction_makes_two_trips_to_the_database_thread(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's one-trip driver (storage.sqlite_driver): asyncpg has no such thread")
    user = await harness.open_invitation("DB001")
    await flush_handled(harness.app.bot_data)
    await harness.services.activity.flush()
    trips: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kw: Any) -> Any:
        trips.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kw)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    await harness.send(user.tap("✅ Tham dự"))

    assert user.last_text().startswith(ATTENDING)
    # The tap's transaction: BEGIN with the read of the account and its answer, then the
    # answer, its audit entry and the account's mark with the COMMIT. Each write in a trip of
    # its own would be five.
    assert trips == ["_run_statement", "_run_deferred"]
    await flush_handled(harness.app.bot_data)  # the update's record, which waits for a ride
    assert trips == ["_run_statement", "_run_deferred", "_run_deferred"]


async def test_a_lone_taps_update_record_rides_in_the_next_taps_transaction(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("several processes share the table: a record is written at once (below)")
    first, second = [await harness.open_invitation(code) for code in ("DB001", "DB002")]
    await flush_handled(harness.app.bot_data)
    await harness.services.activity.flush()
    before = await recorded_updates(harness)
    commits: list[str] = []
    event.listen(engine.sync_engine, "commit", lambda _connection: commits.append("commit"))

    await harness.send(first.tap("✅ Tham dự"))
    assert len(commits) == 1  # the tap's answer; its update's record waits for a ride
    await harness.send(second.tap("✅ Tham dự"))
    assert len(commits) == 2  # the second tap's answer, with the first update's record
    assert await recorded_updates(harness) == before + 1
    await flush_handled(harness.app.bot_data)  # at shutdown: the second update's record
    assert len(commits) == 3
    assert first.last_text().startswith(ATTENDING) and second.last_text().startswith(ATTENDING)


async def test_an_update_record_other_processes_read_is_written_without_waiting_for_a_ride(
    harness: BotHarness, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("one process: its record waits for a ride (above)")
    monkeypatch.setattr(handled_events, "RIDE_WITHIN", 3600.0)  # a ride it would never get
    handled = HandledEvents(harness.services.ctx, channel="telegram")
    before = await recorded_updates(harness)

    await handled.record("1", "42")
    # Written in a transaction of its own, at once: another process given a copy of this
    # update recognises it (the bound only keeps a regression from hanging the suite).
    pending = list(handled._records._storing)  # waited for, not hastened as a flush would
    await asyncio.wait_for(asyncio.gather(*pending), timeout=30)

    assert await recorded_updates(harness) == before + 1


async def recorded_updates(harness: BotHarness) -> int:
    async with harness.services.ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(HandledEvent)) or 0


async def test_a_lone_taps_writes_go_through_no_orm_session(
    harness: BotHarness, engine: AsyncEngine
) -> None:
    user = await harness.open_invitation("DB001")
    await flush_handled(harness.app.bot_data)
    await harness.services.activity.flush()
    read: list[str] = []  # what the ORM sessions opened during the tap were asked for

    def executed(state: ORMExecuteState) -> None:
        froms = state.statement.get_final_froms()  # type: ignore[attr-defined]
        read.extend(getattr(table, "name", type(table).__name__) for table in froms)

    # The ORM session's steps around a tap's few small statements (set up, begin, connection,
    # execute, close) cost more CPU than the statements: the write stream runs Core statements
    # on one connection, in one pass.
    event.listen(Session, "do_orm_execute", executed)
    try:
        await harness.send(user.tap("✅ Tham dự"))
        await flush_handled(harness.app.bot_data)
        await harness.services.activity.flush()
    finally:
        event.remove(Session, "do_orm_execute", executed)

    assert user.last_text().startswith(ATTENDING)
    # On PostgreSQL, shared by several processes, the redelivery guard looks up the update's
    # id it does not know (a read of its own, before the tap is handled); nothing else.
    assert read == ([] if engine.dialect.name == "sqlite" else ["handled_events"])


# --- the update processor ----------------------------------------------------------------------


class Script:
    """Handlers that log what they do and can be held until a test lets them go."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.started: dict[str, asyncio.Event] = {}
        self.spawned: list[asyncio.Task[None]] = []

    def gate(self, text: str) -> asyncio.Event:
        return self.gates.setdefault(text, asyncio.Event())

    def began(self, text: str) -> asyncio.Event:
        return self.started.setdefault(text, asyncio.Event())

    async def handle(self, update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
        assert update.effective_message is not None and update.effective_chat is not None
        text = update.effective_message.text or ""
        self.log.append(f"start {text}")
        self.began(text).set()
        if text in self.gates:
            await self.gates[text].wait()
        self.log.append(f"end {text}")
        if text.startswith("later"):
            await reply_later(context, update, self.reply(text))
        if text.startswith("spawn"):  # a task that outlives the update, then replies
            self.spawned.append(asyncio.create_task(self.spawn(context, update, text)))

    async def spawn(self, context: Any, update: Update, text: str) -> None:
        await self.gate(f"task {text}").wait()
        await reply_later(context, update, self.reply(text))

    async def reply(self, text: str) -> None:
        self.began(f"reply {text}").set()
        await self.gate(f"reply {text}").wait()
        self.log.append(f"reply {text}")
        if text == "later boom":
            raise RuntimeError("the reply failed")


def processing_app(fake: FakeBotApi, script: Script, *, places: int = 8) -> Any:
    processor = ChatOrderedUpdateProcessor(places)
    app = fake.wire(ApplicationBuilder()).concurrent_updates(processor).build()
    app.add_handler(MessageHandler(filters.TEXT, script.handle))
    return app


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[None]:
    """The app initialised and started (no polling: the test hands it the updates)."""
    async with app:
        await app.start()
        try:
            yield
        finally:
            await app.stop()


async def process(app: Any, raw: dict[str, Any]) -> asyncio.Task[None]:
    """Hand ``raw`` to the app's update processor, as polling does; returns the task."""
    update = Update.de_json(raw, app.bot)
    return asyncio.create_task(
        app.update_processor.process_update(update, app.process_update(update))
    )


async def test_one_chats_updates_wait_their_turn_while_other_chats_go_ahead() -> None:
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script)
    alice, bob = fake.user(1, "Alice"), fake.user(2, "Bob")
    script.gate("a1")
    async with running(app):
        a1 = await process(app, alice.text("a1"))
        await script.began("a1").wait()
        a2 = await process(app, alice.text("a2"))
        b1 = await process(app, bob.text("b1"))
        await b1  # Bob is not held up by Alice's slow first update
        assert script.log == ["start a1", "start b1", "end b1"]
        script.gates["a1"].set()
        await asyncio.gather(a1, a2)
    assert script.log == ["start a1", "start b1", "end b1", "end a1", "start a2", "end a2"]


async def test_a_deferred_reply_follows_its_update_and_precedes_the_chats_next_update() -> None:
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script)
    alice, bob = fake.user(1, "Alice"), fake.user(2, "Bob")
    held = script.gate("reply later one")
    async with running(app):
        first = await process(app, alice.text("later one"))
        await first  # the update is done: its place is free although the reply is not sent
        assert script.log == ["start later one", "end later one"]
        second = await process(app, alice.text("two"))
        other = await process(app, bob.text("b1"))
        await other
        assert "start two" not in script.log  # Alice's next update waits for her reply
        held.set()
        await second
        await app.update_processor.drain()
    assert script.log == [
        "start later one",
        "end later one",
        "start b1",
        "end b1",
        "reply later one",
        "start two",
        "end two",
    ]


async def test_an_update_waiting_for_its_chats_turn_holds_no_place_another_chat_needs() -> None:
    # One place. Alice's confirmation is held (Telegram's queue); her next update waits for
    # it. Bob's tap must still be handled: Alice's waiting update does not sit on the place.
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script, places=1)
    alice, bob = fake.user(1, "Alice"), fake.user(2, "Bob")
    held = script.gate("reply later one")
    async with running(app):
        await (await process(app, alice.text("later one")))
        second = await process(app, alice.text("two"))
        other = await process(app, bob.text("b1"))
        try:
            await asyncio.wait_for(other, timeout=10)  # a guard: without the fix it never ends
        finally:
            held.set()  # so that a failure here does not hang the test at stop
        assert script.log == ["start later one", "end later one", "start b1", "end b1"]
        await second
        await app.update_processor.drain()
    assert script.log[-3:] == ["reply later one", "start two", "end two"]


async def test_the_places_limit_how_many_updates_are_handled_at_once() -> None:
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script, places=2)
    users = [fake.user(n, f"U{n}") for n in (1, 2, 3)]
    for n in (1, 2, 3):
        script.gate(f"u{n}")
    async with running(app):
        tasks = [await process(app, user.text(f"u{n}")) for n, user in enumerate(users, 1)]
        await script.began("u1").wait()
        await script.began("u2").wait()
        assert script.log == ["start u1", "start u2"]  # the third waits for a place
        script.gates["u1"].set()
        await script.began("u3").wait()
        script.gates["u2"].set()
        script.gates["u3"].set()
        await asyncio.gather(*tasks)
    assert script.log == ["start u1", "start u2", "end u1", "start u3", "end u2", "end u3"]
    assert app.update_processor.places == 2


async def test_a_reply_deferred_by_a_task_that_outlived_its_update_is_still_sent() -> None:
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script)
    alice = fake.user(1, "Alice")
    script.gate("reply spawn").set()
    async with running(app):
        await (await process(app, alice.text("spawn")))  # the update is done, its task waits
        script.gate("task spawn").set()
        await asyncio.gather(*script.spawned)
        await app.update_processor.drain()
    assert script.log == ["start spawn", "end spawn", "reply spawn"]


async def test_a_chat_is_not_left_locked_when_its_replies_are_cancelled_before_they_run() -> None:
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script)
    alice = fake.user(1, "Alice")
    cancelled: list[asyncio.Task[Any]] = []
    loop = asyncio.get_running_loop()

    def cancel_replies(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        if ChatOrderedUpdateProcessor.__name__ in getattr(coro, "__qualname__", ""):
            task.cancel()  # in the loop iteration that created it: it never runs a line
            cancelled.append(task)
        return task

    loop.set_task_factory(cancel_replies)
    try:
        async with running(app):
            await (await process(app, alice.text("later one")))
            await asyncio.gather(*cancelled, return_exceptions=True)
            await asyncio.wait_for(await process(app, alice.text("two")), timeout=10)
    finally:
        loop.set_task_factory(None)
    assert len(cancelled) == 1 and cancelled[0].cancelled()
    assert script.log == ["start later one", "end later one", "start two", "end two"]


async def test_deferred_replies_are_prepared_a_limited_number_at_a_time_in_order() -> None:
    # At a surge, confirmations wait for Telegram's 30 a second. Only the next ones to go are
    # built; the rest wait unstarted, and each finished reply lets the next in line begin.
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script, places=64)
    surge = REPLIES_AT_ONCE + 10
    users = [fake.user(n, f"U{n}") for n in range(1, surge + 1)]
    async with running(app):
        for n, user in enumerate(users, 1):
            await (await process(app, user.text(f"later {n}")))
        for n in range(1, REPLIES_AT_ONCE + 1):
            await script.began(f"reply later {n}").wait()
        for _ in range(20):  # let anything else that could start, start (no time passes)
            await asyncio.sleep(0)
        preparing = [
            k for k, event in script.started.items() if k.startswith("reply") and event.is_set()
        ]
        assert len(preparing) == REPLIES_AT_ONCE
        script.gate("reply later 1").set()
        await script.began(f"reply later {REPLIES_AT_ONCE + 1}").wait()
        for n in range(2, surge + 1):
            script.gate(f"reply later {n}").set()
        await app.update_processor.drain()
    replies = [entry for entry in script.log if entry.startswith("reply")]
    assert replies[0] == "reply later 1" and len(replies) == surge


async def test_a_failing_deferred_reply_reaches_the_error_handlers_and_frees_the_chat() -> None:
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script)
    errors: list[str] = []

    async def on_error(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
        errors.append(str(context.error))

    app.add_error_handler(on_error)
    alice = fake.user(1, "Alice")
    script.gate("reply later boom").set()
    async with running(app):
        await (await process(app, alice.text("later boom")))
        await app.update_processor.drain()
        await (await process(app, alice.text("after")))
    assert errors == ["the reply failed"]
    assert script.log[-2:] == ["start after", "end after"]


async def test_stopping_leaves_the_updates_not_begun_and_finishes_the_ones_being_handled() -> None:
    # Alice's a1 is being handled, her a2 waits for her turn; with one place, Bob's b1 waits
    # for it. The stop leaves a2 and b1 (and c1, handed over after it) to Telegram.
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script, places=1)
    processor = app.update_processor
    alice, bob, carol = fake.user(1, "Alice"), fake.user(2, "Bob"), fake.user(3, "Carol")
    script.gate("a1")
    async with running(app):
        raw = {"a1": alice.text("a1"), "a2": alice.text("a2"), "b1": bob.text("b1")}
        outcomes = {text: processor.outcome(update["update_id"]) for text, update in raw.items()}
        a1 = await process(app, raw["a1"])
        await script.began("a1").wait()
        rest = [await process(app, raw["a2"]), await process(app, raw["b1"])]
        await asyncio.sleep(0)  # a scheduling point: both are waiting now
        processor.stop_taking()
        late = carol.text("c1")
        outcomes["c1"] = processor.outcome(late["update_id"])
        rest.append(await process(app, late))
        await asyncio.gather(*rest)
        assert {text: o.result() for text, o in outcomes.items() if o.done()} == {
            "a2": False,
            "b1": False,
            "c1": False,
        }
        script.gates["a1"].set()
        await a1
    assert outcomes["a1"].result() is True
    assert script.log == ["start a1", "end a1"]
    assert processor.left == 3


async def test_a_stop_cuts_a_handler_still_running_at_its_deadline_and_leaves_it() -> None:
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script)
    processor = app.update_processor
    script.gate("stuck")
    async with running(app):
        raw = fake.user(1, "Alice").text("stuck")
        outcome = processor.outcome(raw["update_id"])
        stuck = await process(app, raw)
        await script.began("stuck").wait()
        processor.stop_taking()
        await processor.finish(asyncio.get_running_loop().time())  # the grace is over
        await asyncio.gather(stuck, return_exceptions=True)
    assert stuck.cancelled() and outcome.result() is False
    assert script.log == ["start stuck"] and processor.left == 1


async def test_at_a_stop_the_deferred_replies_not_sent_by_the_deadline_are_given_up() -> None:
    fake, script = FakeBotApi(), Script()
    app = processing_app(fake, script)
    script.gate("reply later one")  # never let go: Telegram does not take it in time
    async with running(app):
        await (await process(app, fake.user(1, "Alice").text("later one")))
        await script.began("reply later one").wait()
        await app.update_processor.drain(asyncio.get_running_loop().time())
        # Nothing is left to wait for (a guard: were the reply still pending, this would hang).
        await asyncio.wait_for(app.update_processor.drain(), timeout=10)
    assert script.log == ["start later one", "end later one"]


async def test_without_the_processor_a_deferred_reply_is_sent_at_once() -> None:
    fake, script = FakeBotApi(), Script()
    app = fake.wire(ApplicationBuilder()).build()
    app.add_handler(MessageHandler(filters.TEXT, script.handle))
    script.gate("reply later now").set()
    async with app:
        await app.process_update(Update.de_json(fake.user(1, "Alice").text("later now"), app.bot))
    assert script.log == ["start later now", "end later now", "reply later now"]


@pytest.mark.parametrize("wrong", [0, 513, "nhiều"])
def test_concurrent_updates_outside_its_range_is_a_config_error(wrong: object) -> None:
    from bot.config import TelegramSettings

    with pytest.raises(ValueError, match="concurrent_updates"):
        TelegramSettings.model_validate({"concurrent_updates": wrong})


# --- end to end --------------------------------------------------------------------------------


async def test_a_burst_of_taps_through_polling_is_answered_and_confirmed_in_order(
    harness: BotHarness,
) -> None:
    codes = [f"DB{n:03d}" for n in range(1, 21)]
    users = [await harness.open_invitation(code) for code in codes]
    decliner = users[-1]
    stop = asyncio.Event()
    await harness.app.shutdown()  # serve() initialises the application itself
    running = asyncio.create_task(serve(harness.app, stop))
    for user in users[:-1]:
        harness.fake.enqueue(user.tap("✅ Tham dự"))
    harness.fake.enqueue(decliner.tap("❌ Không tham dự"))
    harness.fake.enqueue(decliner.text("Trùng lịch công tác"))
    await harness.fake.wait_until(
        lambda: (
            all(u.last_text().startswith(ATTENDING) for u in users[:-1])
            and "Trùng lịch công tác" in decliner.last_text()
        )
    )
    stop.set()
    await running
    await harness.app.initialize()  # the fixture shuts it down again

    answered = [c for c in harness.fake.calls_to("answerCallbackQuery") if not c.error]
    assert len(answered) == 20
    # The decliner's chat stays in order: the question, then the reason taken.
    question, taken = (m["text"] for m in decliner.messages[-2:])
    assert question.startswith("Đã ghi nhận: đồng chí không tham dự hội nghị. Đề nghị")
    assert taken.startswith("Đã ghi nhận: đồng chí không tham dự hội nghị (lý do: Trùng lịch")
    async with harness.services.ctx.sessions() as session:
        statuses = Counter(
            await session.scalars(
                select(Rsvp.status).join(Delegate).where(Delegate.code.in_(codes))
            )
        )
    assert statuses == Counter({RsvpStatus.ATTENDING: 19, RsvpStatus.DECLINED: 1})


async def test_serve_freezes_the_start_up_heap_out_of_the_collectors_passes(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await harness.open_invitation("DB001")
    gc.unfreeze()
    frozen = asyncio.Event()
    freeze = handlers.telegram.app.freeze_startup_heap

    def freeze_marked() -> None:  # the real freeze, then the test is told
        freeze()
        frozen.set()

    monkeypatch.setattr(handlers.telegram.app, "freeze_startup_heap", freeze_marked)
    stop = asyncio.Event()
    await harness.app.shutdown()  # serve() initialises the application itself
    running = asyncio.create_task(serve(harness.app, stop))
    try:
        # The freeze's full collection of the test process's heap takes seconds on a loaded
        # machine: waited for as an event (bounded only against a hang), not within the
        # fake's 10 s for a reply. Serve ending first is its failure, raised here.
        waiting = asyncio.ensure_future(frozen.wait())
        done, _ = await asyncio.wait({running, waiting}, timeout=600, return_when="FIRST_COMPLETED")
        waiting.cancel()
        if running in done:
            running.result()
        assert frozen.is_set(), "serve neither froze the start-up heap nor ended within 600 s"
        assert gc.get_freeze_count() > 10_000  # the modules, PTB, SQLAlchemy, the catalog
        harness.fake.enqueue(user.tap("✅ Tham dự"))  # and the bot answers with it frozen
        await harness.fake.wait_until(lambda: user.last_text().startswith(ATTENDING))
    finally:
        stop.set()
        await running
        gc.unfreeze()
        await harness.app.initialize()  # the fixture shuts it down again
