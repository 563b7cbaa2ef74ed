"""Section VI's tasks under test, for every test file that needs them (the chat's, the pages',
the dashboard's): the plan's task contacts imported, a task's id, the office's staff acting,
the /nhiemvu board's text, the audit rows an action left, and the PostgreSQL-only skip."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.outbound import MessageKind
from bot.services.access import OfficeActor
from storage.models import AuditEntry, Delegate
from tests.conftest import TEST_DATABASE_ENV, postgres_url
from tests.harness import BotHarness
from tests.office_support import make_staff
from tests.plan_support import EXAMPLE_CONTACTS, import_example


async def with_contacts(harness: BotHarness) -> None:
    """Import the plan's task contacts, sync the tasks, plan every automatic message."""
    await import_example(harness.services, EXAMPLE_CONTACTS)
    harness.tokens.update(
        {link.code: link.token for link in await harness.services.invitations.links()}
    )
    await harness.plan(MessageKind.TASK_REMINDER, MessageKind.TASK_OVERDUE)


async def task_id(harness: BotHarness, key: str) -> int:
    """The row id of a task."""
    board = await harness.services.tasks.office_board()
    return next(line.id for line in board if line.key == key)


async def board_text(harness: BotHarness) -> str:
    """The office's /nhiemvu board, all of its messages joined."""
    admin = harness.admin()
    before = len(admin.messages)
    await harness.send(admin.command("/nhiemvu"))
    return "\n".join(m["text"] for m in admin.messages[before:])


async def audit_count(harness: BotHarness, action: str) -> int:
    """Audit rows of ``action``."""
    async with harness.services.ctx.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
            )
            or 0
        )


async def office_staff(harness: BotHarness, code: str = "DB001") -> OfficeActor:
    """``code`` given the office role, as the dashboard's session acts for her."""
    await make_staff(harness.services, code)
    person = await person_id(harness, code)
    actor = await harness.services.access.office_person(person)
    assert actor is not None
    return actor


async def person_id(harness: BotHarness, code: str) -> int:
    """The row id of the invitee ``code``."""
    async with harness.services.ctx.sessions() as session:
        found = await session.scalar(select(Delegate.id).where(Delegate.code == code))
    assert found is not None
    return found


def needs_postgres() -> None:
    """Skips the test unless the suite runs on PostgreSQL (``HOINGHI_TEST_DATABASE_URL``)."""
    if postgres_url() is None:
        pytest.skip(f"transactions interleave on PostgreSQL only: set {TEST_DATABASE_ENV}")


async def audit_changes(harness: BotHarness, action: str) -> list[tuple[str, Any, Any]]:
    """Audit rows of ``action``, oldest first: who, and what was before and after."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.before, AuditEntry.after)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        )
        return [(actor, before, after) for actor, before, after in rows.all()]
