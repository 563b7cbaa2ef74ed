"""Nhiệm vụ on the dashboard: the chat's task board behind a page — overdue first, each task's
reports, notes and deliverables (downloaded with their Vietnamese names), closing and reopening
with a note through TaskService, audited as the staff member; second taps change nothing."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from bot.services.access import Role
from bot.services.invitations import page_account
from storage.files import MAX_BYTES
from storage.models import AuditEntry, Delegate, OutboundMessage, Task
from tests.conftest import local
from tests.harness import BotHarness
from tests.office_support import (
    STAFF,
    STAFF_NAME,
    Desk,
    desk_for,
    hidden,
    make_staff,
    signed_in_desk,
    text_of,
)
from tests.samples import MACRO_MAIN_TYPE, docx, office_file
from tests.tasks_support import board_text, task_id, with_contacts
from tests.test_web_office_accounts import marked_sent

FILE_NAME = "Báo cáo tiến độ quận Ba Đình.docx"


@pytest.fixture
async def desk(harness: BotHarness) -> AsyncIterator[Desk]:
    await with_contacts(harness)
    async with signed_in_desk(harness.services) as desk:
        yield desk


def board_keys(html: str) -> list[str]:
    """The tasks' keys in the order the board lists them."""
    return re.findall(r'<tr id="task-\d+"[^>]*>\s*<td><a [^>]*><strong>([^<]+)</strong>', html)


def flash_text(html: str) -> str:
    return text_of(html, "flash")


async def office_audits(harness: BotHarness, task: int) -> list[tuple[str, str, dict]]:
    """The office's audit rows on a task: actor, action, after."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.after)
            .where(
                AuditEntry.entity == "task",
                AuditEntry.entity_id == task,
                AuditEntry.action.in_(["task.closed", "task.reopened"]),
            )
            .order_by(AuditEntry.id)
        )
        return [(actor, action, after or {}) for actor, action, after in rows.all()]


async def queued_messages(harness: BotHarness) -> int:
    async with harness.services.ctx.sessions() as session:
        return len(list(await session.scalars(select(OutboundMessage.id))))


async def upload(harness: BotHarness, code: str, key: str, name: str, content: bytes) -> int:
    """A deliverable sent from ``code``'s personal page for task ``key``: its evidence id."""
    services = harness.services
    [link] = [link for link in await services.invitations.links() if link.code == code]
    page = await services.invitations.open_page(link.token, channel="web", client="c")
    assert page.delegate is not None
    account = page_account("web", page.delegate.id)
    result = await services.tasks.store_file(
        account, await task_id(harness, key), name=name, content=content
    )
    assert result.evidence_id is not None
    return result.evidence_id


async def test_the_board_lists_overdue_tasks_first_then_by_deadline(
    desk: Desk, harness: BotHarness
) -> None:
    harness.clock.set(local(2024, 5, 15, 9, 0))  # VI.1.1 (7/5) and VI.1.2 (14/5) past due
    office = harness.services.access.local_operator()
    await harness.services.tasks.close(office, await task_id(harness, "VI.1.1"))
    page = await desk.client.get("/office/tasks")
    assert page.status_code == 200
    # VI.1.1, closed, is no longer overdue: it follows the one overdue task, by its deadline.
    assert board_keys(page.text) == ["VI.1.2", "VI.1.1", "VI.2", "VI.1.3", "VI.1.4"]
    assert [line.key for line in await harness.services.tasks.office_board()] == board_keys(
        page.text
    )
    row = text_of(page.text, f"task-{await task_id(harness, 'VI.1.2')}")
    assert "quá hạn" in row and "0/2 đã hoàn thành · 0/2 đã báo cáo · 0 sản phẩm" in row
    assert "đã kết thúc theo dõi" in text_of(page.text, f"task-{await task_id(harness, 'VI.1.1')}")
    # Not due yet and nobody reported: not «đang thực hiện», which a contact's report says.
    row = text_of(page.text, f"task-{await task_id(harness, 'VI.2')}")
    assert "chưa hoàn thành" in row and "đang thực hiện" not in row
    assert 'href="/office/tasks" aria-current="page"' in page.text


async def test_a_tasks_page_shows_its_reports_notes_and_files(
    desk: Desk, harness: BotHarness
) -> None:
    owner = await harness.open_invitation("NV04")  # VI.1.3
    await harness.send(owner.tap("⏳ Đang thực hiện"))
    await harness.send(owner.text("Đã quay xong, đang dựng phim"))
    evidence = await upload(harness, "NV04", "VI.1.3", FILE_NAME, docx("phim"))
    task = await task_id(harness, "VI.1.3")
    page = await desk.client.get(f"/office/tasks/{task}")
    assert page.status_code == 200
    people = text_of(page.text, "people")
    assert "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): đang thực hiện" in people
    assert "Đã quay xong, đang dựng phim" in people
    history = text_of(page.text, "history")
    assert "Phạm Thị Hồng Đào: báo cáo nhiệm vụ → đang thực hiện" in history
    assert "đang thực hiện — Đã quay xong, đang dựng phim" in history
    assert f"gửi sản phẩm nhiệm vụ: {FILE_NAME}" in history
    assert f'href="/office/tasks/{task}/files/{evidence}"' in page.text
    assert FILE_NAME in text_of(page.text, f"file-{evidence}")


async def test_a_deliverable_downloads_with_its_vietnamese_name(
    desk: Desk, harness: BotHarness
) -> None:
    content = docx("sản phẩm")
    evidence = await upload(harness, "NV04", "VI.1.3", FILE_NAME, content)
    task = await task_id(harness, "VI.1.3")
    response = await desk.client.get(f"/office/tasks/{task}/files/{evidence}")
    assert response.status_code == 200 and response.content == content
    assert response.headers["content-disposition"] == (
        'attachment; filename="Bao cao tien do quan Ba Dinh.docx"; '
        f"filename*=UTF-8''{quote(FILE_NAME, safe='')}"
    )
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_deliverable_whose_file_was_not_restored_says_it_is_missing_on_the_server(
    desk: Desk, harness: BotHarness
) -> None:
    evidence = await upload(harness, "NV04", "VI.1.3", FILE_NAME, docx("sản phẩm"))
    task = await task_id(harness, "VI.1.3")
    found = await harness.services.tasks.evidence_file(evidence, task_id=task)
    assert found is not None and found.path is not None
    found.path.unlink()  # the database restored without the folder of files
    response = await desk.client.get(f"/office/tasks/{task}/files/{evidence}")
    assert response.status_code == 404
    assert text_of(response.text, "message-file_lost").startswith(
        "Bản này vẫn được ghi nhận nhưng tệp của nó không có trên máy chủ"
    )


async def test_a_file_of_another_task_or_an_unknown_one_is_not_found(
    desk: Desk, harness: BotHarness
) -> None:
    evidence = await upload(harness, "NV04", "VI.1.3", FILE_NAME, docx("khác"))
    other = await task_id(harness, "VI.1.1")
    for path in (
        f"/office/tasks/{other}/files/{evidence}",
        f"/office/tasks/{await task_id(harness, 'VI.1.3')}/files/999999",
        f"/office/tasks/999999/files/{evidence}",
        "/office/tasks/abc/files/1",
    ):
        response = await desk.client.get(path)
        assert response.status_code == 404, path
        assert 'id="message-no_task_file"' in response.text, path
        assert "content-disposition" not in response.headers, path


async def test_an_unknown_task_is_a_polite_not_found_page(desk: Desk) -> None:
    for path in ("/office/tasks/999999", "/office/tasks/abc", "/office/tasks/99999999999999999999"):
        response = await desk.client.get(path)
        assert response.status_code == 404, path
        assert text_of(response.text, "message-no_task").startswith(
            "Không có nhiệm vụ nào như vậy trong kế hoạch hiện tại."
        )


async def test_a_tasks_page_names_the_plans_codes_on_nobodys_list(
    desk: Desk, harness: BotHarness
) -> None:
    """The plan edited after the list came in gives VI.1.3 to NV04 and «NV99» (a typo, or a
    contact not imported): the page listed NV04 alone, and nobody learned that NV99 is
    reminded of nothing (`run` logs it at INFO; the import's note was before the edit)."""
    config = harness.services.config
    tasks = [
        t.model_copy(update={"contacts": ["NV04", "NV99"]}) if t.key == "VI.1.3" else t
        for t in config.tasks
    ]
    object.__setattr__(harness.services.ctx, "config", config.model_copy(update={"tasks": tasks}))
    await harness.services.tasks.sync()
    page = await desk.client.get(f"/office/tasks/{await task_id(harness, 'VI.1.3')}")
    assert text_of(page.text, "unknown-contacts") == (
        "Kế hoạch giao nhiệm vụ này cho mã chưa có trong danh sách đã nhập: NV99. Không ai được "
        "nhắc hạn dưới mã đó; đề nghị sửa mã trong tệp kế hoạch (contacts của nhiệm vụ) hoặc "
        "nhập người đó vào danh sách đầu mối."
    )
    other = await desk.client.get(f"/office/tasks/{await task_id(harness, 'VI.1.1')}")
    assert 'id="unknown-contacts"' not in other.text


async def test_close_with_a_note_then_reopen_with_a_reason_audited_as_the_staff_member(
    desk: Desk, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.1")
    queued = await queued_messages(harness)
    page = await desk.post(
        f"tasks/{task}/close", "form-close", {"note": "Đã hoàn thành qua họp giao ban"},
        page=f"tasks/{task}",
    )  # fmt: skip
    assert flash_text(page.text).startswith("Đã kết thúc theo dõi nhiệm vụ VI.1.1")
    assert text_of(page.text, "task-state") == "đã kết thúc theo dõi"
    assert 'id="form-reopen"' in page.text and 'id="form-close"' not in page.text
    history = text_of(page.text, "history")
    assert f"{STAFF_NAME}: đóng nhiệm vụ — Đã hoàn thành qua họp giao ban" in history
    page = await desk.post(
        f"tasks/{task}/reopen", "form-reopen", {"note": "Cần bổ sung số liệu quý II"},
        page=f"tasks/{task}",
    )  # fmt: skip
    assert flash_text(page.text).startswith("Đã mở lại nhiệm vụ VI.1.1")
    # Open again, and past its deadline (7/5) at the harness's clock: overdue once more.
    assert text_of(page.text, "task-state") == "quá hạn"
    assert await office_audits(harness, task) == [
        (f"dashboard:{STAFF}", "task.closed",
         {"closed": True, "by": STAFF_NAME, "note": "Đã hoàn thành qua họp giao ban"}),
        (f"dashboard:{STAFF}", "task.reopened",
         {"closed": False, "by": STAFF_NAME, "note": "Cần bổ sung số liệu quý II"}),
    ]  # fmt: skip
    # As the chat's «Kết thúc theo dõi», neither step messages the responsible people.
    assert await queued_messages(harness) == queued
    async with harness.services.ctx.sessions() as session:
        row = await session.get_one(Task, task)
        assert row.closed_at is None and row.closed_by is None


async def test_a_note_over_the_limit_comes_back_whole_in_its_box_and_nothing_changes(
    desk: Desk, harness: BotHarness
) -> None:
    # «Kết thúc theo dõi» and «Mở lại»: the boxes cut nothing as they are pasted into (no
    # maxlength); a note over 500 characters is refused and is back in its box, whole.
    task = await task_id(harness, "VI.1.2")
    page = f"tasks/{task}"
    note = "Đã hoàn thành qua họp giao ban, biên bản gửi kèm theo đường công văn. " * 8 + "HẾT."
    for action, box in (("close", "close-note"), ("reopen", "reopen-note")):
        shown = (await desk.client.get(f"/office/{page}")).text
        tag = re.search(rf'<textarea[^>]*\bid="{box}"[^>]*>', shown)
        assert tag is not None and "maxlength" not in tag.group(0)
        refused = await desk.post(f"{page}/{action}", f"form-{action}", {"note": note}, page=page)
        assert flash_text(refused.text) == (
            "Ghi chú quá dài (tối đa 500 ký tự) nên chưa có gì thay đổi. Toàn bộ ghi chú vẫn ở "
            "khung soạn; đề nghị ghi ngắn gọn hơn."
        )
        assert html.unescape(text_of(refused.text, box)) == note
        if action == "close":  # closed with a short note, to reopen next
            await desk.post(f"{page}/close", "form-close", {"note": "Xong"}, page=page)
    assert [action for _, action, _ in await office_audits(harness, task)] == ["task.closed"]


async def test_reopening_needs_a_reason_and_second_taps_change_nothing(
    desk: Desk, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.2")
    page = f"tasks/{task}"
    shown = await desk.client.get(f"/office/{page}")
    close_fields = hidden(shown.text, "form-close")
    again = await desk.post(f"tasks/{task}/reopen", "form-close", {"note": "x"}, page=page)
    assert flash_text(again.text).startswith("Nhiệm vụ VI.1.2 đang được theo dõi, không cần mở lại")
    await desk.post(f"tasks/{task}/close", "form-close", {}, page=page)
    reopen_fields = hidden((await desk.client.get(f"/office/{page}")).text, "form-reopen")
    # A second tap of «Kết thúc theo dõi» (the form of the page as it was before).
    second = await desk.client.post(f"/office/tasks/{task}/close", data=close_fields)
    shown_after = await desk.client.get(second.headers["location"])
    assert flash_text(shown_after.text).startswith(
        "Nhiệm vụ VI.1.2 đã được kết thúc theo dõi từ trước; không có thay đổi."
    )
    empty = await desk.client.post(
        f"/office/tasks/{task}/reopen", data={**reopen_fields, "note": "   "}
    )
    shown_after = await desk.client.get(empty.headers["location"])
    assert flash_text(shown_after.text) == "Đề nghị ghi lý do mở lại nhiệm vụ VI.1.2."
    assert text_of(shown_after.text, "task-state") == "đã kết thúc theo dõi"
    long = await desk.client.post(
        f"/office/tasks/{task}/reopen", data={**reopen_fields, "note": "a" * 501}
    )
    shown_after = await desk.client.get(long.headers["location"])
    assert flash_text(shown_after.text).startswith("Ghi chú quá dài (tối đa 500 ký tự)")
    assert [action for _, action, _ in await office_audits(harness, task)] == ["task.closed"]
    # Closed without a note: the audit row carries no empty note.
    assert (await office_audits(harness, task))[0][2] == {"closed": True, "by": STAFF_NAME}


async def test_a_tasks_people_come_a_page_at_a_time_with_the_figures_of_everyone(
    desk: Desk, harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A district task has one person per district chair (1,250 at 10,000 delegates): its page
    # lists a page of them, in the board's order, and counts everyone in SQL.
    import bot.services.tasks

    services = harness.services
    board = await services.tasks.office_board()
    biggest = max(board, key=lambda line: len(line.assignments))
    everyone = [f"{a.full_name} ({a.organization})" for a in biggest.assignments]
    assert len(everyone) > 5
    monkeypatch.setattr(bot.services.tasks, "PEOPLE_PAGE", 2)
    seen: list[str] = []
    path = f"/office/tasks/{biggest.id}"
    pages = 0
    while True:
        page = await desk.client.get(path)
        assert page.status_code == 200
        people = text_of(page.text, "people")
        assert people.startswith(f"Người phụ trách ({len(everyone)})")
        shown = re.findall(r"<li[^>]*><strong>([^<]+)</strong> \(([^)]+)\)", page.text)
        seen += [f"{name} ({unit})" for name, unit in shown]
        pages += 1
        first = len(seen) - len(shown) + 1
        assert text_of(page.text, "people-shown") == (
            f"Đang hiện người thứ {first} đến {len(seen)} trong số {len(everyone)} người phụ trách."
        )
        assert ('id="people-first"' in page.text) == (pages > 1)
        more = re.search(r'id="people-more" href="([^"]+)"', page.text)
        if more is None:
            break
        path = f"/office/tasks/{biggest.id}{more.group(1).split('#')[0]}"
    assert seen == everyone and pages == (len(everyone) + 1) // 2
    found = await services.tasks.task_page(biggest.id, start=0, limit=2)
    assert found is not None and found.total == len(everyone)
    assert found.line.overdue == biggest.overdue and found.all_done == biggest.done
    past = await services.tasks.task_page(biggest.id, start=10_000, limit=2)  # an old link
    assert past is not None and past.next_start is None
    assert [a.full_name for a in past.line.assignments] == [
        a.full_name for a in biggest.assignments[(len(everyone) - 1) // 2 * 2 :]
    ]


async def test_someone_linked_on_two_chats_is_listed_once_on_a_task(
    desk: Desk, harness: BotHarness
) -> None:
    from datetime import UTC, datetime

    from storage.models import ChannelIdentity, Delegate

    services = harness.services
    task = await services.tasks.line("VI.1.3")
    assert task is not None and len(task.assignments) == 1
    code = task.assignments[0].code
    async with services.ctx.sessions() as session, session.begin():
        person = await session.scalar(
            select(Delegate).where(Delegate.meeting_id == services.ctx.meeting_id,
                                   Delegate.code == code)
        )  # fmt: skip
        assert person is not None
        for channel, external in (("telegram", "7001"), ("zalo", "z7001")):
            session.add(
                ChannelIdentity(
                    meeting_id=services.ctx.meeting_id, delegate_id=person.id, channel=channel,
                    external_id=external, chat_address=external,
                    linked_at=datetime(2026, 5, 1, tzinfo=UTC), linked_via="code",
                )
            )  # fmt: skip
    line = await services.tasks.task(task.id)
    assert line is not None and [a.code for a in line.assignments] == [code]
    assert line.assignments[0].reachable
    page = await desk.client.get(f"/office/tasks/{task.id}")
    assert text_of(page.text, "people").startswith("Người phụ trách (1)")
    section = page.text.split('id="people"', 1)[1].split("</section>", 1)[0]
    assert len(re.findall(r"<li[^>]*><strong>", section)) == 1


# --- a report given by phone, recorded by the office ---------------------------------------------


async def person_of(harness: BotHarness, code: str) -> int:
    async with harness.services.ctx.sessions() as session:
        found = await session.scalar(select(Delegate.id).where(Delegate.code == code))
    assert found is not None
    return found


async def recorded(harness: BotHarness, task: int) -> list[tuple[str, dict]]:
    """The task's ``task.recorded`` audit rows: actor and after."""
    async with harness.services.ctx.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.actor, AuditEntry.after)
            .where(AuditEntry.entity_id == task, AuditEntry.action == "task.recorded")
            .order_by(AuditEntry.id)
        )
        return [(actor, after or {}) for actor, after in rows.all()]


async def test_a_contact_linked_only_on_a_chat_that_does_not_run_is_marked_not_linked_on_a_task(
    desk: Desk, harness: BotHarness
) -> None:
    """Linked on Telegram, then Zalo alone runs: the task's page and /nhiemvu said nothing of
    her, as if her reminders reached her. Both mark her «chưa kết nối kênh nhắn tin», as every
    count of the linked does; with Telegram running again, not."""
    await harness.open_invitation("NV04")  # VI.1.3
    task = await task_id(harness, "VI.1.3")
    person = "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): chưa báo cáo"

    async def marked() -> tuple[bool, bool]:
        page = (await desk.client.get(f"/office/tasks/{task}")).text
        board = next(part for part in (await board_text(harness)).split("\n\n") if "VI.1.3" in part)
        on_page = f"{person} · chưa kết nối kênh nhắn tin" in text_of(page, "people")
        return on_page, f"{person} — chưa kết nối kênh nhắn tin" in board

    assert await marked() == (False, False)
    harness.services.ctx.chats.run(("zalo",))
    assert await marked() == (True, True)
    harness.services.ctx.chats.run(("telegram", "zalo"))
    assert await marked() == (False, False)


async def test_the_office_records_a_phoned_report_and_a_second_submit_changes_nothing(
    desk: Desk, harness: BotHarness
) -> None:
    harness.clock.set(local(2024, 5, 18, 9, 30))  # VI.1.3 is due 21/5
    task = await task_id(harness, "VI.1.3")
    page = f"tasks/{task}"
    queued = await queued_messages(harness)
    shown = await desk.client.get(f"/office/{page}")
    fields = hidden(shown.text, "form-record-NV04")
    assert text_of(shown.text, "record-NV04").startswith(
        "Ghi nhận báo cáo thay (qua điện thoại, văn bản, thư điện tử)"
    )
    after = await desk.post(
        f"{page}/record", "form-record-NV04", {"person": "NV04", "note": "qua điện thoại"},
        page=page,
    )  # fmt: skip
    assert flash_text(after.text) == (
        "Đã ghi nhận đồng chí Phạm Thị Hồng Đào báo cáo hoàn thành nhiệm vụ VI.1.3; "
        "đồng chí ấy không còn nhận nhắc hạn nhiệm vụ này."
    )
    assert " ".join(text_of(after.text, "person-NV04").split()) == (
        "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): đã hoàn thành · Văn phòng ghi "
        "nhận (qua điện thoại) lúc 09:30, 18/5, bởi Phạm Thị Thanh Mai · chưa kết nối kênh nhắn tin"
        " Hủy ghi nhận"  # the button that undoes it
    )
    assert 'id="form-record-NV04"' not in after.text  # done: nothing left to record
    assert text_of(after.text, "task-state") == "đã hoàn thành"
    assert (
        "09:30, 18/5 — Phạm Thị Thanh Mai: ghi nhận báo cáo thay → đã hoàn thành: "
        "Phạm Thị Hồng Đào — qua điện thoại"
    ) in text_of(after.text, "history")
    # The same form submitted again (a second click, the back button): nothing changes.
    again = await desk.client.post(
        f"/office/{page}/record", data={**fields, "person": "NV04", "note": "bằng văn bản"}
    )
    shown_after = await desk.client.get(again.headers["location"])
    assert flash_text(shown_after.text) == (
        "Văn phòng đã ghi nhận báo cáo của đồng chí Phạm Thị Hồng Đào cho nhiệm vụ VI.1.3 lúc "
        "09:30, 18/5, bởi Phạm Thị Thanh Mai; không có thay đổi."
    )
    assert 'class="text flash error"' in shown_after.text
    assert await recorded(harness, task) == [
        (f"dashboard:{STAFF}", {"person_id": (await person_of(harness, "NV04")), "status": "done",
                                "note": "qua điện thoại", "by": STAFF_NAME,
                                "name": "Phạm Thị Hồng Đào"}),
    ]  # fmt: skip
    # As closing a task, recording tells nobody: no message is queued, to her or the office.
    assert await queued_messages(harness) == queued


async def record_with_file(
    desk: Desk,
    task: int,
    name: str,
    content: bytes,
    kind: str = "application/octet-stream",
    *,
    note: str | None = None,
) -> httpx.Response:
    """«Ghi nhận thay» for NV04 sent from the task's page with the file ``name`` chosen (and
    ``note`` typed, if any): the page it leads back to."""
    data = {"person": "NV04"} if note is None else {"person": "NV04", "note": note}
    page = f"tasks/{task}"
    files = {"file": (name, content, kind)}
    return await desk.post(f"{page}/record", "form-record-NV04", data, page=page, files=files)


async def test_a_deliverable_recorded_with_the_report_is_kept_and_downloads(
    desk: Desk, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.3")
    content = docx("phóng sự")
    shown = await record_with_file(desk, task, FILE_NAME, content, note="")
    assert flash_text(shown.text).startswith("Đã ghi nhận đồng chí Phạm Thị Hồng Đào")
    assert text_of(shown.text, "person-NV04").startswith(
        "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): đã hoàn thành · Văn phòng ghi "
        "nhận lúc 09:00, 18/5, bởi Phạm Thị Thanh Mai"
    )
    [evidence] = re.findall(rf'href="/office/tasks/{task}/files/(\d+)"', shown.text)
    assert FILE_NAME in text_of(shown.text, f"file-{evidence}")
    download = await desk.client.get(f"/office/tasks/{task}/files/{evidence}")
    assert download.status_code == 200 and download.content == content


async def test_a_refused_file_or_a_long_note_records_nothing_and_says_why(
    desk: Desk, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.3")
    shown = await record_with_file(desk, task, "phim.exe", b"MZ")
    assert flash_text(shown.text).startswith(
        "Chưa ghi nhận báo cáo: tệp «phim.exe» không được nhận (chỉ nhận văn bản (.docx, .doc,"
    )
    page = f"tasks/{task}"
    long = {"person": "NV04", "note": "a" * 501}
    shown = await desk.post(f"{page}/record", "form-record-NV04", long, page=page)
    assert flash_text(shown.text) == (
        "Ghi chú quá dài (tối đa 500 ký tự); chưa ghi nhận. Toàn bộ ghi chú vẫn ở khung soạn; "
        "đề nghị ghi ngắn gọn hơn (tệp đã chọn, nếu có, cần chọn lại)."
    )
    assert 'id="form-record-NV04"' in shown.text and await recorded(harness, task) == []
    # The note is back whole in its box (no maxlength cut it), its fold open to shorten it.
    assert '<details class="record" id="record-NV04" open>' in shown.text
    assert f'name="note" autocomplete="off" value="{"a" * 501}">' in shown.text


WAY_OUT = (
    "Đề nghị ghi nhận không kèm tệp, hoặc ghi đường liên kết của sản phẩm vào ô cách nhận báo cáo."
)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "bao-cao.zip",
            b"PK\x03\x04",
            "chỉ nhận văn bản (.docx, .doc, .odt, .rtf, .txt, .pdf), bảng tính (.xlsx, .xls, "
            ".ods), trình chiếu (.pptx, .ppt, .odp), ảnh (.jpg, .png) hoặc video (.mp4, .mov) có "
            "nội dung đúng định dạng đó",
        ),
        ("Báo cáo.docx", b"", "tệp không có nội dung"),
        (
            "Báo cáo.docx",
            office_file("docx", main_type=MACRO_MAIN_TYPE),
            "tệp có chứa macro, không nhận vì lý do an toàn",
        ),
    ],
)
async def test_a_refused_file_on_the_record_form_says_nothing_was_recorded_and_the_way_out(
    desk: Desk, harness: BotHarness, name: str, content: bytes, reason: str
) -> None:
    # The office's words, not the invitee's («đề nghị đồng chí gửi đường liên kết…»).
    task = await task_id(harness, "VI.1.3")
    shown = await record_with_file(desk, task, name, content, note="qua thư điện tử")
    assert flash_text(shown.text) == (
        f"Chưa ghi nhận báo cáo: tệp «{name}» không được nhận ({reason}). {WAY_OUT}"
    )
    assert text_of(shown.text, "person-NV04").startswith(
        "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): chưa báo cáo"
    )
    assert await recorded(harness, task) == []


async def test_a_file_over_the_limit_on_the_record_form_says_nothing_was_recorded(
    desk: Desk, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.3")
    shown = await record_with_file(desk, task, "Phim.mp4", b"\0" * (MAX_BYTES + 1), "video/mp4")
    assert flash_text(shown.text) == (
        f"Chưa ghi nhận báo cáo: tệp «Phim.mp4» không được nhận (lớn hơn 20 MB). {WAY_OUT}"
    )
    # Past what the form may carry at all, the body is cut off before the file's name.
    past = b"\0" * (MAX_BYTES + 128 * 1024)
    shown = await record_with_file(desk, task, "Phim.mp4", past, "video/mp4")
    assert flash_text(shown.text) == (
        f"Chưa ghi nhận báo cáo: tệp gửi kèm lớn hơn 20 MB nên không được nhận. {WAY_OUT}"
    )
    assert await recorded(harness, task) == []


async def test_a_file_the_record_form_refuses_leaves_its_note_in_the_box_to_record_without_it(
    desk: Desk, harness: BotHarness
) -> None:
    # The refusal says «ghi nhận không kèm tệp, hoặc ghi đường liên kết … vào ô cách nhận báo
    # cáo», and the note typed in that box was gone (its fold closed): to be typed again.
    task = await task_id(harness, "VI.1.3")
    page = f"tasks/{task}"
    note = "Nhận qua thư điện tử ngày 20/5, kèm đường liên kết https://drive.example/bao-cao"
    for content in (b"MZ", b"\0" * (MAX_BYTES + 128 * 1024)):  # a type refused; past the body
        shown = await record_with_file(desk, task, "phim.exe", content, note=note)
        assert flash_text(shown.text).startswith("Chưa ghi nhận báo cáo: tệp"), len(content)
        assert '<details class="record" id="record-NV04" open>' in shown.text
        assert f'name="note" autocomplete="off" value="{note}">' in shown.text
    assert await recorded(harness, task) == []
    # Shown once: the page looked at again has the fold closed, the box empty.
    again = (await desk.client.get(f"/office/{page}")).text
    assert '<details class="record" id="record-NV04">' in again and note not in again


async def test_a_second_clerk_recording_at_once_is_told_a_colleague_recorded_it_and_when(
    desk: Desk, harness: BotHarness
) -> None:
    await make_staff(harness.services, "DB002")
    other = await desk_for(harness.services)
    await other.sign_in("DB002")
    harness.clock.set(local(2024, 5, 18, 9, 30))
    page = f"/office/tasks/{await task_id(harness, 'VI.1.3')}"
    fa = hidden((await desk.client.get(page)).text, "form-record-NV04")
    fb = hidden((await other.client.get(page)).text, "form-record-NV04")  # both have it open
    await desk.client.post(
        f"{page}/record", data={**fa, "person": "NV04", "note": "qua điện thoại"}
    )
    harness.clock.set(local(2024, 5, 18, 9, 31))
    sent = await other.client.post(
        f"{page}/record",
        data={**fb, "person": "NV04", "note": "bằng văn bản"},
        files={"file": (FILE_NAME, docx("phóng sự"), "application/octet-stream")},
    )
    shown = (await other.client.get(sent.headers["location"])).text
    assert flash_text(shown) == (
        "Văn phòng đã ghi nhận báo cáo của đồng chí Phạm Thị Hồng Đào cho nhiệm vụ VI.1.3 lúc "
        "09:30, 18/5, bởi Phạm Thị Thanh Mai; không có thay đổi."
    )
    assert " ".join(text_of(shown, "person-NV04").split()).startswith(
        "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): đã hoàn thành · Văn phòng ghi "
        "nhận (qua điện thoại) lúc 09:30, 18/5, bởi Phạm Thị Thanh Mai"
    )
    await other.client.aclose()


async def test_recording_a_report_is_refused_to_the_desk_role_and_to_forms_not_the_offices(
    desk: Desk, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.3")
    page = f"tasks/{task}"
    fields = hidden((await desk.client.get(f"/office/{page}")).text, "form-record-NV04")
    # A reception desk's clerk (the check-in role) may not, politely told so.
    access = harness.services.access
    await access.grant(access.local_operator(), "NV02", Role.CHECKIN)
    clerk = await desk_for(harness.services)
    await clerk.sign_in("NV02")
    refused = await clerk.client.post(
        f"/office/{page}/record", data={**fields, "person": "NV04", "note": "qua điện thoại"}
    )
    assert refused.status_code == 403
    assert text_of(refused.text, "message-checkin_only").startswith(
        "Tài khoản của đồng chí có vai trò đón tiếp nên chỉ dùng được các trang của bàn đón tiếp."
    )
    await clerk.client.aclose()
    # A form without the session's signature, or posted from another site.
    unsigned = await desk.client.post(f"/office/{page}/record", data={"person": "NV04"})
    assert unsigned.status_code == 403 and 'id="message-form_expired"' in unsigned.text
    forged = await desk.client.post(
        f"/office/{page}/record", data={**fields, "person": "NV04"},
        headers={"origin": "https://evil.example"},
    )  # fmt: skip
    assert forged.status_code == 403
    assert await recorded(harness, task) == []
    shown = await desk.client.get(f"/office/{page}")
    assert text_of(shown.text, "person-NV04").startswith(
        "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): chưa báo cáo"
    )
    # Nor may the clerk undo the office's record.
    await desk.post(f"{page}/record", "form-record-NV04", {"person": "NV04"}, page=page)
    clerk = await desk_for(harness.services)
    await clerk.sign_in("NV02")
    undo = hidden((await desk.client.get(f"/office/{page}")).text, "form-unrecord-NV04")
    refused = await clerk.client.post(f"/office/{page}/unrecord", data={**undo, "person": "NV04"})
    assert refused.status_code == 403 and 'id="message-checkin_only"' in refused.text
    await clerk.client.aclose()
    assert text_of((await desk.client.get(f"/office/{page}")).text, "person-NV04").startswith(
        "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): đã hoàn thành · Văn phòng ghi nhận"
    )


@pytest.mark.parametrize("typed", [" nv04 ", "Nv04"])
async def test_a_code_typed_in_another_case_records_and_undoes_the_same_persons_report(
    desk: Desk, harness: BotHarness, typed: str
) -> None:
    # A form's code as a hand-made post or a bookmarked address carries it, not as the page
    # wrote it: the person is found as every typed code is (storage.models.fold_code).
    task = await task_id(harness, "VI.1.3")
    page = f"tasks/{task}"
    recorded_page = await desk.post(
        f"{page}/record", "form-record-NV04", {"person": typed, "note": "qua điện thoại"},
        page=page,
    )  # fmt: skip
    assert flash_text(recorded_page.text) == (
        "Đã ghi nhận đồng chí Phạm Thị Hồng Đào báo cáo hoàn thành nhiệm vụ VI.1.3; "
        "đồng chí ấy không còn nhận nhắc hạn nhiệm vụ này."
    )
    undone = await desk.post(f"{page}/unrecord", "form-unrecord-NV04", {"person": typed}, page=page)
    assert flash_text(undone.text).startswith(
        "Đã hủy ghi nhận báo cáo của đồng chí Phạm Thị Hồng Đào cho nhiệm vụ VI.1.3:"
    )
    assert text_of(undone.text, "task-state") == "chưa hoàn thành"


async def test_the_offices_record_is_undone_from_the_tasks_page_and_a_second_undo_says_so(
    desk: Desk, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.3")
    page = f"tasks/{task}"
    await desk.post(f"{page}/record", "form-record-NV04", {"person": "NV04"}, page=page)
    fields = hidden((await desk.client.get(f"/office/{page}")).text, "form-unrecord-NV04")
    after = await desk.post(f"{page}/unrecord", "form-unrecord-NV04", {"person": "NV04"}, page=page)
    assert flash_text(after.text) == (
        "Đã hủy ghi nhận báo cáo của đồng chí Phạm Thị Hồng Đào cho nhiệm vụ VI.1.3: báo cáo trở "
        "lại như trước khi Văn phòng ghi nhận, tệp kèm theo ghi nhận (nếu có) được gỡ, và đồng "
        "chí ấy lại nhận nhắc hạn."
    )
    assert text_of(after.text, "person-NV04").startswith(
        "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): chưa báo cáo · chưa kết nối kênh "
        "nhắn tin"
    )
    assert 'id="form-record-NV04"' in after.text and 'id="form-unrecord-NV04"' not in after.text
    assert text_of(after.text, "task-state") == "chưa hoàn thành"
    assert (
        "09:00, 18/5 — Phạm Thị Thanh Mai: hủy ghi nhận báo cáo thay → chưa báo cáo: "
        "Phạm Thị Hồng Đào"
    ) in text_of(after.text, "history")
    again = await desk.client.post(f"/office/{page}/unrecord", data={**fields, "person": "NV04"})
    shown = await desk.client.get(again.headers["location"])
    assert flash_text(shown.text) == (
        "Không có ghi nhận nào của Văn phòng để hủy cho đồng chí Phạm Thị Hồng Đào ở nhiệm vụ "
        "VI.1.3 (ghi nhận đã được hủy, hoặc đồng chí ấy đã tự báo cáo sau đó); không có thay đổi."
    )
    page_figures = await harness.services.tasks.task_page(task)
    assert page_figures is not None and (page_figures.done, page_figures.reported) == (0, 0)


async def test_the_time_beside_her_report_says_it_is_when_she_last_updated_it(
    desk: Desk, harness: BotHarness
) -> None:
    # Her file with no report, and the office's record of her report undone: «chưa báo cáo»
    # with a bare time left the clerk to guess what happened then.
    task = await task_id(harness, "VI.1.3")
    page = f"tasks/{task}"
    harness.clock.set(local(2024, 5, 18, 13, 50))
    await upload(harness, "NV04", "VI.1.3", FILE_NAME, docx("tiến độ"))
    line = (
        "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): chưa báo cáo · cập nhật lúc "
        "13:50, 18/5 · chưa kết nối kênh nhắn tin"
    )
    shown = await desk.client.get(f"/office/{page}")
    assert " ".join(text_of(shown.text, "person-NV04").split()).startswith(line)
    assert text_of(shown.text, "updated-NV04") == "· cập nhật lúc 13:50, 18/5"
    harness.clock.set(local(2024, 5, 18, 14, 0))
    await desk.post(f"{page}/record", "form-record-NV04", {"person": "NV04"}, page=page)
    after = await desk.post(f"{page}/unrecord", "form-unrecord-NV04", {"person": "NV04"}, page=page)
    assert " ".join(text_of(after.text, "person-NV04").split()).startswith(line)


async def test_a_file_she_sends_after_the_offices_record_leaves_the_record_the_offices(
    desk: Desk, harness: BotHarness
) -> None:
    harness.clock.set(local(2024, 5, 18, 9, 30))
    task = await task_id(harness, "VI.1.3")
    page = f"tasks/{task}"
    await desk.post(
        f"{page}/record", "form-record-NV04", {"person": "NV04", "note": "qua điện thoại"},
        page=page,
    )  # fmt: skip
    harness.clock.set(local(2024, 5, 18, 10, 0))
    evidence = await upload(harness, "NV04", "VI.1.3", FILE_NAME, docx("tiến độ"))
    shown = await desk.client.get(f"/office/{page}")
    assert " ".join(text_of(shown.text, "person-NV04").split()) == (
        "Phạm Thị Hồng Đào (Ban Tuyên giáo Hội LHPN thành phố): đã hoàn thành · Văn phòng ghi "
        "nhận (qua điện thoại) lúc 09:30, 18/5, bởi Phạm Thị Thanh Mai · chưa kết nối kênh nhắn tin"
        " Hủy ghi nhận"
    )
    assert text_of(shown.text, f"file-{evidence}") == f"{FILE_NAME} — Phạm Thị Hồng Đào"


async def test_the_file_attached_to_the_offices_record_is_listed_as_the_offices(
    desk: Desk, harness: BotHarness
) -> None:
    # The clerk must tell the file «Hủy ghi nhận» takes off the task from the ones she sent.
    task = await task_id(harness, "VI.1.3")
    await record_with_file(desk, task, "Ban-ghi-VP.docx", docx("bản ghi"), note="qua điện thoại")
    hers = await upload(harness, "NV04", "VI.1.3", FILE_NAME, docx("tiến độ"))
    shown = await desk.client.get(f"/office/tasks/{task}")
    files = re.findall(rf'href="/office/tasks/{task}/files/(\d+)"', shown.text)
    [office] = [int(f) for f in files if int(f) != hers]
    assert text_of(shown.text, f"file-{office}") == (
        "Ban-ghi-VP.docx — Văn phòng gửi kèm khi ghi nhận báo cáo của Phạm Thị Hồng Đào"
    )
    assert text_of(shown.text, f"file-{hers}") == f"{FILE_NAME} — Phạm Thị Hồng Đào"


async def test_an_assignee_no_chat_reaches_is_to_phone_once_her_invitation_went_out(
    desk: Desk, harness: BotHarness
) -> None:
    """The overview lists to phone only those her invitation reached; the task's page and
    /nhiemvu marked every district chair no chat reaches «chưa kết nối kênh nhắn tin» (phone
    her) though her invitation had not gone out. They follow the overview's rule: «chưa gửi
    giấy mời» until it is marked sent, then to phone; a contact (no invitation to mark) as
    before."""
    task = await task_id(harness, "VI.2")
    card = await harness.services.dashboard.card("DB045")
    assert card is not None
    person = f"{card.person.full_name} ({card.person.organization}): chưa báo cáo"

    async def marks() -> tuple[str, str]:
        page = (await desk.client.get(f"/office/tasks/{task}")).text
        on_page = " ".join(text_of(page, "person-DB045").split())
        [line] = [line for line in (await board_text(harness)).split("\n") if person in line]
        mark = on_page.removeprefix(person).partition(" Ghi nhận báo cáo thay")[0]  # its form
        return mark, line.removeprefix("• ").removeprefix(person)

    assert await marks() == (" · chưa gửi giấy mời", " — chưa gửi giấy mời")
    await marked_sent(harness.services, "DB045", "zalo")
    assert await marks() == (
        " · chưa kết nối kênh nhắn tin",
        " — chưa kết nối kênh nhắn tin",
    )
    board = {line.key: line for line in await harness.services.tasks.office_board()}
    [line] = [a for a in board["VI.1.2"].assignments if a.code == "NV01"]
    assert (line.reachable, line.unsent) == (False, False)  # a contact: to phone, as before


async def test_on_the_meeting_s_day_an_assignee_no_chat_reaches_is_to_phone_not_to_send_to(
    desk: Desk, harness: BotHarness
) -> None:
    """On the meeting's day the overview drops «Chưa gửi giấy mời» (no longer the morning's
    job) and the morning's report lists whom no chat reaches to phone; the task's page and
    /nhiemvu still marked a district chair whose invitation had not gone out «chưa gửi giấy
    mời». From the meeting's day they say what the overview says: phone her."""
    task = await task_id(harness, "VI.2")
    card = await harness.services.dashboard.card("DB045")
    assert card is not None
    person = f"{card.person.full_name} ({card.person.organization}): chưa báo cáo"

    async def marks() -> tuple[str, str]:
        await desk.sign_in()  # days on: a session of its own
        page = (await desk.client.get(f"/office/tasks/{task}")).text
        on_page = " ".join(text_of(page, "person-DB045").split())
        [line] = [line for line in (await board_text(harness)).split("\n") if person in line]
        mark = on_page.removeprefix(person).partition(" Ghi nhận báo cáo thay")[0]  # its form
        return mark, line.removeprefix("• ").removeprefix(person)

    harness.clock.set(local(2024, 5, 27, 23, 59))  # the eve: invitations still to send
    assert await marks() == (" · chưa gửi giấy mời", " — chưa gửi giấy mời")
    harness.clock.set(local(2024, 5, 28, 0, 0))
    assert await marks() == (
        " · chưa kết nối kênh nhắn tin",
        " — chưa kết nối kênh nhắn tin",
    )
