"""An import writes new people, their invitations, answers and audit entries as plain rows,
one statement a table: what it stores must be what the import stored a row at a time."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delegate_file import DelegateRow
from bot.services import Services
from storage.models import AuditEntry, Delegate, Invitation, Meeting, Rsvp
from storage.uow import unit_of_work
from tests.conftest import until_waiting


def person(code: str, name: str, rank: int | None = None) -> DelegateRow:
    """A delegate of the press group, as a list's row gives them."""
    return DelegateRow(0, code, name, "Phóng viên", "Báo Hà Nội mới", "bao_chi", None, rank)


async def test_an_import_of_new_changed_and_unchanged_people_stores_each_once_in_file_order(
    imported: Services,
) -> None:
    services = imported
    async with services.ctx.sessions() as session:
        old = {d.code: d for d in await session.scalars(select(Delegate))}
        last_audit = await session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()))
    db001, db002 = old["DB001"], old["DB002"]
    same = DelegateRow(
        0, "DB002", db002.full_name, db002.position, db002.organization, db002.group_key,
        db002.phone, db002.rank,
    )  # fmt: skip
    changed = replace(same, code="db001", full_name="Tên mới", group_key=db001.group_key)
    rows = [person("NEW1", "Người mới Một", 2), changed, same, person("NEW2", "Người mới Hai")]

    summary = await services.delegates.import_rows(rows, actor="test")

    assert (summary.created, summary.updated, summary.unchanged) == (2, 1, 1)
    async with services.ctx.sessions() as session:
        new = list(
            await session.scalars(
                select(Delegate).where(Delegate.code.in_(["NEW1", "NEW2"])).order_by(Delegate.id)
            )
        )
        audit = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.id > last_audit).order_by(AuditEntry.id)
            )
        )
        invitations = list(
            await session.scalars(
                select(Invitation).where(Invitation.delegate_id.in_([d.id for d in new]))
            )
        )
        answers = list(
            await session.scalars(select(Rsvp).where(Rsvp.delegate_id.in_([d.id for d in new])))
        )
        renamed = await session.scalar(select(Delegate).where(Delegate.code == "DB001"))
    now = services.ctx.clock.now()
    assert [(d.code, d.full_name, d.rank, d.role, d.group_key) for d in new] == [
        ("NEW1", "Người mới Một", 2, "delegate", "bao_chi"),
        ("NEW2", "Người mới Hai", None, "delegate", "bao_chi"),
    ]
    assert all(
        d.created_at == d.updated_at == now and d.meeting_id == db001.meeting_id for d in new
    )
    # One invitation (a fresh token of its own) and one empty answer for each new person.
    assert sorted(i.delegate_id for i in invitations) == [d.id for d in new]
    assert len({i.token for i in invitations}) == 2 and all(len(i.token) == 32 for i in invitations)
    assert all(i.revoked_at is None and i.created_at == now for i in invitations)
    assert sorted((a.delegate_id, a.status, a.answered_at) for a in answers) == [
        (d.id, "no_answer", None) for d in new
    ]
    # The audit in the file's order: created, updated, created; the unchanged row says nothing.
    assert [(e.action, e.entity, e.entity_id, e.actor, e.at) for e in audit] == [
        ("delegate.created", "delegate", new[0].id, "test", now),
        ("delegate.updated", "delegate", db001.id, "test", now),
        ("delegate.created", "delegate", new[1].id, "test", now),
    ]
    assert audit[0].before is None and audit[0].after is not None
    assert audit[0].after["code"] == "NEW1" and audit[0].after["full_name"] == "Người mới Một"
    assert audit[1].before["full_name"] == db001.full_name
    assert audit[1].after["full_name"] == "Tên mới"
    assert renamed is not None and renamed.full_name == "Tên mới" and renamed.updated_at == now


async def test_two_imports_at_once_take_turns_and_a_code_in_another_case_stays_one_person(
    engine: AsyncEngine, services: Services
) -> None:
    """Two offices import at once on PostgreSQL, one list with DB001, the other with db001:
    both found neither, and both inserted (two people of one code). The second now waits for
    the first (the meeting's row locked), then finds DB001 and updates her."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: SQLite's writers take turns anyway (BEGIN IMMEDIATE)")
    meeting_id = services.ctx.meeting_id
    first_list = [replace(person("DB001", "Nguyễn Thị Lan"), row=2)]
    second_list = [replace(person("db001", "Trần Thị Mai"), row=2)]
    async with asyncio.timeout(30):
        # Both imports start while a third writer holds the meeting's row wholly (FOR UPDATE,
        # as a notice's numbering does: no row referring to it is written meanwhile), so that
        # they wait in turn, the first list first, then run as close together as they can:
        # before, each had read the people there (neither) and waited to insert hers.
        async with unit_of_work(services.ctx.sessions) as holder:
            await holder.execute(
                select(Meeting.id).where(Meeting.id == meeting_id).with_for_update()
            )
            first = asyncio.create_task(services.delegates.import_rows(first_list, actor="a"))
            await until_waiting(engine, 1, first)
            second = asyncio.create_task(services.delegates.import_rows(second_list, actor="b"))
            await until_waiting(engine, 2, first, second)
        summaries = [await first, await second]
    assert [(s.created, s.updated) for s in summaries] == [(1, 0), (0, 1)]
    async with services.ctx.sessions() as session:
        people = await session.execute(
            select(Delegate.code, Delegate.full_name).where(Delegate.meeting_id == meeting_id)
        )
        assert people.all() == [("DB001", "Trần Thị Mai")]


async def test_a_name_stored_in_capitals_and_listed_again_is_written_as_names_are_and_unchanged(
    services: Services,
) -> None:
    # A list imported before names in capitals were written as names are: stored in capitals.
    # The same list again (its names now «Nguyễn Văn An») changes nothing the office did, so
    # the person counts unchanged; the name is written as the summary says names are.
    await services.delegates.import_rows([person("DB001", "NGUYỄN VĂN AN")], actor="test")
    again = [person("DB001", "Nguyễn Văn An")]

    preview = await services.delegates.preview_import(again)
    summary = await services.delegates.import_rows(again, actor="test")

    for said in (preview, summary):
        assert (said.created, said.updated, said.unchanged) == (0, 0, 1)
        assert said.changed == {} and said.changes == {}
    async with services.ctx.sessions() as session:
        stored = await session.scalar(select(Delegate.full_name).where(Delegate.code == "DB001"))
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "delegate.updated")
        )
    assert stored == "Nguyễn Văn An"
    assert audit is not None  # what the database held before is on the log
    assert (audit.before["full_name"], audit.after["full_name"]) == (
        "NGUYỄN VĂN AN",
        "Nguyễn Văn An",
    )
    # A name changed otherwise than its capitals is a change, as before.
    summary = await services.delegates.import_rows([person("DB001", "Nguyễn Văn Anh")], actor="t")
    assert (summary.updated, summary.unchanged) == (1, 0)
