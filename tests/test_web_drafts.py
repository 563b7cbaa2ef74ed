"""Drafts and tasks on the personal page: the chat's use cases, checks, store and receipts."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.domain.drafts import MAX_VERSIONS, DraftStatus
from bot.services import Services
from storage.models import Delegate, DraftComment, DraftVersion, TaskAssignment, TaskEvidence
from tests.samples import docx
from tests.web_support import Web, flash, form_fields, web_for

SPEAKER = "DB031"  # theme 1.1, and a district chair: task VI.2 is theirs too


@pytest.fixture
async def web(imported: Services) -> AsyncIterator[Web]:
    web = await web_for(imported)
    yield web
    await web.client.aclose()


async def _draft_id(web: Web) -> int:
    [line] = [line for line in await web.services.drafts.board() if line.code == SPEAKER]
    return line.id


async def upload(web: Web, name: str, content: bytes) -> str:
    """Upload ``content`` as ``name`` from the speaker's page; the message the page shows."""
    draft = await _draft_id(web)
    page = await web.open(SPEAKER)
    fields = form_fields(page.text, f"draft-{draft}-upload")
    response = await web.client.post(
        f"/{web.tokens[SPEAKER]}/draft/{draft}/file",
        data=fields,
        files={"file": (name, content, "application/octet-stream")},
    )
    assert response.status_code == 303
    return flash((await web.client.get(response.headers["location"])).text)


async def test_a_draft_uploaded_on_the_page_is_stored_once_and_receipted_with_its_version(
    web: Web, imported: Services
) -> None:
    content = docx("Tham luận chủ đề 1.1")
    said = await upload(web, "tham-luan.docx", content)
    assert said.startswith("✅ Đã nhận bản 1 lúc ")
    again = await upload(web, "tham-luan (1).docx", content)
    assert again.startswith("Bản này giống hệt bản 1 đồng chí đã gửi")
    async with imported.ctx.sessions() as session:
        versions = list(await session.scalars(select(DraftVersion)))
    assert [(v.number, v.kind, v.created_by.startswith("web:")) for v in versions] == [
        (1, "file", True)
    ]
    page = await web.open(SPEAKER)
    assert "Bản 1: tham-luan.docx" in page.text


async def test_the_version_after_the_most_a_speaker_may_send_is_refused_and_not_written(
    web: Web, imported: Services
) -> None:
    # Without a bound, one personal link filled the disk at 22 MB a second (20 MB files).
    for number in range(1, MAX_VERSIONS + 1):
        said = await upload(web, "tham-luan.docx", docx(f"Bản {number}"))
        assert said.startswith(f"✅ Đã nhận bản {number} lúc ")
    store = imported.drafts.files.root
    kept = sorted(store.rglob("*"))
    said = await upload(web, "tham-luan.docx", docx("Bản thêm"))
    assert said == (
        f"Đồng chí đã gửi {MAX_VERSIONS} bản cho tham luận chủ đề 1.1, là số bản tối đa được "
        "nhận, nên bản vừa gửi chưa được lưu. Đề nghị đồng chí liên hệ đồng chí Trần Thu Hà, "
        "Phó Chánh Văn phòng, điện thoại 024 3834 5678 để gửi bản mới."
    )
    assert sorted(store.rglob("*")) == kept
    async with imported.ctx.sessions() as session:
        numbers = list(await session.scalars(select(DraftVersion.number)))
    assert max(numbers) == len(numbers) == MAX_VERSIONS


async def test_the_page_refuses_what_the_chat_refuses_by_type_and_by_content(
    web: Web, imported: Services
) -> None:
    refused = "Tham luận chỉ được nhận ở dạng .docx, .doc, .pdf"
    assert (await upload(web, "virus.exe", b"MZ...")).startswith(refused)
    # Named .docx, but its bytes are no document: storage.content judges it as the chat's.
    assert (await upload(web, "fake.docx", b"MZ\x90\x00 not a zip at all")).startswith(refused)
    async with imported.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftVersion))) == []


async def test_the_longest_typed_draft_in_vietnamese_or_emoji_is_taken_and_a_longer_form_told_so(
    web: Web, imported: Services
) -> None:
    # 60,000 characters is the server's limit; written with diacritics (three bytes each in UTF-8,
    # each sent as %XX) or emoji, the form was refused as «a file over 20 MB».
    draft = await _draft_id(web)
    for text in ("ệ" * 60_000, "🙂" * 30_000):
        page = await web.post(SPEAKER, f"draft/{draft}/text", f"draft-{draft}-type", {"text": text})
        assert flash(page.text).startswith("✅ Đã nhận bản ")
    longer = await web.post(
        SPEAKER, f"draft/{draft}/text", f"draft-{draft}-type", {"text": "ệ" * 60_001}
    )
    assert flash(longer.text).startswith("Bài gõ dài 60.001 ký tự, quá giới hạn 60.000 ký tự")
    page = await web.post(
        SPEAKER, f"draft/{draft}/text", f"draft-{draft}-type", {"text": "🙂" * 100_000}
    )
    assert flash(page.text) == (
        "Nội dung gửi dài 1,1 MB, quá mức trang nhận được trong một lần gửi, nên chưa được gửi và"
        " trang không giữ lại được (bài gõ tối đa 60.000 ký tự). Đề nghị đồng chí gửi cả bài dưới"
        " dạng tệp ở mục «Gửi tệp» ngay phía trên, hoặc rút gọn từ bản gốc rồi gửi lại."
    )
    async with imported.ctx.sessions() as session:
        assert len(list(await session.scalars(select(DraftVersion)))) == 2


async def test_a_typed_draft_several_times_over_its_limit_comes_back_whole_from_the_page_s_form(
    web: Web, imported: Services
) -> None:
    # The typed draft's form sent its text %XX-escaped (nine bytes for a letter with a
    # diacritic): a long text pasted whole (here 322,004 characters: 875 KB so escaped)
    # passed the form's limit and was refused, unkept. Sent as multipart (its own bytes: 437 KB
    # here), it comes back whole in its box, its length said, to send as a file.
    draft = await _draft_id(web)
    page = await web.open(SPEAKER)
    assert re.search(rf'enctype="multipart/form-data" id="draft-{draft}-type"', page.text), (
        "the typed draft's form is multipart"
    )
    text = "Phụ nữ Thủ đô đoàn kết, sáng tạo, phát triển. " * 7_000 + "HẾT."  # 322,004 characters
    fields = form_fields(page.text, f"draft-{draft}-type")
    sent = await web.client.post(
        f"/{web.tokens[SPEAKER]}/draft/{draft}/text",
        files={name: (None, value) for name, value in {**fields, "text": text}.items()},
    )
    back = await web.client.get(sent.headers["location"])
    assert flash(back.text).startswith("Bài gõ dài 322.004 ký tự, quá giới hạn 60.000 ký tự")
    assert _box(back.text, f"draft-{draft}-text")[1] == text
    async with imported.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftVersion))) == []


def _box(html_text: str, box: str) -> tuple[str, str]:
    """The opening tag of the text box ``box`` on a page, and the text in it."""
    match = re.search(rf'(<textarea[^>]*\bid="{box}"[^>]*>)(.*?)</textarea>', html_text, re.S)
    assert match is not None, box
    return match.group(1), html.unescape(match.group(2))


async def test_a_text_over_a_page_box_s_limit_comes_back_whole_in_its_box_saying_its_length(
    web: Web, imported: Services
) -> None:
    # No box cuts what is pasted into it (a maxlength drops the end unsaid): the server
    # refuses a text over its limit with its length, and the whole text is back in its box.
    draft = await _draft_id(web)
    page = await web.open(SPEAKER)
    task_id = int(page.text.split('id="task-', 1)[1].split('"', 1)[0].split("-")[0])
    cases = [  # (the form's action, its id, the box's field, the box's id, the limit)
        ("rsvp", "form-decline", "reason", "decline-reason", 500),
        (f"task/{task_id}", f"task-{task_id}-report", "note", f"task-{task_id}-note", 500),
        (f"draft/{draft}/reply", f"draft-{draft}-reply", "text", f"draft-{draft}-reply-text", 3000),
        (f"draft/{draft}/text", f"draft-{draft}-type", "text", f"draft-{draft}-text", 60_000),
    ]
    for action, form, field, box, limit in cases:
        assert "maxlength" not in _box(page.text, box)[0], box
        text = "Cuối câu này là ý quan trọng nhất. " * (limit // 35 + 1) + "HẾT."
        extra = {"choice": "decline"} if action == "rsvp" else {}
        extra |= {"action": "progress"} if action.startswith("task/") else {}
        refused = await web.post(SPEAKER, action, form, {**extra, field: text})
        chars, most = (f"{n:,}".replace(",", ".") for n in (len(text), limit))
        said = flash(refused.text)
        assert f"dài {chars} ký tự, quá giới hạn {most} ký tự nên chưa được gửi" in said, said
        assert _box(refused.text, box)[1] == text, box
    async with imported.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftVersion))) == []
        assert list(await session.scalars(select(DraftComment))) == []


async def test_a_paste_far_over_a_short_box_s_limit_comes_back_whole_from_its_form(
    web: Web, imported: Services
) -> None:
    # A reason, a task's note, a reply (500 to 3,000 characters) were sent %XX-escaped: a
    # document pasted whole (322,004 characters, 896 KB so escaped) passed the form's limit
    # and came back refused with an empty box. Sent as the page's form is (multipart: 448 KB),
    # it comes back whole in its box, its length said; one past that, the page's script keeps
    # (each form carries the limit it is measured by, and the words to say).
    draft = await _draft_id(web)
    page = (await web.open(SPEAKER)).text
    task_id = int(page.split('id="task-', 1)[1].split('"', 1)[0].split("-")[0])
    text = "Phụ nữ Thủ đô đoàn kết, sáng tạo, phát triển. " * 7_000 + "HẾT."
    cases = [  # (the form's action, its id, the box's field, the box's id, the limit)
        ("rsvp", "form-decline", "reason", "decline-reason", "500"),
        (f"task/{task_id}", f"task-{task_id}-report", "note", f"task-{task_id}-note", "500"),
        (
            f"draft/{draft}/reply",
            f"draft-{draft}-reply",
            "text",
            f"draft-{draft}-reply-text",
            "3.000",
        ),
    ]
    for action, form, field, box, limit in cases:
        opening = re.search(rf'<form [^>]*id="{form}"[^>]*>', page)
        assert opening is not None, form
        multipart = 'enctype="multipart/form-data"' in opening.group(0)
        extra = {"choice": "decline"} if action == "rsvp" else {}
        extra |= {"action": "progress"} if action.startswith("task/") else {}
        data = {**form_fields(page, form), **extra, field: text}
        url = f"/{web.tokens[SPEAKER]}/{action}"
        if multipart:  # as the browser sends the form
            sent = await web.client.post(url, files={k: (None, v) for k, v in data.items()})
        else:
            sent = await web.client.post(url, data=data)
        back = (await web.client.get(sent.headers["location"])).text
        assert flash(back).startswith(f"Nội dung dài 322.004 ký tự, quá giới hạn {limit} ký tự")
        assert _box(back, box)[1] == text, box
        assert 'data-max-text-bytes="786432"' in opening.group(0), form
        assert f'id="{form[5:] if form.startswith("form-") else form}-too-large"' in page, form
    async with imported.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftComment))) == []


def _chosen(html_text: str, select: str) -> list[str]:
    """The option(s) chosen in the list ``select`` on a page (none: the browser shows the first)."""
    match = re.search(rf'<select id="{select}"[^>]*>(.*?)</select>', html_text, re.S)
    assert match is not None, select
    return re.findall(r'<option value="([^"]+)" selected>', match.group(1))


async def test_a_task_report_refused_on_the_page_comes_back_with_its_kind_and_its_note(
    web: Web, imported: Services
) -> None:
    # A note refused (too long; «gửi đường dẫn» without an address) came back with the list
    # «Loại báo cáo» at its first choice, «đang thực hiện»: sent again as it stood, her
    # request for help or her link went in as progress. The form now comes back as she wrote it.
    page = await web.open(SPEAKER)
    task_id = int(page.text.split('id="task-', 1)[1].split('"', 1)[0].split("-")[0])
    form, select, box = f"task-{task_id}-report", f"task-{task_id}-action", f"task-{task_id}-note"
    assert _chosen(page.text, select) == []
    long_note = "Đề nghị Văn phòng hỗ trợ thêm số liệu. " * 14  # 546 characters
    refused = await web.post(
        SPEAKER, f"task/{task_id}", form, {"action": "help", "note": long_note}
    )
    assert "quá giới hạn 500 ký tự" in flash(refused.text)
    assert (_chosen(refused.text, select), _box(refused.text, box)[1]) == (["help"], long_note)
    no_link = "Báo cáo đã gửi qua thư điện tử chiều nay"
    refused = await web.post(SPEAKER, f"task/{task_id}", form, {"action": "link", "note": no_link})
    assert not flash(refused.text).startswith("✅")
    assert (_chosen(refused.text, select), _box(refused.text, box)[1]) == (["link"], no_link)
    # Shown once: the page opened again has the form as it always was.
    again = await web.open(SPEAKER)
    assert (_chosen(again.text, select), _box(again.text, box)[1]) == ([], "")


async def test_a_draft_assignment_no_longer_there_is_said_in_the_page_s_words(
    web: Web, imported: Services
) -> None:
    draft = await _draft_id(web)
    fields = form_fields((await web.open(SPEAKER)).text, f"draft-{draft}-type")
    await imported.drafts.unassign(imported.access.local_operator(), SPEAKER, "1.1")
    sent = await web.client.post(
        f"/{web.tokens[SPEAKER]}/draft/{draft}/text", data={**fields, "text": "Bài"}
    )
    page = await web.client.get(sent.headers["location"])
    assert flash(page.text) == (
        "Phân công tham luận này không còn. Các tham luận hiện được phân công cho đồng chí có "
        "trên trang này."
    )  # not «gõ /thamluan»: there is no chat on the page


async def test_her_page_says_the_office_withdrew_her_speech_keeps_her_version_and_takes_no_more(
    web: Web, imported: Services
) -> None:
    draft = await _draft_id(web)
    assert (await upload(web, "tham-luan.docx", docx("Bản 1"))).startswith("✅ Đã nhận bản 1")
    before = (await web.open(SPEAKER)).text
    upload_form = form_fields(before, f"draft-{draft}-upload")
    typed_form = form_fields(before, f"draft-{draft}-type")
    await imported.drafts.unassign(imported.access.local_operator(), SPEAKER, "1.1")

    page = (await web.open(SPEAKER)).text
    said = re.search(rf'<p class="text" id="draft-{draft}-withdrawn">(.*?)</p>', page, re.S)
    assert said is not None and said.group(1) == (
        "Văn phòng đã hủy phân công đồng chí trình bày tham luận này, nên không nhận thêm bản"
        " mới. Trân trọng cảm ơn đồng chí đã chuẩn bị; các bản đồng chí đã gửi vẫn được lưu giữ,"
        " có ở dưới đây. Cần trao đổi, xin liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng,"
        " điện thoại 024 3834 5678."
    )
    for form in ("upload", "type", "reply"):
        assert f'id="draft-{draft}-{form}"' not in page, form
    [version] = await imported.drafts.versions(draft)
    assert f'href="/{web.tokens[SPEAKER]}/v/{version.id}"' in page
    got = await web.client.get(f"/{web.tokens[SPEAKER]}/v/{version.id}")
    assert got.status_code == 200 and got.content == docx("Bản 1")

    # A page opened before, its forms sent after: refused in words, nothing stored.
    refused = (
        "Văn phòng đã hủy phân công tham luận chủ đề 1.1 của đồng chí nên bản vừa gửi chưa được"
        " nhận; các bản đồng chí đã gửi trước đó vẫn được lưu giữ, có trên trang này. Cần trao"
        " đổi, xin liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678."
    )  # the page's own words: no «bot» on the page
    sent = await web.client.post(
        f"/{web.tokens[SPEAKER]}/draft/{draft}/file",
        data=upload_form,
        files={"file": ("moi.docx", docx("Bản 2"), "application/octet-stream")},
    )
    assert flash((await web.client.get(sent.headers["location"])).text) == refused
    sent = await web.client.post(
        f"/{web.tokens[SPEAKER]}/draft/{draft}/text", data={**typed_form, "text": "Bản 2"}
    )
    assert flash((await web.client.get(sent.headers["location"])).text) == refused
    assert len(await imported.drafts.versions(draft)) == 1


async def test_a_file_form_with_an_outsize_text_field_is_refused_in_words_not_a_bare_400(
    web: Web,
) -> None:
    # A text field of a file's form is held in memory: at most a typed draft's size.
    draft = await _draft_id(web)
    fields = form_fields((await web.open(SPEAKER)).text, f"draft-{draft}-upload")
    response = await web.client.post(
        f"/{web.tokens[SPEAKER]}/draft/{draft}/file",
        data={**fields, "lang": "x" * (2 * 1024 * 1024)},
        files={"file": ("bai.txt", b"Kinh thua", "text/plain")},
    )
    assert response.status_code == 303
    shown = flash((await web.client.get(response.headers["location"])).text)
    assert shown.startswith("Tệp lớn hơn 20 MB")  # the form's own words, nothing stored


async def test_a_typed_draft_is_stored_as_the_chat_stores_one_and_the_office_reply_is_shown(
    web: Web, imported: Services
) -> None:
    draft = await _draft_id(web)
    page = await web.post(
        SPEAKER, f"draft/{draft}/text", f"draft-{draft}-type", {"text": "Kính thưa hội nghị…"}
    )
    assert flash(page.text).startswith("✅ Đã nhận bản 1 lúc ")
    async with imported.ctx.sessions() as session:
        version = await session.scalar(select(DraftVersion))
    assert version is not None and (version.kind, version.display_name) == (
        "text",
        "tham-luan-1.1.txt",
    )
    office = imported.access.local_operator()
    await imported.drafts.set_verdict(office, version.id, DraftStatus.REVISION)
    page = await web.post(
        SPEAKER, f"draft/{draft}/reply", f"draft-{draft}-reply", {"text": "Tôi sẽ sửa ngay."}
    )
    assert flash(page.text) == "Đã chuyển ý kiến của đồng chí tới Văn phòng."
    assert "Tôi sẽ sửa ngay." in page.text
    assert "Cần chỉnh sửa" in page.text or "chỉnh sửa" in page.text
    async with imported.ctx.sessions() as session:
        comments = list(await session.scalars(select(DraftComment)))
    assert [(c.from_office, c.body) for c in comments] == [(False, "Tôi sẽ sửa ngay.")]


async def test_a_task_report_form_sent_again_changes_nothing_and_says_so(
    web: Web, imported: Services
) -> None:
    page = await web.open(SPEAKER)
    task_id = int(page.text.split('id="task-', 1)[1].split('"', 1)[0].split("-")[0])
    token = web.tokens[SPEAKER]
    report = {
        **form_fields(page.text, f"task-{task_id}-report"),
        "action": "progress",
        "note": "Đã xong 2/3 báo cáo",
    }
    assert (await web.client.post(f"/{token}/task/{task_id}", data=report)).status_code == 303
    await web.post(SPEAKER, f"task/{task_id}", f"task-{task_id}-done", {"action": "done"})
    again = await web.client.post(f"/{token}/task/{task_id}", data=report)
    shown = await web.client.get(again.headers["location"])
    assert flash(shown.text).startswith("Biểu mẫu này đã được gửi trước đó")
    async with imported.ctx.sessions() as session:
        status = await session.scalar(
            select(TaskAssignment.status)
            .join(Delegate, Delegate.id == TaskAssignment.person_id)
            .where(TaskAssignment.task_id == task_id, Delegate.code == SPEAKER)
        )
    assert status == "done"  # the speaker's own (the task has other people too)


async def test_a_deliverable_form_without_a_link_may_be_corrected_and_sent_again(
    web: Web,
) -> None:
    page = await web.open(SPEAKER)
    task_id = int(page.text.split('id="task-', 1)[1].split('"', 1)[0].split("-")[0])
    token = web.tokens[SPEAKER]
    form = {**form_fields(page.text, f"task-{task_id}-report"), "action": "link"}
    refused = await web.client.post(f"/{token}/task/{task_id}", data={**form, "note": "bản cuối"})
    shown = flash((await web.client.get(refused.headers["location"])).text)
    assert not shown.startswith("Biểu mẫu này đã được gửi")
    fixed = {**form, "note": "https://drive.example.vn/ban-cuoi"}
    taken = await web.client.post(f"/{token}/task/{task_id}", data=fixed)
    assert flash((await web.client.get(taken.headers["location"])).text).startswith(
        "Đã nhận sản phẩm của nhiệm vụ"
    )


async def test_the_four_task_reports_from_the_page(web: Web, imported: Services) -> None:
    page = await web.open(SPEAKER)
    task_id = int(page.text.split('id="task-', 1)[1].split('"', 1)[0].split("-")[0])
    done = await web.post(SPEAKER, f"task/{task_id}", f"task-{task_id}-done", {"action": "done"})
    assert "Đã ghi nhận nhiệm vụ" in flash(done.text)
    note = await web.post(
        SPEAKER,
        f"task/{task_id}",
        f"task-{task_id}-report",
        {"action": "progress", "note": "Đã xong 2/3 báo cáo"},
    )
    assert "Đã ghi nhận nhiệm vụ" in flash(note.text)
    helped = await web.post(
        SPEAKER,
        f"task/{task_id}",
        f"task-{task_id}-report",
        {"action": "help", "note": "Cần số liệu quý I"},
    )
    assert flash(helped.text).startswith("Đã chuyển nội dung cần hỗ trợ về nhiệm vụ")
    linked = await web.post(
        SPEAKER,
        f"task/{task_id}",
        f"task-{task_id}-report",
        {"action": "link", "note": "https://drive.example.vn/bao-cao"},
    )
    assert flash(linked.text).startswith("Đã nhận sản phẩm của nhiệm vụ")
    async with imported.ctx.sessions() as session:
        assignment = await session.scalar(
            select(TaskAssignment).where(TaskAssignment.task_id == task_id).limit(1)
        )
        evidence = list(await session.scalars(select(TaskEvidence)))
    assert assignment is not None
    assert [(e.kind, e.url) for e in evidence] == [("link", "https://drive.example.vn/bao-cao")]


async def test_her_page_says_a_speech_is_overdue_when_nothing_is_sent_by_its_deadline(
    web: Web, imported: Services
) -> None:
    # As the office's «Tham luận chưa gửi» counts it: past the deadline with no version.
    draft = await _draft_id(web)
    [line] = [line for line in await imported.drafts.board() if line.code == SPEAKER]

    async def standing() -> str:
        page = (await web.open(SPEAKER)).text
        found = re.search(rf'id="draft-{draft}-standing">(.*?)</p>', page)
        assert found is not None
        return found.group(1)

    assert await standing() == "Hạn gửi: 17:00, 21/5 — chưa gửi"
    clock = imported.ctx.clock
    clock.set(line.deadline_at + timedelta(minutes=1))  # type: ignore[attr-defined]
    assert await standing() == "<strong>Hạn gửi: 17:00, 21/5 (quá hạn)</strong> — chưa gửi"
    await upload(web, "tham-luan.docx", docx("Tham luận chủ đề 1.1"))
    assert await standing() == "Hạn gửi: 17:00, 21/5 — đã gửi, chờ Văn phòng xem"


async def test_a_withdrawn_invitee_s_page_asks_no_speech_of_her_and_shows_no_deadline_or_form(
    web: Web, imported: Services
) -> None:
    # Her invitation withdrawn, her speech kept until the office re-assigns it: the page said
    # «không cần trả lời» above «Hạn gửi … — chưa gửi» and the forms to send it.
    draft = await _draft_id(web)
    assert (await upload(web, "tham-luan.docx", docx("Bản 1"))).startswith("✅ Đã nhận bản 1")
    await imported.withdrawals.withdraw(imported.access.local_operator(), SPEAKER, "Mời nhầm")
    page = (await web.open(SPEAKER)).text
    said = re.search(
        rf'<p class="text" id="draft-{draft}-invitation-withdrawn">(.*?)</p>', page, re.S
    )
    assert said is not None and said.group(1) == (
        "Giấy mời gửi đồng chí không còn hiệu lực nên đồng chí không cần gửi bài tham luận này;"
        " các bản đồng chí đã gửi (nếu có) vẫn được Văn phòng lưu giữ. Cần trao đổi, xin liên hệ"
        " đồng chí Trần Thu Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678."
    )
    assert f'id="draft-{draft}-standing"' not in page and "Hạn gửi" not in page
    for form in ("upload", "type", "reply"):
        assert f'id="draft-{draft}-{form}"' not in page, form
    [version] = await imported.drafts.versions(draft)
    assert f'href="/{web.tokens[SPEAKER]}/v/{version.id}"' in page  # hers to read still
    await imported.withdrawals.reinvite(imported.access.local_operator(), SPEAKER)
    again = (await web.open(SPEAKER)).text
    assert f'id="draft-{draft}-upload"' in again and "invitation-withdrawn" not in again


async def test_a_withdrawn_invitee_s_forms_opened_before_are_refused_and_nothing_is_stored(
    web: Web, imported: Services
) -> None:
    # Her page asks no speech of her once her invitation is withdrawn; a page opened before
    # (or Back) still sent a file, a typed draft or a reply, stored and posted to the office.
    draft = await _draft_id(web)
    assert (await upload(web, "tham-luan.docx", docx("Bản 1"))).startswith("✅ Đã nhận bản 1")
    before = (await web.open(SPEAKER)).text
    forms = {form: form_fields(before, f"draft-{draft}-{form}") for form in ("upload", "type")}
    reply_form = form_fields(before, f"draft-{draft}-reply")
    await imported.withdrawals.withdraw(imported.access.local_operator(), SPEAKER, "Mời nhầm")
    refused = (
        "Giấy mời gửi đồng chí không còn hiệu lực nên đồng chí không cần gửi bài tham luận; nội"
        " dung vừa gửi không được tiếp nhận. Các bản đồng chí đã gửi trước đó (nếu có) vẫn được"
        " Văn phòng lưu giữ. Cần trao đổi, xin liên hệ đồng chí Trần Thu Hà, Phó Chánh Văn"
        " phòng, điện thoại 024 3834 5678."
    )
    token = web.tokens[SPEAKER]
    sent = await web.client.post(
        f"/{token}/draft/{draft}/file",
        data=forms["upload"],
        files={"file": ("moi.docx", docx("Bản 2"), "application/octet-stream")},
    )
    assert flash((await web.client.get(sent.headers["location"])).text) == refused
    sent = await web.client.post(
        f"/{token}/draft/{draft}/text", data={**forms["type"], "text": "Bản 2"}
    )
    assert flash((await web.client.get(sent.headers["location"])).text) == refused
    sent = await web.client.post(
        f"/{token}/draft/{draft}/reply", data={**reply_form, "text": "Xin gửi thêm ý kiến"}
    )
    assert flash((await web.client.get(sent.headers["location"])).text) == refused
    assert len(await imported.drafts.versions(draft)) == 1
    async with imported.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftComment))) == []
