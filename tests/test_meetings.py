"""Several meetings in one database: plan A (the example, 60/KH-BTV) and plan B (a later
conference, another code and date, an overlapping list) share one database, and nothing of B
shows on A's side — its lists, counts, pages, desk, log, files — nor the other way round."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import build_outbox
from bot.chat import Inbox
from bot.config import Config, load_config
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.channels import Capabilities, ChannelInfo, Chat, ChatAccount
from bot.domain.clock import ManualClock
from bot.domain.inbound import Action, Command, Text
from bot.domain.outbound import (
    Answer,
    DeliveryStatus,
    MessageKind,
    MessageStatus,
    Outbound,
    Part,
    SendOutcome,
    SendResult,
    TextPart,
)
from bot.domain.reminders import planned_messages
from bot.domain.rsvp import (
    RsvpChoice,
    RsvpStatus,
    parse_rsvp_action,
    rsvp_action,
    rsvp_action_meeting,
)
from bot.domain.tokens import format_link_code
from bot.services import Services, build_services
from bot.services.access import Role
from bot.services.broadcasts import BroadcastStep
from bot.services.dashboard import Filters, LogFilters
from bot.services.invitations import LinkOutcome
from bot.services.meetings import CodeTaken, StoredMeeting, stored_meeting, sync_meeting
from bot.services.signin import Check
from bot.texts import load_catalog
from schedules.planner import sync_planned
from storage import queries
from storage.engine import create_engine, create_sessionmaker
from storage.files import FileStore
from storage.migrate import alembic_config
from storage.models import (
    ChannelIdentity,
    Checkin,
    Delegate,
    Delivery,
    DraftVersion,
    LinkFailure,
    OutboundMessage,
    SpeechAssignment,
)
from storage.uow import unit_of_work
from tests.channels.text_channel import TextChannel
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, local
from tests.office_support import text_of
from tests.plan_support import EXAMPLE_CONTACTS, import_example
from tests.test_checkin import Day, two_days
from tests.test_web_checkin import at_desk, fields
from tests.web_support import flash, web_for

PLAN_B_CODE = "75-KH-BTV"
PLAN_B_TITLE = "Hội nghị tổng kết công tác Hội năm 2024"
# Plan B's list: DB001 is someone else than A's DB001; HN07 is A's DB003 (same phone, another
# code); DB004 is A's DB004 (same code, same phone); HN09 is new.
PLAN_B_LIST = """Mã,Họ và tên,Chức vụ,Đơn vị,Nhóm,Điện thoại,Thứ tự
DB001,Trần Văn Bình,Chánh Văn phòng,Văn phòng Thành ủy,lanh_dao_thanh_pho,0912 000 111,1
HN07,Vũ Thị Hồng Nhung,Phó Bí thư Thành ủy,Thành ủy Hà Nội,lanh_dao_thanh_pho,0386 003 246,2
DB004,Đặng Minh Quân,Phó Chủ tịch HĐND thành phố,HĐND thành phố Hà Nội,lanh_dao_thanh_pho,0773-004-519,3
HN09,Lưu Thị Khánh Hòa,Chuyên viên,Văn phòng Hội,lanh_dao_thanh_pho,0912 000 999,4
"""


def plan_b_config(folder: Path) -> Config:
    """The example plan made into another meeting: its code, title and date changed."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace('code = "60-KH-BTV"', f'code = "{PLAN_B_CODE}"', 1)
    text = text.replace('plan_number = "60/KH-BTV"', 'plan_number = "75/KH-BTV"', 1)
    text = text.replace("2024-05-28T", "2024-06-20T")
    start = text.index("title = ", text.index("[meeting]"))
    end = text.index("\n", start)
    text = text[:start] + f'title = "{PLAN_B_TITLE}"' + text[end:]
    path = folder / "plan-b.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path).config
    assert config.meeting.code == PLAN_B_CODE
    return config


async def import_list(services: Services, path: Path) -> None:
    """Import a list file into ``services``' meeting."""
    groups = [FileGroup(g.key, g.label) for g in services.config.groups]
    parsed = parse_delegate_file(path, groups)
    assert parsed.problems == []
    await services.delegates.import_rows(parsed.rows, actor="test")


@dataclass
class TwoPlans:
    """Plan A and plan B wired to one database."""

    a: Services
    b: Services


@pytest.fixture
async def two_plans(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    tmp_path: Path,
) -> TwoPlans:
    """Plan A (the example, 80 delegates) and plan B (4 delegates) in one database."""
    a = await build_services(config, sessions, clock, files=FileStore(tmp_path / "a"))
    b = await build_services(
        plan_b_config(tmp_path), sessions, clock, files=FileStore(tmp_path / "b")
    )
    await import_list(a, EXAMPLE_DELEGATES)
    b_list = tmp_path / "plan-b.csv"
    b_list.write_text(PLAN_B_LIST, encoding="utf-8")
    await import_list(b, b_list)
    return TwoPlans(a, b)


@pytest.fixture
async def a_linked_then_b(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    tmp_path: Path,
) -> tuple[Services, Services, Path]:
    """Plan A imported, DB001, DB003 and DB004 linked on Telegram (DB003 on Zalo too); plan B
    built on the same database, its list not imported yet (its path returned)."""
    a = await build_services(config, sessions, clock, files=FileStore(tmp_path / "a"))
    await import_list(a, EXAMPLE_DELEGATES)
    for code, user in (("DB001", "5001"), ("DB003", "5003"), ("DB004", "5004")):
        token, _ = await token_of(a, code)
        linked = await a.invitations.link_by_token(ChatAccount("telegram", user, user), token)
        assert linked.outcome is LinkOutcome.LINKED
    _, link_code = await token_of(a, "DB003")
    await a.invitations.link_by_code(ChatAccount("zalo", "z5003", "z5003"), link_code)
    b = await build_services(
        plan_b_config(tmp_path), sessions, clock, files=FileStore(tmp_path / "b")
    )
    b_list = tmp_path / "plan-b.csv"
    b_list.write_text(PLAN_B_LIST, encoding="utf-8")
    return a, b, b_list


async def token_of(services: Services, code: str) -> tuple[str, str]:
    """The live token and personal code of ``code``'s invitation in ``services``' meeting."""
    links = {link.code: link for link in await services.invitations.links()}
    return links[code].token, links[code].link_code


async def test_two_plans_have_two_meeting_rows_and_the_same_code_twice(
    two_plans: TwoPlans, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert two_plans.a.ctx.meeting_id != two_plans.b.ctx.meeting_id
    async with sessions() as session:
        names = {
            (meeting_id, name)
            for meeting_id, name in await session.execute(
                select(Delegate.meeting_id, Delegate.full_name).where(Delegate.code == "DB001")
            )
        }
    assert names == {
        (two_plans.a.ctx.meeting_id, "Phạm Thị Thanh Mai"),
        (two_plans.b.ctx.meeting_id, "Trần Văn Bình"),
    }


async def test_counts_and_the_delegate_list_are_the_meeting_s_own(two_plans: TwoPlans) -> None:
    assert (await two_plans.a.reports.counts()).overall.total == 80
    assert (await two_plans.b.reports.counts()).overall.total == 4
    listing = await two_plans.a.dashboard.delegates(Filters(), limit=1000)
    assert listing.total == 80
    assert "Trần Văn Bình" not in {row.full_name for row in listing.rows}
    found = await two_plans.a.dashboard.delegates(Filters(search="Trần Văn Bình"))
    assert found.total == 0
    b_rows = (await two_plans.b.dashboard.delegates(Filters())).rows
    assert [row.code for row in b_rows] == ["DB001", "HN07", "DB004", "HN09"]


async def test_a_delegate_page_by_code_shows_the_meeting_s_person(two_plans: TwoPlans) -> None:
    card_a = await two_plans.a.dashboard.card("DB001")
    card_b = await two_plans.b.dashboard.card("DB001")
    assert card_a is not None and card_b is not None
    assert card_a.person.full_name == "Phạm Thị Thanh Mai"
    assert card_b.person.full_name == "Trần Văn Bình"
    assert await two_plans.a.dashboard.card("HN09") is None


async def test_the_audit_log_and_activity_show_only_the_meeting_s_entries(
    two_plans: TwoPlans,
) -> None:
    a_log = await two_plans.a.dashboard.log(LogFilters(), limit=1000)
    b_log = await two_plans.b.dashboard.log(LogFilters(), limit=1000)
    assert b_log.total == 4  # four people imported into B
    assert {entry.subject for entry in b_log.entries} >= {"Trần Văn Bình", "Lưu Thị Khánh Hòa"}
    assert a_log.total == 90  # 80 people imported into A, and its plan's 10 speakers assigned
    assert "Lưu Thị Khánh Hòa" not in {entry.subject for entry in a_log.entries}
    recent = await two_plans.a.dashboard.activity(limit=100)
    assert "Lưu Thị Khánh Hòa" not in {entry.subject for entry in recent}
    b_audit = await two_plans.b.office_report.audit()
    assert len(b_audit) == 4


async def test_invitation_links_are_the_meeting_s_own(two_plans: TwoPlans) -> None:
    a_links = await two_plans.a.invitations.links()
    b_links = await two_plans.b.invitations.links()
    assert len(a_links) == 80 and len(b_links) == 4
    assert not {link.token for link in a_links} & {link.token for link in b_links}


async def test_a_token_or_code_of_another_meeting_links_nothing(two_plans: TwoPlans) -> None:
    token, code = await token_of(two_plans.b, "HN09")
    account = ChatAccount("telegram", "7001", "7001", "Hòa")
    assert (await two_plans.a.invitations.link_by_token(account, token)).outcome is (
        LinkOutcome.OTHER_MEETING
    )
    assert (await two_plans.a.invitations.link_by_code(account, code)).outcome is (
        LinkOutcome.OTHER_MEETING
    )
    assert (await two_plans.b.invitations.link_by_token(account, token)).outcome is (
        LinkOutcome.LINKED
    )


async def test_a_personal_page_of_another_meeting_does_not_open(two_plans: TwoPlans) -> None:
    token, _ = await token_of(two_plans.b, "HN09")
    opened = await two_plans.a.invitations.open_page(token, channel="web", client="c1")
    assert opened.outcome is LinkOutcome.OTHER_MEETING
    assert opened.account is None and opened.delegate is None
    assert await two_plans.a.pages.view(token, channel="web") is None
    assert (
        await two_plans.b.invitations.open_page(token, channel="web", client="c1")
    ).outcome is LinkOutcome.LINKED


async def test_a_page_opened_for_the_last_meeting_does_not_open_on_the_next_meeting_s_server(
    two_plans: TwoPlans,
) -> None:
    # DB001 opened her page while A ran; her link (an old SMS, a bookmark) is then opened on the
    # server of B: it is not B's invitation, whatever A recorded about her.
    token, _ = await token_of(two_plans.a, "DB001")
    opened = await two_plans.a.invitations.open_page(token, channel="web", client="c1")
    assert opened.outcome is LinkOutcome.LINKED
    assert await two_plans.a.pages.view(token, channel="web") is not None
    assert await two_plans.b.pages.view(token, channel="web") is None
    again = await two_plans.b.invitations.open_page(token, channel="web", client="c1")
    assert again.outcome is LinkOutcome.OTHER_MEETING
    assert again.account is None and again.delegate is None


async def test_the_desk_finds_only_the_meeting_s_invitees(two_plans: TwoPlans) -> None:
    a, b = two_plans.a, two_plans.b
    desk = a.access.office_desk(a.access.local_operator(), "Bàn 1")
    token, code = await token_of(b, "HN09")
    assert (await a.checkin.lookup(desk, token)).person is None
    assert (await a.checkin.lookup(desk, code)).person is None
    assert (await a.checkin.lookup(desk, "HN09")).person is None
    by_code = (await a.checkin.lookup(desk, "DB001")).person
    assert by_code is not None and by_code.full_name == "Phạm Thị Thanh Mai"
    assert await a.checkin.search(desk, "Khánh Hòa") == []
    await b.checkin.check_in(b.access.office_desk(b.access.local_operator(), "B"), "HN09")
    assert (await a.checkin.count()).present == 0
    assert (await b.checkin.count()).present == 1
    assert await a.checkin.records() == []


async def test_a_tap_through_one_meeting_s_bot_never_answers_for_another(
    two_plans: TwoPlans, sessions: async_sessionmaker[AsyncSession]
) -> None:
    token, _ = await token_of(two_plans.b, "HN09")
    account = ChatAccount("telegram", "7002", "7002", "Hòa")
    await two_plans.b.invitations.link_by_token(account, token)
    async with sessions() as session:
        seen_by_a = await queries.answering_rows(
            session, [("telegram", "7002")], two_plans.a.ctx.meeting_id
        )
        seen_by_b = await queries.answering_rows(
            session, [("telegram", "7002")], two_plans.b.ctx.meeting_id
        )
    assert seen_by_a == []
    assert len(seen_by_b) == 1


async def test_one_account_is_read_with_an_equality_and_several_with_one_in_the_same_rows(
    two_plans: TwoPlans, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    # A lone tap (the usual batch of the write stream) reads its account with "=": an
    # expanding IN is rendered anew at every execution. A batch reads all of its accounts
    # in one IN. The rows, and the meeting each answers for, are the same either way.
    b = two_plans.b
    for code, number in (("HN09", "7004"), ("HN07", "7005")):
        token, _ = await token_of(b, code)
        await b.invitations.link_by_token(ChatAccount("telegram", number, number, code), token)
    reads: list[str] = []

    def read(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM channel_identities" in statement:
            reads.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", read)
    try:
        async with sessions() as session:
            alone = await queries.answering_rows(session, [("telegram", "7004")], b.ctx.meeting_id)
            both = await queries.answering_rows(
                session, [("telegram", "7004"), ("telegram", "7005")], b.ctx.meeting_id
            )
            elsewhere = await queries.answering_rows(
                session, [("telegram", "7004")], two_plans.a.ctx.meeting_id
            )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", read)

    assert [row.external_id for row in alone] == ["7004"]
    assert sorted(row.external_id for row in both) == ["7004", "7005"]
    assert [row for row in both if row.external_id == "7004"] == alone
    assert elsewhere == []
    one, many, other = reads
    assert "channel_identities.external_id = " in one and " IN " not in one
    assert "channel_identities.external_id IN (" in many
    assert other == one


async def test_a_purge_of_one_meeting_leaves_another_meeting_s_log_and_drafts(
    two_plans: TwoPlans, sessions: async_sessionmaker[AsyncSession]
) -> None:
    b = two_plans.b
    token, _ = await token_of(b, "HN09")
    await b.invitations.link_by_token(ChatAccount("telegram", "7003", "7003", "Hòa"), token)
    now = b.ctx.clock.now()
    async with sessions() as session, session.begin():
        person = await queries.delegate_by_code(session, b.ctx.meeting_id, "HN09")
        assert person is not None
        assignment = SpeechAssignment(
            meeting_id=b.ctx.meeting_id, theme_key="t1", person_id=person.id, source="plan",
            deadline_at=now, status="assigned", created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(assignment)
        await session.flush()
        session.add(
            DraftVersion(
                assignment_id=assignment.id,
                number=1,
                kind="file",
                sha256="b" * 64,
                size=1,
                display_name="tham-luan.docx",
                suffix=".docx",
                created_at=now,
                created_by="t",
            )
        )
    before = (await b.dashboard.log(LogFilters(), limit=1000)).entries
    summary = await two_plans.a.privacy.purge(drafts=True, force=True)
    assert summary.drafts == 0  # B's draft is not A's
    after = (await b.dashboard.log(LogFilters(), limit=1000)).entries
    assert [entry.actor for entry in after] == [entry.actor for entry in before]
    assert "telegram:7003" in {entry.actor for entry in after}
    async with sessions() as session:
        assert await session.scalar(select(func.count(DraftVersion.id))) == 1


class UntouchableSender:
    """A sender that fails the test if the outbox ever hands it anything."""

    channel = "telegram"

    @property
    def capabilities(self) -> Any:
        raise AssertionError("another meeting's delivery reached this plan's sender")

    def prepare(self, outbound: Any) -> Any:
        raise AssertionError("another meeting's delivery reached this plan's sender")

    async def send(self, address: str, part: Any) -> Any:
        raise AssertionError("another meeting's delivery reached this plan's sender")


async def test_one_meeting_s_outbox_neither_sends_nor_recovers_another_meeting_s_deliveries(
    two_plans: TwoPlans, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b = two_plans.a, two_plans.b
    now = b.ctx.clock.now()
    async with sessions() as session, session.begin():
        message = OutboundMessage(
            meeting_id=b.ctx.meeting_id, kind=MessageKind.OFFICE_NOTE,
            status=MessageStatus.QUEUED, audience="office", body="B", created_by="t",
            created_at=now, queued_at=now,
        )  # fmt: skip
        session.add(message)
        await session.flush()
        for status, address in ((DeliveryStatus.PENDING, "-1"), (DeliveryStatus.SENDING, "-2")):
            session.add(
                Delivery(
                    message_id=message.id,
                    recipient=address,
                    channel="telegram",
                    chat_address=address,
                    status=status,
                    attempts=1,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    catalog = load_catalog(a.config.meeting.locale)
    outbox = build_outbox(a, catalog, {"telegram": UntouchableSender()})  # type: ignore[dict-item]
    assert await outbox.recover() == 0
    await outbox.drain()
    async with sessions() as session:
        statuses = sorted(await session.scalars(select(Delivery.status)))
    assert statuses == [DeliveryStatus.PENDING, DeliveryStatus.SENDING]


async def test_a_staff_sign_in_link_of_another_meeting_opens_nothing_and_stays_unspent(
    two_plans: TwoPlans,
) -> None:
    a, b = two_plans.a, two_plans.b
    await b.access.grant(b.access.local_operator(), "HN09", Role.OFFICE)
    link = await b.signin.link_for_code("HN09")
    assert link.secret is not None
    assert not await a.signin.link_is_open(link.secret)
    assert await a.signin.redeem(link.secret, browser="x") is None
    opened = await b.signin.redeem(link.secret, browser="x")
    assert opened is not None
    assert (await a.signin.visit(opened.secret)).check is Check.NONE


async def test_the_workbook_the_audiences_the_boards_and_the_plan_are_the_meeting_s_own(
    two_plans: TwoPlans, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b = two_plans.a, two_plans.b
    report = await a.office_report.collect()
    assert len(report.delegates) == 80
    assert "Lưu Thị Khánh Hòa" not in {row.full_name for row in report.delegates}
    assert len((await b.office_report.collect()).delegates) == 4
    async with sessions() as session:
        everyone = await a.audiences.people(session, "everyone", ["telegram"])
    assert len(everyone) == 80
    assert (await a.reports.unanswered(limit=1000)).total == 80
    assert (await b.reports.unanswered(limit=1000)).total == 4
    for services in (a, b):  # the slips handed out: everyone's invitation went out
        await services.invitations.mark_sent_many(services.access.local_operator(), None)
    to_phone = await a.dashboard.to_phone(limit=1000)
    assert len(to_phone) == 80
    assert (await a.dashboard.figures()).to_phone == 80
    assert (await b.dashboard.figures()).to_phone == 4
    assert "Lưu Thị Khánh Hòa" not in {row.full_name for row in to_phone}
    a_board = await a.tasks.office_board()
    b_board = await b.tasks.office_board()
    assert a_board and {line.key for line in a_board} == {line.key for line in b_board}
    assert {line.id for line in a_board}.isdisjoint({line.id for line in b_board})
    # Each plan's reminders, planned into the one database, stay that plan's.
    await sync_planned(sessions, a.ctx.clock, a.ctx.meeting_id, planned_messages(a.config))
    planned_a = await scheduled(sessions, a.ctx.meeting_id)
    await sync_planned(sessions, b.ctx.clock, b.ctx.meeting_id, planned_messages(b.config))
    await sync_planned(sessions, a.ctx.clock, a.ctx.meeting_id, planned_messages(a.config))
    planned_b = await scheduled(sessions, b.ctx.meeting_id)
    assert planned_a and await scheduled(sessions, a.ctx.meeting_id) == planned_a
    assert len(planned_b) == len(planned_a) and not set(planned_a) & set(planned_b)


async def scheduled(sessions: async_sessionmaker[AsyncSession], meeting_id: int) -> list[str]:
    """The keys of the meeting's automatic messages still to be sent."""
    async with sessions() as session:
        return sorted(
            key or ""
            for key in await session.scalars(
                select(OutboundMessage.dedupe_key).where(
                    OutboundMessage.meeting_id == meeting_id,
                    OutboundMessage.status == MessageStatus.SCHEDULED,
                )
            )
        )


async def test_a_notice_drafted_for_one_meeting_is_not_taken_over_by_another(
    two_plans: TwoPlans, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b = two_plans.a, two_plans.b
    operator = a.access.local_operator()  # the same actor on both plans' command lines
    token, _ = await token_of(b, "HN09")
    await b.invitations.link_by_token(ChatAccount("telegram", "7004", "7004", "Hòa"), token)
    b_draft = (await b.broadcasts.start(operator)).message_id
    await b.broadcasts.accept_text(operator, "Kính mời dự hội nghị B")
    chosen = await b.broadcasts.choose_audience(operator, b_draft or 0, "everyone")
    assert chosen.step is BroadcastStep.PREVIEW
    a_draft = (await a.broadcasts.start(operator)).message_id
    assert await a.broadcasts.accept_text(operator, "Kính mời dự hội nghị A") is not None
    assert (await a.broadcasts.send_now(operator, b_draft or 0)).step is BroadcastStep.GONE
    async with sessions() as session:
        rows = {
            row.id: (row.status, row.body)
            for row in await session.scalars(select(OutboundMessage))
            if row.id in (a_draft, b_draft)
        }
    assert rows[b_draft or 0] == (MessageStatus.DRAFT, "Kính mời dự hội nghị B")
    assert rows[a_draft or 0] == (MessageStatus.DRAFT, "Kính mời dự hội nghị A")


async def test_importing_the_next_meeting_s_list_carries_linked_accounts_by_phone_number(
    a_linked_then_b: tuple[Services, Services, Path],
) -> None:
    a, b, b_list = a_linked_then_b
    groups = [FileGroup(g.key, g.label) for g in b.config.groups]
    summary = await b.delegates.import_rows(parse_delegate_file(b_list, groups).rows, actor="t")
    # DB003's phone is HN07's in B (another code), DB004 is DB004; B's DB001 is someone else.
    assert sorted(summary.carried) == ["DB004", "HN07", "HN07"]
    telegram = ChatAccount("telegram", "5003", "5003")
    in_b = await b.access.caller(telegram)
    in_a = await a.access.caller(telegram)
    assert in_b.person is not None and in_b.person.code == "HN07"
    assert in_a.person is not None and in_a.person.code == "DB003"
    assert (await b.access.caller(ChatAccount("zalo", "z5003", "z5003"))).person is not None
    assert (await b.access.caller(ChatAccount("telegram", "5001", "5001"))).person is None
    card = await b.dashboard.card("HN07")
    assert card is not None
    assert {(i.channel, i.linked_via) for i in card.identities} == {
        ("telegram", "carried"),
        ("zalo", "carried"),
    }
    log = await b.dashboard.log(LogFilters(action="identity.carried"))
    assert log.total == 3
    assert {entry.after["from_meeting"] for entry in log.entries if entry.after} == {"60-KH-BTV"}
    a_log = await a.dashboard.log(LogFilters(action="identity.carried"))
    assert a_log.total == 0
    again = await b.delegates.import_rows(parse_delegate_file(b_list, groups).rows, actor="t")
    assert again.carried == []


TELEGRAM_LIKE = Capabilities(
    buttons=True,
    files_out=True,
    files_in=True,
    reply_threads=True,
    location_pins=True,
    html=True,
    max_text=4096,
)


@dataclass
class RecordingSender:
    """A channel that keeps what the outbox sent, by address."""

    channel: str
    capabilities: Capabilities = TELEGRAM_LIKE
    sent: dict[str, list[TextPart]] = field(default_factory=dict)

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        return outbound.parts

    async def send(self, address: str, part: Part) -> SendResult:
        if isinstance(part, TextPart):
            self.sent.setdefault(address, []).append(part)
        return SendResult(SendOutcome.SENT, platform_message_id=f"m{len(self.sent)}")


async def test_a_person_whose_account_was_carried_gets_the_next_meeting_s_invitation_in_chat(
    a_linked_then_b: tuple[Services, Services, Path],
) -> None:
    # An account carried to the next meeting is one the office will not send the invitation
    # to (it counts as reached): the bot sends it, once, with the choices, naming the meeting.
    a, b, b_list = a_linked_then_b

    async def wrote_on_telegram_last() -> None:
        # DB003 linked both accounts at one instant (each then «used» at that instant): she
        # wrote on Telegram a minute later, so that the account the bot picks is the rule's
        # («used last»), not the database's row order between two equal instants.
        async with a.ctx.sessions() as session, session.begin():
            await session.execute(
                update(ChannelIdentity)
                .where(
                    ChannelIdentity.channel == "telegram", ChannelIdentity.chat_address == "5003"
                )
                .values(last_seen_at=b.ctx.clock.now() + timedelta(minutes=1))
            )

    await wrote_on_telegram_last()
    await import_list(b, b_list)
    await import_list(b, b_list)  # the list imported again carries nothing, sends nothing more
    await wrote_on_telegram_last()
    catalog = load_catalog(b.config.meeting.locale)
    telegram, zalo = RecordingSender("telegram"), RecordingSender("zalo")
    await build_outbox(b, catalog, {"telegram": telegram, "zalo": zalo}).tick()
    # HN07 (A's DB003, on Telegram and Zalo) gets one copy, where she wrote last; DB004 one.
    reached = {
        address: parts for sender in (telegram, zalo) for address, parts in sender.sent.items()
    }
    assert sorted(reached) == ["5003", "5004"]
    for parts in reached.values():
        assert len(parts) == 1
        card = parts[0]
        assert PLAN_B_TITLE in card.html and "75/KH-BTV" in card.html
        assert a.config.meeting.title not in card.html  # nothing of A's meeting
        choices = ("attend", "decline", "substitute")
        mark = f"@{b.ctx.meeting_id}"  # B's buttons name B
        assert [row[0].data for row in card.buttons] == [f"rsvp:{c}{mark}" for c in choices]
    assert "Vũ Thị Hồng Nhung" in reached["5003"][0].html  # B's record of her, not A's
    # A's outbox has nothing of it.
    untouched = build_outbox(a, catalog, {"telegram": UntouchableSender()})  # type: ignore[dict-item]
    await untouched.tick()


async def tap(services: Services, account: ChatAccount, data: str) -> Answer:
    """``account`` taps a button carrying ``data`` in its private chat with ``services``' bot."""
    action = Action(account=account, chat=Chat(account.chat_address), event_id=None, data=data)
    return await Inbox(services, load_catalog("vi")).handle(
        action, ChannelInfo("telegram", TELEGRAM_LIKE)
    )


def said(answer: Answer) -> str:
    """The texts of ``answer``'s replies, one after another."""
    parts = [part for reply in answer.replies for part in reply.outbound.parts]
    return "\n".join(part.html for part in parts if isinstance(part, TextPart))


async def test_a_button_of_the_last_meeting_s_invitation_answers_nothing_in_the_next(
    a_linked_then_b: tuple[Services, Services, Path],
) -> None:
    # DB004 answered A's invitation in her chat; her account was carried to B. Scrolling up,
    # she taps «✅ Tham dự» (then «Không nêu lý do») on A's card: that is not B's invitation.
    a, b, b_list = a_linked_then_b
    account = ChatAccount("telegram", "5004", "5004")
    in_a = await tap(a, account, "rsvp:decline")
    on_a_card = [b.data for reply in in_a.replies for row in reply.outbound.buttons for b in row]
    await import_list(b, b_list)
    for data in [
        *(d for d in on_a_card if d.startswith("rsvp:decline_skip")),
        f"rsvp:attend@{a.ctx.meeting_id}",
    ]:
        answer = await tap(b, account, data)
        text = said(answer)
        assert "hội nghị khác" in text and PLAN_B_TITLE in text, text
        assert "Đã ghi nhận" not in text
    card = await b.dashboard.card("DB004")
    assert card is not None and card.rsvp.status is RsvpStatus.NO_ANSWER
    # B's own buttons answer B.
    b_card = said(await tap(b, account, f"rsvp:attend@{b.ctx.meeting_id}"))
    assert "Đã ghi nhận" in b_card
    card = await b.dashboard.card("DB004")
    assert card is not None and card.rsvp.status is RsvpStatus.ATTENDING


def test_an_rsvp_button_names_its_meeting_and_a_forged_mark_is_no_choice() -> None:
    assert rsvp_action(RsvpChoice.ATTEND, 7) == "rsvp:attend@7"
    assert parse_rsvp_action("rsvp:attend@7") is RsvpChoice.ATTEND
    assert rsvp_action_meeting("rsvp:attend@7") == 7
    # Buttons sent before they named their meeting still answer (the meeting they are on).
    assert parse_rsvp_action("rsvp:attend") is RsvpChoice.ATTEND
    assert rsvp_action_meeting("rsvp:attend") is None
    for forged in ("rsvp:attend@", "rsvp:attend@x", "rsvp:attend@٣", "rsvp:attend@1@2", "rsvp:@1"):
        assert parse_rsvp_action(forged) is None, forged


async def test_an_account_linked_for_one_meeting_links_for_the_next_too(
    a_linked_then_b: tuple[Services, Services, Path],
) -> None:
    _, b, b_list = a_linked_then_b
    await import_list(b, b_list)
    token, _ = await token_of(b, "DB001")
    # A's DB001 (another person, no phone in A's list) opens B's DB001 invitation.
    linked = await b.invitations.link_by_token(ChatAccount("telegram", "5001", "5001"), token)
    assert linked.outcome is LinkOutcome.LINKED
    assert linked.delegate is not None and linked.delegate.full_name == "Trần Văn Bình"


async def test_a_number_shared_in_the_new_list_carries_nothing(
    a_linked_then_b: tuple[Services, Services, Path],
) -> None:
    _, b, b_list = a_linked_then_b
    shared = (
        PLAN_B_LIST + "HN10,Đỗ Văn Tú,Lái xe,Thành ủy Hà Nội,lanh_dao_thanh_pho,0386 003 246,5\n"
    )
    b_list.write_text(shared, encoding="utf-8")
    groups = [FileGroup(g.key, g.label) for g in b.config.groups]
    summary = await b.delegates.import_rows(parse_delegate_file(b_list, groups).rows, actor="t")
    assert summary.carried == ["DB004"]


def test_the_command_line_import_says_who_kept_their_accounts(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    asyncio.run(link_in_office(office, "DB003", "5003"))
    plan_b_config(office)
    (office / "plan-b.csv").write_text(PLAN_B_LIST, encoding="utf-8")
    capsys.readouterr()
    assert main(["--config", "plan-b.toml", "delegates", "import", "plan-b.csv"]) == 0
    assert (
        "1 người đã liên kết tài khoản trò chuyện ở hội nghị trước (cùng số điện thoại) được "
        "giữ liên kết cho hội nghị này, không cần mở lại đường liên kết: HN07."
    ) in capsys.readouterr().out.splitlines()


async def link_in_office(office: Path, code: str, user: str) -> None:
    """Link a Telegram account to ``code`` of the office's plan, as opening the link does."""
    engine = create_engine(f"sqlite+aiosqlite:///{office / 'hoinghi.db'}")
    try:
        plan = load_config(office / "config.toml").config
        services = await build_services(
            plan, create_sessionmaker(engine), ManualClock(local(2024, 5, 18, 9, 0))
        )
        token, _ = await token_of(services, code)
        await services.invitations.link_by_token(ChatAccount("telegram", user, user), token)
    finally:
        await engine.dispose()


async def test_upgrading_a_database_of_one_meeting_gives_its_log_and_accounts_that_meeting(
    engine: AsyncEngine, imported: Services
) -> None:
    """0017 and 0018 on a database made before them: every audit entry (a sign-in link too,
    about no meeting's row) and every linked account get the one meeting there is."""
    token, _ = await token_of(imported, "DB003")
    await imported.invitations.link_by_token(ChatAccount("telegram", "5003", "5003"), token)
    await imported.access.grant(imported.access.local_operator(), "DB003", Role.OFFICE)
    await imported.signin.link_for_code("DB003")

    def migrate(connection: Connection, how: str, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, how)(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(migrate, "downgrade", "0014")
        await connection.run_sync(migrate, "upgrade", "head")
        rows = {
            table: (await connection.execute(text(query))).all()
            for table, query in (
                ("audit_log", "SELECT DISTINCT meeting_id FROM audit_log"),
                ("identities", "SELECT DISTINCT meeting_id FROM channel_identities"),
            )
        }
    assert rows == {
        "audit_log": [(imported.ctx.meeting_id,)],
        "identities": [(imported.ctx.meeting_id,)],
    }


async def test_plan_a_s_web_server_opens_its_own_page_and_not_a_page_of_plan_b(
    two_plans: TwoPlans,
) -> None:
    web = await web_for(two_plans.a)
    b_token, _ = await token_of(two_plans.b, "HN09")
    web.tokens["HN09"] = b_token
    own = await web.open("DB001")
    assert own.status_code == 200 and "Phạm Thị Thanh Mai" in own.text
    other = await web.open("HN09")
    assert other.status_code == 404
    assert "Lưu Thị Khánh Hòa" not in other.text


async def test_an_account_kept_for_the_next_meeting_counts_once_against_the_bot_s_quota(
    a_linked_then_b: tuple[Services, Services, Path],
) -> None:
    a, b, b_list = a_linked_then_b
    before = {use.quota.channel: use.people for use in await a.quotas.usage()}
    await import_list(b, b_list)
    after = {use.quota.channel: use.people for use in await b.quotas.usage()}
    assert before["zalo"] == 1
    assert after == before


# --- the command line: which meeting it acted on, and a code copied from another meeting --------

PLAN_A_TITLE = (
    "Hội nghị sơ kết giữa nhiệm kỳ thực hiện Nghị quyết Đại hội đại biểu Phụ nữ thành phố Hà Nội "
    "lần thứ XVII, nhiệm kỳ 2021 – 2026"
)


def plan_b_in_office(office: Path, name: str = "plan-b.toml") -> Path:
    """Plan B and its list (plan-b.csv) in the office's folder, the plan under ``name``."""
    plan_b_config(office)
    (office / "plan-b.toml").rename(office / name)
    (office / "plan-b.csv").write_text(PLAN_B_LIST, encoding="utf-8")
    return office / name


def copied_plan(office: Path, *, title: bool = True, date: bool = True) -> Path:
    """Plan B's file with plan A's code (a copy-paste mistake), as kh3.toml; with ``title`` or
    ``date`` False, A's own title or date kept (an edit of plan A instead)."""
    text = plan_b_in_office(office).read_text(encoding="utf-8")
    text = text.replace(f'code = "{PLAN_B_CODE}"', 'code = "60-KH-BTV"', 1)
    if not title:
        text = text.replace(f'title = "{PLAN_B_TITLE}"', f'title = "{PLAN_A_TITLE}"', 1)
    if not date:
        text = text.replace("2024-06-20T", "2024-05-28T")
    path = office / "kh3.toml"
    path.write_text(text, encoding="utf-8")
    return path


def database_dump(office: Path) -> list[str]:
    """Every row and table of the office's database, as SQL: equal when nothing was written."""
    with sqlite3.connect(office / "hoinghi.db") as db:
        return list(db.iterdump())


def test_a_hint_printed_for_a_plan_given_by_config_repeats_that_config(
    office_web: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    plan_b_in_office(office_web, "ke hoach 2.toml")
    quoted = "hoinghi --config 'ke hoach 2.toml'"
    assert main(["--config", "ke hoach 2.toml", "delegates", "import", "plan-b.csv"]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == (
        "Lưu ý: kế hoạch giao nhiệm vụ cho mã chưa có trong danh sách: NV01, NV02, NV03, NV04, "
        f"NV06 (nhập danh sách đầu mối bằng `{quoted} people import`)."
    )
    # Copied as printed, the command gives the role in plan B, not in ./config.toml's plan A.
    assert main(["--config", "ke hoach 2.toml", "staff", "login", "HN09"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "Đồng chí Lưu Thị Khánh Hòa (HN09) chưa có vai trò Văn phòng hoặc vai trò đón tiếp nên "
        "không đăng nhập được trang điều hành. Giao vai trò bằng lệnh: "
        f"{quoted} staff add HN09 (hoặc {quoted} staff add HN09 --role checkin cho bàn đón tiếp)"
    ]
    assert main(["--config", "ke hoach 2.toml", "staff", "list", "--role", "checkin"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"Chưa có ai được giao vai trò Đón tiếp. Giao vai trò bằng lệnh: {quoted} staff add MÃ "
        "--role checkin"
    ]


def test_a_hint_printed_for_the_plan_named_by_hoinghi_config_names_it_with_config(
    office: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clerk may paste the command where the variable is not set: it names the plan."""
    from bot.cli import main

    plan_b_in_office(office)
    monkeypatch.setenv("HOINGHI_CONFIG", "plan-b.toml")
    assert main(["staff", "list", "--role", "checkin"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Chưa có ai được giao vai trò Đón tiếp. Giao vai trò bằng lệnh: "
        "hoinghi --config plan-b.toml staff add MÃ --role checkin"
    ]


def test_imports_and_staff_changes_name_the_meeting_they_changed(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    plan_b_in_office(office)
    plan_b = "Hội nghị: Hội nghị tổng kết công tác Hội năm 2024 (mã 75-KH-BTV)."
    assert main(["--config", "plan-b.toml", "delegates", "import", "plan-b.csv"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        plan_b,
        "Đã nhập 4 người từ plan-b.csv: thêm mới 4, cập nhật 0, không đổi 0.",
    ]
    # Without --config: ./config.toml's meeting, said as plainly.
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"Hội nghị: {PLAN_A_TITLE} (mã 60-KH-BTV)."
    assert main(["--config", "plan-b.toml", "staff", "add", "HN09"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        plan_b,
        "Đã giao vai trò Văn phòng cho đồng chí Lưu Thị Khánh Hòa (HN09).",
    ]
    assert main(["--config", "plan-b.toml", "staff", "remove", "HN09"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        plan_b,
        "Đã thu hồi vai trò Văn phòng của đồng chí Lưu Thị Khánh Hòa (HN09).",
    ]


CODE_TAKEN = (
    "Cơ sở dữ liệu đã có hội nghị mã 60-KH-BTV là «" + PLAN_A_TITLE + "», bắt đầu 08:00, Thứ Ba, "
    "ngày 28/5/2024; {file} ghi «Hội nghị tổng kết công tác Hội năm 2024», bắt đầu 08:00, Thứ "
    "Năm, ngày 20/6/2024 (khác cả tên lẫn thời gian)."
)


def test_check_warns_that_a_plan_with_another_meeting_s_code_is_taken_for_that_meeting(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    copied_plan(office)
    assert main(["--config", "kh3.toml", "check"]) == 0  # no database yet: nothing to compare
    assert "meeting.code" not in capsys.readouterr().out
    assert not (office / "hoinghi.db").exists()  # and check created none
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    assert main(["--config", "kh3.toml", "check"]) == 0
    assert (
        "  - meeting.code: "
        + CODE_TAKEN.format(file="tệp cấu hình này")
        + (
            " Nếu đây là một hội nghị mới, đề nghị đặt mã mới cho hội nghị ở [meeting] code; cho tới "
            "khi sửa, các lệnh dùng cơ sở dữ liệu (run, delegates import, staff, report…) sẽ dừng mà "
            "không thay đổi gì. Nếu đúng là hội nghị đó, đã đổi cả tên và thời gian, thêm "
            "--same-meeting vào các lệnh ấy để xác nhận."
        )
        in capsys.readouterr().out.splitlines()
    )


@pytest.mark.parametrize("journal", ["wal", "delete"], ids=["its file copied", "vacuum into"])
def test_check_reads_a_read_only_copy_of_a_database_and_changes_nothing_beside_or_in_it(
    journal: str, office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy as the bot leaves its file (WAL), or as ``VACUUM INTO`` and other tools make one
    (a rollback journal, which a WAL pragma would rewrite): ``check`` only reads either."""
    from bot.cli import main

    copied_plan(office)
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    database = office / "hoinghi.db"
    with sqlite3.connect(database) as db:
        db.execute(f"PRAGMA journal_mode={journal}")
    db.close()
    database.chmod(0o444)
    before, beside = database.read_bytes(), sorted(office.iterdir())
    assert main(["--config", "kh3.toml", "check"]) == 0
    assert "  - meeting.code: " in capsys.readouterr().out  # the database was read
    assert database.read_bytes() == before
    assert sorted(office.iterdir()) == beside  # no -wal, -shm or journal files left beside it


def test_check_reads_what_a_running_bot_committed_to_its_wal_file_and_changes_nothing(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    copied_plan(office)
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    database = office / "hoinghi.db"
    running = sqlite3.connect(database)  # as a bot holds it: its -wal and -shm files beside it
    try:
        with running:  # committed to the -wal file, not yet to the database file
            running.execute("UPDATE meetings SET title = 'Hội nghị đổi tên'")
        before, beside = database.read_bytes(), sorted(office.iterdir())
        assert main(["--config", "kh3.toml", "check"]) == 0
        assert "«Hội nghị đổi tên»" in capsys.readouterr().out
        assert database.read_bytes() == before
        assert sorted(office.iterdir()) == beside
    finally:
        running.close()


def test_check_does_not_wait_on_a_database_that_does_not_answer(
    office: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PostgreSQL server down held `check` for the driver's connect timeout (a minute).
    import asyncio

    import bot.cli.plan as plan
    from bot.cli import main

    copied_plan(office)
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()

    async def never(*_: object) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(plan, "stored_meeting", never)
    monkeypatch.setattr(plan, "STORED_MEETING_SECONDS", 0)
    assert main(["--config", "kh3.toml", "check"]) == 0
    out = capsys.readouterr().out
    assert "meeting.code" not in out and "hợp lệ" in out


@pytest.mark.parametrize(
    "command",
    [
        ["delegates", "import", "plan-b.csv"],
        ["people", "import", "plan-b.csv"],
        ["staff", "add", "DB001"],
        ["staff", "login", "DB001"],
        ["invites", "export", "moi.csv", "--bot-username", "hoinghi_test_bot"],
        ["report", "bao-cao.xlsx"],
        ["purge", "--yes", "--force"],
    ],
)
def test_a_plan_with_another_meeting_s_code_is_refused_before_anything_is_written(
    command: list[str], office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    copied_plan(office)
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    before = database_dump(office)
    assert main(["--config", "kh3.toml", *command]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "Chưa thay đổi gì: "
        + CODE_TAKEN.format(file="tệp cấu hình kh3.toml").replace("C", "c", 1)
        + " Nếu đây là một hội nghị mới, đề nghị đặt mã mới cho hội nghị ở [meeting] code trong "
        "tệp cấu hình rồi chạy lại lệnh. Nếu đúng là hội nghị đó, đã đổi cả tên và thời gian, chạy "
        "lại lệnh với --same-meeting."
    ]
    assert database_dump(office) == before
    assert sorted(path.name for path in office.iterdir() if path.suffix in (".csv", ".xlsx")) == [
        "plan-b.csv"
    ]  # no file written either


def test_same_meeting_confirms_a_plan_that_changed_both_its_title_and_its_date(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    copied_plan(office)
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["--config", "kh3.toml", "staff", "add", "DB001", "--same-meeting"]) == 0
    assert capsys.readouterr().out.splitlines()[-3:-1] == [
        "Hội nghị: Hội nghị tổng kết công tác Hội năm 2024 (mã 60-KH-BTV).",
        "Đã giao vai trò Văn phòng cho đồng chí Phạm Thị Thanh Mai (DB001).",
    ]
    with sqlite3.connect(office / "hoinghi.db") as db:
        assert db.execute("SELECT code, title FROM meetings").fetchall() == [
            ("60-KH-BTV", PLAN_B_TITLE)
        ]
    # From now on the database holds the new title and date: the plan is that meeting's.
    assert main(["--config", "kh3.toml", "staff", "remove", "DB001"]) == 0


@pytest.mark.parametrize("kept", ["title", "date"])
def test_a_plan_edit_that_changes_only_the_title_or_only_the_date_goes_through(
    kept: str, office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Of a meeting not yet held: both plans moved to a year to come (one that has taken place
    is neither renamed nor postponed, below)."""
    from bot.cli import main

    plan = copied_plan(office, title=kept == "title", date=kept == "date")
    for path in (office / "config.toml", plan):
        path.write_text(path.read_text(encoding="utf-8").replace("2024-", "2099-"), "utf-8")
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["--config", "kh3.toml", "check"]) == 0
    assert "meeting.code" not in capsys.readouterr().out
    assert main(["--config", "kh3.toml", "delegates", "import", str(EXAMPLE_DELEGATES)]) == 0


CODE_HELD = (
    "cơ sở dữ liệu đã có hội nghị mã 60-KH-BTV là «" + PLAN_A_TITLE + "», khai mạc 08:00, Thứ Ba, "
    "ngày 28/5/2024, và hội nghị này đã diễn ra (đã kết thúc trước thời điểm hiện tại); {file} "
    "ghi «{title}», "
    "bắt đầu 08:00, {date}. Hội nghị đã diễn ra thì không đổi tên hay dời ngày được: nếu đây là "
    "hội nghị mới, đề nghị đặt mã mới cho hội nghị ở [meeting] code"
)


@pytest.mark.parametrize("kept", ["title", "date"])
def test_a_meeting_that_has_taken_place_is_neither_renamed_nor_postponed_by_a_plan_edit(
    kept: str, office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The copied plan edited one line at a time (N4): its title first, or its date first, is
    not the meeting held (28/5/2024, past by the clock) renamed or postponed: check says so and
    every command refuses, nothing written; --same-meeting still confirms it."""
    from bot.cli import main

    copied_plan(office, title=kept == "title", date=kept == "date")
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    # kept: which of the two the plan changed, the other one plan A's (copied_plan)
    title = PLAN_B_TITLE if kept == "title" else PLAN_A_TITLE
    date = "Thứ Ba, ngày 28/5/2024" if kept == "title" else "Thứ Năm, ngày 20/6/2024"
    assert main(["--config", "kh3.toml", "check"]) == 0
    said = CODE_HELD.format(file="tệp cấu hình này", title=title, date=date)
    warning = "  - meeting.code: C" + said[1:]
    assert any(line.startswith(warning) for line in capsys.readouterr().out.splitlines())
    before = database_dump(office)
    assert main(["--config", "kh3.toml", "delegates", "import", "plan-b.csv"]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    refused = CODE_HELD.format(file="tệp cấu hình kh3.toml", title=title, date=date)
    assert captured.err.startswith("Chưa thay đổi gì: " + refused)
    assert "--same-meeting" in captured.err
    assert database_dump(office) == before
    assert main(["--config", "kh3.toml", "staff", "add", "DB001", "--same-meeting"]) == 0


async def test_syncing_a_plan_with_another_meeting_s_code_raises_and_writes_nothing(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    """Every entry point (the CLI's app, a rehearsal, a test) builds its services through
    sync_meeting: the refusal lives there."""
    first = await sync_meeting(sessions, config, clock)
    copied = plan_b_config(tmp_path)
    copied = copied.model_copy(
        update={"meeting": copied.meeting.model_copy(update={"code": config.meeting.code})}
    )
    with pytest.raises(CodeTaken) as taken:
        await build_services(copied, sessions, clock)
    assert taken.value.stored == StoredMeeting(
        config.meeting.code, config.meeting.title, config.meeting.starts_at
    )
    assert await stored_meeting(sessions, config.meeting.code) == taken.value.stored
    confirmed = await sync_meeting(sessions, copied, clock, same_meeting=True)
    assert confirmed.id == first.id
    assert await stored_meeting(sessions, config.meeting.code) == StoredMeeting(
        config.meeting.code, PLAN_B_TITLE, copied.meeting.starts_at
    )


# --- last meeting's links, /start links and personal codes, met on the next meeting's side ---

A_TITLE = (
    "Hội nghị sơ kết giữa nhiệm kỳ thực hiện Nghị quyết Đại hội đại biểu Phụ nữ thành phố Hà Nội "
    "lần thứ XVII, nhiệm kỳ 2021 – 2026"
)
CONTACT = "đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678"
A_ENDED = (
    f"thuộc giấy mời của hội nghị trước, {A_TITLE} (Thứ Ba, ngày 28/5/2024); hội nghị đó đã "
    "kết thúc."
)


def after_a(clock: ManualClock) -> None:
    """The clock on 10/6/2024: plan A (28/5) is over, plan B (20/6) is the meeting served."""
    clock.set(local(2024, 6, 10, 9, 0))


async def test_the_last_meeting_s_link_opens_a_page_saying_whose_invitation_it_was_and_that_it_ended(
    two_plans: TwoPlans, clock: ManualClock
) -> None:
    # DB002's slip of A (no phone: nobody of hers is on B's list), scanned while B runs: it
    # was «không đúng hoặc đã được thay bằng đường liên kết mới», and the link was right.
    after_a(clock)
    token, _ = await token_of(two_plans.a, "DB002")
    web = await web_for(two_plans.b)
    page = await web.client.get(f"/{token}")
    assert page.status_code == 404
    assert text_of(page.text, "unknown") == (
        f"Đường liên kết này là giấy mời của hội nghị trước, {A_TITLE} (Thứ Ba, ngày 28/5/2024); "
        f"hội nghị đó đã kết thúc. Trang này hiện phục vụ {PLAN_B_TITLE}. Cần hỗ trợ, xin liên "
        f"hệ {CONTACT}."
    )
    assert re.search(r"<h1>Giấy mời của hội nghị khác</h1>", page.text)
    assert "Hoàng Thị Ngọc Diệp" not in page.text
    # A link that is nobody's, in any meeting, keeps its words.
    nowhere = await web.client.get(f"/{token[:-4]}AAAA")
    assert text_of(nowhere.text, "unknown").startswith(
        "Đường liên kết này không đúng hoặc đã được thay bằng đường liên kết mới."
    )


async def test_the_last_meeting_s_link_of_someone_invited_again_says_her_new_invitation_comes_apart(
    two_plans: TwoPlans, clock: ManualClock
) -> None:
    # A's DB003 is B's HN07 (the same phone): her old link shows nothing of either meeting's
    # person, answer or code; it tells her that B's invitation is another link, sent to her.
    after_a(clock)
    token, _ = await token_of(two_plans.a, "DB003")
    _, b_code = await token_of(two_plans.b, "HN07")
    page = await (await web_for(two_plans.b)).client.get(f"/{token}")
    assert page.status_code == 404
    assert text_of(page.text, "unknown") == (
        f"Đường liên kết này là giấy mời của hội nghị trước, {A_TITLE} (Thứ Ba, ngày 28/5/2024); "
        f"hội nghị đó đã kết thúc. Trang này hiện phục vụ {PLAN_B_TITLE}. Đồng chí cũng có tên "
        "trong danh sách mời hội nghị này: giấy mời mới, với đường liên kết riêng, đã hoặc sẽ "
        f"được Văn phòng gửi đến đồng chí. Cần hỗ trợ, xin liên hệ {CONTACT}."
    )
    assert "Vũ Thị Hồng Nhung" not in page.text and b_code[:4] not in page.text


async def test_a_link_of_a_meeting_not_over_is_said_to_be_another_meeting_s(
    two_plans: TwoPlans,
) -> None:
    # B's link (20/6) opened on A's server (28/5, before either): not «đã kết thúc».
    token, _ = await token_of(two_plans.b, "HN09")
    page = await (await web_for(two_plans.a)).client.get(f"/{token}")
    assert page.status_code == 404
    assert text_of(page.text, "unknown") == (
        f"Đường liên kết này là giấy mời {PLAN_B_TITLE} (Thứ Năm, ngày 20/6/2024), không phải "
        f"hội nghị trang này đang phục vụ ({A_TITLE}). Cần hỗ trợ, xin liên hệ {CONTACT}."
    )
    assert "Lưu Thị Khánh Hòa" not in page.text


async def test_a_meeting_of_several_days_is_said_to_have_ended_only_after_its_last_day(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    # A runs 28–29/5; on 29/5, its second day, a link of A opened on B's server (20/6) said
    # «hội nghị đó đã kết thúc»: judged by A's start, as the meetings row kept no end.
    a = await build_services(two_days(config), sessions, clock, files=FileStore(tmp_path / "a"))
    await import_list(a, EXAMPLE_DELEGATES)
    b = await build_services(
        plan_b_config(tmp_path), sessions, clock, files=FileStore(tmp_path / "b")
    )
    token, code = await token_of(a, "DB002")
    web = await web_for(b)
    clock.set(local(2024, 5, 29, 9, 0))
    on_its_last_day = await web.client.get(f"/{token}")
    assert text_of(on_its_last_day.text, "unknown").startswith(
        f"Đường liên kết này là giấy mời {A_TITLE} (Thứ Ba, ngày 28/5/2024), không phải hội nghị "
        "trang này đang phục vụ"
    )
    typed = await b.invitations.link_by_code(ChatAccount("zalo", "z1", "z1"), code)
    assert typed.other is not None and not typed.other.ended
    clock.set(local(2024, 5, 30, 9, 0))
    after = await web.client.get(f"/{token}")
    assert text_of(after.text, "unknown").startswith(
        f"Đường liên kết này là giấy mời của hội nghị trước, {A_TITLE} (Thứ Ba, ngày 28/5/2024); "
        "hội nghị đó đã kết thúc."
    )


async def test_another_meeting_s_link_or_code_is_no_wrong_try_and_is_never_slowed_down(
    two_plans: TwoPlans, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # A real link of the last meeting is no guess: six opens (a page reloaded, a chat tapped
    # again) are each told whose it is, none counted toward the slowdown of wrong links.
    token, code = await token_of(two_plans.a, "DB002")
    account = ChatAccount("telegram", "7010", "7010")
    for _ in range(6):
        opened = await two_plans.b.invitations.open_page(token, channel="web", client="c9")
        assert opened.outcome is LinkOutcome.OTHER_MEETING
        linked = await two_plans.b.invitations.link_by_token(account, token)
        assert linked.outcome is LinkOutcome.OTHER_MEETING and linked.delegate is None
        typed = await two_plans.b.invitations.link_by_code(account, code)
        assert typed.outcome is LinkOutcome.OTHER_MEETING
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LinkFailure)) == 0


def text_chat(services: Services) -> TextChannel:
    """A chat platform of text only on ``services``' bot."""
    catalog = load_catalog("vi")
    return TextChannel(Inbox(services, catalog), catalog)


async def test_an_unknown_account_opening_the_last_meeting_s_start_link_is_told_it_has_ended(
    two_plans: TwoPlans, clock: ManualClock
) -> None:
    after_a(clock)
    token, code = await token_of(two_plans.a, "DB002")
    chat = text_chat(two_plans.b)
    said = await chat.person("Chị Diệp").type(f"/start {token}")
    assert said == [
        f"Đường liên kết này {A_ENDED}\n\nTrợ lý này hiện phục vụ {PLAN_B_TITLE}. Cần hỗ trợ, "
        f"xin liên hệ {CONTACT}."
    ]
    # Her personal code typed where no link opens (Zalo): the same, said of a code.
    typed = await chat.person("Chị Diệp").type(format_link_code(code))
    assert typed == [
        f"Mã cá nhân này {A_ENDED}\n\nTrợ lý này hiện phục vụ {PLAN_B_TITLE}. Cần hỗ trợ, xin "
        f"liên hệ {CONTACT}."
    ]
    # Someone of the same phone invited to B: told her new invitation comes apart.
    a_token, _ = await token_of(two_plans.a, "DB003")
    again = await chat.person("Chị Nhung").type(f"/start {a_token}")
    assert again[0].endswith(
        "Đồng chí cũng có tên trong danh sách mời hội nghị này: giấy mời mới, với đường liên "
        "kết và mã cá nhân riêng, đã hoặc sẽ được Văn phòng gửi đến đồng chí. Cần hỗ trợ, xin "
        f"liên hệ {CONTACT}."
    )
    assert "Vũ Thị Hồng Nhung" not in again[0]


async def test_a_linked_account_opening_the_last_meeting_s_start_link_gets_her_current_invitation(
    two_plans: TwoPlans, clock: ManualClock
) -> None:
    # B's DB001 (Trần Văn Bình) linked; the t.me link of A's DB002 slip pressed: it was «không
    # đúng hoặc đã hết hiệu lực» although the bot holds her invitation to B.
    after_a(clock)
    _, b_code = await token_of(two_plans.b, "DB001")
    a_token, _ = await token_of(two_plans.a, "DB002")
    chat = text_chat(two_plans.b)
    binh = chat.person("Anh Bình")
    await binh.type(format_link_code(b_code))
    said = await binh.type(f"/start {a_token}")
    assert said[0] == (
        f"Đường liên kết này {A_ENDED}\n\nTài khoản của đồng chí đã được liên kết với giấy mời "
        f"{PLAN_B_TITLE}; dưới đây là giấy mời và nội dung đồng chí đã xác nhận."
    )
    card = "\n".join(said[1:])
    assert card.startswith("Kính gửi đồng chí Trần Văn Bình\n")
    assert card == "\n".join((await binh.type("/start"))[1:])  # as /start alone shows it
    assert "Hoàng Thị Ngọc Diệp" not in "\n".join(said)


async def test_a_linked_account_typing_the_last_meeting_s_personal_code_gets_her_current_invitation(
    two_plans: TwoPlans, clock: ManualClock
) -> None:
    # Zalo opens no link: B's DB001 (Trần Văn Bình), linked, types the code of A's DB002 slip
    # among her words, without /start. It went on as any text («Đề nghị đồng chí trả lời bằng
    # các lựa chọn …»), not the answer «/start CODE» gets.
    after_a(clock)
    _, b_code = await token_of(two_plans.b, "DB001")
    _, a_code = await token_of(two_plans.a, "DB002")
    binh = text_chat(two_plans.b).person("Anh Bình")
    await binh.type(format_link_code(b_code))
    said = await binh.type(f"Mã của tôi là {format_link_code(a_code).lower()}")
    assert said[0] == (
        f"Mã cá nhân này {A_ENDED}\n\nTài khoản của đồng chí đã được liên kết với giấy mời "
        f"{PLAN_B_TITLE}; dưới đây là giấy mời và nội dung đồng chí đã xác nhận."
    )
    assert said == await binh.type(f"/start {format_link_code(a_code)}")
    assert "Hoàng Thị Ngọc Diệp" not in "\n".join(said)
    # Another code of this meeting's is still no code of hers: read as any text.
    _, other_code = await token_of(two_plans.b, "HN09")
    assert "Mã cá nhân" not in "\n".join(await binh.type(format_link_code(other_code)))


async def test_a_linked_telegram_account_typing_the_last_meeting_s_personal_code_is_told_whose_it_is(
    a_linked_then_b: tuple[Services, Services, Path], clock: ManualClock
) -> None:
    # DB004's account, carried from A to B, types the code on her May slip in the Telegram
    # chat (no /start): «Đề nghị đồng chí trả lời bằng các lựa chọn …» before, as any text;
    # now as «/start CODE» answers it.
    a, b, b_list = a_linked_then_b
    await import_list(b, b_list)
    after_a(clock)
    _, a_code = await token_of(a, "DB004")
    account = ChatAccount("telegram", "5004", "5004")
    inbox = Inbox(b, load_catalog("vi"))
    channel = ChannelInfo("telegram", TELEGRAM_LIKE)
    typed = Text(account=account, chat=Chat("5004"), text=format_link_code(a_code))
    answer = said(await inbox.handle(typed, channel))
    assert answer.startswith(
        f"Mã cá nhân này thuộc giấy mời của hội nghị trước, <b>{A_TITLE}</b> (Thứ Ba, ngày "
        "28/5/2024); hội nghị đó đã kết thúc."
    ), answer
    assert f"đã được liên kết với giấy mời <b>{PLAN_B_TITLE}</b>" in answer
    assert "Kính gửi đồng chí <b>Đặng Minh Quân</b>" in answer
    start = Command(
        account=account, chat=Chat("5004"), name="start", args=(format_link_code(a_code),)
    )
    assert answer == said(await inbox.handle(start, channel))
    # Her own code of B typed, as on Zalo: already linked, her card (it was the hint too).
    _, b_code = await token_of(b, "DB004")
    own = Text(account=account, chat=Chat("5004"), text=format_link_code(b_code))
    again = said(await inbox.handle(own, channel))
    assert again.startswith("Tài khoản này đã được liên kết với giấy mời của đồng chí"), again
    assert "Kính gửi đồng chí <b>Đặng Minh Quân</b>" in again


async def test_the_desk_given_the_last_meeting_s_personal_code_names_that_meeting(
    two_plans: TwoPlans, clock: ManualClock
) -> None:
    # The May slip's code typed at B's desk: it was «Không có đại biểu nào mang mã cá nhân …
    # gõ nhầm một ký tự», though no character was wrong.
    after_a(clock)
    b = two_plans.b
    await import_example(b, EXAMPLE_CONTACTS)
    desk = await at_desk(Day(b, clock))
    _, code = await token_of(two_plans.a, "DB002")
    shown = format_link_code(code)
    page = await desk.client.get("/office/checkin", params={"q": shown.lower()})
    assert text_of(page.text, "no-hits") == (
        f"Mã cá nhân {shown} thuộc giấy mời của hội nghị trước, {A_TITLE} (Thứ Ba, ngày "
        "28/5/2024), đã kết thúc; giấy mời hội nghị này mang mã khác. Đề nghị tìm đại biểu theo "
        "họ tên hoặc số điện thoại. Chưa ghi nhận gì."
    )
    assert "Hoàng Thị Ngọc Diệp" not in page.text
    # B's own code, one character wrong, is still a misreading.
    _, own = await token_of(b, "HN09")
    wrong = own[:7] + next(c for c in "23456789BCFGHJKMNPQRSTVXZ" if c != own[7])
    misread = await desk.client.get("/office/checkin", params={"q": wrong})
    assert text_of(misread.text, "no-hits").startswith("Không có đại biểu nào mang mã cá nhân")
    await desk.client.aclose()


async def test_the_desk_scanning_the_last_meeting_s_qr_names_that_meeting_as_its_code_does(
    two_plans: TwoPlans, clock: ManualClock
) -> None:
    # The May slip's QR scanned at B's desk said «Mã QR này thuộc hội nghị khác.», not which,
    # while the code printed under it, typed, named the meeting and its date.
    after_a(clock)
    b = two_plans.b
    await import_example(b, EXAMPLE_CONTACTS)
    desk = await at_desk(Day(b, clock))
    token, code = await token_of(two_plans.a, "DB002")
    scanned = await desk.client.get(f"/{token}")
    assert scanned.status_code == 404
    assert text_of(scanned.text, "notice") == (
        f"Mã QR này thuộc giấy mời của hội nghị trước, {A_TITLE} (Thứ Ba, ngày 28/5/2024), đã "
        "kết thúc; giấy mời hội nghị này mang mã khác. Đề nghị tìm đại biểu theo họ tên hoặc số "
        "điện thoại. Chưa ghi nhận gì."
    )
    assert "Hoàng Thị Ngọc Diệp" not in scanned.text
    shown = format_link_code(code)
    typed = await desk.client.get("/office/checkin", params={"q": shown})
    assert text_of(typed.text, "no-hits").removeprefix(f"Mã cá nhân {shown}") == text_of(
        scanned.text, "notice"
    ).removeprefix("Mã QR này")
    # «Điểm danh» sent with that QR's link (a form of the desk's, its key the scanned link's):
    # refused with the same words.
    b_token, _ = await token_of(b, "HN09")
    form = fields((await desk.client.get(f"/{b_token}")).text, "form-tap")
    refused = await desk.client.post("/office/checkin/in", data={**form, "key": token})
    assert refused.status_code == 303
    shown = await desk.client.get(refused.headers["location"])
    assert flash(shown.text) == text_of(scanned.text, "notice")
    assert await b.checkin.records() == []
    await desk.client.aclose()


async def test_a_meeting_with_check_ins_is_not_postponed_by_a_plan_edit_before_its_end(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
) -> None:
    """Its end not yet past, a meeting whose desk checked someone in has taken place: its date
    moved is another meeting (CodeTaken, nothing written); with no check-in (undone ones do not
    count) the same edit is a postponement, as before."""
    first = await sync_meeting(sessions, config, clock)
    clock.set(config.meeting.starts_at)  # the morning of the meeting: its end still to come
    meeting = config.meeting
    later = config.model_copy(
        update={
            "meeting": meeting.model_copy(
                update={
                    "starts_at": meeting.starts_at + timedelta(days=7),
                    "ends_at": meeting.ends_at + timedelta(days=7),
                }
            )
        }
    )
    async with unit_of_work(sessions) as session:
        row = Checkin(  # a guest the desk wrote in: no delegate row needed
            meeting_id=first.id, delegate_id=None, kind="guest", full_name="x",
            desk="Bàn 1", checked_in_at=clock.now(), checked_in_by="web:1", staff_name="x",
            day=meeting.local(meeting.starts_at).date(),
        )  # fmt: skip
        session.add(row)
    with pytest.raises(CodeTaken) as taken:
        await sync_meeting(sessions, later, clock)
    assert taken.value.stored.checked_in == 1
    assert taken.value.stored.held(later)
    assert await stored_meeting(sessions, meeting.code) == StoredMeeting(
        meeting.code, meeting.title, meeting.starts_at, checked_in=1
    )  # nothing written
    async with unit_of_work(sessions) as session:
        (await session.get(Checkin, row.id)).undone_at = clock.now()  # type: ignore[union-attr]
    moved = await sync_meeting(sessions, later, clock)
    assert moved.id == first.id
    assert (await stored_meeting(sessions, meeting.code)).starts_at == later.meeting.starts_at  # type: ignore[union-attr]


def test_staff_login_of_a_meeting_no_run_serves_names_the_meeting_running_and_its_reports(
    office_web: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The finished meeting's plan while the next one runs (N8): its link would be refused by
    that run's dashboard; said before the link, with the commands that read this meeting. Not
    said when this meeting runs too, nor when nothing runs."""
    from bot.cli import main
    from storage.guard import DatabaseLock, meeting_scope

    plan_b_in_office(office_web)
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["staff", "add", "DB001"]) == 0
    assert main(["--config", "plan-b.toml", "delegates", "import", "plan-b.csv"]) == 0
    capsys.readouterr()
    url = load_config(office_web / "config.toml").database_url
    running = {
        "B": DatabaseLock(url, "run", scope=meeting_scope(PLAN_B_CODE)),
        "A": DatabaseLock(url, "run", scope=meeting_scope("60-KH-BTV")),
    }
    asyncio.run(running["B"].acquire())  # as `hoinghi --config plan-b.toml run` holds it
    try:
        assert main(["staff", "login", "DB001"]) == 0
        printed = capsys.readouterr().out.splitlines()
        assert printed[0] == (
            "Lưu ý: bot và trang điều hành đang chạy cho hội nghị khác: «Hội nghị tổng kết công "
            "tác Hội năm 2024» (mã 75-KH-BTV); hội nghị mã 60-KH-BTV của tệp cấu hình này hiện "
            "không chạy, nên trang điều hành đang chạy sẽ không nhận đường liên kết dưới đây (báo "
            "«đã được dùng, đã quá 10 phút…»). Số liệu của hội nghị này xem bằng dòng lệnh, không "
            "cần chạy bot: hoinghi report bao-cao.xlsx (báo cáo Excel), hoinghi attendance export "
            "diem-danh.xlsx (điểm danh), hoinghi drafts export tham-luan (tham luận). Trang điều "
            "hành của hội nghị này chỉ mở được khi chính hội nghị này chạy (hoinghi run); trong "
            "lúc hội nghị kia đang chạy, đề nghị dùng các lệnh trên."
        )
        assert printed[1].startswith("Đường liên kết đăng nhập trang điều hành cho đồng chí")
        asyncio.run(running["A"].acquire())
        assert main(["staff", "login", "DB001"]) == 0
        assert capsys.readouterr().out.startswith("Đường liên kết đăng nhập")
    finally:
        for lock in running.values():
            asyncio.run(lock.release())
    assert main(["staff", "login", "DB001"]) == 0
    assert capsys.readouterr().out.startswith("Đường liên kết đăng nhập")
