"""How a personal page opened before is read (bot.services.pages): in one or two statements,
without the writer's lock, always as the database is now, and the same as the chat's own
services read it."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.clock import ManualClock
from bot.domain.drafts import DraftStatus
from bot.domain.tasks import TaskStatus
from bot.services import Services, build_services
from bot.services.invitations import page_account
from storage.engine import create_engine, create_sessionmaker
from tests.conftest import EXAMPLE_DELEGATES, local
from tests.samples import docx
from tests.test_web_page import desk_of
from tests.web_support import Web, flash, web_for

SPEAKER = "DB031"  # theme 1.1, and a district chair: task VI.2 is theirs too
CHANNEL = "web"
CLIENT = "a-client-key"


@pytest.fixture
async def web(imported: Services) -> AsyncIterator[Web]:
    web = await web_for(imported)
    yield web
    await web.client.aclose()


def _engine(services: Services) -> AsyncEngine:
    engine = services.ctx.sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


async def test_an_opened_page_is_read_in_one_statement_and_a_speakers_in_two(web: Web) -> None:
    await web.open("DB001")  # the first view makes the page's account: a write
    await web.open(SPEAKER)
    engine = _engine(web.services)
    with statements(engine) as delegate:
        assert (await web.open("DB001")).status_code == 200
    with statements(engine) as speaker:
        page = await web.open(SPEAKER)
    assert 'id="tasks"' in page.text and 'id="drafts"' in page.text
    assert [sql.split()[0] for sql in delegate] == ["SELECT"]
    assert [sql.split()[0] for sql in speaker] == ["SELECT", "SELECT"]


async def test_a_checked_in_page_is_read_in_one_statement_too(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    # Her check-in (what her pass says once she is in the hall) is joined into the page's read.
    await web.open("DB001")
    clock.set(local(2024, 5, 28, 7, 15))
    await imported.checkin.check_in(await desk_of(imported, "DB080", "Bàn 1"), "DB001")
    with statements(_engine(web.services)) as read:
        page = await web.open("DB001")
    assert 'id="desk-checked-in"' in page.text
    assert [sql.split()[0] for sql in read] == ["SELECT"]


async def test_the_office_s_documents_are_read_in_the_page_s_own_transaction(
    web: Web, imported: Services
) -> None:
    await imported.documents.publish(
        imported.access.local_operator(), title="Chương trình", note="", name="ct.docx",
        content=docx("Chương trình"),
    )  # fmt: skip
    await web.open("DB001")
    engine = _engine(imported)
    begun: list[object] = []

    def began(connection: object) -> None:
        begun.append(connection)

    event.listen(engine.sync_engine, "begin", began)
    try:
        with statements(engine) as read:
            page = await web.open("DB001")
    finally:
        event.remove(engine.sync_engine, "begin", began)
    assert 'id="documents-list"' in page.text
    assert [sql.split()[0] for sql in read] == ["SELECT", "SELECT"]
    assert len(begun) == 1


async def test_an_opened_page_shows_while_another_process_holds_the_write_lock(
    web: Web, imported: Services
) -> None:
    engine = _engine(imported)
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's writer's lock")
    await web.open(SPEAKER)
    database = engine.url.database
    assert database is not None
    writer = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # as a command-line write from another process
        page = await web.open(SPEAKER)
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert page.status_code == 200
    assert "Nguyễn" in page.text or 'id="drafts"' in page.text


async def test_the_page_reads_what_the_chats_own_services_read(
    web: Web, imported: Services
) -> None:
    """Tasks, versions and the thread on the page are those the chat's board, the draft's
    versions and its thread give (bot.services.tasks, bot.services.drafts)."""
    [line] = [line for line in await imported.drafts.board() if line.code == SPEAKER]
    page = await web.open(SPEAKER)
    token = web.tokens[SPEAKER]
    account = page_account(CHANNEL, await _person_id(imported, SPEAKER))
    for number in (1, 2):
        result = await imported.drafts.store_file(
            account, line.id, name=f"ban-{number}.docx", content=docx(f"Bản {number}"),
            file_ref=None,
        )  # fmt: skip
        assert result.version is not None
    office = imported.access.local_operator()
    await imported.drafts.set_verdict(office, result.version.id, DraftStatus.REVISION)
    await web.post(SPEAKER, f"draft/{line.id}/reply", f"draft-{line.id}-reply", {"text": "Vâng"})
    board = await imported.tasks.board_for(account) or []
    task = board[0]
    await web.post(
        SPEAKER, f"task/{task.id}", f"task-{task.id}-report",
        {"action": "progress", "note": "Đã xong phần đầu"},
    )  # fmt: skip
    view = await imported.pages.view(token, channel=CHANNEL)
    assert view is not None and page.status_code == 200
    [draft] = view.drafts
    assert draft.versions == tuple(await imported.drafts.versions(line.id))
    assert [v.number for v in draft.versions] == [2, 1]  # newest first
    assert draft.thread == tuple(await imported.drafts.thread(line.id))
    assert (draft.theme_key, draft.theme_title, draft.deadline_at, draft.status) == (
        line.theme_key,
        line.theme_title,
        line.deadline_at,
        DraftStatus.REVISION,
    )
    board = await imported.tasks.board_for(account) or []
    assert [(t.id, t.key, t.title, t.deadline_at, t.closed, t.overdue) for t in view.tasks] == [
        (t.id, t.key, t.title, t.deadline_at, t.closed, t.overdue) for t in board
    ]
    mine = next(a for a in board[0].assignments if a.code == SPEAKER)
    assert (view.tasks[0].status, view.tasks[0].note) == (TaskStatus.IN_PROGRESS, mine.note)


def current_answer(html: str) -> str:
    """The answer the page says is recorded, without its tags."""
    match = re.search(r'<p class="text" id="current-answer">(.*?)</p>', html, re.S)
    assert match is not None
    return re.sub(r"<[^>]+>", "", match.group(1))


async def _person_id(services: Services, code: str) -> int:
    links = await services.invitations.links()
    [link] = [link for link in links if link.code == code]
    page = await services.invitations.open_page(link.token, channel=CHANNEL, client=CLIENT)
    assert page.delegate is not None
    return page.delegate.id


async def test_the_page_always_shows_the_database_as_it_is_now(
    web: Web, imported: Services, clock: ManualClock
) -> None:
    """Nothing is kept between views: an answer just given, a change made by another process
    (the command line), the deadline passing: each shows on the next view."""
    before = current_answer((await web.open("DB001")).text)
    answered = await web.post("DB001", "rsvp", "form-attend", {"choice": "attend"})
    assert flash(answered.text).startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị.")
    assert (before, current_answer(answered.text)) == (
        "Nội dung đồng chí đã xác nhận: Chưa trả lời.",
        "Nội dung đồng chí đã xác nhận: Tham dự.",
    )
    # Another process (the command line) renames the delegate in the plan's list.
    other_engine = create_engine(str(_engine(imported).url))
    try:
        other = await build_services(
            imported.config, create_sessionmaker(other_engine), ManualClock(clock.now())
        )
        parsed = parse_delegate_file(
            EXAMPLE_DELEGATES, [FileGroup(g.key, g.label) for g in imported.config.groups]
        )
        rows = [
            replace(row, full_name="Nguyễn Thị Đổi Tên") if row.code == "DB001" else row
            for row in parsed.rows
        ]
        await other.delegates.import_rows(rows, actor="cli")
    finally:
        await other_engine.dispose()
    assert "Nguyễn Thị Đổi Tên" in (await web.open("DB001")).text
    clock.set(local(2024, 5, 21, 17, 1))  # the answers close at 17:00
    closed = await web.open("DB001")
    assert 'id="form-attend"' not in closed.text
    assert 'id="answer-final"' in closed.text
