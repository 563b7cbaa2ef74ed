"""Rows written straight to the database, past the services' checks, for the tests of what the
code does with a database those checks would not have let come about."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Delegate


async def people_written_as_objects(
    session: AsyncSession, meeting_id: int, group_key: str, codes: Iterable[str], at: datetime
) -> list[Delegate]:
    """A person for each of ``codes`` («Người <code>», no position, no organisation) in
    ``group_key``, written as objects in ``session``: the lists refuse two codes that fold
    alike, these rows are not refused. Each is flushed before the next is added, so their ids
    follow the order of ``codes`` (which of two alike is "the first by id" is the test's)."""
    people = []
    for code in codes:
        person = Delegate(
            meeting_id=meeting_id, code=code, full_name=f"Người {code}", position="",
            organization="", group_key=group_key, created_at=at, updated_at=at,
        )  # fmt: skip
        session.add(person)
        await session.flush()
        people.append(person)
    return people
