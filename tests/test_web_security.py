"""Safe by construction: headers on every answer, no token in any log, forms only this server
wrote, wrong tokens slowed down per address, re-issued links ended at once, uploads cut off at
the limit, downloads never run."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select

from bot.services import Services
from bot.services.invitations import MAX_FAILURES
from handlers.web.app import build_web_app
from storage.files import MAX_BYTES
from storage.models import DraftVersion, Rsvp
from tests.web_support import BASE, Web, flash, form_fields, web_for, web_setup

SPEAKER = "DB031"
SECURE = "https://hoinghi.example"


@pytest.fixture
async def web(imported: Services) -> AsyncIterator[Web]:
    web = await web_for(imported)
    yield web
    await web.client.aclose()


async def test_every_answer_says_no_referrer_noindex_nosniff_and_allows_no_script(
    web: Web,
) -> None:
    for response in (
        await web.open("DB001"),
        await web.client.get("/"),
        await web.client.get(f"/{'x' * 32}"),
        await web.client.get(f"/{web.tokens['DB001']}/lich.ics"),
    ):
        headers = response.headers
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-robots-tag"] == "noindex, nofollow"
        assert headers["x-content-type-options"] == "nosniff"
        csp = headers["content-security-policy"]
        # Our own static script only (handlers/web/static/page.js): nothing inline, no other.
        assert "default-src 'none'" in csp and "unsafe" not in csp
        assert [part for part in csp.split("; ") if "script" in part] == ["script-src 'self'"]
        assert "set-cookie" not in headers
    page = (await web.open("DB001")).text
    assert '<meta name="robots" content="noindex, nofollow">' in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert len(scripts) == 1 and re.fullmatch(
        r'<script src="/static/page\.[0-9a-f]{12}\.js" defer>', scripts[0]
    )
    assert "</script>" in page and "<script>" not in page and " on" + "click=" not in page
    assert "style=" not in page
    # Nothing but our own server: no third-party asset is loaded.
    assert 'src="http' not in page and 'href="http' not in page.replace('href="https://maps', "")


async def test_behind_https_every_answer_tells_the_browser_never_to_use_plain_http(
    web: Web, imported: Services
) -> None:
    # On a venue's Wi-Fi, a first request in plain HTTP (an address typed without https://)
    # can be answered by the hotspot with a look-alike page; HSTS makes the browser skip it.
    setup = web_setup(imported)
    https = replace(setup, settings=setup.settings.model_copy(update={"base_url": SECURE}))
    transport = httpx.ASGITransport(app=build_web_app(https))
    async with httpx.AsyncClient(transport=transport, base_url=SECURE) as browser:
        for path in ("/", f"/{web.tokens['DB001']}", "/office/signin", "/khong-co"):
            answer = await browser.get(path)
            assert answer.headers["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in (await web.client.get("/")).headers


async def test_static_files_have_fingerprinted_names_and_a_years_cache(web: Web) -> None:
    page = (await web.open("DB001")).text
    css = page.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    assert css.startswith("/static/site.") and css.endswith(".css") and len(css) > 22
    response = await web.client.get(css)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await web.client.get("/static/site.css")).status_code == 404
    assert (await web.open("DB001")).headers["cache-control"] == "no-store"


async def test_the_access_log_writes_the_route_and_never_the_token(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = web.tokens["DB001"]
    await web.post("DB001", "rsvp", "form-attend", {"choice": "attend"})
    await web.client.get(f"/{token}/lich.ics")
    # Every log line of the server's side (httpx logs the test browser's own requests).
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    access = [r.getMessage() for r in caplog.records if r.name == "hoinghi.web.access"]
    assert "POST /{token}/rsvp 303" in " ".join(access)
    assert any(line.startswith("GET /{token}/lich.ics 200") for line in access)
    assert not [line for line in lines if token in line]


async def test_a_form_this_server_did_not_write_for_this_page_changes_nothing(
    web: Web, imported: Services
) -> None:
    token = web.tokens["DB001"]
    other = form_fields((await web.open("DB002")).text, "form-attend")
    for fields in ({}, {"nonce": "abc", "csrf": "forged"}, other):
        response = await web.client.post(f"/{token}/rsvp", data={**fields, "choice": "attend"})
        page = await web.client.get(response.headers["location"])
        assert flash(page.text).startswith("Trang đã được làm mới kể từ lúc đồng chí mở")
    async with imported.ctx.sessions() as session:
        statuses = set(await session.scalars(select(Rsvp.status)))
    assert statuses == {"no_answer"}


async def test_a_form_sent_after_the_server_s_secret_changed_comes_back_as_typed(
    web: Web, imported: Services
) -> None:
    # The page was open across a restart with a new secret: the form's signature no longer
    # holds, so nothing is recorded, and every box she typed in comes back filled.
    page = (await web.open(SPEAKER)).text
    task = int(re.search(r'id="task-(\d+)-report"', page)[1])  # type: ignore[index]
    draft = int(re.search(r'id="draft-(\d+)-type"', page)[1])  # type: ignore[index]
    renewed = replace(web_setup(imported), secret=b"the-new-secret-after-a-restart-0000")
    transport = httpx.ASGITransport(app=build_web_app(renewed), client=("203.0.113.7", 50000))
    token = web.tokens[SPEAKER]
    sent = [
        ("rsvp", "form-decline", {"choice": "decline", "reason": "Trùng lịch họp Quận ủy"}),
        (
            "rsvp",
            "form-substitute",
            {
                "choice": "substitute",
                "name": "Lê Thị Hoa",
                "position": "Phó Chủ tịch",
                "unit": "Hội LHPN quận Hoàn Kiếm",
                "phone": "0912 345 678",
            },
        ),
        (f"task/{task}", f"task-{task}-report", {"action": "help", "note": "Cần thêm danh sách"}),
        (f"draft/{draft}/text", f"draft-{draft}-type", {"text": "Kính thưa Đoàn Chủ tịch…"}),
        (f"draft/{draft}/reply", f"draft-{draft}-reply", {"text": "Xin cảm ơn góp ý"}),
    ]
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as restarted:
        for action, form_id, data in sent:
            fields = form_fields(page, form_id)  # signed with the old secret
            if action.endswith("/text"):  # the typed speech's form is multipart
                parts = {**fields_as_parts(fields), "text": (None, data["text"])}
                answer = await restarted.post(f"/{token}/{action}", files=parts)
            else:
                answer = await restarted.post(f"/{token}/{action}", data={**fields, **data})
            again = (await restarted.get(answer.headers["location"])).text
            assert flash(again) == (
                "Trang đã được làm mới kể từ lúc đồng chí mở nên nội dung vừa gửi chưa được "
                "nhận. Toàn bộ nội dung đồng chí đã nhập vẫn ở nguyên trong khung dưới đây; "
                "đề nghị đồng chí bấm gửi lại."
            )
            if form_id == "form-decline":
                assert (
                    '<textarea id="decline-reason" name="reason" rows="2">'
                    "Trùng lịch họp Quận ủy</textarea>"
                ) in again
            elif form_id == "form-substitute":
                for box, value in (
                    ("substitute-name", "Lê Thị Hoa"),
                    ("substitute-position", "Phó Chủ tịch"),
                    ("substitute-unit", "Hội LHPN quận Hoàn Kiếm"),
                    ("substitute-phone", "0912 345 678"),
                ):
                    assert re.search(f'id="{box}"[^>]*value="{value}"', again), box
            elif form_id.endswith("-report"):
                assert '<option value="help" selected>' in again
                assert 'name="note" rows="2">Cần thêm danh sách</textarea>' in again
            else:
                box = "text" if form_id.endswith("-type") else "reply-text"
                assert re.search(
                    f'id="draft-{draft}-{box}"[^>]*>{re.escape(data["text"])}</textarea>', again
                )
    async with imported.ctx.sessions() as session:
        assert set(await session.scalars(select(Rsvp.status))) == {"no_answer"}
        assert not list(await session.scalars(select(DraftVersion)))


async def test_a_button_or_a_file_sent_after_the_secret_changed_is_asked_again_in_its_words(
    web: Web, imported: Services
) -> None:
    page = (await web.open(SPEAKER)).text
    draft = int(re.search(r'id="draft-(\d+)-upload"', page)[1])  # type: ignore[index]
    renewed = replace(web_setup(imported), secret=b"the-new-secret-after-a-restart-0000")
    transport = httpx.ASGITransport(app=build_web_app(renewed), client=("203.0.113.7", 50000))
    token = web.tokens[SPEAKER]
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as restarted:
        fields = form_fields(page, "form-attend")
        answer = await restarted.post(f"/{token}/rsvp", data={**fields, "choice": "attend"})
        again = (await restarted.get(answer.headers["location"])).text
        assert flash(again) == (
            "Trang đã được làm mới kể từ lúc đồng chí mở nên lựa chọn vừa gửi chưa được ghi "
            "nhận. Đề nghị đồng chí bấm chọn lại trên trang này."
        )
        fields = form_fields(page, f"draft-{draft}-upload")
        answer = await restarted.post(
            f"/{token}/draft/{draft}/file",
            files={**fields_as_parts(fields), "file": ("bai.txt", b"Kinh thua", "text/plain")},
        )
        again = (await restarted.get(answer.headers["location"])).text
        assert flash(again) == (
            "Trang đã được làm mới kể từ lúc đồng chí mở nên tệp vừa gửi chưa được nhận. "
            "Đề nghị đồng chí chọn lại tệp rồi bấm gửi lại."
        )


def fields_as_parts(fields: dict[str, str]) -> dict[str, tuple[None, str]]:
    """A form's text fields as the parts of a multipart body."""
    return {name: (None, value) for name, value in fields.items()}


async def test_a_form_posted_from_another_site_is_refused(web: Web) -> None:
    fields = form_fields((await web.open("DB001")).text, "form-attend")
    response = await web.client.post(
        f"/{web.tokens['DB001']}/rsvp",
        data={**fields, "choice": "attend"},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403


async def test_wrong_tokens_from_one_address_are_slowed_down_and_right_links_still_open(
    imported: Services,
) -> None:
    # One address for a whole hall (its Wi-Fi, a carrier's shared address): five wrong links
    # from one phone slow down that address's wrong links, never a delegate's right one, opened
    # before or not.
    hall = await web_for(imported, client_address="198.51.100.9")
    other = await web_for(imported, client_address="198.51.100.10")
    try:
        assert (await hall.open("DB001")).status_code == 200
        for n in range(MAX_FAILURES):
            wrong = await hall.client.get(f"/{'A' * 31}{n}")
            assert wrong.status_code == 404
        slowed = await hall.client.get(f"/{'B' * 32}")
        assert slowed.status_code == 429
        assert int(slowed.headers["retry-after"]) > 3000
        assert "thử lại sau" in slowed.text
        assert (await hall.open("DB001")).status_code == 200  # opened before
        assert (await hall.open("DB002")).status_code == 200  # never opened
        fields = form_fields((await hall.open("DB002")).text, "form-attend")
        posted = await hall.client.post(
            f"/{hall.tokens['DB002']}/rsvp", data={**fields, "choice": "attend"}
        )
        assert posted.status_code == 303
        assert (await other.client.get(f"/{'C' * 32}")).status_code == 404  # not slowed
    finally:
        await hall.client.aclose()
        await other.client.aclose()


async def test_addresses_that_are_no_page_are_answered_in_vietnamese_and_a_form_s_leads_back(
    web: Web, imported: Services
) -> None:
    token = web.tokens["DB001"]
    reloaded = await web.client.get(f"/{token}/rsvp")  # a form's address opened as a page
    assert (reloaded.status_code, reloaded.headers["location"]) == (303, f"/{token}")
    for path in ("/khong/co/trang/nay", f"/{token}/khong-co"):
        nothing = await web.client.get(path)
        assert nothing.status_code == 404
        assert "Không mở được giấy mời" in nothing.text and "Not Found" not in nothing.text
    office = await web.client.get("/office/khong-co-trang-nay")
    assert office.status_code == 404
    assert "Không có trang này" in office.text and "Not Found" not in office.text
    # A form's address on the dashboard, reloaded: the page the form was on.
    for form, page in (
        ("/office/checkin/in", "/office/checkin"),
        # The notice's preview (the notices page once it no longer waits there).
        ("/office/notices/1/send", "/office/notices/1"),
        ("/office/delegates/DB001/phone", "/office/delegates/DB001"),
        ("/office/signout", "/office/"),
    ):
        reloaded = await web.client.get(form)
        assert (reloaded.status_code, reloaded.headers["location"]) == (303, page)


@pytest.mark.parametrize("wrong", ["9" * 30, "²"])
async def test_an_id_no_database_column_could_hold_is_unknown_not_a_server_error(
    web: Web, wrong: str
) -> None:
    token = web.tokens[SPEAKER]
    version = await web.client.get(f"/{token}/v/{wrong}")
    assert version.status_code == 404 and "Không mở được giấy mời" in version.text
    for path, data, said in (
        (f"task/{wrong}", {"action": "done"}, "Nhiệm vụ này không còn trong kế hoạch"),
        (f"draft/{wrong}/text", {"text": "Bài"}, "Phân công tham luận này không còn"),
        (f"draft/{wrong}/reply", {"text": "Vâng"}, "Phân công tham luận này không còn"),
    ):
        fields = form_fields((await web.open(SPEAKER)).text, "form-attend")
        response = await web.client.post(f"/{token}/{path}", data={**fields, **data})
        assert response.status_code == 303
        assert flash((await web.client.get(response.headers["location"])).text).startswith(said)


@pytest.mark.parametrize("after", [".", ")", ",", "»", ").", "!"])
async def test_a_link_with_the_sentence_s_punctuation_after_it_opens_its_page(
    web: Web, after: str
) -> None:
    token = web.tokens["DB001"]
    trailed = await web.client.get(f"/{token}{after}", params={"lang": "en"})
    assert trailed.status_code == 303
    assert trailed.headers["location"] == f"/{token}?lang=en"
    calendar = await web.client.get(f"/{token}{after}/lich.ics")
    assert (calendar.status_code, calendar.headers["location"]) == (303, f"/{token}/lich.ics")
    # A token's own characters after it make another token's shape: no page, and no guess.
    assert (await web.client.get(f"/{token}x")).status_code == 404
    assert (await web.client.get(f"/{token}{after}{after}{after}{after}.")).status_code == 404


async def test_a_reissued_link_ends_the_old_page_at_once(web: Web, imported: Services) -> None:
    old = web.tokens["DB001"]
    fields = form_fields((await web.open("DB001")).text, "form-attend")
    result = await imported.invitations.reissue(imported.access.local_operator(), "DB001")
    assert result.token is not None
    assert (await web.client.get(f"/{old}")).status_code == 404
    posted = await web.client.post(f"/{old}/rsvp", data={**fields, "choice": "attend"})
    assert posted.status_code == 404
    assert (await web.client.get(f"/{result.token}")).status_code == 200


async def _upload_form(web: Web) -> tuple[str, dict[str, str]]:
    [line] = [line for line in await web.services.drafts.board() if line.code == SPEAKER]
    page = await web.open(SPEAKER)
    action = f"/{web.tokens[SPEAKER]}/draft/{line.id}/file"
    return action, form_fields(page.text, f"draft-{line.id}-upload")


async def test_an_upload_past_the_limit_is_cut_off_as_it_streams(
    web: Web, imported: Services
) -> None:
    action, fields = await _upload_form(web)
    boundary = "xyzBOUNDARY"
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    )
    sent = 0
    chunk = b"%" * (1024 * 1024)

    async def body() -> AsyncIterator[bytes]:  # 40 MB announced by nobody: chunked
        nonlocal sent
        yield head.encode()
        for _ in range(40):
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await web.client.post(
        action,
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 303
    page = await web.client.get(response.headers["location"])
    assert flash(page.text).startswith("Tệp lớn hơn 20 MB")
    assert sent < MAX_BYTES + 3 * len(chunk)  # reading stopped at the limit, not at the end
    async with imported.ctx.sessions() as session:
        assert list(await session.scalars(select(DraftVersion))) == []


async def test_an_announced_length_past_the_limit_is_refused_before_reading(web: Web) -> None:
    action, fields = await _upload_form(web)
    response = await web.client.post(
        action,
        data=fields,
        files={"file": ("x.pdf", b"%PDF-1.4", "application/pdf")},
        headers={"content-length": str(MAX_BYTES + 10 * 1024 * 1024)},
    )
    assert response.status_code == 303


async def test_downloads_are_attachments_of_a_type_no_browser_runs(web: Web) -> None:
    action, fields = await _upload_form(web)
    html = b"<html><script>alert(1)</script></html>"
    response = await web.client.post(
        action, data=fields, files={"file": ("bai.txt", html, "text/html")}
    )
    page = (await web.client.get(response.headers["location"])).text
    version = page.split('id="version-', 1)[1].split('"', 1)[0]
    download = await web.client.get(f"/{web.tokens[SPEAKER]}/v/{version}")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith('attachment; filename="bai.txt"')
    assert download.headers["x-content-type-options"] == "nosniff"
    # Someone else's page cannot fetch it.
    assert (await web.client.get(f"/{web.tokens['DB001']}/v/{version}")).status_code == 404
    ics = await web.client.get(f"/{web.tokens['DB001']}/lich.ics")
    assert ics.headers["content-disposition"].startswith("attachment;")
    assert ics.content.startswith(b"BEGIN:VCALENDAR")


async def test_no_page_is_served_to_a_path_that_is_no_token_and_it_counts_as_no_guess(
    web: Web,
) -> None:
    for _ in range(MAX_FAILURES + 2):
        assert (await web.client.get("/favicon.ico")).status_code == 404
    assert (await web.open("DB001")).status_code == 200
    robots = await web.client.get("/robots.txt")
    assert robots.text == "User-agent: *\nDisallow: /\n"


async def test_a_version_whose_file_is_missing_on_the_server_says_so_rather_than_failing(
    web: Web,
) -> None:
    action, fields = await _upload_form(web)
    response = await web.client.post(
        action, data=fields, files={"file": ("bai.txt", b"Kinh thua", "text/plain")}
    )
    page = (await web.client.get(response.headers["location"])).text
    version = page.split('id="version-', 1)[1].split('"', 1)[0]
    stored = await web.services.drafts.version_file(int(version))
    assert stored is not None
    stored.path.unlink()  # the database restored without the folder of files

    download = await web.client.get(f"/{web.tokens[SPEAKER]}/v/{version}")
    assert download.status_code == 404
    assert "Bản này vẫn được ghi nhận nhưng tệp của nó hiện không có trên máy chủ." in download.text
