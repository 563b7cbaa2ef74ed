"""A task's deliverable uploaded on the personal page: the chat's checks and records, kept in
the file store, and sent to the office as a document through the outbox."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain.drafts import DraftStatus
from bot.domain.tasks import MAX_TASK_FILES
from storage.files import MAX_BYTES
from storage.models import AuditEntry, TaskEvidence
from tests.conftest import local
from tests.harness import OFFICE_CHAT, BotHarness
from tests.samples import docx, zip_bytes
from tests.tasks_support import audit_count, board_text, office_staff, task_id, with_contacts
from tests.test_outbox import texts
from tests.web_support import Web, flash, form_fields, web_for

OWNER = "NV03"  # the contact of task VI.1.1
SAVED = "Đã nhận sản phẩm của nhiệm vụ VI.1.1; Văn phòng đã được thông báo."


@pytest.fixture
async def web(harness: BotHarness) -> AsyncIterator[Web]:
    await with_contacts(harness)
    web = await web_for(harness.services)
    yield web
    await web.client.aclose()


async def upload(web: Web, task: int, name: str, content: bytes) -> str:
    """Send ``content`` as ``name`` from the owner's page as the task's deliverable; the
    message the page then shows."""
    page = await web.open(OWNER)
    fields = form_fields(page.text, f"task-{task}-upload")
    response = await web.client.post(
        f"/{web.tokens[OWNER]}/task/{task}/file",
        data=fields,
        files={"file": (name, content, "application/octet-stream")},
    )
    assert response.status_code == 303
    return flash((await web.client.get(response.headers["location"])).text)


async def evidence(harness: BotHarness) -> list[TaskEvidence]:
    """Every deliverable recorded."""
    async with harness.services.ctx.sessions() as session:
        return list(await session.scalars(select(TaskEvidence).order_by(TaskEvidence.id)))


def office_notes(harness: BotHarness) -> list[str]:
    """The deliverable notes the office chat got (not the files' captions)."""
    return [t for t in texts(harness, OFFICE_CHAT) if "gửi sản phẩm nhiệm vụ" in t]


async def test_the_file_after_the_most_one_may_send_for_a_task_is_refused_and_not_written(
    web: Web, harness: BotHarness
) -> None:
    # Without a bound, one personal link filled the disk at 22 MB a second (20 MB files).
    task = await task_id(harness, "VI.1.1")
    for number in range(1, MAX_TASK_FILES + 1):
        assert await upload(web, task, f"bang-ke-{number}.docx", docx(f"Bảng kê {number}")) == SAVED
    store = harness.services.drafts.files.root
    kept = sorted(store.rglob("*"))
    said = await upload(web, task, "bang-ke-them.docx", docx("Bảng kê thêm"))
    assert said == (
        f"Đồng chí đã gửi {MAX_TASK_FILES} tệp cho nhiệm vụ VI.1.1, là số tệp tối đa được nhận, "
        "nên tệp vừa gửi chưa được lưu. Đề nghị đồng chí gửi đường liên kết (Google Drive, "
        "OneDrive…) hoặc liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại "
        "024 3834 5678."
    )
    assert sorted(store.rglob("*")) == kept
    assert len(await evidence(harness)) == MAX_TASK_FILES


async def test_files_sent_at_once_past_the_most_for_a_task_are_refused_all_the_same(
    web: Web, harness: BotHarness
) -> None:
    """Each upload checks the count before writing and again as it records the file: uploads
    sent together (parallel requests on one link) do not pass the most."""
    task = await task_id(harness, "VI.1.1")
    for number in range(1, MAX_TASK_FILES):
        assert await upload(web, task, f"bang-ke-{number}.docx", docx(f"Bảng kê {number}")) == SAVED
    said = await asyncio.gather(
        *(upload(web, task, f"cung-luc-{n}.docx", docx(f"Cùng lúc {n}")) for n in range(3))
    )
    assert sum(answer == SAVED for answer in said) == 1
    assert len(await evidence(harness)) == MAX_TASK_FILES


def blobs(harness: BotHarness) -> list[Path]:
    """The files in the store's directory."""
    root = harness.services.drafts.files.root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_a_page_upload_beaten_to_her_last_place_by_another_leaves_no_file_on_disk(
    web: Web, harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two uploads from her page at once for her last place: the first finds room, and while
    # its file is being checked the other one is taken whole. The first is refused, and no
    # blob of it is left on disk with no row naming it (nothing would ever remove it).
    task = await task_id(harness, "VI.1.1")
    for number in range(1, MAX_TASK_FILES):
        assert await upload(web, task, f"bang-ke-{number}.docx", docx(f"Bảng kê {number}")) == SAVED
    store = harness.services.tasks._files
    examine = store.examine
    loop = asyncio.get_running_loop()
    other: list[str] = []

    def the_other_upload_is_taken_meanwhile(*args: object) -> object:
        # Runs in the worker thread that checks the first file; the other upload's own check
        # comes back here and goes straight on.
        if not other:
            other.append("")
            other[0] = asyncio.run_coroutine_threadsafe(
                upload(web, task, "cung-luc.docx", docx("Cùng lúc")), loop
            ).result()
        return examine(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "examine", the_other_upload_is_taken_meanwhile)
    last = docx("Bảng kê cuối")
    said = await upload(web, task, "bang-ke-cuoi.docx", last)
    assert other == [SAVED]
    assert said == (
        f"Đồng chí đã gửi {MAX_TASK_FILES} tệp cho nhiệm vụ VI.1.1, là số tệp tối đa được nhận, "
        "nên tệp vừa gửi chưa được lưu. Đề nghị đồng chí gửi đường liên kết (Google Drive, "
        "OneDrive…) hoặc liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại "
        "024 3834 5678."
    )
    assert len(await evidence(harness)) == MAX_TASK_FILES
    assert len(blobs(harness)) == MAX_TASK_FILES  # one per file on record, none more
    assert not store.path_for(hashlib.sha256(last).hexdigest()).exists()


async def test_a_deliverable_uploaded_on_the_page_is_kept_audited_and_sent_to_the_office(
    web: Web, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.1")
    content = docx("Dự thảo báo cáo sơ kết")
    name = "Du-thao-bao-cao-so-ket.docx"
    assert await upload(web, task, name, content) == SAVED
    [row] = await evidence(harness)
    digest = hashlib.sha256(content).hexdigest()
    assert (row.kind, row.name, row.channel, row.file_ref, row.sha256, row.size) == (
        "file",
        name,
        "web",
        None,
        digest,
        len(content),
    )
    assert harness.services.drafts.files.path_for(digest).read_bytes() == content
    # The chat's audit row for a deliverable file, by the page's account.
    async with harness.services.ctx.sessions() as session:
        [audit] = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "task.evidence")
        )
    assert audit.actor.startswith("web:") and audit.after["kind"] == "file"
    assert audit.after["name"] == name
    # The office's note, as for a file sent in chat, then the file itself as a document.
    await harness.tick()
    [note] = office_notes(harness)
    assert f"gửi sản phẩm nhiệm vụ VI.1.1: {name}" in note
    assert f"📎 Tệp {name}" in texts(harness, OFFICE_CHAT)  # the file, with its caption
    [sent] = harness.fake.calls_to("sendDocument")
    assert sent.params["chat_id"] == OFFICE_CHAT
    assert sent.uploads["document"].file_name == name
    assert sent.uploads["document"].content == content
    # The page lists it; the office opens it from the board like a file sent in chat.
    assert name in (await web.open(OWNER)).text.split('id="task-', 1)[1]
    board = await board_text(harness)
    assert f"📎 Tệp {name}" in board
    admin = harness.admin()
    await harness.send(admin.tap(f"Mở tệp: {name}"))
    opened = harness.fake.calls_to("sendDocument")[-1]
    assert opened.params["chat_id"] == admin.id
    assert opened.uploads["document"].content == content


async def test_the_same_deliverable_again_is_recognised_and_the_office_is_told_once(
    web: Web, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.1")
    content = docx("Báo cáo")
    assert await upload(web, task, "Bao-cao.docx", content) == SAVED
    again = await upload(web, task, "Bao-cao (1).docx", content)
    assert again.startswith("Tệp này giống hệt tệp đồng chí đã gửi cho nhiệm vụ VI.1.1")
    assert len(await evidence(harness)) == 1
    assert await audit_count(harness, "task.evidence") == 1
    await harness.tick()
    assert len(office_notes(harness)) == 1
    # Changed bytes are a new deliverable.
    assert await upload(web, task, "Bao-cao.docx", docx("Báo cáo, bản sửa")) == SAVED
    assert len(await evidence(harness)) == 2


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("setup.exe", b"MZ\x90\x00 a program", "Sản phẩm được nhận ở dạng văn bản"),
        (
            "Bao-cao.docx",
            zip_bytes([("evil.exe", b"MZ\x90\x00 a program")]),
            "Bên trong tệp có chương trình",
        ),
        ("Bao-cao.docx", b"", "Tệp không có nội dung."),
    ],
    ids=["a-program", "program-inside", "empty"],
)
async def test_a_deliverable_the_chat_refuses_is_refused_on_the_page_and_kept_nowhere(
    web: Web, harness: BotHarness, name: str, content: bytes, expected: str
) -> None:
    task = await task_id(harness, "VI.1.1")
    assert (await upload(web, task, name, content)).startswith(expected)
    assert await evidence(harness) == []
    store = harness.services.drafts.files.root
    assert not store.exists() or not any(p.is_file() for p in store.rglob("*"))
    await harness.tick()
    assert office_notes(harness) == []
    # Nothing is lost: a sound file is taken after it.
    assert await upload(web, task, "Bao-cao.docx", docx("Báo cáo sơ kết")) == SAVED


async def test_a_page_without_a_chosen_file_asks_for_one(web: Web, harness: BotHarness) -> None:
    task = await task_id(harness, "VI.1.1")
    page = await web.open(OWNER)
    response = await web.client.post(
        f"/{web.tokens[OWNER]}/task/{task}/file",
        data=form_fields(page.text, f"task-{task}-upload"),
        files={"file": ("", b"", "application/octet-stream")},
    )
    said = flash((await web.client.get(response.headers["location"])).text)
    assert said.startswith("Đồng chí chưa chọn tệp.")


async def test_a_task_no_longer_in_the_plan_is_said_in_the_page_s_words_not_the_chat_s(
    web: Web, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.1")
    page = await web.open(OWNER)
    response = await web.client.post(
        f"/{web.tokens[OWNER]}/task/{task + 1000}/file",
        data=form_fields(page.text, f"task-{task}-upload"),
        files={"file": ("Bao-cao.docx", docx("Báo cáo"), "application/octet-stream")},
    )
    said = flash((await web.client.get(response.headers["location"])).text)
    assert said == (
        "Nhiệm vụ này không còn trong kế hoạch. Các nhiệm vụ hiện tại của đồng chí có trên trang "
        "này."
    )  # not «Gõ /nhiemvu»: there is no chat on the page
    assert await evidence(harness) == []


async def test_a_deliverable_past_20_mb_is_cut_off_as_it_streams_with_the_tasks_way_out(
    web: Web, harness: BotHarness
) -> None:
    task = await task_id(harness, "VI.1.1")
    fields = form_fields((await web.open(OWNER)).text, f"task-{task}-upload")
    boundary = "xyzBOUNDARY"
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    )
    sent = 0
    chunk = b"\0" * (1024 * 1024)

    async def body() -> AsyncIterator[bytes]:  # 40 MB announced by nobody: chunked
        nonlocal sent
        yield head.encode()
        for _ in range(40):
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await web.client.post(
        f"/{web.tokens[OWNER]}/task/{task}/file",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 303
    said = flash((await web.client.get(response.headers["location"])).text)
    assert said.startswith("Tệp lớn hơn 20 MB, quá giới hạn nhận tệp. Đề nghị gửi đường liên kết")
    assert sent < MAX_BYTES + 3 * len(chunk)  # reading stopped at the limit
    assert await evidence(harness) == []


async def test_purging_drafts_keeps_a_blob_a_deliverable_still_uses(
    web: Web, harness: BotHarness
) -> None:
    """The store keeps one blob per content: a deliverable with a draft's very bytes keeps
    them when the drafts are purged."""
    services = harness.services
    content = docx("Một tệp vừa là tham luận vừa là sản phẩm")
    [line] = [line for line in await services.drafts.board() if line.code == "DB031"]
    speaker = await web_for(services)
    try:
        page = await speaker.open("DB031")
        response = await speaker.client.post(
            f"/{speaker.tokens['DB031']}/draft/{line.id}/file",
            data=form_fields(page.text, f"draft-{line.id}-upload"),
            files={"file": ("tham-luan.docx", content, "application/octet-stream")},
        )
        assert response.status_code == 303
    finally:
        await speaker.client.aclose()
    assert [v.status for v in await services.drafts.board() if v.code == "DB031"] == [
        DraftStatus.SUBMITTED
    ]
    task = await task_id(harness, "VI.1.1")
    assert await upload(web, task, "San-pham.docx", content) == SAVED
    await services.privacy.purge(drafts=True, force=True)
    digest = hashlib.sha256(content).hexdigest()
    assert services.drafts.files.path_for(digest).read_bytes() == content


async def test_a_task_contact_s_page_is_no_invitation_to_attend(web: Web) -> None:
    contact = (await web.open(OWNER)).text
    shown = re.search(r'<p id="invites">(.*?)</p>', contact)
    assert shown is not None and shown.group(1).startswith("Đồng chí là đầu mối thực hiện")
    assert "trân trọng kính mời" not in contact and 'id="answer"' not in contact
    invited = (await web.open("DB001")).text
    assert "trân trọng kính mời đồng chí tới dự" in invited


async def task_section(web: Web, code: str, task: int) -> str:
    """The task's part of ``code``'s personal page: from its article to the article's end."""
    return (await web.open(code)).text.split(f'id="task-{task}"', 1)[1].split("</article>")[0]


async def test_her_page_says_the_office_recorded_her_report_not_as_a_note_of_hers(
    web: Web, harness: BotHarness
) -> None:
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.1")
    harness.clock.set(local(2024, 4, 29, 10, 0))
    await tasks.record_for(office, task, OWNER, note="qua điện thoại")
    section = await task_section(web, OWNER, task)
    assert (
        f'<p class="text" id="task-{task}-recorded">Văn phòng đã ghi nhận báo cáo của đồng chí '
        "(qua điện thoại) lúc 10:00, 29/4.</p>"
    ) in section
    assert '<p class="text">qua điện thoại</p>' not in section
    # Undone (recorded by mistake): nothing of the office's is said any more.
    await tasks.undo_record(office, task, OWNER)
    await tasks.record_for(office, task, OWNER)  # and recorded again, without a note
    section = await task_section(web, OWNER, task)
    assert (
        f'<p class="text" id="task-{task}-recorded">'
        "Văn phòng đã ghi nhận báo cáo của đồng chí lúc 10:00, 29/4.</p>"
    ) in section


async def test_her_page_still_says_the_office_recorded_her_report_after_she_sends_her_file(
    web: Web, harness: BotHarness
) -> None:
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.1")
    harness.clock.set(local(2024, 4, 29, 10, 0))
    await tasks.record_for(office, task, OWNER, note="qua điện thoại")
    harness.clock.set(local(2024, 4, 29, 11, 0))
    assert await upload(web, task, "Bao-cao.docx", docx("Báo cáo")) == SAVED
    section = await task_section(web, OWNER, task)
    assert (
        f'<p class="text" id="task-{task}-recorded">Văn phòng đã ghi nhận báo cáo của đồng chí '
        "(qua điện thoại) lúc 10:00, 29/4.</p>"
    ) in section
    assert '<p class="text">qua điện thoại</p>' not in section
    sent = section.split(f'<ul id="task-{task}-evidence">', 1)[1].split("</ul>")[0]
    assert "Bao-cao.docx" in sent and "nhận lúc 11:00, 29/4" in sent


async def test_her_page_lists_the_file_attached_to_the_offices_record_as_the_offices(
    web: Web, harness: BotHarness
) -> None:
    tasks = harness.services.tasks
    office = await office_staff(harness)
    task = await task_id(harness, "VI.1.1")
    harness.clock.set(local(2024, 4, 29, 10, 0))
    await tasks.record_for(
        office, task, OWNER, note="qua điện thoại", file=("Ban-ghi-VP.docx", docx("bản ghi"))
    )
    harness.clock.set(local(2024, 4, 29, 11, 0))
    assert await upload(web, task, "Bao-cao.docx", docx("Báo cáo")) == SAVED
    section = (await web.open(OWNER)).text.split(f'id="task-{task}"', 1)[1].split("</article>")[0]
    sent = section.split(f'<ul id="task-{task}-evidence">', 1)[1].split("</ul>")[0]
    items = re.findall(r"<li>(.*?)</li>", sent)
    assert [re.sub(r"\(\d[^)]*\)", "(…)", item) for item in items] == [
        "Ban-ghi-VP.docx (…), Văn phòng gửi kèm khi ghi nhận báo cáo của đồng chí lúc 10:00, 29/4",
        "Bao-cao.docx (…), nhận lúc 11:00, 29/4",
    ]


def standing(section: str, task: int) -> str:
    """The deadline and status line of a task on a personal page, as it is written."""
    found = re.search(rf'<p class="muted" id="task-{task}-standing">(.*?)</p>', section)
    assert found is not None, section
    return found.group(1)


async def test_her_page_says_a_task_is_overdue_exactly_when_the_office_board_does(
    web: Web, harness: BotHarness
) -> None:
    tasks = harness.services.tasks
    task = await task_id(harness, "VI.1.1")  # due 17:00, 7/5/2024
    harness.clock.set(local(2024, 5, 7, 16, 59))
    assert standing(await task_section(web, OWNER, task), task) == (
        "Hạn: 17:00, 7/5 — Tình trạng: chưa báo cáo"
    )
    assert not (await tasks.task(task)).overdue  # type: ignore[union-attr]
    harness.clock.set(local(2024, 5, 7, 17, 1))
    assert (await tasks.task(task)).overdue  # type: ignore[union-attr]
    assert standing(await task_section(web, OWNER, task), task) == (
        "<strong>Hạn: 17:00, 7/5 (quá hạn)</strong> — Tình trạng: chưa báo cáo"
    )
    # Reported done: no longer overdue, on her page as on the office's board.
    await web.post(OWNER, f"task/{task}", f"task-{task}-done", {"action": "done"})
    assert not (await tasks.task(task)).overdue  # type: ignore[union-attr]
    assert standing(await task_section(web, OWNER, task), task) == (
        "Hạn: 17:00, 7/5 — Tình trạng: đã hoàn thành"
    )
