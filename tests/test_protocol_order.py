"""Protocol order is one rule, written for objects in memory (``bot.domain.order``) and for the
database (``bot.services.roster``, which pages /chuatraloi with LIMIT): both must put the same
people in the same order, whatever their codes, ranks and groups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.domain.order import LAST, protocol_key
from bot.services import Services, roster
from storage.models import Delegate

# Codes whose order differs by case, digits, Vietnamese letters and accents; ranks none, zero,
# negative, equal, and LAST itself (level with "unranked": the code decides, both ways); groups
# the plan knows and ones it does not (after every known group, level with each other).
ODD_PEOPLE: tuple[tuple[str, int | None, str], ...] = (
    ("a1", None, "trung_uong_hoi"),
    ("A1", None, "trung_uong_hoi"),
    ("B1", 0, "trung_uong_hoi"),
    ("Đ1", 3, "bao_chi"),
    ("D1", 3, "bao_chi"),
    ("É", 3, "bao_chi"),
    ("z", -5, "bao_chi"),
    ("DB10", LAST, "bao_chi"),
    ("DB9", None, "bao_chi"),
    ("x-unknown", 1, "nhom_da_bo"),
    ("a-unknown", None, "nhom_khac"),
    ("b-unknown", LAST, "aaa_nhom"),
)


async def everyone(services: Services) -> list[Delegate]:
    """The example's 80 and the odd people above, as objects."""
    now = services.ctx.clock.now()
    async with services.ctx.sessions() as session, session.begin():
        for code, rank, group in ODD_PEOPLE:
            session.add(
                Delegate(
                    meeting_id=services.ctx.meeting_id,
                    code=code,
                    full_name=f"Người {code}",
                    position="",
                    organization="",
                    group_key=group,
                    rank=rank,
                    created_at=now,
                    updated_at=now,
                )
            )
    async with services.ctx.sessions() as session:
        return list(await session.scalars(select(Delegate)))


async def test_the_database_and_python_put_everyone_in_one_protocol_order(
    imported: Services,
) -> None:
    services = imported
    order = {group.key: group.order for group in services.config.groups}
    people = await everyone(services)
    in_python = [d.code for d in sorted(people, key=protocol_key(order))]
    async with services.ctx.sessions() as session:
        in_sql = list(
            await session.scalars(select(Delegate.code).order_by(*roster.protocol_key(order)))
        )
    assert in_sql == in_python
    assert in_python[-3:] == ["x-unknown", "a-unknown", "b-unknown"]  # unknown groups last
    assert len(in_python) == 80 + len(ODD_PEOPLE)


async def test_paging_after_each_person_gives_everyone_once_in_protocol_order(
    imported: Services,
) -> None:
    services = imported
    order = {group.key: group.order for group in services.config.groups}
    people = await everyone(services)
    expected = [d.code for d in sorted(people, key=protocol_key(order))]
    paged: list[str] = []
    key: Any = None
    async with services.ctx.sessions() as session:
        while True:
            page = list(
                await session.scalars(
                    select(Delegate.code)
                    .where(roster.after_key(order, key))
                    .order_by(*roster.protocol_key(order))
                    .limit(7)
                )
            )
            if not page:
                break
            paged += page
            found = await session.execute(roster.key_of(order, services.ctx.meeting_id, page[-1]))
            key = tuple(found.one())
    assert paged == expected
