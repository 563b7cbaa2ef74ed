"""Use cases without a chat: importing delegates, invitations, RSVP rules and office counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.delegate_file import DelegateRow
from bot.domain.channels import ChatAccount
from bot.domain.clock import ManualClock
from bot.domain.rsvp import RsvpAnswer, RsvpStatus, a_name_alone, answers_open
from bot.domain.tokens import TOKEN_BYTES, looks_like_token, new_token
from bot.domain.typed import bare_name
from bot.services import Services
from bot.services.invitations import LinkOutcome
from bot.services.invitees import Invitee, invited_as
from bot.services.meetings import (
    CalendarRevision,
    invited_substitutes,
    stored_meeting,
    sync_meeting,
)
from bot.services.rsvp import RsvpChoice, RsvpStep
from bot.texts import load_catalog
from handlers.telegram.links import deep_link
from storage.models import AuditEntry, Delegate, Invitation, Meeting, OutboundMessage, Rsvp
from tests.conftest import local

ALICE = ChatAccount("telegram", "42", "42")


def row(code: str, **changes: object) -> DelegateRow:
    """A valid delegate row."""
    base = DelegateRow(
        row=2,
        code=code,
        full_name="Nguyễn Thị Lan",
        position="Chủ tịch",
        organization="Hội LHPN quận Ba Đình",
        group_key="chu_tich_cap_huyen",
        phone="+84912345001",
        rank=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def count(services: Services, model: type) -> int:  # type: ignore[type-arg]
    """Rows of a table."""
    async with services.ctx.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_reimport_updates_by_code_and_never_duplicates(services: Services) -> None:
    first = await services.delegates.import_rows([row("A1"), row("A2")], actor="t")
    again = await services.delegates.import_rows(
        [row("A1", position="Phó Chủ tịch"), row("A2")], actor="t"
    )
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    assert (again.created, again.updated, again.unchanged, again.absent) == (0, 1, 1, [])
    assert await count(services, Delegate) == 2
    assert await count(services, Invitation) == 2
    assert await count(services, Rsvp) == 2


async def test_reimport_keeps_tokens_answers_and_reports_delegates_left_out(
    services: Services,
) -> None:
    await services.delegates.import_rows([row("A1"), row("A2")], actor="t")
    tokens = {link.code: link.token for link in await services.invitations.links()}
    await services.invitations.link_by_token(ALICE, tokens["A1"])
    await services.rsvp.choose(ALICE, RsvpChoice.ATTEND)
    summary = await services.delegates.import_rows(
        [row("A1", full_name="Nguyễn Thị Lan Anh")], actor="t"
    )
    assert summary.absent == ["A2"]
    assert {link.code: link.token for link in await services.invitations.links()} == tokens
    assert (await services.invitations.whoami(ALICE)).rsvp.status is RsvpStatus.ATTENDING  # type: ignore[union-attr]


async def test_audit_log_never_holds_a_full_phone_number(services: Services) -> None:
    await services.delegates.import_rows([row("A1")], actor="cli:import")
    await services.delegates.import_rows([row("A1", phone="+84912345999")], actor="cli:import")
    async with services.ctx.sessions() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.actor, e.action) for e in entries] == [
        ("cli:import", "delegate.created"),
        ("cli:import", "delegate.updated"),
    ]
    assert entries[1].before["phone"] == "+84*******001"  # type: ignore[index]
    assert entries[1].after["phone"] == "+84*******999"  # type: ignore[index]
    assert "912345" not in str([e.before for e in entries] + [e.after for e in entries])


def test_tokens_have_192_bits_and_fit_a_deep_link() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert TOKEN_BYTES * 8 >= 128
    assert all(len(t) == 32 and looks_like_token(t) for t in tokens)
    link = deep_link("hoinghi_bot", next(iter(tokens)))
    assert len(link.split("start=")[1]) <= 64


def test_answers_are_open_up_to_and_including_the_deadline(clock) -> None:  # type: ignore[no-untyped-def]
    deadline = clock.now()
    assert answers_open(deadline - timedelta(seconds=1), deadline)
    assert answers_open(deadline, deadline)
    assert not answers_open(deadline + timedelta(microseconds=1), deadline)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": RsvpStatus.SUBSTITUTE, "substitute_name": "A"},
        {"status": RsvpStatus.ATTENDING, "substitute_name": "A", "substitute_position": "B"},
        {"status": RsvpStatus.ATTENDING, "reason": "x"},
    ],
)
def test_incoherent_answers_cannot_be_built(kwargs: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        RsvpAnswer(**kwargs)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("Đồng chí Lê Văn Hùng", "Lê Văn Hùng"),
        ("đ/c Lê Văn Hùng", "Lê Văn Hùng"),
        ("Đ.c: Hùng", "Hùng"),
        ("Đoàn Văn Chí", "Đoàn Văn Chí"),
        ("Đồng Chính Nghĩa", "Đồng Chính Nghĩa"),
        ("Đồng Chí Thanh", "Đồng Chí Thanh"),
        ("ĐỒNG CHÍ LÊ VĂN HÙNG", "LÊ VĂN HÙNG"),
        ("Đ. Cường", "Đ. Cường"),
        ("đồng chí", "đồng chí"),
    ],
)
def test_a_name_typed_with_its_honorific_is_kept_without_it(typed: str, kept: str) -> None:
    assert bare_name(typed) == kept


@pytest.mark.parametrize(
    ("typed", "alone"),
    [
        ("Lê Thị Hương", True),
        ("Đ/c Lê Thị Hương", True),
        ("Lê Thị Hương,", True),  # a comma left at the end
        ("H'Hen Niê", True),
        ("Đồng Chí Thanh", True),  # a name, not the honorific
        ("Lê Thị Hương, Phó Chủ tịch", False),
        ("Lê Thị Hương 0912345678", False),
        ("Lê Thị Hương\nPhó Chủ tịch", False),
        ("Lê Thị Hương; PCT", False),
        ("Đồng chí", False),
        ("đ/c", False),
        ("Y-Blim Niê", True),  # a hyphen within a name
        ("Lê Thị Hương - Phó Chủ tịch UBND huyện", False),
        ("Nguyễn Thị Dự Thay (mô phỏng)", True),  # a note kept with a name, as the rehearsal's
        ("Lê Thị Hương – Phó Chủ tịch", False),
        ("Lê Thị Hương/ Phó chủ tịch", False),
    ],
)
def test_a_substitute_s_name_is_a_name_alone_not_her_position_or_phone_with_it(
    typed: str, alone: bool
) -> None:
    assert a_name_alone(typed) is alone


# Two invitees of one name and unit (DB030 and DB031 here): who is meant is not guessed (s36
# F3); a namesake in another unit (DB044) is another person.
CITY, BA_DINH = "Hội LHPN thành phố Hà Nội", "Hội LHPN quận Ba Đình"
_INVITEES = (
    Invitee("DB023", "Trương Thị Bích Ngọc", "+84855023370", CITY),
    Invitee("DB030", "Nguyễn Thị Lan", "+84912000030", CITY),
    Invitee("DB031", "Nguyễn Thị Lan", "+84912000031", CITY),
    Invitee("DB044", "Nguyễn Thị Hoa", "+84912000044", BA_DINH),
)


@pytest.mark.parametrize(
    ("name", "phone", "unit", "found"),
    [
        ("Trương Thị Bích Ngọc", None, CITY, "DB023"),
        ("truong thi bich ngoc", None, "hoi lhpn thanh pho ha noi", "DB023"),  # as a phone types
        ("Trương Thị Bích Ngọc", "+84912345678", CITY, None),  # another phone: another person
        ("Bích Ngọc", "+84855023370", BA_DINH, "DB023"),  # her phone, whatever name and unit
        ("Trương Thị Bích Ngộc", None, CITY, None),  # a mark apart: another name
        ("Nguyễn Thị Lan", None, CITY, None),  # two invitees so named: not guessed
        ("Nguyễn Thị Lan", "+84912000031", CITY, "DB031"),
        ("Nguyễn Thị Hoa", None, BA_DINH, "DB044"),
        ("Nguyễn Thị Hoa", None, "Hội LHPN huyện Sóc Sơn", None),  # her namesake elsewhere
    ],
)
def test_a_substitute_is_an_invitee_by_her_phone_or_without_one_by_her_name_and_unit(
    name: str, phone: str | None, unit: str, found: str | None
) -> None:
    invitee = invited_as(_INVITEES, name, phone, unit)
    assert (invitee.code if invitee is not None else None) == found


async def test_an_invitee_who_declined_or_sent_her_own_substitute_may_come_in_another_s_place(
    imported: Services,
) -> None:
    """She is no one's double when she is not coming on her own invitation: DB022's deputy
    DB023 declined, so DB022 may send her (and the office record it)."""
    office = imported.access.local_operator()
    chair = await imported.dashboard.card("DB022")
    deputy_card = await imported.dashboard.card("DB023")
    assert chair is not None and deputy_card is not None
    deputy = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Trương Thị Bích Ngọc",
        substitute_position="Phó Chủ tịch",
    )  # fmt: skip
    refused = await imported.rsvp.record_by_phone(office, chair.person.id, deputy)
    assert (refused.step, refused.invitee_code) == (RsvpStep.SUBSTITUTE_IS_INVITED, "DB023")
    declined = RsvpAnswer(RsvpStatus.DECLINED, reason="Bận công tác")
    await imported.rsvp.record_by_phone(office, deputy_card.person.id, declined)
    taken = await imported.rsvp.record_by_phone(office, chair.person.id, deputy)
    assert taken.step is RsvpStep.RECORDED


async def test_an_invitee_whose_invitation_was_withdrawn_may_be_recorded_as_a_substitute(
    imported: Services,
) -> None:
    """Only a standing invitation makes her come on her own: once the office withdrew DB023's,
    her chair may send her (and the office record it), as any other substitute."""
    office = imported.access.local_operator()
    chair = await imported.dashboard.card("DB022")
    assert chair is not None
    deputy = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Trương Thị Bích Ngọc",
        substitute_position="Phó Chủ tịch",
    )  # fmt: skip
    refused = await imported.rsvp.record_by_phone(office, chair.person.id, deputy)
    assert (refused.step, refused.invitee_code) == (RsvpStep.SUBSTITUTE_IS_INVITED, "DB023")
    await imported.withdrawals.withdraw(office, "DB023")
    taken = await imported.rsvp.record_by_phone(office, chair.person.id, deputy)
    assert taken.step is RsvpStep.RECORDED


async def test_check_names_the_substitutes_recorded_before_who_have_their_own_invitation(
    imported: Services,
) -> None:
    """Answers recorded before the refusal (s36 F3): DB022's deputy by her name and unit
    (DB023), DB040's substitute by DB024's phone; DB010's substitute, invited by no one, is not
    named, nor one who is the phone of DB022, who is not coming herself. Codes only: this goes
    to the log too."""
    stored_as = {
        "DB022": ("Trương Thị Bích Ngọc", None),
        "DB040": ("Hà Thị Thủy", "+84912345024"),
        "DB041": ("Nguyễn Thị Hải", "+84773022519"),
        "DB010": ("Lê Văn B", "+84912345678"),
    }
    async with imported.ctx.sessions() as session, session.begin():
        for code, (name, phone) in stored_as.items():
            person = await session.scalar(
                select(Delegate).where(
                    Delegate.meeting_id == imported.ctx.meeting_id, Delegate.code == code
                )
            )
            assert person is not None
            await session.execute(
                update(Rsvp)
                .where(Rsvp.delegate_id == person.id)
                .values(status="substitute", substitute_name=name, substitute_phone=phone)
            )
    stored = await stored_meeting(imported.ctx.sessions, imported.ctx.config.meeting.code)
    problems = invited_substitutes(stored)
    assert [(p.key, p.code, p.params) for p in problems] == [
        (
            "rsvps.substitute_name", "invited_substitutes",
            {"count": 2, "pairs": "DB022 → DB023, DB040 → DB024"},
        )
    ]  # fmt: skip
    said = load_catalog().plain("config_warnings.invited_substitutes", **problems[0].params)
    assert said.startswith(
        "2 câu trả lời «Cử người dự thay» ghi người dự thay là một đại biểu khác cũng được mời "
        "(mã đại biểu → mã người được cử: DB022 → DB023, DB040 → DB024)."
    )


async def test_unlinked_account_cannot_answer(imported: Services) -> None:
    assert (await imported.rsvp.choose(ALICE, RsvpChoice.ATTEND)).step is RsvpStep.NOT_LINKED
    assert (await imported.rsvp.submit_text(ALICE, "lý do")).step is RsvpStep.NOT_LINKED


async def test_the_office_records_a_phone_answer_after_the_deadline_marked_as_late(
    imported: Services, clock: ManualClock
) -> None:
    """On 26/5, after the deadline (21/5 17:00), a chair phones: she is ill, her deputy comes.
    The office records it as before the deadline, marked as taken after it; the counts follow.
    The deadline still binds her in chat; and, as before the deadline, the office's recording
    sends her no message."""
    office = imported.access.local_operator()
    tokens = {link.code: link.token for link in await imported.invitations.links()}
    await imported.invitations.link_by_token(ALICE, tokens["DB010"])
    await imported.rsvp.choose(ALICE, RsvpChoice.ATTEND)
    card = await imported.dashboard.card("DB010")
    assert card is not None
    early = await imported.rsvp.record_by_phone(
        office, card.person.id, RsvpAnswer(RsvpStatus.DECLINED, reason="Trùng lịch")
    )
    assert (early.step, early.late) == (RsvpStep.RECORDED, False)
    clock.set(local(2024, 5, 26, 10, 0))
    closed = await imported.rsvp.choose(ALICE, RsvpChoice.ATTEND)  # she herself may not
    assert closed.step is RsvpStep.CLOSED
    deputy = RsvpAnswer(
        RsvpStatus.SUBSTITUTE, substitute_name="Đồng chí Lê Thu Trang",
        substitute_position="Phó Chủ tịch Hội LHPN quận",
    )  # fmt: skip
    late = await imported.rsvp.record_by_phone(office, card.person.id, deputy)
    assert (late.step, late.late, late.previous) == (RsvpStep.RECORDED, True, RsvpStatus.DECLINED)
    assert late.rsvp is not None and late.rsvp.substitute_name == "Lê Thu Trang"
    assert late.rsvp.answered_at == clock.now()
    async with imported.ctx.sessions() as session:
        audits = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "rsvp.changed", AuditEntry.entity_id == card.person.id)
                .order_by(AuditEntry.id)
            )
        )
        told = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.audience == f"person:{card.person.id}")
        )
    assert [(a.after or {}).get("via") for a in audits] == [None, "phone", "phone_late"]
    assert audits[-1].after == {
        "status": "substitute", "reason": None, "substitute_name": "Lê Thu Trang",
        "substitute_position": "Phó Chủ tịch Hội LHPN quận", "substitute_unit": None,
        "substitute_phone": None, "via": "phone_late", "by": "",
    }  # fmt: skip
    assert told == 0
    counts = await imported.reports.counts()
    assert counts.overall.by_status[RsvpStatus.SUBSTITUTE] == 1
    assert counts.overall.by_status[RsvpStatus.DECLINED] == 0
    again = await imported.rsvp.record_by_phone(office, card.person.id, deputy)
    assert (again.step, again.late) == (RsvpStep.UNCHANGED, True)


async def test_a_pending_question_survives_a_restart(
    imported: Services, config, sessions, clock
) -> None:  # type: ignore[no-untyped-def]
    from bot.services import build_services

    token = (await imported.invitations.links())[0].token
    await imported.invitations.link_by_token(ALICE, token)
    assert (
        await imported.rsvp.choose(ALICE, RsvpChoice.SUBSTITUTE)
    ).step is RsvpStep.ASK_SUBSTITUTE_NAME
    restarted = await build_services(config, sessions, clock)  # a new process, the same database
    assert (
        await restarted.rsvp.submit_text(ALICE, "Lê Thị Hoa")
    ).step is RsvpStep.ASK_SUBSTITUTE_POSITION
    asked = await restarted.rsvp.submit_text(ALICE, "Phó Chủ tịch")
    assert (asked.step, asked.own_unit) == (
        RsvpStep.ASK_SUBSTITUTE_UNIT,
        "Trung ương Hội LHPN Việt Nam",
    )
    again = await build_services(config, sessions, clock)  # and again, before the unit's tap
    assert (
        await again.rsvp.choose(ALICE, RsvpChoice.SAME_UNIT)
    ).step is RsvpStep.ASK_SUBSTITUTE_PHONE
    result = await again.rsvp.choose(ALICE, RsvpChoice.SKIP_PHONE)
    assert result.step is RsvpStep.RECORDED
    assert result.rsvp is not None
    assert (
        result.rsvp.substitute_name, result.rsvp.substitute_position,
        result.rsvp.substitute_unit, result.rsvp.substitute_phone,
    ) == ("Lê Thị Hoa", "Phó Chủ tịch", "Trung ương Hội LHPN Việt Nam", None)  # fmt: skip


async def test_the_reason_prompts_no_reason_choice_taken_after_the_reason_keeps_it(
    imported: Services,
) -> None:
    # Telegram: the «Không nêu lý do» button under the prompt, tapped after typing the reason.
    token = (await imported.invitations.links())[0].token
    await imported.invitations.link_by_token(ALICE, token)
    assert (await imported.rsvp.choose(ALICE, RsvpChoice.DECLINE)).step is RsvpStep.ASK_REASON
    await imported.rsvp.submit_text(ALICE, "Bận công tác")
    late = await imported.rsvp.choose(ALICE, RsvpChoice.DECLINE_WITHOUT_REASON)
    assert late.step is RsvpStep.CONFIRMED
    assert late.rsvp is not None and late.rsvp.reason == "Bận công tác"
    mine = await imported.invitations.whoami(ALICE)
    assert mine is not None and mine.rsvp is not None and mine.rsvp.reason == "Bận công tác"


async def test_counts_put_groups_in_protocol_order_and_tally_presence(imported: Services) -> None:
    links = await imported.invitations.links()
    for number, link in enumerate(links[:3]):
        account = ChatAccount("telegram", str(number), str(number))
        assert (
            await imported.invitations.link_by_token(account, link.token)
        ).outcome is LinkOutcome.LINKED
        await imported.rsvp.choose(account, RsvpChoice.ATTEND)
    counts = await imported.reports.counts()
    assert [g.key for g in counts.groups][:2] == ["trung_uong_hoi", "lanh_dao_thanh_pho"]
    assert (counts.overall.total, counts.overall.linked, counts.overall.present) == (80, 3, 3)
    assert counts.groups[0].tally.by_status[RsvpStatus.ATTENDING] == 2
    page = await imported.reports.unanswered(limit=100)
    assert (page.total, page.people) == (77, 77)


async def test_reimport_matches_codes_without_case(services: Services) -> None:
    await services.delegates.import_rows([row("DB001")], actor="t")
    summary = await services.delegates.import_rows(
        [row("db001", position="Phó Chủ tịch")], actor="t"
    )
    assert (summary.created, summary.updated, summary.absent) == (0, 1, [])
    assert await count(services, Delegate) == 1


# --- the meeting's calendar event ---------------------------------------------------------------


def moved(config: Config, by: timedelta) -> Config:
    meeting = config.meeting.model_copy(
        update={"starts_at": config.meeting.starts_at + by, "ends_at": config.meeting.ends_at + by}
    )
    return config.model_copy(update={"meeting": meeting})


async def test_a_plan_that_moves_the_meeting_earlier_revises_its_calendar_event(
    config: Config, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    first = await sync_meeting(sessions, config, clock)
    assert first.calendar == CalendarRevision(sequence=0, revised_at=clock.now())

    clock.advance(timedelta(days=1))
    same = await sync_meeting(sessions, config, clock)  # a restart with the same plan
    assert same == first

    clock.advance(timedelta(days=1))
    earlier = await sync_meeting(sessions, moved(config, -timedelta(hours=2)), clock)
    # A higher SEQUENCE and a later DTSTAMP: calendar apps holding the first file take this one,
    # though the meeting now starts earlier than the first file's DTSTAMP would suggest.
    assert earlier.id == first.id
    assert earlier.calendar == CalendarRevision(sequence=1, revised_at=clock.now())


def venue_renamed(config: Config) -> Config:
    venue = config.meeting.venue.model_copy(update={"name": "Hội trường tầng 2"})
    return config.model_copy(update={"meeting": config.meeting.model_copy(update={"venue": venue})})


def agenda_retitled(config: Config) -> Config:
    first = config.agenda[0].model_copy(update={"title": "Đón tiếp đại biểu, phát tài liệu"})
    return config.model_copy(update={"agenda": [first, *config.agenda[1:]]})


def in_english(config: Config) -> Config:
    return config.model_copy(update={"meeting": config.meeting.model_copy(update={"locale": "en"})})


@pytest.mark.parametrize("change", [venue_renamed, agenda_retitled, in_english])
async def test_any_change_the_calendar_file_shows_revises_the_event(
    config: Config,
    sessions: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    change: Callable[[Config], Config],
) -> None:
    await sync_meeting(sessions, config, clock)
    clock.advance(timedelta(hours=1))
    changed = await sync_meeting(sessions, change(config), clock)
    assert changed.calendar == CalendarRevision(sequence=1, revised_at=clock.now())


async def test_a_plan_change_the_calendar_event_does_not_show_keeps_its_revision(
    config: Config, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    first = await sync_meeting(sessions, config, clock)
    clock.advance(timedelta(days=1))
    quieter = config.model_copy(
        update={"outbox": config.outbox.model_copy(update={"rate_per_second": 10})}
    )
    assert (await sync_meeting(sessions, quieter, clock)).calendar == first.calendar


async def test_a_meeting_row_kept_before_calendar_revisions_gets_revision_one(
    config: Config, sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    # Its files said SEQUENCE 0 with a DTSTAMP at the meeting's start, later than now.
    await sync_meeting(sessions, config, clock)
    async with sessions() as session, session.begin():
        await session.execute(update(Meeting).values(calendar_fingerprint=None))
    clock.advance(timedelta(hours=1))
    synced = await sync_meeting(sessions, config, clock)
    assert synced.calendar == CalendarRevision(sequence=1, revised_at=clock.now())
