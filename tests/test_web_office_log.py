"""Nhật ký on the dashboard: every audited change, newest first, in words (who, when in the
meeting's time, what, and "field: old → new"), filtered by who, by kind and by date, paged in
SQL with the indexes of migration 0014."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, text

from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.channels import ChatAccount
from bot.services import Services
from bot.services.access import Role
from bot.services.dashboard import LogFilters
from bot.services.office_report import AuditRow
from bot.services.report_file import audit_table
from bot.texts import load_catalog
from handlers.web.office import log
from handlers.web.office.downloads import XLSX
from storage import queries
from storage.models import AuditEntry
from tests.conftest import EXAMPLE_DELEGATES, local
from tests.office_support import STAFF, STAFF_NAME, Desk, desk_for, text_of
from tests.test_services import row as delegate_row
from tests.web_support import web_for


def entries(html: str) -> list[str]:
    """The ids of the log's entries, in the order shown."""
    return re.findall(r'<li id="entry-(\d+)">', html)


def entry_text(html: str, entry_id: str) -> str:
    """An entry's text, tags dropped and spaces collapsed."""
    start = html.index(f'<li id="entry-{entry_id}">')
    ends = [i for i in (html.find('<li id="entry-', start + 1), html.find("</ol>", start)) if i > 0]
    chunk = html[start : min(ends)]
    return " ".join(re.sub(r"<[^>]+>", "", chunk).split())


async def test_an_entry_says_who_when_what_and_each_field_old_to_new_in_words(
    desk: Desk, imported: Services
) -> None:
    await desk.post(
        "delegates/DB010/phone", "form-phone", {"choice": "declined", "reason": "Đi công tác"},
        page="delegates/DB010",
    )  # fmt: skip
    page = await desk.client.get("/office/log")
    assert page.status_code == 200
    assert 'href="/office/log" aria-current="page"' in page.text
    first = entries(page.text)[0]
    shown = entry_text(page.text, first)
    # 9:00 on 18/5 in Hanoi (the clock's time), the staff member by name, the kind in words.
    assert shown.startswith("09:00, 18/5 — ")
    assert f"{STAFF_NAME}: cập nhật xác nhận tham dự" in shown
    assert "Trạng thái: Chưa trả lời → Không tham dự" in shown
    assert "Lý do: (trống) → Đi công tác" in shown
    assert "Cách ghi nhận: Văn phòng ghi nhận qua điện thoại" in shown  # not «linked via»
    assert f"Người ghi nhận: {STAFF_NAME}" in shown
    assert "{" not in shown and "status" not in shown  # no raw JSON, no column names


async def test_the_log_shows_no_account_id_and_masks_a_substitutes_phone_as_a_delegates(
    desk: Desk, imported: Services
) -> None:
    tokens = {item.code: item.token for item in await imported.invitations.links()}
    zalo = ChatAccount("zalo", "5f1c2a9be04d7c3a81f0", "5f1c2a9be04d7c3a81f0")
    await imported.invitations.link_by_token(zalo, tokens["DB010"])
    await desk.post(
        "delegates/DB010/phone", "form-phone",
        {"choice": "substitute", "name": "Nguyễn Thị Hà", "position": "Phó Chủ tịch",
         "phone": "0912 777 888"},
        page="delegates/DB010",
    )  # fmt: skip
    page = await desk.client.get("/office/log")
    answered = entry_text(page.text, entries(page.text)[0])
    assert "Điện thoại người dự thay: (trống) → +84*******888" in answered
    assert "777" not in answered and "+84912777888" not in page.text
    linked = next(
        entry_text(page.text, e)
        for e in entries(page.text)
        if "liên kết tài khoản" in entry_text(page.text, e)
    )
    assert "Kênh: Zalo" in linked
    assert "Tài khoản" not in linked and "5f1c2a9be04d7c3a81f0" not in page.text


async def test_her_personal_page_opened_is_logged_as_such_not_as_an_account_linked(
    desk: Desk, imported: Services
) -> None:
    """DB031 opens her personal page: the log said «liên kết tài khoản — Kênh: Trang cá nhân»,
    though a page is no account the bot writes to (every count leaves it out). It says she
    opened her page, and «Loại thay đổi: liên kết tài khoản» no longer finds it."""
    web = await web_for(imported)
    await web.client.get(f"/{web.tokens['DB031']}")
    await web.client.aclose()
    page = (await desk.client.get("/office/log")).text
    [opened] = [e for e in entries(page) if "Kênh: Trang cá nhân" in entry_text(page, e)]
    shown = entry_text(page, opened)
    assert shown.endswith(
        "— Nguyễn Thị Lan Phương: mở trang cá nhân lần đầu (Nguyễn Thị Lan Phương) Kênh: Trang"
        " cá nhân"
    )
    assert "liên kết" not in shown.lower()
    linked = (await desk.client.get("/office/log?action=identity.linked")).text
    assert entries(linked) == []
    found = (await desk.client.get("/office/log?action=identity.page_opened")).text
    assert entries(found) == [opened]
    assert (
        '<option value="identity.page_opened" selected>mở trang cá nhân lần đầu</option>' in found
    )


async def test_a_page_opened_logged_before_it_had_its_own_kind_reads_as_a_page_opened(
    desk: Desk, imported: Services
) -> None:
    """A row written before «mở trang cá nhân lần đầu» existed said «liên kết tài khoản» (the
    chat's linking, «via» the page): read, filtered and downloaded as a page opened, as a row
    written today is; a chat really linked stays «liên kết tài khoản»."""
    web = await web_for(imported)
    await web.client.get(f"/{web.tokens['DB031']}")
    await web.client.aclose()
    now = (await desk.client.get("/office/log")).text
    [opened] = [e for e in entries(now) if "Kênh: Trang cá nhân" in entry_text(now, e)]
    async with imported.ctx.sessions() as session, session.begin():
        row = await session.get_one(AuditEntry, int(opened))
        assert row.action == "identity.page_opened"
        row.action = "identity.linked"  # as the old code wrote it
        row.after = {**(row.after or {}), "via": queries.PAGE_LINK}
    telegram = ChatAccount("telegram", "7001", "7001")
    await imported.invitations.link_by_token(telegram, web.tokens["DB032"])
    old = (await desk.client.get("/office/log")).text
    assert entry_text(old, opened) == entry_text(now, opened)
    assert "liên kết" not in entry_text(old, opened).lower()
    found = (await desk.client.get("/office/log?action=identity.page_opened")).text
    assert entries(found) == [opened]
    linked = (await desk.client.get("/office/log?action=identity.linked")).text
    [real] = entries(linked)  # DB032's Telegram, and only it
    assert real != opened and "liên kết tài khoản" in entry_text(linked, real)
    table = (await desk.client.get("/office/log.csv?action=identity.page_opened")).text
    [line] = [row for row in csv.reader(io.StringIO(table))][1:]
    assert line[2] == "mở trang cá nhân lần đầu" and "Cách liên kết" not in line[6]


async def test_an_answer_taken_by_phone_after_the_deadline_is_said_so_in_the_log(
    desk: Desk, imported: Services, clock
) -> None:
    clock.set(local(2024, 5, 26, 10, 0))  # the deadline was 21/5 17:00
    await desk.sign_in()
    await desk.post(
        "delegates/DB010/phone", "form-phone", {"choice": "declined", "reason": "Ốm"},
        page="delegates/DB010",
    )  # fmt: skip
    page = await desk.client.get("/office/log?action=rsvp.changed")
    shown = entry_text(page.text, entries(page.text)[0])
    assert shown.startswith(f"10:00, 26/5 — {STAFF_NAME}: cập nhật xác nhận tham dự")
    assert "Trạng thái: Chưa trả lời → Không tham dự" in shown
    assert "Cách ghi nhận: Văn phòng ghi nhận qua điện thoại (sau thời hạn xác nhận)" in shown


async def test_the_log_filters_by_who_by_kind_and_by_local_date(
    desk: Desk, imported: Services, clock
) -> None:
    tokens = {item.code: item.token for item in await imported.invitations.links()}
    await imported.invitations.link_by_token(ChatAccount("telegram", "501", "501"), tokens["DB020"])
    await desk.post(
        "delegates/DB010/phone", "form-phone", {"choice": "attending"}, page="delegates/DB010"
    )
    mine = await desk.client.get(f"/office/log?who={STAFF}")
    assert text_of(mine.text, "found") == "Có 2 thay đổi phù hợp."  # signed in, the answer
    lower = await desk.client.get(f"/office/log?who={STAFF.lower()}")  # as lists match codes
    assert text_of(lower.text, "found") == "Có 2 thay đổi phù hợp."
    assert all(STAFF_NAME in entry_text(mine.text, e) for e in entries(mine.text))
    theirs = await desk.client.get("/office/log?who=DB020")
    assert text_of(theirs.text, "found") == "Có 1 thay đổi phù hợp."
    assert "liên kết tài khoản" in entry_text(theirs.text, entries(theirs.text)[0])
    kind = await desk.client.get("/office/log?action=rsvp.changed")
    assert text_of(kind.text, "found") == "Có 1 thay đổi phù hợp."
    today = clock.now().date().isoformat()  # 18/5, the same day in UTC and in Hanoi at 9:00
    tomorrow = (clock.now() + timedelta(days=1)).date().isoformat()
    on_the_day = await desk.client.get(f"/office/log?action=rsvp.changed&from={today}&to={today}")
    assert text_of(on_the_day.text, "found") == "Có 1 thay đổi phù hợp."
    later = await desk.client.get(f"/office/log?from={tomorrow}")
    assert text_of(later.text, "found") == "Có 0 thay đổi phù hợp."
    assert entries(later.text) == []


async def test_the_log_finds_whom_a_code_names_in_any_case_whatever_its_letters(
    imported: Services,
) -> None:
    """«Người thực hiện» matches a code as the lists do (casefold): "đb-hòa" is ĐB-Hòa, even
    on SQLite, whose lower() leaves Đ and Ò as they are."""
    await imported.delegates.import_rows([delegate_row("ĐB-Hòa", phone=None)], actor="t")
    tokens = {item.code: item.token for item in await imported.invitations.links()}
    await imported.invitations.link_by_token(
        ChatAccount("telegram", "502", "502"), tokens["ĐB-Hòa"]
    )
    for typed in ("ĐB-Hòa", " đb-hÒA "):
        page = await imported.dashboard.log(LogFilters(who=typed))
        assert [entry.action for entry in page.entries] == ["identity.linked"], typed


async def test_a_change_made_at_the_command_line_is_said_so_on_the_delegate_s_history(
    desk: Desk, imported: Services
) -> None:
    groups = [FileGroup(g.key, g.label) for g in imported.config.groups]
    rows = parse_delegate_file(EXAMPLE_DELEGATES, groups).rows
    moved = [replace(row, position="Phó Chủ tịch") for row in rows if row.code == "DB010"]
    await imported.delegates.import_rows(moved, actor="cli:import")
    page = (await desk.client.get("/office/delegates/DB010")).text
    assert "Dòng lệnh hoinghi: " in text_of(page, "history")
    assert "cli:import" not in page
    await imported.signin.link_for_code(STAFF)  # asked for at the command line
    log = (await desk.client.get("/office/log?action=staff.link_issued")).text
    assert "Yêu cầu từ: dòng lệnh hoinghi (máy của Văn phòng)" in re.sub(r"<[^>]+>", " ", log)


async def test_the_log_goes_on_page_after_page_newest_first_without_gaps(
    desk: Desk, imported: Services, clock
) -> None:
    start = clock.now()
    async with imported.ctx.sessions() as session, session.begin():
        await queries.insert_audit(
            session,
            [
                {"at": start + timedelta(minutes=n // 2), "actor": "cli:test",
                 "action": "delegate.updated", "entity": "delegate", "entity_id": None,
                 "before": {"rank": n}, "after": {"rank": n + 1}}
                for n in range(120)
            ],
        )  # fmt: skip
    seen: list[str] = []
    url = "/office/log?action=delegate.updated"
    while url:
        page = await desk.client.get(url)
        assert text_of(page.text, "found") == "Có 120 thay đổi phù hợp."
        seen += entries(page.text)
        found = re.search(r'id="next-page" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert len(seen) == 120 and len(set(seen)) == 120
    # Newest first: two entries share each minute, the later id first.
    assert [int(n) for n in seen] == sorted((int(n) for n in seen), reverse=True)


async def test_an_unknown_kind_of_change_is_still_shown_in_words(
    desk: Desk, imported: Services, clock
) -> None:
    async with imported.ctx.sessions() as session, session.begin():
        queries.add_audit(
            session, at=clock.now(), actor="system", action="future.thing", entity="meeting",
            entity_id=None, before=None, after={"note": "mới"},
        )  # fmt: skip
    page = await desk.client.get("/office/log")
    shown = entry_text(page.text, entries(page.text)[0])
    assert "Hệ thống: thao tác «future.thing» (hội nghị)" in shown
    assert "Ghi chú: mới" in shown


def test_every_kind_of_change_the_log_names_can_be_chosen_in_its_filter() -> None:
    # «đánh dấu đã gửi giấy mời» was named in the log but missing from its «Loại thay đổi»:
    # the overview's «Xem trong nhật ký» for a bulk mark showed every change, unfiltered.
    prefix = "dash.action."
    named = {
        key.removeprefix(prefix).replace("_", ".", 1)
        for key in load_catalog("vi").all_keys()
        if key.startswith(prefix)
    }
    assert set(log.ACTIONS) == named


async def test_filtering_the_log_by_author_or_kind_reads_an_index_not_the_table(
    imported: Services,
) -> None:
    if imported.ctx.sessions.kw["bind"].dialect.name != "sqlite":
        pytest.skip("SQLite's EXPLAIN QUERY PLAN: PostgreSQL's planner reads a small table whole")
    async with imported.ctx.sessions() as session:
        plans = {
            where: " ".join(
                str(row[-1])
                for row in await session.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT id FROM audit_log WHERE " + where
                        + " ORDER BY at DESC, id DESC LIMIT 51"
                    )
                )
            )
            for where in ("actor IN ('a', 'b')", "action = 'rsvp.changed'",
                          "entity = 'delegate' AND entity_id = 3",
                          # As the dashboard asks since 0017: within its meeting (0019).
                          "meeting_id = 1 AND action = 'rsvp.changed'")
        }  # fmt: skip
    assert "ix_audit_log_actor_at" in plans["actor IN ('a', 'b')"]
    assert "ix_audit_log_action_at" in plans["action = 'rsvp.changed'"]
    assert "ix_audit_log_subject" in plans["entity = 'delegate' AND entity_id = 3"]
    assert "ix_audit_log_meeting_action_at" in plans["meeting_id = 1 AND action = 'rsvp.changed'"]


async def test_a_notice_task_or_draft_is_named_and_a_dropped_notice_draft_is_not_logged(
    desk: Desk, imported: Services
) -> None:
    office = imported.access.local_operator()
    broadcasts = imported.broadcasts
    # A draft dropped at its preview was never a notice: nothing to log.
    dropped = await broadcasts.start(office)
    await broadcasts.accept_text(office, "Bản nháp bỏ.")
    await broadcasts.cancel(office)
    scheduled = await broadcasts.start(office)
    assert scheduled.message_id is not None and scheduled.message_id != dropped.message_id
    await broadcasts.accept_text(office, "Nhắc lịch họp.")
    await broadcasts.choose_audience(office, scheduled.message_id, "linked")
    await broadcasts.schedule(office, scheduled.message_id, "08:00 20/5")
    await broadcasts.cancel(office, scheduled.message_id)
    task = next(line.id for line in await imported.tasks.office_board() if line.key == "VI.1.1")
    await imported.tasks.close(office, task, "Đã xong qua điện thoại")
    await imported.tasks.reopen(office, task, "Cần bổ sung báo cáo")
    await imported.drafts.unassign(office, "DB031", "1.1")
    page = (await desk.client.get("/office/log?action=broadcast.cancelled")).text
    [cancelled] = entries(page)
    shown = entry_text(page, cancelled)
    # Named by its number within the meeting (the first notice), not the outbox row's id.
    assert scheduled.message_id == dropped.message_id + 1
    assert "hủy thông báo (thông báo số 1)" in shown
    assert "Dự kiến gửi: 20/05/2024 08:00 → (bỏ)" in shown  # the time it no longer has
    page = (await desk.client.get("/office/log?action=task.reopened")).text
    [reopened] = entries(page)
    assert "mở lại nhiệm vụ (nhiệm vụ VI.1.1)" in entry_text(page, reopened)
    page = (await desk.client.get("/office/log?action=draft.unassigned")).text
    [unassigned] = entries(page)
    assert "(tham luận chủ đề 1.1 — Nguyễn Thị Lan Phương)" in entry_text(page, unassigned)


# --- the log as a file ----------------------------------------------------------------------------


async def _several_days_of_changes(desk: Desk, imported: Services, clock) -> None:
    """Changes by the staff member at the desk, by a delegate on Telegram and at the command
    line, spread over three days, so that each filter keeps some and leaves others."""
    tokens = {item.code: item.token for item in await imported.invitations.links()}
    await imported.invitations.link_by_token(ChatAccount("telegram", "501", "501"), tokens["DB020"])
    await desk.post(
        "delegates/DB010/phone", "form-phone", {"choice": "declined", "reason": "Đi công tác"},
        page="delegates/DB010",
    )  # fmt: skip
    start = clock.now()
    async with imported.ctx.sessions() as session, session.begin():
        await queries.insert_audit(
            session,
            [
                {"at": start + timedelta(days=n % 3, minutes=n), "actor": "cli:test",
                 "action": "delegate.updated", "entity": "delegate", "entity_id": None,
                 "before": {"position": f"Chức vụ {n}"}, "after": {"position": f"Chức vụ {n + 1}"}}
                for n in range(9)
            ],
        )  # fmt: skip


async def _all_pages(desk: Desk, url: str) -> list[str]:
    """The ids of every entry the log shows from ``url`` on, page after page, newest first."""
    seen: list[str] = []
    while url:
        page = await desk.client.get(url)
        seen += entries(page.text)
        found = re.search(r'id="next-page" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
    return seen


async def _expected_rows(imported: Services, ids: list[str]) -> list[list[object]]:
    """The CLI export's rows (``hoinghi audit export``: the same builder, unfiltered) of the
    entries with ``ids``, newest first."""
    async with imported.ctx.sessions() as session:
        wanted = set(
            await session.scalars(
                select(AuditEntry.id).where(AuditEntry.id.in_([int(n) for n in ids]))
            )
        )
        every = list(
            await session.scalars(
                select(AuditEntry.id).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            )
        )
    catalog = load_catalog("vi")
    _, rows = audit_table(catalog, imported.config, await imported.office_report.audit())
    return [
        [_csv_cell(cell) for cell in row]
        for audit_id, row in zip(every, rows, strict=True)
        if audit_id in wanted
    ]


def _csv_cell(cell: object) -> object:
    """A cell as the CSV writes it (a time to the minute, nothing as an empty text)."""
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.strftime("%d/%m/%Y %H:%M")
    return str(cell)


# All 104: the changes, and the plan's ten speakers the import assigned («draft.assigned»).
@pytest.mark.parametrize(
    ("filters", "count"),
    [("", 104), ("?who=DB001", 2), ("?action=delegate.updated", 9),
     ("?who=DB020&action=identity.linked", 1), ("?from=2024-05-19&to=2024-05-19", 3),
     ("?action=delegate.updated&from=2024-05-20", 3)],
)  # fmt: skip
async def test_the_log_s_download_holds_exactly_the_entries_its_filtered_pages_show(
    desk: Desk, imported: Services, clock, filters: str, count: int
) -> None:
    await _several_days_of_changes(desk, imported, clock)
    shown = await _all_pages(desk, f"/office/log{filters}")  # 50 a page: the whole log is two
    assert len(shown) == count
    page = (await desk.client.get(f"/office/log{filters}")).text
    wanted = "&amp;".join(part for part in filters.lstrip("?").split("&") if part)
    suffix = f"?{wanted}" if wanted else ""
    assert f'href="/office/log.xlsx{suffix}" id="download-log-xlsx">Tải về (.xlsx)</a>' in page
    assert f'href="/office/log.csv{suffix}" id="download-log-csv"' in page
    response = await desk.client.get(f"/office/log.csv{filters}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    catalog = load_catalog("vi")
    names = ("at", "who", "action", "entity", "id", "before", "after", "subject", "account")
    assert table[0] == [catalog.plain(f"report_sheet.audit.{name}") for name in names]
    # Every page's entries, newest first as the pages list them and the command line's file
    # writes them, in its words.
    assert table[1:] == await _expected_rows(imported, shown)
    moments = [datetime.strptime(row[0], "%d/%m/%Y %H:%M") for row in table[1:]]
    assert moments == sorted(moments, reverse=True)
    book = await desk.client.get(f"/office/log.xlsx{filters}")
    sheet = load_workbook(io.BytesIO(book.content), read_only=True)["Nhật ký"]
    cells = [[_csv_cell(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert cells == table


async def test_the_log_s_download_says_who_did_what_in_the_command_line_s_words(
    desk: Desk, imported: Services, clock
) -> None:
    await _several_days_of_changes(desk, imported, clock)
    response = await desk.client.get("/office/log.xlsx?action=rsvp.changed")
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert response.headers["cache-control"] == "no-store"
    # The meeting and the moment it was taken (9:00 on 18/5 in Hanoi), plain letters.
    assert response.headers["content-disposition"] == (
        'attachment; filename="nhat-ky-60-KH-BTV-20240518-0900.xlsx"'
    )
    rows = list(load_workbook(io.BytesIO(response.content)).worksheets[0].values)
    assert len(rows) == 2
    # The CLI's columns and the page's words: who by name and code, the kind of change as the
    # page says it, before and after in words, whom it is about, and last the account as
    # audited, for the technician; the time in the meeting's zone.
    assert rows[1] == (
        datetime(2024, 5, 18, 9, 0), f"{STAFF_NAME} ({STAFF})",
        "cập nhật xác nhận tham dự", "người trong danh sách", 10, "Trạng thái: Chưa trả lời",
        "Trạng thái: Không tham dự; Lý do: Đi công tác; Cách ghi nhận: Văn phòng ghi nhận qua "
        f"điện thoại; Người ghi nhận: {STAFF_NAME}",
        "Trịnh Văn Thắng (DB010)", f"dashboard:{STAFF}",
    )  # fmt: skip
    csv_file = await desk.client.get("/office/log.csv?action=rsvp.changed")
    assert csv_file.headers["content-disposition"] == (
        'attachment; filename="nhat-ky-60-KH-BTV-20240518-0900.csv"'
    )


async def test_the_who_filter_s_hint_names_no_code_the_plan_does_not_use(
    desk: Desk, imported: Services
) -> None:
    page = (await desk.client.get("/office/log")).text
    assert 'placeholder="mã cán bộ hoặc đại biểu"' in page  # was «ví dụ: VP01»


async def test_the_log_s_download_labels_every_action_as_the_page_does(
    desk: Desk, imported: Services
) -> None:
    # Every kind of change the log knows (its «Thay đổi» choice), so that a new one cannot be
    # labelled on the page and left as a code, or in other words, in the file.
    page = (await desk.client.get("/office/log")).text
    shown = dict(re.findall(r'<option value="([a-z_.]+)" >([^<]+)</option>', page))
    assert list(shown) == list(log.ACTIONS)
    at = datetime(2024, 5, 18, 2, 0)
    rows = [
        AuditRow(at, "cli:import", None, False, action, "delegate", 1, None, None)
        for action in log.ACTIONS
    ]
    _, table = audit_table(load_catalog("vi"), imported.config, rows)
    assert {action: row[2] for action, row in zip(log.ACTIONS, table, strict=True)} == shown
    assert shown["rsvp.changed"] == "cập nhật xác nhận tham dự"
    assert shown["staff.link_issued"] == "cấp đường liên kết đăng nhập trang điều hành"


async def test_the_log_s_download_says_who_in_words_and_the_account_last(
    desk: Desk, imported: Services
) -> None:
    at = datetime(2024, 5, 18, 2, 0)
    accounts = ["cli:import", "plan", "web:10", "dashboard:NV99", "system"]
    rows = [
        AuditRow(at, account, None, False, "delegate.updated", "delegate", 1, None, None)
        for account in accounts
    ]
    headings, table = audit_table(load_catalog("vi"), imported.config, rows)
    assert headings[1] == "Người thực hiện" and headings[-1] == "Tài khoản (mã kỹ thuật)"
    assert [(row[1], row[-1]) for row in table] == [
        ("Dòng lệnh hoinghi", "cli:import"),
        ("Kế hoạch (tệp cấu hình)", "plan"),
        ("Trình duyệt chưa xác định", "web:10"),
        ("NV99", "dashboard:NV99"),  # a clerk no longer on the list: her code, as the page
        ("Hệ thống", "system"),
    ]


async def test_the_check_in_role_cannot_download_the_log(imported: Services) -> None:
    access = imported.access
    await access.grant(access.local_operator(), "DB002", Role.CHECKIN)
    desk = await desk_for(imported)
    try:
        assert (await desk.sign_in("DB002")).headers["location"] == "/office/checkin"
        for path in ("/office/log.xlsx", "/office/log.csv?who=DB001"):
            refused = await desk.client.get(path)
            assert refused.status_code == 403, path
            assert 'id="message-checkin_only"' in refused.text, path
            assert "content-disposition" not in refused.headers, path
    finally:
        await desk.client.aclose()


async def test_a_draft_version_in_the_log_says_its_file_not_its_sha256_digest(
    desk: Desk, imported: Services
) -> None:
    web = await web_for(imported)
    [draft] = [line.id for line in await imported.drafts.board() if line.code == "DB031"]
    await web.post("DB031", f"draft/{draft}/text", f"draft-{draft}-type", {"text": "Bài"})
    await web.client.aclose()
    page = (await desk.client.get("/office/log?action=draft.version")).text
    [version] = entries(page)
    shown = entry_text(page, version)
    assert "Bản số: 1" in shown
    assert "SHA-256" not in shown and "Mã kiểm tra" not in shown
    # The download keeps the digest, for whoever compares files.
    download = (await desk.client.get("/office/log.csv?action=draft.version")).text
    assert "Mã kiểm tra SHA-256: " in download
