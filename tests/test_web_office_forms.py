"""Every form the office's pages (the dashboard and the desk) render keeps what was typed in it
when it comes back after the server's secret changed: its text boxes are named in
:data:`handlers.web.office.app.UNSAVED_FORMS`, or it is a button's form with nothing typed,
listed below with why. A new form with a text box and no row fails here, before a clerk loses
what she typed behind «Biểu mẫu đã hết hiệu lực»."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape

import pytest

from handlers.web.office.app import UNSAVED_FORMS, UnsavedForm
from tests.harness import BotHarness
from tests.office_support import Desk, desk_for, hidden, make_staff
from tests.tasks_support import task_id, with_contacts
from tests.test_web_office_drafts import draft_id, upload, word

# Forms with no box to type in (a button, with hidden fields, checkboxes or a choice at most):
# after a restart they are said expired, and pressing again on the page opened anew loses
# nothing. By their address below «/office».
BUTTONS: dict[str, str] = {
    "/signout": "«Đăng xuất»",
    "/sessions/end": "ending a session («Đăng xuất» of one, or of all)",
    "/signin/[^/]+": "«Đăng nhập» with a sign-in link",
    "/delegates/mark-sent": "the invitations ticked as handed over",
    "/delegates/[^/]+/(sent|unsent)": "an invitation marked handed over, or not",
    "/delegates/[^/]+/reissue": "a new personal link",
    "/delegates/[^/]+/unlink/[^/]+": "a chat account unlinked",
    "/delegates/[^/]+/reinvite": "an invitation given back",
    "/notices/\\d+/(cancel|resend)": "a notice cancelled, or its failed copies sent again",
    "/drafts/\\d+/approve": "a draft approved",
    "/drafts/unassign": "an assignment withdrawn",
    "/tasks/\\d+/unrecord": "a report recorded by the office taken back",
    "/documents/\\d+/(hide|show)": "a document hidden or shown again",
    "/import/[^/]+/(apply|discard)": "a list read, applied or dropped",
    "/staff/(revoke|signin-link)": "a role withdrawn, a sign-in link issued",
    "/checkin/desk/signout|/checkin/signout": "the desk's «Đăng xuất»",
    "/checkin/guest-of": "a withdrawn invitee let in as a guest",
    "/checkin/undo|/attendance/undo": "a check-in undone",
}
_BUTTONS = [re.compile(f"/office(?:{path})$") for path in BUTTONS]
_FORM = re.compile(
    r'<form\b(?=[^>]*\bmethod="post")[^>]*\baction="([^"]+)"[^>]*>(.*?)</form>', re.S
)
_TEXT_INPUT = re.compile(r"<input\b(?![^>]*\btype=\"(?:hidden|radio|checkbox|submit|file|button)\")"
                         r"(?![^>]*\breadonly)[^>]*\bname=\"([^\"]+)\"")  # fmt: skip
_TEXTAREA = re.compile(r"<textarea\b(?![^>]*\breadonly)[^>]*\bname=\"([^\"]+)\"")
_LINK = re.compile(r'href="(/office/[^"#?]*)')
# Addresses that are files to download, not pages with forms.
_FILES = re.compile(r"\.(xlsx|docx|csv|zip|ics|js|css|svg|png)$|/file$|/versions/|/static/")


@dataclass(frozen=True)
class Form:
    """A form as a page rendered it: where it posts, its text boxes, the page it was on."""

    action: str
    boxes: frozenset[str]
    page: str


def forms_of(html: str, page: str) -> list[Form]:
    """The POST forms of a page."""
    found = []
    for action, inner in _FORM.findall(html):
        boxes = frozenset(_TEXT_INPUT.findall(inner) + _TEXTAREA.findall(inner))
        found.append(Form(re.split("[?#]", unescape(action))[0], boxes, page))
    return found


def unaccounted(forms: list[Form], table: tuple[UnsavedForm, ...]) -> list[str]:
    """What is wrong with each form: a form whose text boxes are not all named by the row of
    its address, or a button's form not listed (or listed while it has a box to type in)."""
    wrong = []
    for form in forms:
        row = next((row for row in table if row.pattern.search(form.action)), None)
        button = any(pattern.search(form.action) for pattern in _BUTTONS)
        if row is not None:
            named = {field for field, _, _ in row.boxes}
            if form.boxes - named:  # none: the row's form's button alone (the card's big one)
                wrong.append(f"{form.action} on {form.page}: boxes {sorted(form.boxes - named)}")
        elif not button:
            wrong.append(f"{form.action} on {form.page}: in no row of UNSAVED_FORMS, no button")
        elif form.boxes:
            wrong.append(f"{form.action} on {form.page}: listed as a button, has {form.boxes}")
    return wrong


def shape(path: str) -> str:
    """A page's address with its codes and numbers left out: one page of each kind is read."""
    return re.sub(r"/(\d+|[A-Z]{2,3}\d{2,4})(?=/|$)", "/*", path)


@pytest.fixture
async def desk(harness: BotHarness) -> AsyncIterator[Desk]:
    await with_contacts(harness)
    await make_staff(harness.services)
    desk = await desk_for(harness.services)
    await desk.sign_in()
    yield desk
    await desk.client.aclose()


async def rendered(desk: Desk, harness: BotHarness) -> list[Form]:
    """Every POST form of every dashboard page a link leads to from the overview (one page of
    each kind), the notice's preview (the answer to a post) and the desk's pages."""
    await upload(harness, "DB031", "Tham luận Ba Đình.docx", word("Kính thưa Đoàn Chủ tịch,"))
    client, forms = desk.client, []
    task = f"/office/tasks/{await task_id(harness, 'VI.1.1')}"
    closing = hidden((await client.get(task)).text, "form-close")
    closed = await client.post(f"{task}/close", data={**closing, "note": "Đã xong"})
    assert closed.status_code == 303
    # A draft with a version sent (its verdict's forms), a task closed (its reopening) and one
    # open with someone to report (the office's record of a report), whatever a link leads to.
    draft = f"/office/drafts/{await draft_id(harness, 'DB031')}"
    reporting = f"/office/tasks/{await task_id(harness, 'VI.1.3')}"
    for path in (draft, task, reporting):
        forms += forms_of((await client.get(path)).text, path)
    seen: set[str] = set()
    queue = ["/office/", "/office/checkin/desk"]
    while queue:
        path = queue.pop(0)
        if shape(path) in seen or _FILES.search(path):
            continue
        seen.add(shape(path))
        answer = await client.get(path)
        if answer.status_code != 200:
            continue
        forms += forms_of(answer.text, path)
        queue += [unescape(link) for link in _LINK.findall(answer.text)]
    notices = (await client.get("/office/notices")).text
    preview = await client.post(
        "/office/notices/preview",
        data={**hidden(notices, "form-notice"), "body": "Kính gửi", "audience": "everyone"},
    )
    forms += forms_of(preview.text, "the notice's preview")
    desk_page = (await client.get("/office/checkin/desk")).text
    chosen = await client.post(
        "/office/checkin/desk", data={**hidden(desk_page, "form-desk"), "desk": "Bàn 1"}
    )
    assert chosen.status_code == 303
    for path in ("/office/checkin", "/office/checkin/p/DB001", f"/{harness.tokens['DB001']}"):
        forms += forms_of((await client.get(path)).text, path)
    return forms


async def test_every_office_form_with_a_text_box_keeps_it_after_the_secret_changed(
    desk: Desk, harness: BotHarness
) -> None:
    forms = await rendered(desk, harness)
    problems = unaccounted(forms, UNSAVED_FORMS)
    assert problems == [], "\n".join(problems)
    # Every row is a form some page renders (none left behind by a form renamed or gone).
    for row in UNSAVED_FORMS:
        assert any(row.pattern.search(form.action) for form in forms), row.pattern.pattern
    # And the check is no formality: without any one row, its form is reported.
    for row in UNSAVED_FORMS:
        without = tuple(other for other in UNSAVED_FORMS if other is not row)
        assert unaccounted(forms, without), row.pattern.pattern
