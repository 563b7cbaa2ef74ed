"""The meeting day's check-in at the reception desk (issue 21): who may check in, the lookup by
QR or code with its notices, idempotent check-ins, substitutes, guests, the undo window, the
search without diacritics, and the live count by group."""

from __future__ import annotations

import asyncio
import csv
import inspect
import typing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.chat import Inbox
from bot.chat.replies import hall_line
from bot.cli import main
from bot.config import Config, load_config
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.channels import ChannelInfo, Chat, ChatAccount
from bot.domain.clock import ManualClock
from bot.domain.inbound import Command
from bot.domain.outbound import TextPart
from bot.domain.rsvp import RsvpAnswer, RsvpChoice, RsvpStatus
from bot.services import Services, build_services
from bot.services.access import DeskActor, Role
from bot.services.checkin import (
    ArrivalKind,
    Attendance,
    CheckinStep,
    GroupAttendance,
    Notice,
    notice_line,
    summary_text,
)
from bot.services.day_files import present_table
from bot.services.report_file import office_report_sheets
from bot.texts import load_catalog
from bot.texts.formatting import long_date
from storage import queries
from storage.files import FileStore
from storage.models import AuditEntry, Checkin, Delegate, Invitation, Meeting
from storage.uow import unit_of_work
from tests.channels.text_channel import CAPABILITIES
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, local, until_waiting
from tests.plan_support import once_per_start
from tests.test_services import row as delegate_row
from tests.test_staff import on_the_office_database

CONTACTS = EXAMPLE_DELEGATES.parent / "contacts.csv"
VI = load_catalog("vi")
MORNING = local(2024, 5, 28, 7, 30)  # "Đón tiếp đại biểu"
AREA = "Khu A, hàng 1"


class Day:
    """The example meeting on its morning: delegates and contacts imported, answers given,
    desk staff signed in."""

    def __init__(self, services: Services, clock: ManualClock) -> None:
        self.services = services
        self.clock = clock
        self.tokens: dict[str, str] = {}
        self.next_user = 5000

    @property
    def checkin(self):  # type: ignore[no-untyped-def]
        return self.services.checkin

    async def account(self, code: str) -> ChatAccount:
        """``code`` links a Telegram account by their personal link."""
        self.next_user += 1
        account = ChatAccount("telegram", str(self.next_user), str(self.next_user))
        await self.services.invitations.link_by_token(account, self.tokens[code])
        return account

    async def desk(self, code: str, label: str, role: Role | None = Role.CHECKIN) -> DeskActor:
        """``code``, linked and granted ``role``, signed in at desk ``label``."""
        account = await self.account(code)
        access = self.services.access
        if role is not None:
            await access.grant(access.local_operator(), code, role)
        desk = access.desk(await access.caller(account), label)
        assert desk is not None
        return desk

    async def link_code(self, code: str) -> str:
        """The personal code printed under ``code``'s QR now (a re-issue gives a new one)."""
        links = await self.services.invitations.links()
        return next(link.link_code for link in links if link.code == code)

    async def substitutes_by_phone(self) -> None:
        """The office records two substitutes from the delegates' calls: DB005 sends Nguyễn
        Thị Hoa, who gave her number (+84912345678), DB006 Trần Mai, who gave none."""
        services = self.services
        for code, name, phone in (
            ("DB005", "Nguyễn Thị Hoa", "+84912345678"),
            ("DB006", "Trần Mai", None),
        ):
            card = await services.dashboard.card(code)
            assert card is not None
            answer = RsvpAnswer(
                RsvpStatus.SUBSTITUTE, substitute_name=name, substitute_position="Phó Chánh Văn phòng",
                substitute_unit="Hội LHPN quận Ba Đình", substitute_phone=phone,
            )  # fmt: skip
            await services.rsvp.record_by_phone(
                services.access.local_operator(), card.person.id, answer
            )


@pytest.fixture
async def day(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    files: FileStore,
) -> Day:
    """The example plan with an area for the first group; DB010 declined, DB003 sent a
    substitute, DB001 and DB002 attend; the clock at 07:30 on the meeting day."""
    groups = [
        group.model_copy(update={"area": AREA}) if group.key == "trung_uong_hoi" else group
        for group in config.groups
    ]
    services = await build_services(
        config.model_copy(update={"groups": groups}), sessions, clock, files=files
    )
    day = Day(services, clock)

    async def answers() -> int:
        file_groups = [FileGroup(g.key, g.label) for g in services.config.groups]
        for path in (EXAMPLE_DELEGATES, CONTACTS):
            parsed = parse_delegate_file(path, file_groups)
            await services.delegates.import_rows(parsed.rows, actor="test")
        day.tokens = {link.code: link.token for link in await services.invitations.links()}
        rsvp = services.rsvp
        for code in ("DB001", "DB002"):
            await rsvp.choose(await day.account(code), RsvpChoice.ATTEND)
        await rsvp.choose(await day.account("DB010"), RsvpChoice.DECLINE_WITHOUT_REASON)
        substitute = await day.account("DB003")
        await rsvp.choose(substitute, RsvpChoice.SUBSTITUTE)
        await rsvp.submit_text(substitute, "Lê Thu Trang")
        await rsvp.submit_text(substitute, "Phó Chánh Văn phòng Thành ủy")
        await rsvp.choose(substitute, RsvpChoice.SAME_UNIT)
        await rsvp.choose(substitute, RsvpChoice.SKIP_PHONE)
        return day.next_user

    # The answers given once a run; later days start from a copy (tests.plan_support).
    day.next_user = await once_per_start(services, "day", answers)
    day.tokens = {link.code: link.token for link in await services.invitations.links()}
    clock.set(MORNING)
    return day


async def rows_of(services: Services) -> list[Checkin]:
    async with services.ctx.sessions() as session:
        return list(await session.scalars(select(Checkin).order_by(Checkin.id)))


# --- who may check in ----------------------------------------------------------------------------


async def test_only_the_checkin_role_and_the_office_get_a_desk(day: Day) -> None:
    access = day.services.access
    delegate = await access.caller(await day.account("DB001"))
    assert access.desk(delegate, "Bàn 1") is None  # an invitee on their own page: no desk
    staff = await day.desk("NV02", "Bàn 1")
    office = await day.desk("NV01", "Bàn 2", role=Role.OFFICE)
    assert (staff.desk, staff.name, staff.is_office) == ("Bàn 1", "Trần Thị Mỹ Duyên", False)
    assert (office.desk, office.is_office) == ("Bàn 2", True)


def test_a_desk_actor_made_outside_the_access_module_is_refused() -> None:
    with pytest.raises(TypeError, match=r"issued by bot\.services\.access only"):
        DeskActor(object(), actor="web:1", name="x", desk="1", person_id=None, is_office=False)


async def test_every_desk_use_case_demands_a_desk_actor(day: Day) -> None:
    service = day.checkin
    lacking = []
    for name in ("lookup", "check_in", "guest", "undo", "search"):
        method = getattr(service, name)
        hints = typing.get_type_hints(method)
        parameters = inspect.signature(method).parameters.values()
        if not any(hints.get(p.name) is DeskActor and p.default is p.empty for p in parameters):
            lacking.append(name)
    assert lacking == []


async def test_a_desk_cannot_check_in_its_own_staff_member(day: Day) -> None:
    desk = await day.desk("DB022", "Bàn 1")  # an invitee who also helps at the desk
    result = await day.checkin.check_in(desk, "DB022")
    assert result.step is CheckinStep.OWN_CHECKIN
    assert await rows_of(day.services) == []
    other = await day.desk("NV02", "Bàn 2")
    assert (await day.checkin.check_in(other, "DB022")).step is CheckinStep.CHECKED_IN


# --- the lookup ----------------------------------------------------------------------------------


async def test_the_scanned_address_shows_name_group_area_and_answer_without_notices(
    day: Day,
) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    address = f"https://hoinghi.example.vn/{day.tokens['DB001']}?utm=qr"
    arrival = await day.checkin.lookup(desk, address)
    assert arrival.person is not None
    assert (arrival.person.code, arrival.person.full_name) == ("DB001", "Phạm Thị Thanh Mai")
    assert arrival.group_label == "Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam"
    assert arrival.area == AREA
    assert arrival.answer is not None and arrival.answer.status is RsvpStatus.ATTENDING
    assert (arrival.notices, arrival.can_check_in) == ((), True)
    assert notice_line(VI, day.services.config.meeting, arrival) is None


async def test_a_code_typed_in_any_case_finds_the_invitee(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    arrival = await day.checkin.lookup(desk, " db003 ")
    assert arrival.person is not None and arrival.person.code == "DB003"
    assert arrival.notices == (Notice.SENT_SUBSTITUTE,)
    assert notice_line(VI, day.services.config.meeting, arrival) == (
        "Đại biểu đã cử người dự thay: Lê Thu Trang."
    )


async def test_a_substitute_the_office_records_by_phone_on_the_morning_is_on_the_desk_s_card(
    day: Day,
) -> None:
    """07:30, check-in open, long after the deadline: DB002 phones that her deputy comes. The
    office records it; the desk's card names the substitute, who is checked in as such."""
    desk = await day.desk("NV02", "Bàn 1")
    assert (await day.checkin.lookup(desk, "DB002")).notices == ()
    card = await day.services.dashboard.card("DB002")
    assert card is not None
    deputy = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Đỗ Minh Thư", substitute_position="Phó Chủ tịch"
    )
    office = day.services.access.local_operator()
    recorded = await day.services.rsvp.record_by_phone(office, card.person.id, deputy)
    assert recorded.late is True
    arrival = await day.checkin.lookup(desk, "DB002")
    assert arrival.notices == (Notice.SENT_SUBSTITUTE,)
    assert notice_line(VI, day.services.config.meeting, arrival) == (
        "Đại biểu đã cử người dự thay: Đỗ Minh Thư."
    )
    came = await day.checkin.check_in(
        desk, "DB002", substitute_name="Đỗ Minh Thư", substitute_position="Phó Chủ tịch"
    )
    assert came.checkin is not None and came.checkin.kind is ArrivalKind.SUBSTITUTE


async def test_a_code_with_vietnamese_letters_typed_in_another_case_finds_the_invitee(
    day: Day,
) -> None:
    """Typed at the desk, a code matches as the lists match it (casefold): "đb-hòa" is
    ĐB-Hòa, even on SQLite, whose lower() leaves Đ and Ò as they are."""
    await day.services.delegates.import_rows([delegate_row("ĐB-Hòa", phone=None)], actor="test")
    desk = await day.desk("NV02", "Bàn 1")
    arrival = await day.checkin.lookup(desk, " đb-hÒA ")
    assert arrival.person is not None and arrival.person.code == "ĐB-Hòa"
    result = await day.checkin.check_in(desk, "đb-hòa")
    assert result.step is CheckinStep.CHECKED_IN and result.checkin is not None
    assert result.checkin.full_name == "Nguyễn Thị Lan"


async def test_someone_not_on_the_list_is_said_so_and_cannot_be_checked_in(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    for key in ("XYZ999", "A" * 32):  # an unknown code, an unknown link
        arrival = await day.checkin.lookup(desk, key)
        assert (arrival.person, arrival.notices, arrival.can_check_in) == (
            None, (Notice.NOT_ON_LIST,), False,
        )  # fmt: skip
        assert (await day.checkin.check_in(desk, key)).step is CheckinStep.NOT_FOUND
    contact = await day.checkin.lookup(desk, "NV03")  # a task contact, not invited
    assert (contact.notices, contact.can_check_in) == ((Notice.NOT_INVITED,), False)
    assert (await day.checkin.check_in(desk, "NV03")).step is CheckinStep.NOT_INVITED
    assert await rows_of(day.services) == []


async def test_a_link_of_another_meeting_is_said_so(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    now = day.clock.now()
    async with day.services.ctx.sessions() as session, session.begin():
        other = Meeting(code="hoi-nghi-khac", title="Hội nghị khác", starts_at=now, created_at=now)
        session.add(other)
        await session.flush()
        person = Delegate(
            meeting_id=other.id, code="DB001", full_name="Người khác", position="", organization="",
            group_key="trung_uong_hoi", created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(person)
        await session.flush()
        session.add(
            Invitation(delegate_id=person.id, token="B" * 32, link_code="BBBBBBBB", created_at=now)
        )
    arrival = await day.checkin.lookup(desk, "B" * 32)
    assert (arrival.person, arrival.notices) == (None, (Notice.WRONG_MEETING,))
    assert (await day.checkin.check_in(desk, "B" * 32)).step is CheckinStep.WRONG_MEETING
    # Which meeting, and when (not over: it began today).
    when = long_date(VI, day.services.config.meeting.local(now))
    assert notice_line(VI, day.services.config.meeting, arrival) == (
        f"Mã QR này thuộc giấy mời Hội nghị khác ({when}), không phải hội nghị này; giấy mời "
        "hội nghị này mang mã khác. Đề nghị tìm đại biểu theo họ tên hoặc số điện thoại. Chưa "
        "ghi nhận gì."
    )


async def test_a_replaced_link_still_shows_the_person_with_a_notice(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    old = day.tokens["DB002"]
    access = day.services.access
    await day.services.invitations.reissue(access.local_operator(), "DB002")
    arrival = await day.checkin.lookup(desk, old)
    assert arrival.person is not None and arrival.person.code == "DB002"
    assert (arrival.notices, arrival.can_check_in) == ((Notice.REVOKED_LINK,), True)


async def test_a_replaced_personal_code_finds_the_person_as_her_replaced_link_does(
    day: Day,
) -> None:
    # The code printed under an old slip's QR found nobody (NOT_ON_LIST: «record a guest»),
    # while the same slip's QR found her with the notice.
    desk = await day.desk("NV02", "Bàn 1")
    old_code = await day.link_code("DB002")
    old_token = day.tokens["DB002"]
    await day.services.invitations.reissue(day.services.access.local_operator(), "DB002")
    by_link = await day.checkin.lookup(desk, old_token)
    for typed in (old_code, f"{old_code[:4].lower()}-{old_code[4:].lower()}"):
        by_code = await day.checkin.lookup(desk, typed)
        assert by_code == by_link
        assert by_code.person is not None and by_code.person.code == "DB002"
        assert (by_code.notices, by_code.can_check_in) == ((Notice.REVOKED_LINK,), True)
    [hit] = await day.checkin.search(desk, old_code.lower())
    assert (hit.person.code, hit.replaced_code, hit.card_key) == ("DB002", old_code, old_code)
    assert hit.needs_a_look
    done = await day.checkin.check_in(desk, old_code)
    assert done.step is CheckinStep.CHECKED_IN and done.checkin is not None
    assert (done.checkin.kind, done.checkin.full_name) == (
        ArrivalKind.DELEGATE,
        by_link.person.full_name if by_link.person else "",
    )
    [current] = await day.checkin.search(desk, await day.link_code("DB002"))
    assert (current.replaced_code, current.card_key) == (None, "DB002")


# --- checking in ---------------------------------------------------------------------------------


async def test_a_repeated_tap_checks_in_once_and_says_when_and_by_whom(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    first = await day.checkin.check_in(desk, day.tokens["DB001"])
    assert first.step is CheckinStep.CHECKED_IN and first.checkin is not None
    day.clock.advance(timedelta(seconds=20))
    again = await day.checkin.check_in(desk, day.tokens["DB001"])
    assert again.step is CheckinStep.ALREADY_IN
    assert again.checkin == first.checkin
    assert [row.id for row in await rows_of(day.services)] == [first.checkin.id]
    arrival = await day.checkin.lookup(desk, "DB001")
    assert (arrival.notices, arrival.can_check_in) == ((Notice.ALREADY_IN,), False)
    assert notice_line(VI, day.services.config.meeting, arrival) == (
        "Đã điểm danh đại biểu Phạm Thị Thanh Mai lúc 07:30, do Trần Thị Mỹ Duyên (Bàn 1): "
        "không cần điểm danh lại."
    )


async def test_a_second_desk_is_told_who_came_for_a_delegate_who_had_named_a_substitute(
    day: Day,
) -> None:
    first, second = await day.desk("NV02", "Bàn 1"), await day.desk("NV05", "Bàn 2")
    came = await day.checkin.check_in(first, "DB003")  # the delegate herself, not Lê Thu Trang
    assert came.checkin is not None and came.checkin.kind is ArrivalKind.DELEGATE
    arrival = await day.checkin.lookup(second, "DB003")
    assert arrival.notices == (Notice.ALREADY_IN,)  # not «sent a substitute» any more
    assert notice_line(VI, day.services.config.meeting, arrival) == (
        "Đã điểm danh đại biểu Vũ Thị Hồng Nhung (tự đến dự, không phải người dự thay) lúc 07:30, "
        "do "
        "Trần Thị Mỹ Duyên (Bàn 1): không cần điểm danh lại."
    )
    await day.checkin.undo(first, came.checkin.id)
    substitute = await day.checkin.check_in(
        first, "DB003", substitute_name="Lê Thu Trang", substitute_position="Phó Chánh VP"
    )
    assert substitute.checkin is not None
    arrival = await day.checkin.lookup(second, "DB003")
    assert notice_line(VI, day.services.config.meeting, arrival) == (
        "Đã điểm danh người dự thay Lê Thu Trang lúc 07:30, do Trần Thị Mỹ Duyên (Bàn 1): "
        "không cần điểm danh lại."
    )


async def test_a_form_sent_twice_records_once_even_after_an_undo(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    first = await day.checkin.check_in(desk, "DB001", request_key="form-1")
    assert first.checkin is not None
    assert (await day.checkin.undo(desk, first.checkin.id)).step is CheckinStep.UNDONE
    late_copy = await day.checkin.check_in(desk, "DB001", request_key="form-1")
    assert late_copy.step is CheckinStep.REPEATED
    assert len(await rows_of(day.services)) == 1
    assert (await day.checkin.count()).present == 0


async def test_a_decliner_who_came_after_all_is_checked_in_with_the_notice(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    arrival = await day.checkin.lookup(desk, "DB010")
    assert (arrival.notices, arrival.can_check_in) == ((Notice.DECLINED,), True)
    assert notice_line(VI, day.services.config.meeting, arrival) == (
        "Đại biểu đã báo không tham dự; vẫn điểm danh được nếu đại biểu đến."
    )
    result = await day.checkin.check_in(desk, "DB010")
    assert result.step is CheckinStep.CHECKED_IN and result.checkin is not None
    assert (result.checkin.kind, result.checkin.answer) == (
        ArrivalKind.DELEGATE, RsvpStatus.DECLINED,
    )  # fmt: skip
    count = await day.checkin.count()
    assert (count.present, count.declined_present) == (1, 1)


async def test_a_substitute_is_checked_in_under_their_own_name(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    result = await day.checkin.check_in(
        desk, "DB003", substitute_name=" Lê  Thu Trang ", substitute_position="Phó Chánh VP"
    )
    assert result.step is CheckinStep.CHECKED_IN and result.checkin is not None
    view = result.checkin
    assert (view.kind, view.full_name, view.position, view.organization, view.delegate_id) == (
        ArrivalKind.SUBSTITUTE, "Lê Thu Trang", "Phó Chánh VP", "Thành ủy Hà Nội",
        result.arrival.person.id if result.arrival and result.arrival.person else None,
    )  # fmt: skip
    assert (await day.checkin.check_in(desk, "DB003", substitute_name="  ")).step is (
        CheckinStep.NAME_MISSING
    )
    count = await day.checkin.count()
    assert (count.present, count.substitutes) == (1, 1)


async def test_a_guest_not_on_the_list_is_recorded_apart_and_a_resent_form_once(
    day: Day,
) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    guest = await day.checkin.guest(
        desk, "Hoàng Văn Nam", position="Phóng viên", organization="Báo Hà Nội Mới",
        request_key="guest-form-7",
    )  # fmt: skip
    assert guest.step is CheckinStep.CHECKED_IN and guest.checkin is not None
    assert (guest.checkin.kind, guest.checkin.delegate_id) == (ArrivalKind.GUEST, None)
    again = await day.checkin.guest(desk, "Hoàng Văn Nam", request_key="guest-form-7")
    assert (again.step, again.checkin) == (CheckinStep.REPEATED, guest.checkin)
    assert (await day.checkin.guest(desk, " ")).step is CheckinStep.NAME_MISSING
    count = await day.checkin.count()
    assert (count.present, [g.full_name for g in count.guests]) == (0, ["Hoàng Văn Nam"])


# --- undo ----------------------------------------------------------------------------------------


async def test_the_same_desk_undoes_within_the_window_and_may_check_in_again(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    first = await day.checkin.check_in(desk, "DB001")
    assert first.checkin is not None
    day.clock.advance(timedelta(minutes=5))  # [checkin] undo_minutes = 5, the edge included
    undone = await day.checkin.undo(desk, first.checkin.id)
    assert undone.step is CheckinStep.UNDONE and undone.checkin is not None
    assert (undone.checkin.undone_at, undone.checkin.undone_by) == (day.clock.now(), desk.actor)
    assert (await day.checkin.undo(desk, first.checkin.id)).step is CheckinStep.ALREADY_UNDONE
    assert (await day.checkin.count()).present == 0
    again = await day.checkin.check_in(desk, "DB001")
    assert again.step is CheckinStep.CHECKED_IN
    assert [row.undone_at is None for row in await rows_of(day.services)] == [False, True]


async def test_after_the_window_a_desk_may_not_undo_and_the_office_still_may(day: Day) -> None:
    # A wrong tap found at noon must not stay in the attendance report: the office corrects it.
    desk = await day.desk("NV02", "Bàn 1")
    office = await day.desk("NV01", "Văn phòng", role=Role.OFFICE)
    first = await day.checkin.check_in(desk, "DB001")
    assert first.checkin is not None
    day.clock.advance(timedelta(hours=4))
    assert (await day.checkin.undo(desk, first.checkin.id)).step is CheckinStep.TOO_LATE
    assert (await day.checkin.count()).present == 1
    assert (await day.checkin.undo(office, first.checkin.id)).step is CheckinStep.UNDONE
    assert (await day.checkin.count()).present == 0


async def test_a_tap_sent_late_records_her_arrival_at_the_first_tap_and_undoes_from_the_entry(
    day: Day,
) -> None:
    """The hall's network dropped at 07:30: the desk's first tap was not recorded, the tap
    that went at 08:10 recorded DB001 as arrived at 08:10 (the attendance's «Giờ đến», and
    the hall's figure by then, wrong by 40 minutes). The page sends how long ago its first tap
    was: she arrived at 07:30; the entry is 08:10, from which the undo window counts, and
    «Vừa điểm danh» lists it first, as the one just made."""
    desk = await day.desk("NV02", "Bàn 1")
    tapped = day.clock.now()
    day.clock.advance(timedelta(minutes=38))
    other = await day.checkin.check_in(desk, "DB002")  # arrived and entered at 08:08
    day.clock.advance(timedelta(minutes=2))
    late = await day.checkin.check_in(desk, "DB001", late=timedelta(minutes=40))
    assert late.step is CheckinStep.CHECKED_IN and late.checkin is not None
    assert (late.checkin.at, late.checkin.entered) == (tapped, day.clock.now())
    [row] = [r for r in await rows_of(day.services) if r.full_name == "Phạm Thị Thanh Mai"]
    assert (row.checked_in_at, row.entered_at) == (tapped, day.clock.now())
    recent = await day.checkin.recent(desk)
    assert [view.id for view in recent] == [late.checkin.id, other.checkin.id]  # type: ignore[union-attr]
    day.clock.advance(timedelta(minutes=5))  # 45 minutes after she came, 5 after the entry
    assert (await day.checkin.undo(desk, late.checkin.id)).step is CheckinStep.UNDONE


@pytest.mark.parametrize(
    ("late", "why"),
    [
        (timedelta(hours=2, seconds=1), "older than two hours: a page left open since a try"),
        (timedelta(0), "no wait at all"),
        (timedelta(hours=1), "before the day's start: 00:30 less an hour is 27/5"),
    ],
)
async def test_a_late_tap_s_time_is_taken_within_two_hours_on_the_same_day_only(
    day: Day, late: timedelta, why: str
) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    if why.startswith("before"):
        day.clock.set(local(2024, 5, 28, 0, 30))  # an hour back is 27/5: not this day
    result = await day.checkin.check_in(desk, "DB001", late=late)
    assert result.checkin is not None and result.checkin.at == day.clock.now(), why


async def test_a_guest_tapped_late_is_recorded_as_arrived_at_the_first_tap(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    day.clock.advance(timedelta(minutes=20))
    result = await day.checkin.guest(desk, "Nguyễn Văn Khách", late=timedelta(minutes=15))
    assert result.checkin is not None
    assert result.checkin.at == day.clock.now() - timedelta(minutes=15)
    assert result.checkin.entered == day.clock.now()


async def test_another_desk_may_not_undo_but_the_office_may(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    other = await day.desk("NV03", "Bàn 2")
    office = await day.desk("NV01", "Văn phòng", role=Role.OFFICE)
    first = await day.checkin.check_in(desk, "DB001")
    assert first.checkin is not None
    assert (await day.checkin.undo(other, first.checkin.id)).step is CheckinStep.OTHER_DESK
    assert (await day.checkin.undo(office, first.checkin.id)).step is CheckinStep.UNDONE
    assert (await day.checkin.undo(desk, 99999)).step is CheckinStep.UNKNOWN_CHECKIN


async def test_the_undo_window_comes_from_the_plan(day: Day) -> None:
    config = day.services.config
    longer = config.model_copy(
        update={"checkin": config.checkin.model_copy(update={"undo_minutes": 15})}
    )
    services = await build_services(longer, day.services.ctx.sessions, day.clock)
    assert services.checkin.undo_window == timedelta(minutes=15)
    assert day.checkin.undo_window == timedelta(minutes=5)


# --- the audit log -------------------------------------------------------------------------------


async def test_check_ins_and_undos_are_audited_with_desk_and_person(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    result = await day.checkin.check_in(desk, "DB003", substitute_name="Lê Thu Trang")
    guest = await day.checkin.guest(desk, "Hoàng Văn Nam", organization="Báo Hà Nội Mới")
    assert result.checkin is not None and guest.checkin is not None
    await day.checkin.undo(desk, guest.checkin.id)
    await day.checkin.check_in(desk, "DB003")  # already in: nothing audited
    async with day.services.ctx.sessions() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.entity == "checkin").order_by(AuditEntry.id)
            )
        )
    person_id = result.checkin.delegate_id
    assert [(e.actor, e.action, e.entity_id, e.before, e.after) for e in entries] == [
        (desk.actor, "checkin.recorded", result.checkin.id, None,
         {"kind": "substitute", "person_id": person_id, "name": "Lê Thu Trang", "desk": "Bàn 1",
          "position": None, "answer": "substitute"}),
        (desk.actor, "checkin.recorded", guest.checkin.id, None,
         {"kind": "guest", "person_id": None, "name": "Hoàng Văn Nam", "desk": "Bàn 1",
          "position": None, "organization": "Báo Hà Nội Mới"}),
        (desk.actor, "checkin.undone", guest.checkin.id,
         {"kind": "guest", "person_id": None, "name": "Hoàng Văn Nam", "desk": "Bàn 1",
          "position": None, "organization": "Báo Hà Nội Mới"}, None),
    ]  # fmt: skip


# --- search --------------------------------------------------------------------------------------


async def test_a_name_typed_without_diacritics_or_case_is_found(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    hits = await day.checkin.search(desk, "DINH thi thuy ha")
    assert [(hit.person.code, hit.person.full_name) for hit in hits] == [
        ("DB015", "Đinh Thị Thúy Hà")
    ]
    assert [hit.person.code for hit in await day.checkin.search(desk, "db01")] == [
        f"DB01{n}" for n in range(10)
    ]
    assert await day.checkin.search(desk, "  ") == []


async def test_search_lists_in_protocol_order_and_says_who_is_in(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB022")
    hits = await day.checkin.search(desk, "thi", limit=500)
    order = {g.key: g.order for g in day.services.config.groups}
    async with day.services.ctx.sessions() as session:
        expected = [
            code
            for code, _ in sorted(
                (
                    (code, (order[group], rank, code))
                    for code, name, group, rank in await session.execute(
                        select(
                            Delegate.code, Delegate.full_name, Delegate.group_key, Delegate.rank
                        ).where(Delegate.role == "delegate")
                    )
                    if "Thị" in name
                ),
                key=lambda item: item[1],
            )
        ]
    assert [hit.person.code for hit in hits] == expected
    assert [hit.person.code for hit in hits if hit.checked_in] == ["DB022"]
    assert len(await day.checkin.search(desk, "thi", limit=3)) == 3


@pytest.mark.parametrize("typed", ["0386003246", "0386 003 246", "+84 386.003.246", "003246"])
async def test_search_finds_an_invitee_by_the_phone_number_or_its_last_six_digits(
    day: Day, typed: str
) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    assert [hit.person.code for hit in await day.checkin.search(desk, typed)] == ["DB003"]


async def test_a_few_digits_or_a_code_are_not_read_as_a_phone_number(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    assert await day.checkin.search(desk, "03246") == []  # five digits: too few to tell
    assert [hit.person.code for hit in await day.checkin.search(desk, "db003")] == ["DB003"]


async def test_a_guest_named_as_an_invitee_is_recorded_only_once_the_desk_confirms(
    day: Day,
) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    held = await day.checkin.guest(desk, "vu thi HONG nhung", position="Khách")
    assert held.step is CheckinStep.NAMESAKE
    assert held.arrival is not None and held.arrival.person is not None
    assert held.arrival.person.code == "DB003"
    assert await rows_of(day.services) == []
    taken = await day.checkin.guest(desk, "Vũ Thị Hồng Nhung", namesake_ok=True)
    assert taken.step is CheckinStep.CHECKED_IN and taken.checkin is not None
    assert taken.checkin.kind is ArrivalKind.GUEST


async def test_a_guest_recorded_already_is_told_with_when_and_where_and_recorded_only_once_confirmed(
    day: Day,
) -> None:
    # The desk typed «Phạm Văn Khách, Phóng viên» three times: each was a new guest, the hall's
    # total rose with each. The second (at any desk, the name as typed) is now held, with the
    # first's time and desk, until the desk says it is someone else of the name.
    first_desk, other_desk = await day.desk("NV02", "Bàn 1"), await day.desk("NV03", "Bàn 2")
    first = await day.checkin.guest(
        first_desk, "Phạm Văn Khách", position="Phóng viên", request_key="guest-form-1"
    )
    assert first.step is CheckinStep.CHECKED_IN and first.checkin is not None
    day.clock.advance(timedelta(minutes=3))
    held = await day.checkin.guest(
        other_desk, " pham van KHACH ", organization="Báo Phụ nữ Thủ đô", request_key="g-2"
    )
    assert (held.step, held.checkin) == (CheckinStep.GUEST_AGAIN, first.checkin)
    assert (held.checkin.desk, held.checkin.at) == ("Bàn 1", MORNING)
    # A double tap of the first form records nothing and asks nothing.
    tapped = await day.checkin.guest(first_desk, "Phạm Văn Khách", request_key="guest-form-1")
    assert (tapped.step, tapped.checkin) == (CheckinStep.REPEATED, first.checkin)
    assert len(await rows_of(day.services)) == 1
    # «Vẫn ghi khách mới»: another person of that name.
    other = await day.checkin.guest(
        other_desk, "Phạm Văn Khách", organization="Báo Phụ nữ Thủ đô", again_ok=True
    )
    assert other.step is CheckinStep.CHECKED_IN and other.checkin is not None
    assert [g.full_name for g in (await day.checkin.count()).guests] == ["Phạm Văn Khách"] * 2
    # A guest whose record was undone is not in the hall: the name is free again.
    for desk, row in ((first_desk, first.checkin), (other_desk, other.checkin)):
        assert (await day.checkin.undo(desk, row.id)).step is CheckinStep.UNDONE
    again = await day.checkin.guest(first_desk, "Phạm Văn Khách")
    assert again.step is CheckinStep.CHECKED_IN


async def test_two_desks_recording_the_same_guest_at_once_take_turns_and_the_second_is_told(
    engine: AsyncEngine, day: Day
) -> None:
    # PostgreSQL: both desks looked for a guest of the name at once, found none and both
    # recorded her. The second now waits for the guest check's lock, then finds the first's.
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: SQLite's writers take turns anyway (BEGIN IMMEDIATE)")
    desks = [await day.desk("NV02", "Bàn 1"), await day.desk("NV03", "Bàn 2")]
    async with asyncio.timeout(30):
        # Both start while another writer holds the meeting's row (as a notice's numbering
        # does), so that they wait in turn, then run as close together as they can.
        async with unit_of_work(day.services.ctx.sessions) as holder:
            await holder.execute(
                select(Meeting.id)
                .where(Meeting.id == day.services.ctx.meeting_id)
                .with_for_update()
            )
            taps = []
            for waiting, desk in enumerate(desks, start=1):
                taps.append(asyncio.create_task(day.checkin.guest(desk, "Phạm Văn Khách")))
                await until_waiting(engine, waiting, *taps)
        results = [await tap for tap in taps]
    assert [result.step for result in results] == [CheckinStep.CHECKED_IN, CheckinStep.GUEST_AGAIN]
    assert results[1].checkin == results[0].checkin
    assert len(await rows_of(day.services)) == 1


async def test_a_guest_is_recorded_while_an_import_or_a_notice_holds_the_meetings_row(
    engine: AsyncEngine, day: Day
) -> None:
    # PostgreSQL: the guest check locked the meeting's row, which a delegate import holds for
    # its whole run and a notice's numbering takes: «Lưu khách» hung until they were done.
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: SQLite's writers take turns anyway (BEGIN IMMEDIATE)")
    desk = await day.desk("NV02", "Bàn 1")
    async with unit_of_work(day.services.ctx.sessions) as holder:
        await queries.lock_meeting(holder, day.services.ctx.meeting_id)
        async with asyncio.timeout(10):  # it waited for the holder: it never came back
            result = await day.checkin.guest(desk, "Phạm Văn Khách", position="Phóng viên")
    assert result.step is CheckinStep.CHECKED_IN and result.checkin is not None
    assert (result.checkin.full_name, result.checkin.desk) == ("Phạm Văn Khách", "Bàn 1")
    assert len(await rows_of(day.services)) == 1


# --- the count -----------------------------------------------------------------------------------


async def test_attendance_counts_present_and_expected_by_group_in_protocol_order(
    day: Day,
) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    await day.checkin.check_in(desk, "DB003", substitute_name="Lê Thu Trang")
    await day.checkin.check_in(desk, "DB010")  # declined, came
    await day.checkin.guest(desk, "Hoàng Văn Nam")
    count = await day.checkin.count()
    groups = {group.key: group for group in count.groups}
    assert [group.key for group in count.groups] == [
        g.key for g in day.services.config.groups_in_order
    ]
    assert groups["trung_uong_hoi"] == GroupAttendance(
        "trung_uong_hoi", "Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam", AREA, 2, 2, 1, 0, 1
    )  # invited, expected, present, substitutes, still missing
    assert (groups["lanh_dao_thanh_pho"].expected, groups["lanh_dao_thanh_pho"].present) == (1, 1)
    assert groups["lanh_dao_thanh_pho"].substitutes == 1
    declined_group = groups["so_ban_nganh"]
    assert (declined_group.invited, declined_group.expected, declined_group.present) == (10, 0, 1)
    assert (count.invited, count.expected, count.present, count.substitutes) == (80, 3, 3, 1)
    assert (count.declined_present, len(count.guests)) == (1, 1)


async def test_the_missing_list_has_phones_for_the_office_only(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    office = await day.desk("NV01", "Văn phòng", role=Role.OFFICE)
    await day.checkin.check_in(desk, "DB001")
    at_desk = await day.checkin.attendance(desk)
    for_office = await day.checkin.attendance(office)
    local_operator = await day.checkin.attendance(day.services.access.local_operator())
    assert [m.code for m in at_desk.missing] == ["DB002", "DB003"]  # protocol order
    assert [m.phone for m in at_desk.missing] == [None, None]
    assert [m.phone for m in for_office.missing] == [None, "0386 003 246"]  # DB002 has none
    assert local_operator.missing == for_office.missing
    assert for_office.missing[1].substitute_name == "Lê Thu Trang"


async def test_the_missing_list_is_a_page_in_protocol_order_with_the_count_and_a_group_filter(
    day: Day,
) -> None:
    # At 10,000 invitees thousands are missing: the list is a page, the counts say how many.
    office = await day.desk("NV01", "Văn phòng", role=Role.OFFICE)
    checkin = day.checkin
    whole = await checkin.attendance(office, limit=1000)
    codes = [m.code for m in whole.missing]
    assert whole.missing_total == len(codes) == whole.expected and whole.missing_next is None
    first = await checkin.attendance(office, limit=1)
    assert [m.code for m in first.missing] == codes[:1] and first.missing_next == codes[0]
    assert first.missing_total == whole.missing_total  # the count is everyone's, not the page's
    second = await checkin.attendance(office, after=codes[0], limit=1)
    assert [m.code for m in second.missing] == codes[1:2] and second.missing_next == codes[1]
    last = await checkin.attendance(office, after=codes[-2], limit=1)
    assert [m.code for m in last.missing] == codes[-1:] and last.missing_next is None
    group = next(g for g in whole.groups if g.missing > 1)
    mine = await checkin.attendance(office, group=group.key, limit=1000)
    theirs = [m.code for m in mine.missing]
    assert len(theirs) == group.missing and {m.group_key for m in mine.missing} == {group.key}
    assert theirs == [code for code in codes if code in theirs]  # protocol order kept


async def test_the_missing_list_and_the_day_papers_roll_read_a_person_alike(day: Day) -> None:
    # The missing list and the roll (the signature sheet, the name cards, the present list)
    # read the same columns of the invitee and her answer: she is one person on both.
    desk = await day.desk("NV02", "Bàn 1")
    office = await day.desk("NV01", "Văn phòng", role=Role.OFFICE)
    await day.checkin.check_in(desk, "DB001")
    missing = (await day.checkin.attendance(office)).missing
    roll = await day.checkin.roll()
    lines = {line.code: line for line in roll.lines}
    assert [m.code for m in missing] == ["DB002", "DB003"]
    for person in missing:
        line = lines[person.code]
        assert line.came is None
        assert (
            person.full_name, person.position, person.organization, person.group_key,
            person.status, person.substitute_name, person.phone,
        ) == (
            line.full_name, line.position, line.organization, line.group_key,
            line.status, line.substitute_name, line.phone,
        )  # fmt: skip
    substitute = lines["DB003"]
    assert (substitute.status, substitute.substitute_name, substitute.substitute_position) == (
        RsvpStatus.SUBSTITUTE,
        "Lê Thu Trang",
        "Phó Chánh Văn phòng Thành ủy",
    )
    assert substitute.phone == "0386 003 246"
    came = lines["DB001"].came
    assert came is not None and (came.kind, came.desk) == (ArrivalKind.DELEGATE, "Bàn 1")
    present = await day.checkin.roll(present_only=True)
    assert [line.code for line in present.lines] == ["DB001"]


async def test_the_printable_summary_gives_the_numbers_by_group(day: Day) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    await day.checkin.check_in(desk, "DB003", substitute_name="Lê Thu Trang")
    await day.checkin.guest(desk, "Hoàng Văn Nam")
    summary = await day.checkin.summary(desk)
    assert (summary.invited, summary.expected, summary.present) == (80, 3, 2)
    assert (summary.substitutes, summary.guests, summary.in_hall) == (1, 1, 3)
    text = summary_text(VI, summary).splitlines()
    assert text[:9] == [
        "BÁO CÁO SỐ LƯỢNG ĐẠI BIỂU CÓ MẶT",
        day.services.config.meeting.display_title,
        "Tính đến 07:30, Thứ Ba, ngày 28/5/2024",
        "",
        "Đại biểu có mặt: 2, trong đó 2/3 đại biểu dự kiến (tổng số được mời: 80)",
        "Trong đó người dự thay: 1",
        "Khách ngoài danh sách: 1",
        "Tổng số người đã vào hội trường: 3",
        "",
    ]
    assert text[9:12] == [
        "Theo thành phần",
        "1. Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam: có mặt 1, trong đó 1/2 dự kiến (dự "
        "thay 0)",
        "2. Lãnh đạo Thành ủy, HĐND, UBND, Ủy ban MTTQ Việt Nam thành phố: có mặt 1, trong đó 1/1 "
        "dự kiến (dự thay 1)",
    ]
    assert len(text) == 10 + len(day.services.config.groups)


async def test_someone_who_declined_and_came_is_counted_apart_from_those_expected(
    day: Day,
) -> None:
    # DB010 declined and came anyway: «có mặt / dự kiến» read 1/3 with nobody expected in yet
    # (and 3/3 with two still missing once two more came): now 0/3, and one in unexpectedly.
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB010")
    summary = await day.checkin.summary(desk)
    assert (summary.expected, summary.arrived, summary.present, summary.unexpected) == (3, 0, 1, 1)
    text = summary_text(VI, summary).splitlines()
    assert text[4:6] == [
        "Đại biểu có mặt: 1, trong đó 0/3 đại biểu dự kiến (tổng số được mời: 80)",
        "Đến ngoài dự kiến (đã báo không tham dự hoặc chưa trả lời): 1",
    ]
    count = await day.checkin.count()
    assert (count.arrived, count.unexpected, count.missing_total) == (0, 1, 3)
    assert [g.arrived for g in count.groups] == [g.expected - g.missing for g in count.groups]
    assert sum(g.present for g in count.groups) - sum(g.arrived for g in count.groups) == 1


async def test_every_output_counts_the_same_people_present_expected_unexpected_and_guests(
    day: Day,
) -> None:
    # Two expected (one by substitute), one who declined, one who never answered, one guest:
    # the summary, its groups and the report all say 4 delegates in, 2 of 3 expected, 2 not
    # expected, 1 guest, 5 in the hall; the groups' «có mặt» add up with the guest to the hall.
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    await day.checkin.check_in(desk, "DB003", substitute_name="Lê Thu Trang")
    await day.checkin.check_in(desk, "DB010")  # declined
    await day.checkin.check_in(desk, "DB031")  # never answered
    await day.checkin.guest(desk, "Hoàng Văn Nam", organization="Báo HNM")
    summary = await day.checkin.summary(desk)
    text = summary_text(VI, summary).splitlines()
    assert text[4:10] == [
        "Đại biểu có mặt: 4, trong đó 2/3 đại biểu dự kiến (tổng số được mời: 80)",
        "Đến ngoài dự kiến (đã báo không tham dự hoặc chưa trả lời): 2",
        "Trong đó người dự thay: 1",
        "Khách ngoài danh sách: 1",
        "Tổng số người đã vào hội trường: 5",
        "",
    ]
    assert text[11:14] == [
        "1. Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam: có mặt 1, trong đó 1/2 dự kiến (dự "
        "thay 0)",
        "2. Lãnh đạo Thành ủy, HĐND, UBND, Ủy ban MTTQ Việt Nam thành phố: có mặt 1, trong đó 1/1 "
        "dự kiến (dự thay 1)",
        "3. Đại diện lãnh đạo các ban, sở, ngành, đoàn thể thành phố: có mặt 1, trong đó 0/0 dự "
        "kiến (dự thay 0)",
    ]
    assert "6. Chủ tịch Hội LHPN các quận, huyện, thị xã: có mặt 1, trong đó 0/0 dự kiến (dự " \
        "thay 0)" in text  # fmt: skip
    assert sum(line.present for line in summary.lines) + summary.guests == summary.in_hall == 5

    report = await day.services.office_report.collect()
    sheet = office_report_sheets(VI, day.services.config, report)[-1]
    assert len(sheet.rows) == 5  # four invitees and the guest
    assert [list(row) for row in sheet.footer] == [
        [None, "Đại biểu có mặt", 4],
        [None, "Trong đó đại biểu dự kiến: có mặt / dự kiến", "2/3"],
        [None, "Đến ngoài dự kiến (đã báo không tham dự hoặc chưa trả lời)", 2],
        [None, "Trong đó người dự thay", 1],
        [None, "Khách ngoài danh sách", 1],
        [None, "Tổng số người trong hội trường", 5],
    ]


async def test_one_checked_in_then_listed_as_a_task_contact_stays_in_the_hall_as_an_invitee(
    day: Day,
) -> None:
    """A contacts file naming an invitee does not make her a task contact only (her role is
    kept, and the import says so): checked in before, she stays among the invitees in and in
    the hall's total on the live page, the printed summary and the report."""
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    await day.checkin.guest(desk, "Hoàng Văn Nam", organization="Báo HNM")
    contact = delegate_row("DB001", group_key="", role="contact", phone=None, rank=None)
    imported = await day.services.delegates.import_rows([contact], actor="test")
    assert imported.role_kept == ["DB001"]
    page = await day.checkin.attendance(desk)
    assert (page.present, page.arrived, len(page.guests), page.withdrawn, page.in_hall) == (
        1, 1, 1, [], 2,
    )  # fmt: skip
    text = summary_text(VI, await day.checkin.summary(desk)).splitlines()
    assert text[4] == "Đại biểu có mặt: 1, trong đó 1/3 đại biểu dự kiến (tổng số được mời: 80)"
    assert text[7] == "Tổng số người đã vào hội trường: 2"
    report = await day.services.office_report.collect()
    sheet = office_report_sheets(VI, day.services.config, report)[-1]
    footer = [list(row) for row in sheet.footer]
    assert (footer[0], footer[-1]) == (
        [None, "Đại biểu có mặt", 1], [None, "Tổng số người trong hội trường", 2],
    )  # fmt: skip


async def test_two_rows_present_for_one_invitee_are_refused_by_the_database(day: Day) -> None:
    """The partial unique index: even a writer that skipped the check cannot let one invitee
    in twice on one meeting day."""
    desk = await day.desk("NV02", "Bàn 1")
    first = await day.checkin.check_in(desk, "DB001")
    assert first.checkin is not None
    now = day.clock.now()
    with pytest.raises(IntegrityError, match=r"(?i)unique"):
        async with day.services.ctx.sessions() as session, session.begin():
            session.add(
                Checkin(
                    meeting_id=day.services.ctx.meeting_id, delegate_id=first.checkin.delegate_id,
                    kind="delegate", full_name="x", desk="Bàn 2", checked_in_at=now,
                    checked_in_by="web:1", staff_name="x", day=first.checkin.day,
                )
            )  # fmt: skip
    async with day.services.ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Checkin)) == 1


NO_WEB = load_config(EXAMPLE_CONFIG).config.model_copy(update={"web": None})


async def office_chat(day: Day) -> ChatAccount:
    """NV01, granted the office role, linked in a chat."""
    access = day.services.access
    await access.grant(access.local_operator(), "NV01", Role.OFFICE)
    return await day.account("NV01")


async def thongke(day: Day, staff: ChatAccount) -> str:
    """What /thongke answers ``staff`` in her chat."""
    chat = Chat(staff.chat_address, is_group=False)
    command = Command(account=staff, chat=chat, event_id=None, name="thongke", args=())
    answer = await Inbox(day.services, VI).handle(command, ChannelInfo("telegram", CAPABILITIES))
    parts = [part for reply in answer.replies for part in reply.outbound.parts]
    return " ".join(part.html for part in parts if isinstance(part, TextPart))


@pytest.mark.parametrize("config", [NO_WEB], ids=["no web"])
async def test_thongke_without_a_reception_desk_leaves_out_the_hall_until_someone_checks_in(
    day: Day,
) -> None:
    """Review of s32: with no [web] there is no desk, yet /thongke opened on the meeting day
    with «Đại biểu có mặt: 0 … chưa đến: 3» and a pointer to a page that does not exist. The
    answers alone; the hall once anyone was checked in after all."""
    staff = await office_chat(day)
    assert (await thongke(day, staff)).startswith("📊 <b>Thống kê xác nhận tham dự</b>")
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    assert (await thongke(day, staff)).startswith(
        "🏛 <b>Hôm nay họp: có mặt trong hội trường</b>\nĐại biểu có mặt: <b>1</b>"
    )


@pytest.mark.parametrize("config", [NO_WEB], ids=["no web"])
async def test_thongke_without_web_points_to_the_command_that_writes_the_missing_list(
    day: Day,
) -> None:
    """Without [web] (a check-in recorded by the CLI, say) there is no «Có mặt» page: the hall
    block points to `hoinghi attendance present`, whose «Chưa có mặt» sheet has the phones."""
    staff = await office_chat(day)
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    said = await thongke(day, staff)
    assert "trang «Có mặt»" not in said
    assert said.startswith(
        "🏛 <b>Hôm nay họp: có mặt trong hội trường</b>\nĐại biểu có mặt: <b>1</b> (trong đó"
        " 1/3 đại biểu dự kiến); tổng số người trong hội trường: <b>1</b>; đại biểu dự kiến chưa"
        " đến: <b>2</b> (danh sách kèm số điện thoại: lệnh <code>hoinghi attendance present"
        " co-mat.xlsx</code> trên máy chủ, trang «Chưa có mặt» của tệp).\n"
    )


def test_the_ended_hall_line_without_web_names_baocao_and_the_commands() -> None:
    """After the end, without [web]: no «Giấy mời và báo cáo» on a site that does not exist."""
    hall = Attendance(
        at=MORNING, groups=[], invited=3, expected=2, present=1, substitutes=0,
        declined_present=0, guests=[], missing_total=1,
    )  # fmt: skip
    said = hall_line(VI, hall, "11:30, 28/5", web=False)
    assert "Giấy mời và báo cáo" not in said
    assert said.endswith(
        "đại biểu dự kiến không đến: <b>1</b>. Báo cáo tổng hợp: /baocao (hoặc lệnh <code>hoinghi"
        " report bao-cao.xlsx</code> trên máy chủ); danh sách có mặt và chưa có mặt: lệnh"
        " <code>hoinghi attendance present co-mat.xlsx</code>.\n"
    )


def test_the_hall_line_writes_its_figures_as_the_quota_line_does() -> None:
    """Review of s32: «chưa đến: 1234» where the quota line under it reads «1.234»."""
    hall = Attendance(
        at=MORNING, groups=[], invited=1300, expected=1250, present=1210, substitutes=0,
        declined_present=0, guests=[], missing_total=40,
    )  # fmt: skip
    assert hall_line(VI, hall) == (
        "🏛 <b>Hôm nay họp: có mặt trong hội trường</b>\nĐại biểu có mặt: <b>1.210</b> (trong đó"
        " 1.210/1.250 đại biểu dự kiến); tổng số người trong hội trường: <b>1.210</b>; đại biểu"
        " dự kiến chưa đến: <b>40</b> (danh sách kèm số điện thoại ở trang «Có mặt»).\n"
    )


def test_thongke_writes_the_answers_and_the_groups_grouped_by_thousands() -> None:
    """/thongke's hall line read «1.210» while the answers under it read «Tham dự: 8234» and
    «10000 đại biểu»: every figure of the message grouped as the locale writes them."""
    from collections import Counter

    from bot.chat.replies import counts
    from bot.services.reports import Counts, GroupTally, Tally

    tally = Tally(total=10000, linked=8800, by_status=Counter({
        RsvpStatus.NO_ANSWER: 766, RsvpStatus.ATTENDING: 8034, RsvpStatus.DECLINED: 1000,
        RsvpStatus.SUBSTITUTE: 200}))  # fmt: skip
    config = load_config(EXAMPLE_CONFIG).config
    result = Counts(capacity=7500, overall=tally, groups=[GroupTally("a", "Lãnh đạo", tally)])
    lines = counts(VI, config, result)
    assert lines[1] == (
        "Tổng số đại biểu: <b>10.000</b> (đã liên kết tài khoản: 8.800)\n✅ Tham dự: <b>8.034</b>"
        "\n👤 Cử người dự thay: <b>200</b>\n❌ Không tham dự: <b>1.000</b>\n⏳ Chưa trả lời:"
        " <b>766</b>\nDự kiến có mặt: <b>8.234</b>/7.500 chỗ"
    )
    assert lines[2] == "⚠️ Số người dự kiến có mặt (8.234) vượt sức chứa hội trường (7.500 chỗ)."
    assert lines[-1] == (
        "1. Lãnh đạo: 10.000 đại biểu — tham dự 8.034, dự thay 200, không dự 1.000, chưa trả"
        " lời 766"
    )


def test_the_summary_text_and_the_workbook_s_hall_totals_group_by_thousands() -> None:
    """The printed summary as text (the terminal, a chat) and the workbook's «Điểm danh»
    totals read «8034/9000» where the dashboard reads «8.034/9.000»: grouped alike."""
    from bot.services.checkin import AttendanceSummary, SummaryLine
    from bot.services.report_file import checkin_sheet

    summary = AttendanceSummary(
        title="Hội nghị", at=MORNING, invited=10000, expected=9000, present=8234,
        substitutes=1500, guests=1200, arrived=8034, in_hall=9434,
        lines=[SummaryLine("Lãnh đạo", expected=9000, present=8234, substitutes=1500,
                           arrived=8034)],
    )  # fmt: skip
    text = summary_text(VI, summary).split("\n")
    assert text[4:] == [
        "Đại biểu có mặt: 8.234, trong đó 8.034/9.000 đại biểu dự kiến (tổng số được mời: 10.000)",
        "Đến ngoài dự kiến (đã báo không tham dự hoặc chưa trả lời): 200",
        "Trong đó người dự thay: 1.500",
        "Khách ngoài danh sách: 1.200",
        "Tổng số người đã vào hội trường: 9.434",
        "",
        "Theo thành phần",
        "1. Lãnh đạo: có mặt 8.234, trong đó 8.034/9.000 dự kiến (dự thay 1.500)",
    ]
    hall = Attendance(
        at=MORNING, groups=[], invited=10000, expected=9000, present=8234, substitutes=1500,
        declined_present=0, guests=[], missing_total=966,
    )  # fmt: skip
    sheet = checkin_sheet(VI, load_config(EXAMPLE_CONFIG).config, [], hall)
    assert [None, "Trong đó đại biểu dự kiến: có mặt / dự kiến", "8.034/9.000"] in sheet.footer


# --- the report workbook and the export ------------------------------------------------------


async def test_the_report_workbook_has_a_checkin_sheet_with_the_record_and_totals(
    day: Day,
) -> None:
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB003", substitute_name="Lê Thu Trang")
    await day.checkin.guest(desk, "Hoàng Văn Nam", position="Phóng viên", organization="Báo HNM")
    first = await day.checkin.check_in(desk, "DB001")
    assert first.checkin is not None
    day.clock.advance(timedelta(minutes=1))
    other = await day.desk("NV05", "Bàn 1")  # another clerk at the same desk undoes it
    await day.checkin.undo(other, first.checkin.id)
    report = await day.services.office_report.collect()
    sheets = office_report_sheets(VI, day.services.config, report)
    sheet = sheets[-1]
    assert sheet.title == "Điểm danh"
    assert list(sheet.headings) == [
        "STT", "Mã", "Đại biểu được mời", "Thành phần", "Người đến", "Chức vụ", "Đơn vị",
        "Tư cách", "Trả lời giấy mời", "Bàn đón tiếp", "Giờ điểm danh", "Người điểm danh",
        "Hủy lúc", "Người hủy",
    ]  # fmt: skip
    at = MORNING.replace(tzinfo=None)
    rows = [[c.replace(tzinfo=None) if isinstance(c, datetime) else c for c in row]
            for row in sheet.rows]  # fmt: skip
    assert rows == [
        [1, "DB001", "Phạm Thị Thanh Mai", "Đại diện lãnh đạo Trung ương Hội LHPN Việt Nam",
         "Phạm Thị Thanh Mai", "Phó Chủ tịch Hội LHPN Việt Nam", "Trung ương Hội LHPN Việt Nam",
         "Đại biểu", "Tham dự", "Bàn 1", at, "Trần Thị Mỹ Duyên", at + timedelta(minutes=1),
         "Đỗ Thị Yến Nhi"],  # the name of who undid it, not their account
        [2, "DB003", "Vũ Thị Hồng Nhung", "Lãnh đạo Thành ủy, HĐND, UBND, Ủy ban MTTQ Việt Nam "
         "thành phố", "Lê Thu Trang", None, "Thành ủy Hà Nội", "Người dự thay",
         "Cử người dự thay", "Bàn 1", at, "Trần Thị Mỹ Duyên", None, None],
        [3, None, None, None, "Hoàng Văn Nam", "Phóng viên", "Báo HNM", "Khách ngoài danh sách",
         None, "Bàn 1", at, "Trần Thị Mỹ Duyên", None, None],
    ]  # fmt: skip
    assert [list(row) for row in sheet.footer] == [
        [None, "Đại biểu có mặt", 1],
        [None, "Trong đó đại biểu dự kiến: có mặt / dự kiến", "1/3"],
        [None, "Đến ngoài dự kiến (đã báo không tham dự hoặc chưa trả lời)", 0],
        [None, "Trong đó người dự thay", 1],
        [None, "Khách ngoài danh sách", 1],
        [None, "Tổng số người trong hội trường", 2],
    ]


def lists_imported_and_two_checked_in(office: Path) -> None:
    """The example delegates and contacts imported with the command line, then at «Bàn 1»
    DB001 checked in and one guest (Hoàng Văn Nam, Báo Hà Nội Mới) recorded."""
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["people", "import", str(CONTACTS)]) == 0

    async def check_in(app):  # type: ignore[no-untyped-def]
        access, checkin = app.services.access, app.services.checkin
        desk = access.office_desk(access.local_operator(), "Bàn 1")
        await checkin.check_in(desk, "DB001")
        await checkin.guest(desk, "Hoàng Văn Nam", organization="Báo Hà Nội Mới")

    on_the_office_database(office, check_in)


def test_attendance_export_writes_every_checkin_to_csv(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lists_imported_and_two_checked_in(office)
    capsys.readouterr()
    assert main(["attendance", "export", "diem-danh.csv"]) == 0
    assert capsys.readouterr().out.strip() == (
        "Đã xuất 2 lượt điểm danh ra diem-danh.csv (đại biểu có mặt 1, trong đó 0/0 đại biểu dự "
        "kiến và 1 đến ngoài dự kiến; khách 1; tổng số người trong hội trường 2)."
    )
    with (office / "diem-danh.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:5] == ["STT", "Mã", "Đại biểu được mời", "Thành phần", "Người đến"]
    assert [(row[1], row[4], row[7], row[9]) for row in rows[1:]] == [
        ("DB001", "Phạm Thị Thanh Mai", "Đại biểu", "Bàn 1"),
        ("", "Hoàng Văn Nam", "Khách ngoài danh sách", "Bàn 1"),
    ]
    assert main(["attendance", "export", "diem-danh.txt"]) == 2  # only .csv or .xlsx


def test_attendance_export_counts_one_checked_in_then_listed_as_a_task_contact_in_the_hall(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """«people import» of a contacts file naming an invitee already checked in keeps her an
    invitee; the export's figures count her among the invitees in and in the hall."""
    lists_imported_and_two_checked_in(office)
    listing = CONTACTS.read_text(encoding="utf-8").splitlines()
    contacts = office / "dau-moi.csv"
    contacts.write_text(
        "\n".join([*listing, "DB001,Phạm Thị Thanh Mai,Phó Chủ tịch,Trung ương Hội,,,,đầu mối"]),
        encoding="utf-8",
    )
    capsys.readouterr()
    assert main(["people", "import", str(contacts)]) == 0
    assert "DB001" in capsys.readouterr().out
    assert main(["attendance", "export", "diem-danh.csv"]) == 0
    assert capsys.readouterr().out.strip() == (
        "Đã xuất 2 lượt điểm danh ra diem-danh.csv (đại biểu có mặt 1, trong đó 0/0 đại biểu dự "
        "kiến và 1 đến ngoài dự kiến; khách 1; tổng số người trong hội trường 2)."
    )


def test_chuatraloi_counts_its_list_grouped_by_thousands() -> None:
    """/chuatraloi at a big meeting read «Đại biểu chưa trả lời: 1766», «(tiếp theo, từ người
    thứ 1201)»: its title, its groups' counts and its footer grouped as /thongke's figures."""
    from bot.chat.replies import unanswered
    from bot.services.reports import Unanswered, UnansweredGroup, UnansweredPage

    person = Unanswered("DB1201", "Người Số 1201", "Chuyên viên", "Văn phòng Hội", linked=True)
    page = UnansweredPage(total=1766, before=1200, groups=[
        UnansweredGroup("a", "Lãnh đạo", [person], total=1500)])  # fmt: skip
    said = unanswered(VI, page, budget=4000)
    assert said.lines[0] == (
        "⏳ <b>Đại biểu chưa trả lời: 1.766</b> (tiếp theo, từ người thứ 1.201)"
    )
    assert said.lines[1] == "\n<b>Lãnh đạo</b> (1.500)"
    assert said.lines[-1].startswith("\nĐã hiện 1.201–1.201 trong số 1.766 người.")


# --- a meeting of several days -------------------------------------------------------------------


def two_days(config: Config) -> Config:
    """``config``'s meeting ending on the next day: 28/5 08:00 to 29/5 11:30."""
    meeting = config.meeting
    ends = meeting.model_copy(update={"ends_at": meeting.ends_at + timedelta(days=1)})
    return config.model_copy(update={"meeting": ends})


async def test_at_a_meeting_of_several_days_the_desk_is_told_the_day_of_an_earlier_check_in(
    day: Day,
) -> None:
    """Day one's check-in read at the desk on day two: «07:30» alone would be taken for this
    morning's; the card says «07:30, 28/5». A one-day meeting keeps the time alone."""
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    day.clock.set(MORNING + timedelta(days=1))
    arrival = await day.checkin.lookup(desk, "DB001")
    assert notice_line(VI, two_days(day.services.config).meeting, arrival) == (
        "Đã điểm danh đại biểu Phạm Thị Thanh Mai lúc 07:30, 28/5, do Trần Thị Mỹ Duyên "
        "(Bàn 1): không cần điểm danh lại."
    )
    assert notice_line(VI, day.services.config.meeting, arrival) == (
        "Đã điểm danh đại biểu Phạm Thị Thanh Mai lúc 07:30, do Trần Thị Mỹ Duyên (Bàn 1): "
        "không cần điểm danh lại."
    )


async def test_at_a_meeting_of_several_days_the_present_list_gives_each_arrival_s_day(
    day: Day,
) -> None:
    """The «Giờ đến» column of the present list (page and workbook) holds both days' arrivals:
    each with its day. A one-day meeting's list keeps the time alone."""
    desk = await day.desk("NV02", "Bàn 1")
    await day.checkin.check_in(desk, "DB001")
    day.clock.set(MORNING + timedelta(days=1, minutes=5))
    await day.checkin.check_in(desk, "DB002")
    roll = await day.checkin.roll()
    _, rows = present_table(VI, two_days(day.services.config), roll)
    assert [(row[2], row[6]) for row in rows] == [
        ("Phạm Thị Thanh Mai", "07:30, 28/5"),
        ("Hoàng Thị Ngọc Diệp", "07:35, 29/5"),
    ]
    _, rows = present_table(VI, day.services.config, roll)
    assert [row[6] for row in rows] == ["07:30", "07:35"]
