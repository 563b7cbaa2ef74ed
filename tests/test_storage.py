"""Storage: UTC timestamps, SQLite pragmas, and migrations that match the models."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import aiosqlite
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, func, inspect, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import storage.engine
import storage.uow
from bot.domain.tokens import parse_link_code
from bot.services import Services, roster
from bot.services.meetings import sync_meeting
from storage import queries
from storage.base import Base, UTCDateTime
from storage.engine import create_engine
from storage.migrate import alembic_config, head_revision
from storage.models import Delegate, Meeting
from storage.uow import ReadCutShort, close_worker, in_a_worker, read_only, unit_of_work
from tests.storage_support import people_written_as_objects
from tests.test_services import row as delegate_row


async def test_timestamps_are_stored_in_utc_and_come_back_aware(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hanoi_time = datetime(2024, 5, 28, 8, 0, tzinfo=timezone(timedelta(hours=7)))
    async with sessions() as session, session.begin():
        session.add(Meeting(code="m", title="t", starts_at=hanoi_time, created_at=hanoi_time))
    async with sessions() as session:
        raw = await session.scalar(text("SELECT starts_at FROM meetings"))
        meeting = await session.scalar(select(Meeting))
        dialect = session.get_bind().dialect.name
    # SQLite keeps text without an offset (so we store UTC); PostgreSQL keeps timestamptz.
    expected = "2024-05-28 01:00:00.000000" if dialect == "sqlite" else hanoi_time
    assert raw == expected
    assert meeting is not None
    assert meeting.starts_at == hanoi_time
    assert meeting.starts_at.tzinfo is UTC


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    naive = datetime(2024, 5, 28, 8, 0)
    with pytest.raises(StatementError, match="naive datetime"):
        async with sessions() as session, session.begin():
            session.add(Meeting(code="m", title="t", starts_at=naive, created_at=datetime.now(UTC)))


async def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(engine: AsyncEngine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas: this run is on another database")
    async with engine.connect() as connection:
        pragmas = {
            name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 15000}


async def test_a_transaction_begins_immediate_and_a_locked_database_is_an_sqlalchemy_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.engine, "SQLITE_BUSY_TIMEOUT_S", 0)  # fail at once, not in 15 s
    path = tmp_path / "locked.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
        holder = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            # A read-only transaction still takes the write lock: BEGIN IMMEDIATE, not deferred.
            async with engine.begin() as connection:
                await connection.execute(text("SELECT count(*) FROM t"))
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    holder.execute("BEGIN IMMEDIATE")
            holder.execute("BEGIN IMMEDIATE")
            with pytest.raises(OperationalError, match="database is locked"):
                async with engine.begin() as connection:
                    await connection.execute(text("SELECT count(*) FROM t"))
        finally:
            holder.close()
    finally:
        await engine.dispose()


async def test_migrations_reach_head_and_match_the_models(engine: AsyncEngine) -> None:
    def compare(connection: Connection) -> tuple[str | None, list[object]]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return context.get_current_revision(), compare_metadata(context, Base.metadata)

    async with engine.connect() as connection:
        revision, diff = await connection.run_sync(compare)
    assert revision == head_revision()
    assert diff == []


@pytest.mark.fresh_database
async def test_downgrading_the_column_migrations_keeps_the_delegates_and_their_answers(
    engine: AsyncEngine, services: Services
) -> None:
    # On SQLite a batch drop_column rebuilds the table; dropping the old table with foreign
    # keys on would cascade to every child row. The downgrades drop columns in place.
    await services.delegates.import_rows([delegate_row("A1")], actor="t")

    def downgrade(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")  # through 0007 (meetings) and 0003 (delegates)

    async with engine.begin() as connection:
        await connection.run_sync(downgrade)
        counts = [
            (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
            for table in ("meetings", "delegates", "rsvps")
        ]
    assert counts == [1, 1, 1]


def _migrate(connection: Connection, how: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, how)(config, revision)


@pytest.mark.fresh_database
async def test_the_channels_migration_keeps_every_row_and_tags_telegrams_places_both_ways(
    engine: AsyncEngine, services: Services
) -> None:
    """0009 (channels as adapters): rows written when Telegram was the only channel keep all
    they said — places and comment sources become ``telegram:…``, handled update ids become
    strings — and a downgrade gives back exactly what was there."""
    await services.delegates.import_rows([delegate_row("A1")], actor="t")
    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0008")
        old = [
            "INSERT INTO channel_identities (delegate_id, channel, external_id, chat_address,"
            " linked_at, linked_via, last_message_id) SELECT id, 'telegram', '555', '555',"
            " '2024-05-18 02:00:00', 'invitation', 42 FROM delegates",
            "INSERT INTO outbound_messages (meeting_id, kind, status, audience, params,"
            " created_by, report_to, created_at) SELECT id, 'broadcast', 'done', 'linked', '{}',"
            " 'telegram:1', '-1001000000001', '2024-05-18 02:00:00' FROM meetings",
            "INSERT INTO deliveries (message_id, recipient, channel, chat_address, status,"
            " attempts, parts_sent, created_at, updated_at) SELECT id, 'chat:-1001000000001',"
            " 'telegram', '-1001000000001', 'sent', 1, 1, '2024-05-18 02:00:00',"
            " '2024-05-18 02:00:00' FROM outbound_messages",
            "INSERT INTO handled_updates (channel, bot_id, update_id, handled_at)"
            " VALUES ('telegram', 111, 7, '2024-05-18 02:00:00')",
        ]
        for statement in old:
            await connection.execute(text(statement))
        await connection.run_sync(_migrate, "upgrade", "0009")
        upgraded = [
            (await connection.execute(text(query))).all()
            for query in (
                "SELECT channel, external_id, last_seen_at, menu FROM channel_identities",
                "SELECT report_to FROM outbound_messages",
                "SELECT recipient FROM deliveries",
                "SELECT channel, bot_id, event_id FROM handled_events",
            )
        ]
        await connection.run_sync(_migrate, "downgrade", "0008")
        restored = [
            (await connection.execute(text(query))).all()
            for query in (
                "SELECT report_to FROM outbound_messages",
                "SELECT recipient FROM deliveries",
                "SELECT channel, bot_id, update_id FROM handled_updates",
                "SELECT count(*) FROM channel_identities",
            )
        ]
        await connection.run_sync(_migrate, "upgrade", "head")
    assert upgraded == [
        [("telegram", "555", None, None)],
        [("telegram:-1001000000001",)],
        [("chat:telegram:-1001000000001",)],
        [("telegram", "111", "7")],
    ]
    assert restored == [
        [("-1001000000001",)],
        [("chat:-1001000000001",)],
        [("telegram", 111, 7)],
        [(1,)],
    ]


@pytest.mark.fresh_database
async def test_the_link_codes_migration_gives_every_invitation_its_own_code(
    engine: AsyncEngine, services: Services
) -> None:
    """0010 (personal codes): invitations issued before it, revoked ones too, each get a code of
    the alphabet, all different; the column then refuses a row without one or a code twice."""
    await services.delegates.import_rows([delegate_row("A1"), delegate_row("A2")], actor="t")
    await services.invitations.reissue(services.access.local_operator(), "A1")
    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0009")
        tokens = (await connection.execute(text("SELECT token FROM invitations"))).scalars().all()
        await connection.run_sync(_migrate, "upgrade", "head")
        rows = (await connection.execute(text("SELECT token, link_code FROM invitations"))).all()
    assert sorted(token for token, _ in rows) == sorted(tokens) and len(rows) == 3
    codes = [code for _, code in rows]
    assert len(set(codes)) == 3 and all(parse_link_code(code) == code for code in codes)
    insert = "INSERT INTO invitations (delegate_id, token, link_code, created_at) VALUES "
    # One connection each: on PostgreSQL a refused statement aborts the whole transaction.
    for values in (
        "(1, 'x', NULL, '2024-05-18 02:00:00')",
        f"(1, 'y', '{codes[0]}', '2024-05-18')",
    ):
        async with engine.connect() as connection:
            with pytest.raises(IntegrityError):
                await connection.execute(text(insert + values))


async def test_a_read_only_session_refuses_a_write_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    async with unit_of_work(sessions) as session:
        session.add(Meeting(code="RO", title="Hội nghị", starts_at=now, created_at=now))
    with pytest.raises(AssertionError, match="read-only session"):
        async with read_only(sessions) as session:
            await session.execute(update(Meeting).values(title="Đổi tên"))
    with pytest.raises(AssertionError, match="read-only session"):
        async with read_only(sessions) as session:
            meeting = await session.scalar(select(Meeting).where(Meeting.code == "RO"))
            assert meeting is not None
            meeting.title = "Đổi tên"
            await session.flush()
    async with read_only(sessions) as session:  # reading is what it is for
        titles = list(await session.scalars(select(Meeting.title).where(Meeting.code == "RO")))
    assert titles == ["Hội nghị"]


@pytest.mark.fresh_database
async def test_the_notice_numbers_migration_numbers_the_notices_already_sent_in_order(
    engine: AsyncEngine, services: Services
) -> None:
    """0021 (notice numbers): notices confirmed before it (sent, scheduled, cancelled after
    that) are numbered 1, 2, 3 … in the order of their rows; a reminder or a dropped draft has
    no number; a number is the meeting's once."""
    await services.delegates.import_rows([delegate_row("A1")], actor="t")
    insert = (
        "INSERT INTO outbound_messages (meeting_id, kind, status, audience, created_by,"
        " created_at, due_at) SELECT id, '{}', '{}', 'linked', 't', '2024-05-18 02:00:00', {}"
        " FROM meetings"
    )
    rows = [
        ("rsvp_reminder", "done", "'2024-05-19 02:00:00'"),
        ("broadcast", "done", "'2024-05-18 03:00:00'"),
        ("broadcast", "cancelled", "NULL"),  # a draft dropped unconfirmed
        ("broadcast", "cancelled", "'2024-05-20 01:00:00'"),  # scheduled, then cancelled
        ("broadcast", "scheduled", "'2024-05-19 01:00:00'"),
    ]
    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0020")
        for kind, status, due in rows:
            await connection.execute(text(insert.format(kind, status, due)))
        await connection.run_sync(_migrate, "upgrade", "head")
        numbers = (
            await connection.execute(text("SELECT number FROM outbound_messages ORDER BY id"))
        ).scalars()
        assert list(numbers) == [None, 1, None, 2, 3]
    async with engine.connect() as connection:
        with pytest.raises(IntegrityError):
            await connection.execute(
                text("UPDATE outbound_messages SET number = 1 WHERE number = 2")
            )


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("DB001", "DB001"),  # as stored: the unique index
        ("db001", "DB001"),  # another case: lower() in SQL
        ("  dB001 \n", "DB001"),  # spaces around it, as a command is typed
        ("ĐB-Hòa", "ĐB-Hòa"),
        (" đb-hÒA ", "ĐB-Hòa"),  # letters SQLite's lower() leaves alone: folded here
        ("k9", "\u212a9"),  # a Kelvin sign folds to an ASCII k, as fold_code has it
        (unicodedata.normalize("NFD", "đb-hòa"), "ĐB-Hòa"),  # decomposed: Unikey, Word, PDF
        ("DB002", None),
        ("DB 001", None),  # a space inside is another code
    ],
)
async def test_one_code_is_found_as_lists_match_it_without_loading_everyone(
    services: Services, typed: str, found: str | None
) -> None:
    """``delegate_by_code`` matches as :func:`storage.queries.fold_code` does, and loads the
    person it finds, not every person of the meeting (ten thousand, at every sign-in link)."""
    rows = [
        delegate_row(code, row=number, phone=None)
        for number, code in enumerate(["DB001", "ĐB-Hòa", "\u212a9", "DB003", "DB004"], 2)
    ]
    await services.delegates.import_rows(rows, actor="t")
    loaded: list[str] = []

    def on_load(person: Delegate, _: object) -> None:
        loaded.append(person.code)

    event.listen(Delegate, "load", on_load)
    try:
        async with read_only(services.ctx.sessions) as session:
            person = await queries.delegate_by_code(session, services.ctx.meeting_id, typed)
    finally:
        event.remove(Delegate, "load", on_load)
    assert (person.code if person is not None else None) == found
    assert loaded == ([] if found is None else [found])


@pytest.mark.fresh_database
async def test_the_folded_codes_migration_folds_every_code_there_and_a_downgrade_drops_it(
    engine: AsyncEngine, services: Services
) -> None:
    """0022 (folded codes): the people already there get their codes folded as
    :func:`storage.queries.fold_code` folds them (casefold, not lower), found by them at once;
    a downgrade drops the column and its index, and the people stay."""
    # The last written decomposed (NFD: a database written otherwise than by the file parser,
    # which composes); "ǰ" is a letter casefold() decomposes.
    codes = [
        "DB001",
        "ĐB-Hòa",
        "\u212a9",
        "Straße",
        unicodedata.normalize("NFD", "HÒA2"),
        "\u01f03",
    ]
    rows = [delegate_row(code, row=number, phone=None) for number, code in enumerate(codes, 2)]
    await services.delegates.import_rows(rows, actor="t")

    def columns(connection: Connection) -> tuple[set[str], set[str | None]]:
        inspector = inspect(connection)
        return (
            {column["name"] for column in inspector.get_columns("delegates")},
            {index["name"] for index in inspector.get_indexes("delegates")},
        )

    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0021")
        names, indexes = await connection.run_sync(columns)
        assert "folded_code" not in names
        assert "ix_delegates_meeting_folded_code" not in indexes
        await connection.run_sync(_migrate, "upgrade", "head")
        names, indexes = await connection.run_sync(columns)
        assert "ix_delegates_meeting_folded_code" in indexes
        folded = await connection.execute(
            text("SELECT code, folded_code FROM delegates ORDER BY id")
        )
        assert folded.all() == [
            ("DB001", "db001"),
            ("ĐB-Hòa", "đb-hòa"),
            ("\u212a9", "k9"),  # casefold's, where lower() would keep the Kelvin sign
            ("Straße", "strasse"),
            (unicodedata.normalize("NFD", "HÒA2"), "hòa2"),  # composed, as typed codes fold
            ("\u01f03", "\u01f03"),  # casefold's "j" and combining caron, composed again
        ]
    async with read_only(services.ctx.sessions) as session:
        found = [
            await queries.delegate_by_code(session, services.ctx.meeting_id, typed)
            for typed in (" db001", "đB-hÒA", "K9", "STRASSE", "hòa2", "J\u030c3", "DB002")
        ]
    assert [person.code if person else None for person in found] == [*codes, None]


@pytest.mark.fresh_database
async def test_the_evidence_digest_migration_indexes_the_look_before_a_blob_is_removed(
    engine: AsyncEngine, services: Services
) -> None:
    """0023: whether any row still names a blob's bytes (before «Hủy ghi nhận» or the purge
    removes it) is read on indexes — the evidence's digests (new) and the drafts' (since
    0004) —, not by reading every deliverable of every meeting; a downgrade drops the index."""

    def indexes(connection: Connection) -> set[str | None]:
        return {index["name"] for index in inspect(connection).get_indexes("task_evidence")}

    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0022")
        assert "ix_task_evidence_sha256" not in await connection.run_sync(indexes)
        await connection.run_sync(_migrate, "upgrade", "head")
        assert "ix_task_evidence_sha256" in await connection.run_sync(indexes)
    statements: list[tuple[str, object]] = []

    def on_execute(*args: object) -> None:
        statements.append((str(args[2]), args[3]))

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        async with read_only(services.ctx.sessions) as session:
            assert await queries.blobs_named(session, ["ab" * 32, "cd" * 32]) == set()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
    reads = [(sql, params) for sql, params in statements if "sha256 IN" in sql]
    assert len(reads) == 3, reads
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL's planner reads a table this small whole whatever its indexes
    async with engine.connect() as connection:
        plans = []
        for sql, params in reads:
            plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)  # type: ignore[arg-type]
            plans.append(" ".join(str(row[-1]) for row in plan))
    assert [
        "ix_task_evidence_sha256" in plans[0],
        "ix_draft_versions_sha256" in plans[1],
        "ix_meeting_documents_sha256" in plans[2],
    ] == [True, True, True], plans


@pytest.mark.fresh_database
async def test_the_meeting_documents_migration_adds_the_table_and_a_downgrade_drops_it(
    engine: AsyncEngine, services: Services
) -> None:
    """0024: the documents the office publishes to the personal pages get their table, its
    digest indexed for the look before a blob is removed; a downgrade drops it, an upgrade
    makes it again."""

    def shape(connection: Connection) -> tuple[bool, set[str | None]]:
        found = inspect(connection)
        if not found.has_table("meeting_documents"):
            return False, set()
        return True, {index["name"] for index in found.get_indexes("meeting_documents")}

    async with engine.begin() as connection:
        assert await connection.run_sync(shape) == (
            True,
            {"ix_meeting_documents_meeting_id", "ix_meeting_documents_sha256"},
        )
        await connection.run_sync(_migrate, "downgrade", "0023")
        assert await connection.run_sync(shape) == (False, set())
        await connection.run_sync(_migrate, "upgrade", "head")
        assert (await connection.run_sync(shape))[0] is True


@pytest.mark.fresh_database
async def test_the_sent_marks_migration_keeps_every_invitation_unmarked_and_drops_cleanly(
    engine: AsyncEngine, services: Services
) -> None:
    """0025: invitations gain the office's «đã gửi» mark (when, how, by whom), empty on the
    links there already; a downgrade drops the three columns and keeps the links."""
    await services.delegates.import_rows([delegate_row("A1")], actor="t")

    def columns(connection: Connection) -> set[str]:
        return {column["name"] for column in inspect(connection).get_columns("invitations")}

    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0024")
        assert {"sent_at", "sent_via", "sent_by"} & await connection.run_sync(columns) == set()
        await connection.run_sync(_migrate, "upgrade", "head")
        assert {"sent_at", "sent_via", "sent_by"} <= await connection.run_sync(columns)
        marks = (
            await connection.execute(text("SELECT sent_at, sent_via, sent_by FROM invitations"))
        ).all()
    assert [tuple(mark) for mark in marks] == [(None, None, None)]


@pytest.mark.fresh_database
async def test_the_substitute_unit_and_phone_migration_keeps_old_answers_glued_and_drops_cleanly(
    engine: AsyncEngine, services: Services
) -> None:
    """0026: rsvps gain the substitute's unit and phone, empty on the answers there already
    (their «chức vụ, đơn vị» stays glued in the position, which the day papers still split);
    a downgrade drops the two columns and keeps the answers."""
    await services.delegates.import_rows([delegate_row("A1")], actor="t")

    def columns(connection: Connection) -> set[str]:
        return {column["name"] for column in inspect(connection).get_columns("rsvps")}

    new = {"substitute_unit", "substitute_phone"}
    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0025")
        assert new & await connection.run_sync(columns) == set()
        await connection.execute(
            text(
                "UPDATE rsvps SET status = 'substitute', substitute_name = 'Lê Thị Hoa', "
                "substitute_position = 'Phó Chủ tịch, Hội LHPN quận Ba Đình'"
            )
        )
        await connection.run_sync(_migrate, "upgrade", "head")
        assert new <= await connection.run_sync(columns)
        rows = (
            await connection.execute(
                text(
                    "SELECT substitute_name, substitute_position, substitute_unit, "
                    "substitute_phone FROM rsvps"
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("Lê Thị Hoa", "Phó Chủ tịch, Hội LHPN quận Ba Đình", None, None)
    ]


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("DB003", "DB003"),
        ("db003", "DB003"),
        (" đb-hÒa ", "ĐB-Hòa"),
        ("k9", "\u212a9"),
        ("khong-co-ma", None),
        # Unikey's «Unicode tổ hợp», or pasted from Word or a PDF: "o" and a combining grave.
        (unicodedata.normalize("NFD", "đb-hòa"), "ĐB-Hòa"),
    ],
)
async def test_a_code_is_found_or_not_in_one_indexed_read_whatever_was_typed(
    engine: AsyncEngine, services: Services, typed: str, found: str | None
) -> None:
    """A code in another case, with letters SQLite's lower() leaves alone, in decomposed
    Unicode, or on nobody's list (a mistyped sign-in code, a wrong QR): the person it is, or
    nobody, in one statement, on the index of folded codes, never a read of every code of the
    meeting."""
    codes = ["DB001", "ĐB-Hòa", "\u212a9", "DB003"]
    rows = [delegate_row(code, row=number, phone=None) for number, code in enumerate(codes, 2)]
    await services.delegates.import_rows(rows, actor="t")
    statements: list[tuple[str, object]] = []

    def on_execute(*args: object) -> None:
        statements.append((str(args[2]), args[3]))

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        async with read_only(services.ctx.sessions) as session:
            person = await queries.delegate_by_code(session, services.ctx.meeting_id, typed)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
    assert (person.code if person is not None else None) == found
    reads = [(sql, params) for sql, params in statements if "FROM delegates" in sql]
    assert len(reads) == 1, reads
    [(sql, params)] = reads
    assert "delegates.folded_code = " in sql
    if engine.dialect.name == "sqlite":
        async with engine.connect() as connection:
            plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)  # type: ignore[arg-type]
            details = [row[-1] for row in plan]
        assert any("USING INDEX ix_delegates_meeting_folded_code" in d for d in details), details


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("AB1", "AB1"),  # as stored
        ("aB1", "ab1"),  # the first of them (by id), as lower() in SQL found it
        # No ASCII code folds so: the last in code order, as the codes read from the unique
        # index (meeting, code) found it ("Straße" is after "STRAẞE", added after it).
        ("STRASSE", "Straße"),
        ("strasse", "Straße"),
    ],
)
async def test_codes_that_fold_alike_find_whom_a_lookup_found_before(
    services: Services, typed: str, found: str
) -> None:
    """The lists cannot hold two codes that fold alike; written otherwise (here, as objects),
    a lookup answers as it did before the folded codes (0022)."""
    now = services.ctx.clock.now()
    async with unit_of_work(services.ctx.sessions) as session:
        await people_written_as_objects(
            session, services.ctx.meeting_id, "trung_uong_hoi",
            ["ab1", "AB1", "Straße", "STRAẞE", "Ab1"], now,
        )  # fmt: skip
    async with read_only(services.ctx.sessions) as session:
        person = await queries.delegate_by_code(session, services.ctx.meeting_id, typed)
    assert person is not None and person.code == found


async def test_a_page_address_finds_the_same_one_of_two_codes_that_fold_alike_as_a_lookup(
    services: Services,
) -> None:
    """``?after=KX1`` (:func:`bot.services.roster.key_of`) pages after the person a typed
    "KX1" finds everywhere else (:func:`storage.queries.delegate_by_code`): of a Kelvin-sign
    code written first and an ASCII one written after, the ASCII one — not the first by id."""
    now = services.ctx.clock.now()
    async with unit_of_work(services.ctx.sessions) as session:
        await people_written_as_objects(
            session, services.ctx.meeting_id, "trung_uong_hoi", ["\u212ax1", "kx1"], now
        )
    order = {group.key: group.order for group in services.config.groups}
    async with read_only(services.ctx.sessions) as session:
        person = await queries.delegate_by_code(session, services.ctx.meeting_id, "KX1")
        key = (await session.execute(roster.key_of(order, services.ctx.meeting_id, "KX1"))).one()
    assert person is not None
    assert (person.code, key[-1]) == ("kx1", "kx1")


async def test_the_code_tests_of_a_column_are_cached_with_their_column(
    services: Services,
) -> None:
    """:func:`storage.queries.code_match`'s own SQL (whether a column is ASCII, a column in
    code-point order) is cached, with the column it reads in the cache key: a lookup by code
    is compiled once, not at every sign-in, and the same test of another column is another
    statement, never the first one's SQL run again (here: the code is ASCII, the name is not,
    and each read says so of its own column, the second after the first was cached)."""
    for element in (queries._Ascii, queries._InCodePoints):
        by_code = select(Delegate.id).order_by(element(Delegate.code.expression))
        by_name = select(Delegate.id).order_by(element(Delegate.full_name.expression))
        again = select(Delegate.id).order_by(element(Delegate.code.expression))
        key = by_code._generate_cache_key()
        assert key is not None and key == again._generate_cache_key()
        assert key != by_name._generate_cache_key()
    assert queries.code_match(select(Delegate), "DB001")._generate_cache_key() is not None
    await services.delegates.import_rows([delegate_row("DB001", row=2, phone=None)], actor="t")
    async with read_only(services.ctx.sessions) as session:
        answers = [
            await session.scalar(
                select(queries._Ascii(column.expression))
                .select_from(Delegate)
                .where(Delegate.code == "DB001")
            )
            for column in (Delegate.code, Delegate.full_name, Delegate.code)
        ]
    assert answers == [True, False, True]


async def test_a_locked_read_takes_the_row_as_committed_since_over_the_sessions_copy(
    services: Services,
) -> None:
    """:func:`storage.queries.locked`: the row is read again as it is once locked, over the
    copy the session already holds (a withdrawal or a report committed since is seen), and
    locked FOR UPDATE on PostgreSQL — of the tables asked only —, as every use case that
    locks a row before judging it needs."""
    await services.delegates.import_rows([delegate_row("DB001", row=2, phone=None)], actor="t")
    async with services.ctx.sessions() as session:
        held = await queries.delegate_by_code(session, services.ctx.meeting_id, "DB001")
        assert held is not None and held.full_name != "Tên mới"
        await session.commit()
        async with unit_of_work(services.ctx.sessions) as other:
            await other.execute(
                update(Delegate).where(Delegate.id == held.id).values(full_name="Tên mới")
            )
        statement = select(Delegate).where(Delegate.id == held.id)
        stale = await session.scalar(statement)
        assert stale is held and stale.full_name != "Tên mới"
        fresh = await session.scalar(queries.locked(statement))
        assert fresh is held and fresh.full_name == "Tên mới"
    joined = queries.locked(
        select(Delegate.id).join(Meeting, Meeting.id == Delegate.meeting_id), of=Delegate
    )
    sql = str(joined.compile(dialect=postgresql.dialect()))
    assert sql.endswith("FOR UPDATE OF delegates")


class MarkedSession(AsyncSession):
    """A session class of the caller's own, as a process may configure its sessions with."""


async def test_a_worker_reads_through_sessions_of_the_callers_class(engine: AsyncEngine) -> None:
    # in_a_worker rebuilt the sessions from their settings but not their class: a worker's
    # read ran on a plain AsyncSession whatever the caller's sessions were.
    sessions = async_sessionmaker(engine, class_=MarkedSession, expire_on_commit=False)

    async def read(own: async_sessionmaker[AsyncSession]) -> tuple[str, int | None]:
        async with read_only(own) as session:
            return type(session).__name__, await session.scalar(select(func.count(Meeting.id)))

    assert await in_a_worker(sessions, read) == ("MarkedSession", 0)


@pytest.fixture
async def worker_engines(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[list[AsyncEngine], list[AsyncEngine]]:
    """The engines the worker (storage.uow.in_a_worker) makes from now on, and those of them
    it has disposed of; a worker an earlier test made is closed first."""
    made: list[AsyncEngine] = []
    disposed: list[AsyncEngine] = []

    def counted(url: str, **kwargs: object) -> AsyncEngine:
        one = create_engine(url, **kwargs)  # type: ignore[arg-type]
        event.listen(one.sync_engine, "engine_disposed", lambda _: disposed.append(one))
        made.append(one)
        return one

    await close_worker()
    monkeypatch.setattr(storage.uow, "create_engine", counted)
    return made, disposed


class HeldRead:
    """A read for the worker that, once it has begun, waits until the test lets it go on."""

    def __init__(self) -> None:
        self.started, self.go_on = threading.Event(), threading.Event()

    async def __call__(self, own: async_sessionmaker[AsyncSession]) -> int | None:
        async with read_only(own) as session:
            self.started.set()
            await asyncio.to_thread(self.go_on.wait)
            return await session.scalar(select(func.count(Meeting.id)))


def disposing_marked(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once a worker's close has begun (it waits for the reads under way, then disposes)."""
    disposing = threading.Event()
    dispose = storage.uow._Worker._dispose

    async def marked(worker: storage.uow._Worker) -> None:
        disposing.set()
        await dispose(worker)

    monkeypatch.setattr(storage.uow._Worker, "_dispose", marked)
    return disposing


async def test_the_worker_reads_on_one_engine_until_shutdown_disposes_it(
    engine: AsyncEngine, worker_engines: tuple[list[AsyncEngine], list[AsyncEngine]]
) -> None:
    # in_a_worker opened an engine of its own for every read (each download of the day's
    # papers); one engine now serves the process's reads, in a thread of their own, and
    # close_worker (at shutdown) disposes of it.
    made, disposed = worker_engines
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    caller = threading.get_ident()

    async def read(own: async_sessionmaker[AsyncSession]) -> tuple[bool, int | None]:
        async with read_only(own) as session:
            count = await session.scalar(select(func.count(Meeting.id)))
            return threading.get_ident() != caller, count

    assert await in_a_worker(sessions, read) == (True, 0)
    assert await in_a_worker(sessions, read) == (True, 0)
    assert len(made) == 1 and disposed == []
    await close_worker()
    assert disposed == made
    assert await in_a_worker(sessions, read) == (True, 0)  # made again after a shutdown
    assert len(made) == 2
    await close_worker()
    assert disposed == made


async def test_a_read_under_way_ends_before_the_worker_closes(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker is the process's: a storage closing (close_worker) while another one's read
    # is under way must neither cut that read short nor leave its caller waiting for ever.
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    disposing = disposing_marked(monkeypatch)
    read = HeldRead()

    reading = asyncio.create_task(in_a_worker(sessions, read))
    await asyncio.to_thread(read.started.wait)
    closing = asyncio.create_task(close_worker())
    await asyncio.to_thread(disposing.wait)  # the close has begun, the read still under way
    read.go_on.set()
    # Bounded, not timed: a read the close cut off never ends (the test would hang).
    assert await asyncio.wait_for(reading, 60) == 0
    await asyncio.wait_for(closing, 60)


async def test_a_second_close_during_the_first_returns_once_the_engines_are_disposed(
    engine: AsyncEngine,
    worker_engines: tuple[list[AsyncEngine], list[AsyncEngine]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A close_worker called while another was waiting for a read (two meetings' storages
    # closing in one process) found no worker and returned at once, its engine not disposed.
    made, disposed = worker_engines
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    disposing = disposing_marked(monkeypatch)
    read = HeldRead()
    reading = asyncio.create_task(in_a_worker(sessions, read))
    await asyncio.to_thread(read.started.wait)
    first = asyncio.create_task(close_worker())
    await asyncio.to_thread(disposing.wait)  # the first close waits for the read

    async def second_close() -> list[AsyncEngine]:
        await close_worker()
        return list(disposed)  # what was disposed of when it returned

    second = asyncio.create_task(second_close())
    await asyncio.sleep(0)  # the second close has begun (a scheduling point, not a wait)
    read.go_on.set()
    assert await asyncio.wait_for(second, 60) == made != []
    assert await asyncio.wait_for(reading, 60) == 0
    await asyncio.wait_for(first, 60)


async def test_a_read_that_does_not_end_is_cut_short_and_the_worker_closes_all_the_same(
    engine: AsyncEngine,
    worker_engines: tuple[list[AsyncEngine], list[AsyncEngine]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A close waited for the reads under way with no limit: a read that hung held the
    # shutdown for ever. Past the grace it is cut short, its caller told so.
    made, disposed = worker_engines
    monkeypatch.setattr(storage.uow, "CLOSE_GRACE_S", 0.0)  # the read below never ends anyway
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    read = HeldRead()
    reading = asyncio.create_task(in_a_worker(sessions, read))
    await asyncio.to_thread(read.started.wait)
    try:
        # Bounded, not timed: a close that waits for the read never returns.
        await asyncio.wait_for(close_worker(), 60)
        assert disposed == made != []
        with pytest.raises(ReadCutShort):
            await asyncio.wait_for(reading, 60)
    finally:
        read.go_on.set()  # the thread the read waited in


async def test_a_read_that_goes_on_when_cut_short_still_leaves_its_caller_answered(
    engine: AsyncEngine,
    worker_engines: tuple[list[AsyncEngine], list[AsyncEngine]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Past both graces the worker's loop ends with the read still on it: nothing there will
    # ever answer its caller, so the close does.
    monkeypatch.setattr(storage.uow, "CLOSE_GRACE_S", 0.0)
    monkeypatch.setattr(storage.uow, "CUT_GRACE_S", 0.0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    started, go_on = threading.Event(), threading.Event()

    async def stubborn(own: async_sessionmaker[AsyncSession]) -> None:
        started.set()
        try:
            await asyncio.to_thread(go_on.wait)
        except asyncio.CancelledError:
            await asyncio.to_thread(go_on.wait)  # cut short, and waiting on all the same

    reading = asyncio.create_task(in_a_worker(sessions, stubborn))
    await asyncio.to_thread(started.wait)
    try:
        await asyncio.wait_for(close_worker(), 60)
        with pytest.raises(ReadCutShort):
            await asyncio.wait_for(reading, 60)
    finally:
        go_on.set()


# The read below is left on the worker's loop once that loop has ended; collected at the end of
# the test, its session cannot close without a loop (what the test is about).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_read_cut_short_that_goes_on_has_its_database_connection_closed_all_the_same(
    engine: AsyncEngine,
    worker_engines: tuple[list[AsyncEngine], list[AsyncEngine]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A read that swallowed its cut kept its SQLite connection, its read transaction and
    # aiosqlite's thread after the worker's loop ended, for the life of the process (a daemon
    # thread, made in the worker's: it did not hold the exit, but held back WAL checkpoints).
    if engine.dialect.name != "sqlite":
        pytest.skip("aiosqlite's thread: SQLite's connections only")
    monkeypatch.setattr(storage.uow, "CLOSE_GRACE_S", 0.0)
    monkeypatch.setattr(storage.uow, "CUT_GRACE_S", 0.0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    started = threading.Event()
    drivers: list[aiosqlite.Connection] = []

    async def stubborn(own: async_sessionmaker[AsyncSession]) -> None:
        async with read_only(own) as session:
            await session.scalar(select(func.count(Meeting.id)))
            raw = await (await session.connection()).get_raw_connection()
            drivers.append(raw.driver_connection)
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                await asyncio.Event().wait()  # cut short, and reading on all the same

    reading = asyncio.create_task(in_a_worker(sessions, stubborn))
    await asyncio.to_thread(started.wait)
    try:
        await asyncio.wait_for(close_worker(), 60)
        with pytest.raises(ReadCutShort):
            await asyncio.wait_for(reading, 60)
        assert not drivers[0]._thread.is_alive(), "the read's connection outlived the close"
    finally:
        drivers[0].stop()  # (the old code's connection, for the rest of the run)
        del reading  # it holds, through its answer's way back, the read left behind
        gc.collect()  # collected within this test


async def test_a_read_that_took_the_worker_as_another_loop_closed_it_goes_to_a_new_worker(
    engine: AsyncEngine,
    worker_engines: tuple[list[AsyncEngine], list[AsyncEngine]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # close_worker may run on another event loop, in another thread, than a read: a read that
    # took the worker just before the close began was handed to a loop that had stopped (its
    # caller got "Event loop is closed", or waited for ever), or ran past the close's wait.
    made, disposed = worker_engines
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def read(own: async_sessionmaker[AsyncSession]) -> int | None:
        async with read_only(own) as session:
            return await session.scalar(select(func.count(Meeting.id)))

    assert await in_a_worker(sessions, read) == 0  # the worker is made
    the_worker = storage.uow._the_worker
    raced: list[storage.uow._Worker] = []

    def closed_meanwhile() -> storage.uow._Worker:
        worker = the_worker()
        if not raced:  # the first time: another loop closes it before the read is handed over
            raced.append(worker)
            other = threading.Thread(target=asyncio.run, args=(close_worker(),))
            other.start()
            other.join()
        return worker

    monkeypatch.setattr(storage.uow, "_the_worker", closed_meanwhile)
    try:
        assert await asyncio.wait_for(in_a_worker(sessions, read), 60) == 0
        assert len(made) == 2 and disposed == made[:1]  # read on the worker made after the close
    finally:
        await close_worker()


@pytest.mark.fresh_database
async def test_the_reply_counts_migration_adds_its_table_and_the_maybe_sent_mark_and_drops_both(
    engine: AsyncEngine, services: Services
) -> None:
    """0027: ``reply_counts`` (the bots' replies per month) is created empty and deliveries gain
    ``maybe_sent_at`` and ``parts_total``, empty on those there already; a downgrade drops them
    and keeps the deliveries; an upgrade makes them again, and a count added twice is summed."""
    await services.delegates.import_rows([delegate_row("A1")], actor="t")

    def shape(connection: Connection) -> tuple[bool, bool, bool]:
        found = inspect(connection)
        columns = {column["name"] for column in found.get_columns("deliveries")}
        return found.has_table("reply_counts"), "maybe_sent_at" in columns, "parts_total" in columns

    async with engine.begin() as connection:
        assert await connection.run_sync(shape) == (True, True, True)
        await connection.execute(
            text(
                "INSERT INTO outbound_messages (meeting_id, kind, status, audience, created_by,"
                " created_at) SELECT id, 'broadcast', 'done', 'linked', 't', created_at"
                " FROM meetings"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO deliveries (message_id, recipient, status, attempts, parts_sent,"
                " created_at, updated_at) SELECT id, 'delegate:1', 'sent', 1, 1, created_at,"
                " created_at FROM outbound_messages"
            )
        )
        await connection.run_sync(_migrate, "downgrade", "0026")
        assert await connection.run_sync(shape) == (False, False, False)
        await connection.run_sync(_migrate, "upgrade", "head")
        assert await connection.run_sync(shape) == (True, True, True)
        marks = (
            await connection.execute(
                text("SELECT status, maybe_sent_at, parts_total FROM deliveries")
            )
        ).all()
        assert [tuple(mark) for mark in marks] == [("sent", None, None)]
        for added in ([("zalo", "2026-12", 3)], [("zalo", "2026-12", 4), ("zalo2", "2026-12", 1)]):
            rows = [{"channel": c, "month": m, "messages": n} for c, m, n in added]
            await connection.run_sync(queries.add_replies, rows)
        counts = (
            await connection.execute(
                text("SELECT channel, month, messages FROM reply_counts ORDER BY channel")
            )
        ).all()
    assert [tuple(row) for row in counts] == [("zalo", "2026-12", 7), ("zalo2", "2026-12", 1)]


@pytest.mark.fresh_database
async def test_the_checkin_day_migration_files_each_check_in_by_its_local_date_and_drops_cleanly(
    engine: AsyncEngine, services: Services
) -> None:
    """0029: each check-in there already gets its meeting day, the local date of its arrival
    (06:30 on 28/5 in Hanoi is 23:30 on 27/5 in UTC: 28/5), none before the meeting's first
    day (a trial the evening before is the first day's); the one-live-row index is then per
    (delegate, day). A downgrade keeps each delegate's first day's row live, marks the later
    days' undone (kept), and drops the column."""
    await services.delegates.import_rows([delegate_row("A1")], actor="t")
    table = sa.table(
        "checkins",
        sa.column("meeting_id", sa.Integer), sa.column("delegate_id", sa.Integer),
        sa.column("kind", sa.String), sa.column("full_name", sa.String),
        sa.column("desk", sa.String), sa.column("checked_in_at", UTCDateTime()),
        sa.column("checked_in_by", sa.String), sa.column("staff_name", sa.String),
        sa.column("day", sa.Date), sa.column("undone_at", UTCDateTime()),
    )  # fmt: skip

    def row(delegate: int | None, at: datetime, **more: object) -> dict[str, object]:
        kind = "delegate" if delegate else "guest"
        return {
            "meeting_id": services.ctx.meeting_id, "delegate_id": delegate, "kind": kind,
            "full_name": "x", "desk": "Bàn 1", "checked_in_at": at, "checked_in_by": "t",
            "staff_name": "x", **more,
        }  # fmt: skip

    async with engine.begin() as connection:
        person = await connection.scalar(select(Delegate.id).where(Delegate.code == "A1"))
        await connection.run_sync(_migrate, "downgrade", "0028")
        before = [c for c in table.columns if c.name != "day"]  # the table as 0028 had it
        for values in (
            row(person, datetime(2024, 5, 27, 23, 30, tzinfo=UTC)),  # 28/5 06:30 in Hanoi
            row(None, datetime(2024, 5, 28, 23, 30, tzinfo=UTC)),  # 29/5 06:30
            row(None, datetime(2024, 5, 27, 10, 0, tzinfo=UTC)),  # 27/5 17:00: before day one
        ):
            await connection.execute(
                sa.insert(sa.table("checkins", *[sa.column(c.name, c.type) for c in before])),
                [{k: v for k, v in values.items() if k != "day"}],
            )
        await connection.run_sync(_migrate, "upgrade", "head")
        days = (await connection.execute(text("SELECT day FROM checkins ORDER BY id"))).scalars()
        assert [str(day) for day in days] == ["2024-05-28", "2024-05-29", "2024-05-28"]
        # Day two's row of the same delegate stands beside day one's: the index is per day.
        await connection.execute(
            sa.insert(table), [row(person, datetime(2024, 5, 29, 0, 30, tzinfo=UTC),
                                   day=date(2024, 5, 29))]
        )  # fmt: skip
        with pytest.raises(IntegrityError, match=r"(?i)unique"):
            async with connection.begin_nested():
                await connection.execute(
                    sa.insert(table), [row(person, datetime(2024, 5, 29, 1, 0, tzinfo=UTC),
                                           day=date(2024, 5, 29))]
                )  # fmt: skip
        await connection.run_sync(_migrate, "downgrade", "0028")
        kept = (
            await connection.execute(
                text("SELECT undone_at IS NULL FROM checkins WHERE delegate_id = :p ORDER BY id"),
                {"p": person},
            )
        ).scalars()
        assert [bool(live) for live in kept] == [True, False]
        columns = await connection.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns("checkins")}
        )
        assert "day" not in columns
        await connection.run_sync(_migrate, "upgrade", "head")


@pytest.mark.fresh_database
async def test_the_rsvp_days_migration_leaves_every_answer_for_every_day_and_drops_cleanly(
    engine: AsyncEngine, services: Services
) -> None:
    """0030: rsvps gain ``days``, empty (every day) on the answers there already; an answer for
    some days stored after it; a downgrade drops the column and keeps the answer («tham dự»,
    now every day)."""
    await services.delegates.import_rows([delegate_row("A1")], actor="t")

    def columns(connection: Connection) -> set[str]:
        return {column["name"] for column in inspect(connection).get_columns("rsvps")}

    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0029")
        assert "days" not in await connection.run_sync(columns)
        await connection.execute(text("UPDATE rsvps SET status = 'attending'"))
        await connection.run_sync(_migrate, "upgrade", "head")
        assert "days" in await connection.run_sync(columns)
        rows = (await connection.execute(text("SELECT status, days FROM rsvps"))).all()
        assert [tuple(row) for row in rows] == [("attending", None)]
        await connection.execute(text("UPDATE rsvps SET days = '2024-05-29'"))
        await connection.run_sync(_migrate, "downgrade", "0029")
        assert "days" not in await connection.run_sync(columns)
        rows = (await connection.execute(text("SELECT status FROM rsvps"))).all()
        assert [tuple(row) for row in rows] == [("attending",)]
        await connection.run_sync(_migrate, "upgrade", "head")


@pytest.mark.fresh_database
async def test_the_meeting_end_migration_adds_an_empty_end_the_plan_fills_and_drops_cleanly(
    engine: AsyncEngine, services: Services, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """0031: meetings gain ``ends_at``, empty on the row there already (its start stands in
    until its plan runs again); the plan's services built write the plan's end; a downgrade
    drops the column and keeps the row."""

    def columns(connection: Connection) -> set[str]:
        return {column["name"] for column in inspect(connection).get_columns("meetings")}

    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0030")
        assert "ends_at" not in await connection.run_sync(columns)
        await connection.run_sync(_migrate, "upgrade", "head")
        assert "ends_at" in await connection.run_sync(columns)
        ends = (await connection.execute(text("SELECT ends_at FROM meetings"))).scalars().all()
        assert ends == [None]
    await sync_meeting(sessions, services.config, services.ctx.clock)  # the plan run again
    async with sessions() as session:
        stored = await session.scalar(select(Meeting.ends_at))
    assert stored == services.config.meeting.ends_at
    async with engine.begin() as connection:
        await connection.run_sync(_migrate, "downgrade", "0030")
        assert "ends_at" not in await connection.run_sync(columns)
        assert (await connection.execute(text("SELECT count(*) FROM meetings"))).scalar() == 1
        await connection.run_sync(_migrate, "upgrade", "head")
