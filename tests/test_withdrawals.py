"""Withdrawing an invitation («Rút giấy mời») and giving it back («Mời lại»): the person stays on
the list, marked, and is out of every audience, count and document; what was queued for her is
not sent; her chats and page say the invitation is no longer in effect; the desk sees it; the
office is told what work she still has. From the service, the chat, the pages and the CLI."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.channels import ChatAccount
from bot.domain.outbound import Audience, DeliveryStatus, MessageKind, MessageStatus
from bot.domain.rsvp import RsvpAnswer, RsvpChoice, RsvpStatus
from bot.services import Services
from bot.services.access import DeskActor
from bot.services.checkin import ArrivalKind, CheckinStep, Notice, notice_line, summary_text
from bot.services.dashboard import Filters
from bot.services.report_file import checkin_sheet, office_report_sheets
from bot.services.rsvp import RsvpStep
from bot.services.withdrawals import WithdrawalStep, withdrawal_lines
from bot.texts import load_catalog
from storage.models import (
    AuditEntry,
    Delegate,
    Delivery,
    OutboundMessage,
    Rsvp,
    Task,
    TaskAssignment,
)
from storage.uow import unit_of_work
from tests.conftest import EXAMPLE_DELEGATES, EXAMPLE_MEETING, local
from tests.harness import OFFICE_CHAT, BotHarness, add_notice_due
from tests.office_support import STAFF, Desk, make_staff, text_of
from tests.test_outbox import texts
from tests.test_staff import on_the_office_database
from tests.web_support import flash, form_fields, web_for

CATALOG = load_catalog("vi")
GONE = "giấy mời gửi đồng chí không còn hiệu lực"
# The notice, word for word, with the example plan's title and the office's contact.
NOTICE = (
    "Văn phòng đã điều chỉnh danh sách đại biểu dự Hội nghị sơ kết giữa nhiệm kỳ thực hiện Nghị "
    "quyết Đại hội đại biểu Phụ nữ thành phố Hà Nội lần thứ XVII, nhiệm kỳ 2021 – 2026; giấy mời "
    "gửi đồng chí không còn hiệu lực, đồng chí không cần trả lời. Trân trọng cảm ơn đồng chí. Mọi "
    "thông tin xin liên hệ Văn phòng: đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 "
    "3834 5678."
)


async def withdraw(services: Services, code: str, reason: str | None = None) -> WithdrawalStep:
    """The office withdraws ``code``'s invitation from the command line's actor."""
    office = services.access.local_operator()
    return (await services.withdrawals.withdraw(office, code, reason)).step


def groups(services: Services) -> list[FileGroup]:
    """The plan's groups, as the list parser knows them."""
    return [FileGroup(g.key, g.label) for g in services.config.groups]


async def link(services: Services, code: str, user_id: int) -> ChatAccount:
    """``code`` links a Telegram account with their personal link."""
    tokens = {item.code: item.token for item in await services.invitations.links()}
    account = ChatAccount("telegram", str(user_id), str(user_id))
    await services.invitations.link_by_token(account, tokens[code])
    return account


# --- the roster: audiences, counts, documents ---------------------------------------------------


async def test_a_withdrawn_invitation_is_out_of_the_counts_the_audiences_and_the_links(
    imported: Services,
) -> None:
    assert await withdraw(imported, "DB005", "Đơn vị cử người khác") is WithdrawalStep.WITHDRAWN
    counts = await imported.reports.counts()
    assert counts.overall.total == 79
    assert counts.overall.by_status[RsvpStatus.NO_ANSWER] == 79
    assert (await imported.dashboard.figures()).counts.overall.total == 79
    assert (await imported.reports.unanswered(limit=100)).total == 79
    assert (await imported.checkin.count()).invited == 79
    async with imported.ctx.sessions() as session:
        person = await imported.audiences.people(session, Audience.EVERYONE, ["telegram"])
        chased = await imported.audiences.people(session, Audience.NO_ANSWER, ["telegram"])
        group = await imported.audiences.people(session, "group:lanh_dao_thanh_pho", ["telegram"])
    withdrawn_id = (await imported.dashboard.card("DB005")).person.id  # type: ignore[union-attr]
    for audience in (person, chased, group):
        assert withdrawn_id not in {addressee.delegate_id for addressee in audience}
    assert len(person) == 79
    links = [link.code for link in await imported.invitations.links()]
    assert "DB005" not in links and "DB006" in links  # nor on the slips printed from them
    assert await imported.invitations.link_counts() == (79, 79)


async def test_the_notice_preview_counts_no_withdrawn_invitation(imported: Services) -> None:
    office = imported.access.local_operator()
    await withdraw(imported, "DB005")
    draft = await imported.broadcasts.start(office)
    assert draft.message_id is not None
    await imported.broadcasts.accept_text(office, "Thông báo thử")
    preview = await imported.broadcasts.choose_audience(office, draft.message_id, "everyone")
    assert preview.reach is not None
    assert preview.reach.not_linked == 79
    assert "DB005" not in [code for code, _ in preview.reach.first_not_linked]


async def test_the_delegate_list_and_the_report_show_the_withdrawn_person_marked(
    imported: Services,
) -> None:
    await withdraw(imported, "DB005", "Mời nhầm")
    listing = await imported.dashboard.delegates(Filters(group="lanh_dao_thanh_pho"))
    [row] = [row for row in listing.rows if row.code == "DB005"]
    assert row.withdrawn
    only = await imported.dashboard.delegates(Filters(answer="withdrawn"))
    assert [row.code for row in only.rows] == ["DB005"]
    # Who is left to phone is asked by answer or reach: she is not among them.
    silent = await imported.dashboard.delegates(Filters(answer="no_answer"), limit=100)
    assert "DB005" not in [row.code for row in silent.rows]
    report = await imported.office_report.collect()
    sheets = office_report_sheets(CATALOG, imported.config, report)
    delegates = sheets[0]
    [line] = [r for r in delegates.rows if r[1] == "DB005"]
    assert line[6] == "Đã rút giấy mời: Mời nhầm"
    assert len(delegates.rows) == 80  # listed, not hidden


# --- withdrawing and re-inviting: audit, repeats, refusals ----------------------------------------


async def test_withdraw_and_reinvite_are_audited_and_a_repeat_changes_nothing(
    imported: Services,
) -> None:
    account = await link(imported, "DB005", 501)
    await imported.rsvp.choose(account, RsvpChoice.ATTEND)
    assert (
        await withdraw(imported, "DB005", "  Đơn vị   cử người khác ") is WithdrawalStep.WITHDRAWN
    )
    again = await imported.withdrawals.withdraw(imported.access.local_operator(), "db005")
    assert again.step is WithdrawalStep.ALREADY_WITHDRAWN
    assert again.person is not None and again.person.withdrawn_reason == "Đơn vị cử người khác"
    office = imported.access.local_operator()
    back = await imported.withdrawals.reinvite(office, "DB005")
    assert back.step is WithdrawalStep.REINVITED
    assert (await imported.withdrawals.reinvite(office, "DB005")).step is (
        WithdrawalStep.NOT_WITHDRAWN
    )
    async with imported.ctx.sessions() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("invitation.%"))
                .order_by(AuditEntry.id)
            )
        )
        assert back.person is not None
        answer = await session.scalar(select(Rsvp.status).where(Rsvp.delegate_id == back.person.id))
    assert [(e.action, e.actor) for e in entries] == [
        ("invitation.withdrawn", "cli"),
        ("invitation.reinvited", "cli"),
    ]
    assert entries[0].after == {"reason": "Đơn vị cử người khác", "by": None, "told": False}
    assert answer == RsvpStatus.ATTENDING  # her answer as she left it
    assert (await imported.reports.counts()).overall.total == 80


async def test_withdrawing_refuses_an_unknown_code_a_task_contact_and_a_long_reason(
    imported: Services,
) -> None:
    assert await withdraw(imported, "DB999") is WithdrawalStep.UNKNOWN_CODE
    assert await withdraw(imported, "DB005", "x" * 501) is WithdrawalStep.TOO_LONG
    assert (await imported.reports.counts()).overall.total == 80  # nothing changed
    contacts = EXAMPLE_DELEGATES.parent / "contacts.csv"
    parsed = parse_delegate_file(contacts, groups(imported))
    await imported.delegates.import_rows(parsed.rows, actor="test")
    assert await withdraw(imported, "NV01") is WithdrawalStep.NOT_INVITED


async def test_withdrawing_a_speaker_names_the_drafts_she_keeps_and_her_group_s_task_leaves_her(
    imported: Services,
) -> None:
    office = imported.access.local_operator()

    async def districts_task_holders() -> list[str]:
        """Who holds VI.2, the task the plan gives the district chairs' group."""
        async with imported.ctx.sessions() as session:
            codes = await session.scalars(
                select(Delegate.code)
                .join(TaskAssignment, TaskAssignment.person_id == Delegate.id)
                .join(Task, Task.id == TaskAssignment.task_id)
                .where(Task.key == "VI.2")
            )
            return list(codes)

    assert "DB031" in await districts_task_holders()  # a district chair
    card = await imported.dashboard.card("DB031")
    assert card is not None
    # The confirmation names what stays hers: the speech, not the group's task, which leaves her.
    before = await imported.withdrawals.open_work(card.person.id)
    assert ([s.theme_key for s in before.speeches], before.tasks) == (["1.1"], [])
    result = await imported.withdrawals.withdraw(office, "DB031")
    assert result.step is WithdrawalStep.WITHDRAWN
    assert ([s.theme_key for s in result.work.speeches], result.work.tasks) == (["1.1"], [])
    assert "DB031" not in await districts_task_holders()
    lines = withdrawal_lines(CATALOG.plain, result, "DB031")
    assert lines[0].startswith("Đã rút giấy mời của đồng chí ")
    assert any("vẫn được giữ nguyên cho đến khi Văn phòng phân công lại" in line for line in lines)
    assert any("/phancong huy DB031 1.1" in line for line in lines)
    assert not any(line.startswith("• Nhiệm vụ ") for line in lines)
    await imported.withdrawals.reinvite(office, "DB031")
    assert "DB031" in await districts_task_holders()


async def test_a_withdrawal_changes_her_task_assignments_and_no_one_elses(
    imported: Services,
) -> None:
    # A plan edited since the last sync (a contact added to VI.1.1): that is the import's and
    # the plan reload's to apply, not a withdrawal's.
    config = imported.config
    tasks = [
        t.model_copy(update={"contacts": [*t.contacts, "DB040"]}) if t.key == "VI.1.1" else t
        for t in config.tasks
    ]
    object.__setattr__(imported.ctx, "config", config.model_copy(update={"tasks": tasks}))

    async def holders() -> set[tuple[str, str]]:
        async with imported.ctx.sessions() as session:
            rows = await session.execute(
                select(Task.key, Delegate.code)
                .join(TaskAssignment, TaskAssignment.task_id == Task.id)
                .join(Delegate, Delegate.id == TaskAssignment.person_id)
            )
            return {(key, code) for key, code in rows}

    before = await holders()
    assert ("VI.2", "DB031") in before and ("VI.1.1", "DB040") not in before
    await withdraw(imported, "DB031")
    assert await holders() == before - {("VI.2", "DB031")}
    await imported.withdrawals.reinvite(imported.access.local_operator(), "DB031")
    assert await holders() == before


async def test_the_import_no_longer_calls_a_withdrawn_person_absent(imported: Services) -> None:
    parsed = parse_delegate_file(EXAMPLE_DELEGATES, groups(imported))
    rows = [row for row in parsed.rows if row.code not in ("DB005", "DB006")]
    await withdraw(imported, "DB005")
    summary = await imported.delegates.import_rows(rows, actor="test")
    assert summary.absent == ["DB006"]


# --- the person: chats, page --------------------------------------------------------------------


async def test_her_answers_are_not_taken_and_say_the_invitation_is_no_longer_in_effect(
    imported: Services,
) -> None:
    account = await link(imported, "DB005", 501)
    await imported.rsvp.choose(account, RsvpChoice.DECLINE)  # the bot asks for a reason
    await withdraw(imported, "DB005")
    tapped = await imported.rsvp.choose(account, RsvpChoice.ATTEND)
    typed = await imported.rsvp.submit_text(account, "Bận công tác")
    assert tapped.step is RsvpStep.WITHDRAWN
    assert typed.step is RsvpStep.NOTHING_PENDING  # the question ended with the withdrawal
    person = (await imported.dashboard.card("DB005")).person  # type: ignore[union-attr]
    office = imported.access.local_operator()
    phoned = await imported.rsvp.record_by_phone(
        office, person.id, RsvpAnswer(RsvpStatus.ATTENDING)
    )
    assert phoned.step is RsvpStep.WITHDRAWN
    card = await imported.dashboard.card("DB005")
    assert card is not None and card.rsvp.status is RsvpStatus.DECLINED  # as she left it


async def test_a_reason_typed_after_the_withdrawal_to_a_question_asked_before_is_not_taken(
    imported: Services,
) -> None:
    account = await link(imported, "DB005", 501)
    await imported.rsvp.choose(account, RsvpChoice.DECLINE)  # the bot asks for a reason
    await withdraw(imported, "DB005")
    typed = await imported.rsvp.submit_text(account, "Bận công tác")
    assert typed.step is RsvpStep.WITHDRAWN
    card = await imported.dashboard.card("DB005")
    assert card is not None and (card.rsvp.status, card.rsvp.reason) == (RsvpStatus.DECLINED, None)
    again = await imported.rsvp.submit_text(account, "Bận công tác")
    assert again.step is RsvpStep.NOTHING_PENDING  # the question ended with the withdrawal


async def test_the_notice_reads_word_for_word_alike_in_chat_on_her_page_and_in_the_message(
    harness: BotHarness,
) -> None:
    office = harness.services.access.local_operator()
    user = await harness.open_invitation("DB004")
    card = user.last_message
    web = await web_for(harness.services)
    form_page = (await web.open("DB004")).text
    await harness.services.withdrawals.withdraw(office, "DB004", tell=True)
    await harness.tick()
    assert user.last_text() == NOTICE  # the bot's message telling her
    await harness.send(user.tap("✅ Tham dự", message=card))
    assert user.last_text() == NOTICE
    await harness.send(user.command("/trangthai"))
    assert user.last_text() == NOTICE
    await harness.send(user.text("xin chào"))
    assert user.last_text() == NOTICE
    assert text_of((await web.open("DB004")).text, "withdrawn-notice") == NOTICE
    fields = form_fields(form_page, "form-attend")
    posted = await web.client.post(
        f"/{web.tokens['DB004']}/rsvp", data={**fields, "choice": "attend"}
    )
    if posted.status_code == 303:
        posted = await web.client.get(posted.headers["location"])
    assert flash(posted.text) == NOTICE
    await web.client.aclose()


async def test_on_telegram_her_taps_and_commands_get_the_notice_without_choices(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB005")
    card = user.last_message
    await withdraw(harness.services, "DB005")
    await harness.send(user.tap("✅ Tham dự", message=card))
    assert GONE in user.last_text()
    assert "reply_markup" not in user.last_message
    await harness.send(user.command("/trangthai"))
    assert GONE in user.last_text()
    assert "reply_markup" not in user.last_message
    await harness.send(user.text("xin chào"))
    assert GONE in user.last_text()
    answer = (await harness.services.dashboard.card("DB005")).rsvp.status  # type: ignore[union-attr]
    assert answer is RsvpStatus.NO_ANSWER


async def test_her_personal_page_says_the_list_was_adjusted_and_offers_no_answer(
    imported: Services,
) -> None:
    web = await web_for(imported)
    before = (await web.open("DB005")).text
    assert 'id="form-attend"' in before
    await withdraw(imported, "DB005")
    page = (await web.open("DB005")).text
    assert GONE in text_of(page, "withdrawn-notice")
    assert imported.config.office.contact in text_of(page, "withdrawn-notice")
    assert 'id="form-attend"' not in page and 'id="answer"' not in page
    # A form kept open from before is refused the same way, and changes nothing.
    await imported.withdrawals.reinvite(imported.access.local_operator(), "DB005")
    form_page = (await web.open("DB005")).text
    await withdraw(imported, "DB005")
    fields = form_fields(form_page, "form-attend")
    posted = await web.client.post(
        f"/{web.tokens['DB005']}/rsvp", data={**fields, "choice": "attend"}
    )
    if posted.status_code == 303:
        posted = await web.client.get(posted.headers["location"])
    assert GONE in flash(posted.text)
    card = await imported.dashboard.card("DB005")
    assert card is not None and card.rsvp.status is RsvpStatus.NO_ANSWER
    await web.client.aclose()


# --- the outbox ---------------------------------------------------------------------------------


async def test_what_was_queued_for_her_is_not_sent_and_the_report_says_why(
    harness: BotHarness,
) -> None:
    kept = await harness.open_invitation("DB004")
    dropped = await harness.open_invitation("DB005")
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        notice = await add_notice_due(
            session, harness.services.ctx.meeting_id, "Thông báo thử", now
        )
    await harness.outbox.queue_due()  # her copy is queued before the office withdraws her
    sent_before = len(harness.fake.messages_to(dropped.id))
    await withdraw(harness.services, "DB005")
    await harness.tick()
    assert "Thông báo thử" in kept.last_text()
    assert len(harness.fake.messages_to(dropped.id)) == sent_before
    async with harness.services.ctx.sessions() as session:
        skipped = (
            await session.execute(
                select(Delivery.status, Delivery.last_error).where(
                    Delivery.message_id == notice.id, Delivery.status == DeliveryStatus.SKIPPED
                )
            )
        ).all()
    assert skipped == [(DeliveryStatus.SKIPPED, "withdrawn")]
    report = harness.fake.messages_to(OFFICE_CHAT)[-1]["text"]
    assert "Không gửi vì Văn phòng đã rút giấy mời (1):" in report
    assert "• DB005 — " in report


async def test_a_message_about_the_work_she_keeps_still_reaches_her(harness: BotHarness) -> None:
    """Her speech and tasks stay hers until the office reassigns them (the withdrawal says so):
    what is about them (a theme assigned, a comment, a verdict, a task's reminder) still goes,
    where what goes to her as an invitee does not."""
    speaker = await harness.open_invitation("DB005")
    office = harness.services.access.local_operator()
    await harness.services.drafts.assign(office, "DB005", "1.1")
    await harness.outbox.queue_due()  # the assignment is queued before the office withdraws her
    result = await harness.services.withdrawals.withdraw(office, "DB005")
    # Held back: only the reminder queued with it, which asks for a draft no longer taken.
    assert result.unsent == 1
    await harness.tick()
    assert "1.1" in speaker.last_text()
    assert not any("nhắc đồng chí gửi tham luận" in t for t in texts(harness, speaker.id))


async def test_a_batch_of_withdrawn_invitations_does_not_hold_up_the_rest(
    harness: BotHarness,
) -> None:
    first = await harness.open_invitation("DB004")
    after = await harness.open_invitation("DB005")
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        await add_notice_due(session, harness.services.ctx.meeting_id, "Thông báo thử", now)
    await harness.outbox.queue_due()
    await withdraw(harness.services, "DB004")
    harness.outbox.batch_size = 1  # the first batch holds her copy alone
    received = len(harness.fake.messages_to(first.id))
    await harness.tick()
    assert len(harness.fake.messages_to(first.id)) == received
    assert "Thông báo thử" in after.last_text()


async def test_a_message_queued_for_her_alone_is_skipped_with_the_reason(
    harness: BotHarness,
) -> None:
    await harness.open_invitation("DB005")
    now = harness.clock.now()
    async with harness.services.ctx.sessions() as session, session.begin():
        notice = await add_notice_due(
            session, harness.services.ctx.meeting_id, "Thông báo thử", now
        )
    await harness.outbox.queue_due()
    await withdraw(harness.services, "DB005")
    await harness.tick()
    async with harness.services.ctx.sessions() as session:
        message = await session.get_one(OutboundMessage, notice.id)
    assert message.status == MessageStatus.SKIPPED
    assert (message.params or {})["skip_reason"] == "withdrawn"
    report = await harness.services.office_report.collect()
    [sending] = office_report_sheets(CATALOG, harness.services.config, report)[4:5]
    assert any(
        "không gửi (người nhận đã được rút giấy mời)" in str(cell)
        for row in sending.rows
        for cell in row
    )


async def test_the_bot_tells_her_only_when_the_office_chooses_to(harness: BotHarness) -> None:
    office = harness.services.access.local_operator()
    told = await harness.open_invitation("DB004")
    untold = await harness.open_invitation("DB005")
    received = len(harness.fake.messages_to(untold.id))
    await harness.services.withdrawals.withdraw(office, "DB004", tell=True)
    await harness.services.withdrawals.withdraw(office, "DB005")
    await harness.tick()
    assert GONE in told.last_text()
    assert "reply_markup" not in told.last_message
    assert len(harness.fake.messages_to(untold.id)) == received


async def test_the_message_telling_her_is_not_sent_once_she_is_invited_again(
    harness: BotHarness,
) -> None:
    office = harness.services.access.local_operator()
    user = await harness.open_invitation("DB004")
    received = len(harness.fake.messages_to(user.id))
    await harness.services.withdrawals.withdraw(office, "DB004", tell=True)
    await harness.outbox.queue_due()
    await harness.services.withdrawals.reinvite(office, "DB004")
    await harness.tick()
    assert len(harness.fake.messages_to(user.id)) == received


async def test_inviting_again_one_the_bot_told_of_the_withdrawal_asks_the_office_to_tell_her(
    harness: BotHarness,
) -> None:
    office = harness.services.access.local_operator()
    await harness.open_invitation("DB004")
    await harness.open_invitation("DB005")
    await harness.services.withdrawals.withdraw(office, "DB004", tell=True)
    await harness.services.withdrawals.withdraw(office, "DB005")
    await harness.tick()
    told = await harness.services.withdrawals.reinvite(office, "DB004")
    untold = await harness.services.withdrawals.reinvite(office, "DB005")
    assert withdrawal_lines(CATALOG.plain, told, "DB004")[1:] == [
        "Bot đã nhắn cho đồng chí rằng giấy mời không còn hiệu lực: đề nghị Văn phòng báo lại "
        "cho đồng chí (gọi điện hoặc gửi thông báo) rằng giấy mời có hiệu lực trở lại."
    ]
    assert withdrawal_lines(CATALOG.plain, untold, "DB005")[1:] == []


async def test_the_rsvp_chase_passes_her_by(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB005")
    await harness.open_invitation("DB006")
    await withdraw(harness.services, "DB005")
    await harness.plan(MessageKind.RSVP_REMINDER)
    harness.clock.set(local(2024, 5, 18, 8, 0))
    received = len(harness.fake.messages_to(user.id))
    await harness.tick()
    assert len(harness.fake.messages_to(user.id)) == received
    assert "chưa xác nhận tham dự" in harness.user_for("DB006").last_text()
    async with harness.services.ctx.sessions() as session:
        person = (await harness.services.dashboard.card("DB005")).person  # type: ignore[union-attr]
        copies = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.delegate_id == person.id)
        )
    assert copies == 0  # not in the reminder's audience at all: nobody to phone about her


# --- the check-in desk --------------------------------------------------------------------------


async def test_the_desk_sees_the_withdrawal_and_may_let_her_in_only_as_a_guest(
    imported: Services,
) -> None:
    await make_staff(imported)
    desk_actor = await imported.access.office_person(
        (await imported.dashboard.card(STAFF)).person.id  # type: ignore[union-attr]
    )
    assert desk_actor is not None
    desk = imported.access.office_desk(desk_actor, "Bàn 1")
    await withdraw(imported, "DB005", "Đơn vị cử người khác")
    arrival = await imported.checkin.lookup(desk, "DB005")
    assert Notice.WITHDRAWN in arrival.notices and not arrival.can_check_in
    said = notice_line(CATALOG, imported.config.meeting, arrival)
    assert said is not None and "Văn phòng đã rút giấy mời của người này" in said
    assert "Lý do rút giấy mời: Đơn vị cử người khác." in said
    assert (await imported.checkin.check_in(desk, "DB005")).step is CheckinStep.WITHDRAWN
    [hit] = await imported.checkin.search(desk, "DB005")
    assert hit.person.withdrawn and hit.needs_a_look
    name = hit.person.full_name
    # Her name typed in the guest form: her card is offered (its guest button ties the guest
    # to her); «Vẫn ghi là khách» records someone else of the name.
    typed = await imported.checkin.guest(desk, name)
    assert typed.step is CheckinStep.NAMESAKE and typed.arrival is not None
    assert typed.arrival.notices == (Notice.WITHDRAWN,)
    guest = await imported.checkin.guest(desk, name, namesake_ok=True)
    assert guest.step is CheckinStep.CHECKED_IN  # not taken for the invitee she no longer is
    attendance = await imported.checkin.count()
    assert attendance.present == 0 and len(attendance.guests) == 1


async def test_a_guest_named_as_an_invitee_and_a_withdrawn_person_is_shown_the_invitee(
    imported: Services,
) -> None:
    # Two people of one name (common in Vietnam): the one earlier in protocol order withdrawn.
    # The name typed at the desk finds the invitee, whose card checks her in; not the withdrawn
    # card, whose guest button would tie a guest to the wrong record.
    await make_staff(imported)
    office = await imported.access.office_person(
        (await imported.dashboard.card(STAFF)).person.id  # type: ignore[union-attr]
    )
    assert office is not None
    desk = imported.access.office_desk(office, "Bàn 1")
    async with unit_of_work(imported.ctx.sessions) as session:
        first = await session.scalar(select(Delegate).where(Delegate.code == "DB005"))
        later = await session.scalar(select(Delegate).where(Delegate.code == "DB040"))
        assert first is not None and later is not None
        later.full_name = name = first.full_name
    assert (await imported.checkin.guest(desk, name)).arrival.person.code == "DB005"  # type: ignore[union-attr]
    await withdraw(imported, "DB005")
    typed = await imported.checkin.guest(desk, name)
    assert typed.step is CheckinStep.NAMESAKE and typed.arrival is not None
    assert typed.arrival.person is not None and typed.arrival.person.code == "DB040"
    assert typed.arrival.notices == ()


async def test_the_desk_card_of_one_checked_in_then_withdrawn_says_both(
    imported: Services,
) -> None:
    await make_staff(imported)
    office = await imported.access.office_person(
        (await imported.dashboard.card(STAFF)).person.id  # type: ignore[union-attr]
    )
    assert office is not None
    desk = imported.access.office_desk(office, "Bàn 1")
    assert (await imported.checkin.check_in(desk, "DB005")).step is CheckinStep.CHECKED_IN
    await withdraw(imported, "DB005")
    arrival = await imported.checkin.lookup(desk, "DB005")
    assert arrival.notices[:1] == (Notice.ALREADY_IN,) and Notice.WITHDRAWN in arrival.notices
    # Not «record her as a guest»: she is in, and counts in the hall, not among the invitees.
    said = notice_line(CATALOG, imported.config.meeting, arrival)
    assert said is not None and said.endswith(
        "không cần điểm danh lại. Văn phòng đã rút giấy mời của người này: lượt vào này vẫn "
        "được tính trong tổng số người trong hội trường, không tính là đại biểu có mặt."
    )


async def office_desk(services: Services) -> DeskActor:
    """The office's staff member (:data:`STAFF`) at the desk «Bàn 1»."""
    await make_staff(services)
    office = await services.access.office_person(
        (await services.dashboard.card(STAFF)).person.id  # type: ignore[union-attr]
    )
    assert office is not None
    return services.access.office_desk(office, "Bàn 1")


async def test_one_checked_in_then_withdrawn_is_still_in_the_hall_in_every_count(
    imported: Services,
) -> None:
    desk = await office_desk(imported)
    checkin = imported.checkin
    assert (await checkin.check_in(desk, "DB005")).step is CheckinStep.CHECKED_IN
    assert (await checkin.check_in(desk, "DB006")).step is CheckinStep.CHECKED_IN
    await checkin.guest(desk, "Hoàng Văn Nam", organization="Báo Hà Nội Mới")
    await withdraw(imported, "DB005", "Mời nhầm")
    count = await checkin.count()
    # The invitees' figures are about the list as it stands; the hall about who was let in.
    assert (count.invited, count.present, len(count.guests)) == (79, 1, 1)
    assert [came.full_name for came in count.withdrawn] == [
        (await imported.dashboard.card("DB005")).person.full_name  # type: ignore[union-attr]
    ]
    assert count.in_hall == 3
    summary = await checkin.summary(desk)
    assert (summary.withdrawn, summary.in_hall) == (1, 3)
    lines = summary_text(CATALOG, summary).splitlines()
    assert "Đã vào hội trường, sau đó bị rút giấy mời: 1" in lines
    assert "Tổng số người đã vào hội trường: 3" in lines
    sheet = checkin_sheet(CATALOG, imported.config, await checkin.records(), count)
    assert [list(row) for row in sheet.footer][-2:] == [
        [None, "Đã vào hội trường, sau đó bị rút giấy mời", 1],
        [None, "Tổng số người trong hội trường", 3],
    ]
    # Undone, she is out of the hall too.
    [row] = [came for came in count.withdrawn]
    assert (await checkin.undo(desk, row.id)).step is CheckinStep.UNDONE
    assert ((await checkin.count()).withdrawn, (await checkin.count()).in_hall) == ([], 2)


async def test_a_guest_let_in_from_her_withdrawn_card_is_counted_once_when_invited_again(
    imported: Services,
) -> None:
    desk = await office_desk(imported)
    checkin = imported.checkin
    await withdraw(imported, "DB005")
    card = await checkin.lookup(desk, "DB005")
    assert card.can_enter_as_guest and not card.can_check_in
    assert card.person is not None
    let_in = await checkin.guest_of(desk, "DB005", request_key="guest-of-DB005")
    assert let_in.step is CheckinStep.CHECKED_IN and let_in.checkin is not None
    assert let_in.checkin.kind is ArrivalKind.GUEST
    assert let_in.checkin.full_name == card.person.full_name
    assert let_in.checkin.organization == card.person.organization
    assert (await checkin.guest_of(desk, "DB005", request_key="guest-of-DB005")).step is (
        CheckinStep.REPEATED
    )
    assert (await checkin.guest_of(desk, "DB005")).step is CheckinStep.ALREADY_IN
    count = await checkin.count()
    assert (count.present, len(count.guests), count.withdrawn, count.in_hall) == (0, 1, [], 1)
    # Invited again, and brought to the desk as an invitee: she is in already, as a guest.
    await imported.withdrawals.reinvite(imported.access.local_operator(), "DB005")
    again = await checkin.check_in(desk, "DB005")
    assert again.step is CheckinStep.ALREADY_IN and again.checkin == let_in.checkin
    said = notice_line(CATALOG, imported.config.meeting, await checkin.lookup(desk, "DB005"))
    assert said is not None and said.startswith(  # as she counts now: a delegate present
        f"Đã điểm danh đại biểu {card.person.full_name} (vào với tư cách khách khi giấy mời bị "
        "rút; nay đã được mời lại nên được tính là đại biểu có mặt) lúc "
    )
    count = await checkin.count()
    assert (count.present, len(count.guests), count.in_hall) == (1, 0, 1)
    # A card whose invitation stands offers no guest button, and the service refuses it.
    assert not (await checkin.lookup(desk, "DB006")).can_enter_as_guest
    assert (await checkin.guest_of(desk, "DB006")).step is CheckinStep.STILL_INVITED
    assert (await checkin.count()).in_hall == 1


async def test_the_checkin_sheet_rows_say_how_each_withdrawn_person_counts_as_its_totals_do(
    imported: Services,
) -> None:
    desk = await office_desk(imported)
    checkin = imported.checkin
    office = imported.access.local_operator()
    # DB005 checked in, then withdrawn; DB006's substitute likewise.
    assert (await checkin.check_in(desk, "DB005")).step is CheckinStep.CHECKED_IN
    assert (await checkin.check_in(desk, "DB006", substitute_name="Lê Văn Thay")).checkin
    await withdraw(imported, "DB005", "Mời nhầm")
    await withdraw(imported, "DB006")
    # DB007 withdrawn and let in as a guest from her card; DB008 too, then invited again.
    for code in ("DB007", "DB008"):
        await withdraw(imported, code)
        assert (await checkin.guest_of(desk, code)).step is CheckinStep.CHECKED_IN
    await imported.withdrawals.reinvite(office, "DB008")
    count = await checkin.count()
    sheet = checkin_sheet(CATALOG, imported.config, await checkin.records(), count)
    assert {row[1]: row[7] for row in sheet.rows} == {
        "DB005": "Đại biểu — đã bị rút giấy mời sau khi điểm danh",
        "DB006": "Người dự thay — giấy mời của đại biểu đã bị rút sau khi điểm danh",
        "DB007": "Khách ngoài danh sách (giấy mời đã bị rút)",
        "DB008": "Đại biểu (vào với tư cách khách khi giấy mời bị rút)",
    }
    # The totals under them: one delegate (DB008), one guest (DB007), two withdrawn, four in.
    assert [list(row) for row in sheet.footer] == [
        [None, "Đại biểu có mặt", 1],
        [None, "Trong đó đại biểu dự kiến: có mặt / dự kiến", "0/0"],
        [None, "Đến ngoài dự kiến (đã báo không tham dự hoặc chưa trả lời)", 1],
        [None, "Trong đó người dự thay", 0],
        [None, "Khách ngoài danh sách", 1],
        [None, "Đã vào hội trường, sau đó bị rút giấy mời", 2],
        [None, "Tổng số người trong hội trường", 4],
    ]
    # An undone row says as whom it was recorded: it counts nowhere.
    row_of = {view.full_name: view for view, _ in await checkin.records()}
    assert (await checkin.undo(desk, row_of["Lê Văn Thay"].id)).step is CheckinStep.UNDONE
    sheet = checkin_sheet(CATALOG, imported.config, await checkin.records(), await checkin.count())
    assert {row[1]: row[7] for row in sheet.rows}["DB006"] == "Người dự thay"


# --- the dashboard ------------------------------------------------------------------------------


async def test_the_office_withdraws_after_confirming_and_invites_again_on_the_dashboard(
    desk: Desk, imported: Services
) -> None:
    page = (await desk.client.get("/office/delegates/DB005")).text
    assert 'id="withdraw-link"' in page
    confirm = (await desk.client.get("/office/delegates/DB005/withdraw")).text
    assert "Rút giấy mời của đồng chí" in text_of(confirm, "withdraw-what")
    done = await desk.post(
        "delegates/DB005/withdraw", "form-withdraw", {"reason": "Mời nhầm"},
        page="delegates/DB005/withdraw",
    )  # fmt: skip
    assert "Đã rút giấy mời của đồng chí" in flash(done.text)
    assert "Đã rút giấy mời" in text_of(done.text, "withdrawn-status")
    assert "Mời nhầm" in text_of(done.text, "withdrawn-status")
    assert 'id="form-phone"' not in done.text
    listed = (await desk.client.get("/office/delegates?group=lanh_dao_thanh_pho")).text
    assert text_of(listed, "withdrawn-DB005") == "Đã rút giấy mời"
    again = await desk.post("delegates/DB005/reinvite", "form-reinvite", {}, page="delegates/DB005")
    assert "Đã mời lại đồng chí" in flash(again.text)
    assert 'id="withdraw-link"' in again.text
    async with imported.ctx.sessions() as session:
        actors = list(
            await session.scalars(
                select(AuditEntry.actor).where(AuditEntry.action.like("invitation.%"))
            )
        )
    assert actors == [f"dashboard:{STAFF}", f"dashboard:{STAFF}"]


async def test_a_reason_over_the_limit_comes_back_whole_in_the_confirmation_and_nothing_changes(
    desk: Desk, imported: Services
) -> None:
    # The box cuts nothing as it is pasted into (no maxlength); refused, the reason is back in
    # it whole beside why, the choice to tell her kept, the invitation still in effect.
    tokens = {link.code: link.token for link in await imported.invitations.links()}
    await imported.invitations.link_by_token(ChatAccount("telegram", "605", "605"), tokens["DB005"])
    confirm = (await desk.client.get("/office/delegates/DB005/withdraw")).text
    box = re.search(r'<textarea[^>]*\bid="withdraw-reason"[^>]*>', confirm)
    assert box is not None and "maxlength" not in box.group(0)
    reason = "Đơn vị đề nghị thay người vì lý do công tác đột xuất. " * 10 + "HẾT."
    refused = await desk.post(
        "delegates/DB005/withdraw", "form-withdraw", {"reason": reason, "tell": "yes"},
        page="delegates/DB005/withdraw",
    )  # fmt: skip
    assert refused.status_code == 422
    assert text_of(refused.text, "withdraw-error") == (
        "Lý do dài quá 500 ký tự; đề nghị viết gọn lại. Chưa có gì thay đổi."
    )
    assert html.unescape(text_of(refused.text, "withdraw-reason")) == reason
    assert 'name="tell" value="yes" checked' in refused.text
    async with imported.ctx.sessions() as session:
        person = await session.scalar(select(Delegate).where(Delegate.code == "DB005"))
    assert person is not None and person.withdrawn_at is None


async def test_the_list_says_how_many_it_counts_are_withdrawn_and_tell_is_offered_on_a_chat_only(
    desk: Desk, imported: Services
) -> None:
    """After a withdrawal the list read «Có 80 đại biểu phù hợp», the one number differing
    from every other screen (79): it says how many of them are withdrawn. The confirmation
    offered «Nhắn cho đại biểu…» to one no chat reaches: it says to phone her instead."""
    confirm = (await desk.client.get("/office/delegates/DB005/withdraw")).text
    assert 'id="withdraw-tell"' not in confirm
    assert text_of(confirm, "withdraw-no-chat") == (
        "Đại biểu chưa liên kết kênh nhắn tin nào đang chạy (hoặc đã chặn bot) nên bot không"
        " nhắn được: nếu cần báo giấy mời không còn hiệu lực, đề nghị gọi điện cho đại biểu."
    )
    tokens = {link.code: link.token for link in await imported.invitations.links()}
    await imported.invitations.link_by_token(ChatAccount("telegram", "601", "601"), tokens["DB006"])
    on_chat = (await desk.client.get("/office/delegates/DB006/withdraw")).text
    assert 'id="withdraw-tell"' in on_chat and 'id="withdraw-no-chat"' not in on_chat
    await desk.post(
        "delegates/DB005/withdraw", "form-withdraw", {}, page="delegates/DB005/withdraw"
    )
    listed = (await desk.client.get("/office/delegates")).text
    assert text_of(listed, "found") == (
        "Có 80 đại biểu phù hợp, trong đó 1 người đã bị rút giấy mời (vẫn ở danh sách, không"
        " tính trong số liệu)."
    )
    assert text_of((await desk.client.get("/office/")).text, "count-total") == "79"
    only = (await desk.client.get("/office/delegates?answer=withdrawn")).text
    assert text_of(only, "found") == "Có 1 đại biểu phù hợp."
    group = (await desk.client.get("/office/delegates?group=so_ban_nganh")).text
    assert "trong đó" not in text_of(group, "found")


async def test_the_confirmation_names_the_speech_kept_and_points_at_the_boards_form(
    desk: Desk, imported: Services
) -> None:
    confirm = (await desk.client.get("/office/delegates/DB031/withdraw")).text
    speech = (
        "• Tham luận chủ đề 1.1 «Kết quả tuyên truyền, giáo dục, nâng cao nhận thức, bản lĩnh,"
        " trách nhiệm của phụ nữ Thủ đô» (chưa gửi, 0 bản đã gửi): các bản đã gửi vẫn được lưu;"
        " nếu cần người khác trình bày, đề nghị chọn «Hủy phân công» ở dòng của đồng chí trên"
        " trang «Tham luận» (các bản đã gửi vẫn được giữ, hiện riêng dưới chủ đề) rồi phân công"
        " người khác bằng mẫu «Phân công tham luận» ở trang đó."
    )
    work = text_of(confirm, "withdraw-work")
    # Read on the dashboard, the way is the board's form (a link to it), not the chat command.
    assert speech in work and "/phancong" not in work
    link = '<a href="/office/drafts#assign">trang «Tham luận»</a>'
    assert link in confirm
    board = (await desk.client.get("/office/drafts#assign")).text
    assert 'id="assign"' in board and 'id="form-assign"' in board
    # The same after withdrawing, on the person's page.
    done = await desk.post("delegates/DB031/withdraw", "form-withdraw", {})
    said = text_of(done.text, "flash")
    assert speech in said and "/phancong" not in said and link in done.text


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def listed(office: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """The office folder with the example delegates imported."""
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    return office


def test_delegates_withdraw_and_reinvite_say_what_they_did_once(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "withdraw", "db005", "--reason", "Đơn vị cử người khác"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == EXAMPLE_MEETING
    assert out[1].startswith("Đã rút giấy mời của đồng chí ")
    assert out[1].split(". ")[0].endswith("(DB005)")
    assert out[2] == "Lý do: Đơn vị cử người khác"
    assert main(["delegates", "withdraw", "DB005"]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[1]
        .endswith("(DB005) đã được rút từ trước; không có gì thay đổi.")
    )
    assert main(["delegates", "reinvite", "DB005"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("Đã mời lại đồng chí ")
    assert main(["delegates", "reinvite", "DB005"]) == 0
    assert "đang có hiệu lực (chưa bị rút)" in capsys.readouterr().out


def test_the_report_line_counts_the_invitees_and_says_how_many_withdrawn_the_sheet_adds(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "withdraw", "DB005"]) == 0
    assert main(["delegates", "withdraw", "DB006"]) == 0
    capsys.readouterr()
    assert main(["report", "bao-cao.xlsx"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Đã ghi báo cáo vào bao-cao.xlsx: 78 đại biểu (danh sách ghi thêm 2 người đã bị rút giấy "
        "mời, có đánh dấu), 10 tham luận, 5 nhiệm vụ, 0 lượt gửi tin."
    )


def test_attendance_export_counts_one_checked_in_then_withdrawn_in_the_hall(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def check_in(app):  # type: ignore[no-untyped-def]
        access, checkin = app.services.access, app.services.checkin
        desk = access.office_desk(access.local_operator(), "Bàn 1")
        await checkin.check_in(desk, "DB001")
        await checkin.check_in(desk, "DB005")
        await checkin.guest(desk, "Hoàng Văn Nam", organization="Báo Hà Nội Mới")

    on_the_office_database(listed, check_in)
    assert main(["delegates", "withdraw", "DB005"]) == 0
    capsys.readouterr()
    assert main(["attendance", "export", "diem-danh.csv"]) == 0
    assert capsys.readouterr().out.strip() == (
        "Đã xuất 3 lượt điểm danh ra diem-danh.csv (đại biểu có mặt 1, trong đó 0/0 đại biểu dự "
        "kiến và 1 đến ngoài dự kiến; khách 1; tổng số người trong hội trường 3). Trong tổng số "
        "người trong hội trường có 1 người đã điểm danh rồi mới bị rút giấy mời (không tính là "
        "đại biểu có mặt)."
    )
    with (listed / "diem-danh.csv").open(encoding="utf-8-sig", newline="") as fh:
        kinds = {row[1]: row[7] for row in list(csv.reader(fh))[1:]}
    # Each row as the totals count it: DB005 among «withdrawn after check-in», not a delegate.
    assert kinds == {
        "DB001": "Đại biểu",
        "DB005": "Đại biểu — đã bị rút giấy mời sau khi điểm danh",
        "": "Khách ngoài danh sách",
    }


def test_delegates_withdraw_says_whether_the_bot_tells_her(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "withdraw", "DB005"]) == 0
    assert "Bot không nhắn cho đồng chí về việc này" in capsys.readouterr().out
    assert main(["delegates", "withdraw", "DB006", "--tell"]) == 0
    assert "Bot sẽ nhắn cho đồng chí rằng giấy mời không còn hiệu lực" in capsys.readouterr().out


def test_delegates_withdraw_of_an_unknown_code_is_refused(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "withdraw", "DB999"]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert "Không có ai mang mã DB999" in said.err


def test_the_imports_absent_note_says_how_to_withdraw(
    listed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shorter = listed / "shorter.csv"
    lines = EXAMPLE_DELEGATES.read_text(encoding="utf-8").splitlines()
    shorter.write_text(
        "\n".join(line for line in lines if not line.startswith("DB080,")) + "\n", encoding="utf-8"
    )
    assert main(["delegates", "import", str(shorter)]) == 0
    out = capsys.readouterr().out
    assert "DB080" in out
    assert "hoinghi delegates withdraw MÃ" in out
