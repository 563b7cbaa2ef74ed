"""The fake Bot API served over loopback HTTP, reached by real PTB bots and other processes."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TimedOut
from telegram.request import HTTPXRequest

from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi, FakeUser, UploadedFile

# Loopback traffic must reach the test's servers directly, whatever proxy the machine has.
pytestmark = pytest.mark.usefixtures("no_proxy")

# A bot in another process: sends one message through the URLs given on its command line.
SEND_ONE_MESSAGE = """
import asyncio
import sys

from telegram import Bot


async def main() -> None:
    token, base_url, base_file_url, chat_id = sys.argv[1:]
    async with Bot(token, base_url=base_url, base_file_url=base_file_url) as bot:
        await bot.send_message(int(chat_id), "Giấy mời từ tiến trình khác")


asyncio.run(main())
"""


@pytest.fixture
def fake() -> FakeBotApi:
    return FakeBotApi()


@pytest.fixture
async def bot(fake: FakeBotApi, fake_server: FakeBotApiServer) -> AsyncIterator[Bot]:
    """A real PTB bot on its default HTTPXRequest: real TCP to the loopback server."""
    async with Bot(
        fake.token, base_url=fake_server.base_url, base_file_url=fake_server.base_file_url
    ) as bot:
        yield bot


async def http_exchange(fake_server: FakeBotApiServer, requests: list[bytes]) -> list[bytes]:
    """Send raw ``requests`` on one connection, one at a time; return each raw response."""
    reader, writer = await asyncio.open_connection(fake_server.host, fake_server.port)
    responses = []
    try:
        for request in requests:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            responses.append(head + await reader.readexactly(length))
        assert await reader.read() == b"", "the server should close after Connection: close"
    finally:
        writer.close()
        await writer.wait_closed()
    return responses


def get_me_request(fake: FakeBotApi, *, close: bool) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return (
        f"POST /bot{fake.token}/getMe HTTP/1.1\r\n".encode()
        + b"Host: 127.0.0.1\r\nContent-Length: 0\r\n"
        + connection
        + b"\r\n"
    )


async def test_server_listens_on_a_free_loopback_port_and_points_the_fake_at_it(
    fake: FakeBotApi, fake_server: FakeBotApiServer
) -> None:
    assert fake_server.port > 0
    assert fake_server.base_url == f"http://127.0.0.1:{fake_server.port}/bot"
    assert fake_server.base_file_url == f"http://127.0.0.1:{fake_server.port}/file/bot"
    assert (fake.base_url, fake.base_file_url) == (fake_server.base_url, fake_server.base_file_url)


async def test_stop_restores_the_fakes_own_urls(fake: FakeBotApi) -> None:
    before = (fake.base_url, fake.base_file_url)
    async with FakeBotApiServer(fake):
        pass

    assert (fake.base_url, fake.base_file_url) == before


def test_only_loopback_is_served(fake: FakeBotApi) -> None:
    with pytest.raises(ValueError, match=r"only listens on 127\.0\.0\.1"):
        FakeBotApiServer(fake, host="0.0.0.0")


async def test_get_me_over_http_returns_the_fake_bot_user(fake: FakeBotApi, bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.username, me.is_bot) == (123456, "hoinghi_test_bot", True)
    # One getMe from `async with Bot` (initialize), one from the test.
    assert len(fake.calls_to("getMe")) == 2
    fake.assert_no_violations()


async def test_send_message_over_http_is_recorded_in_the_fake(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    sent = await bot.send_message(an.id, "<b>Giấy mời</b> họp", parse_mode="HTML")

    assert sent.message_id == 1
    assert [call.params for call in fake.calls_to("sendMessage")] == [
        {"chat_id": 1001, "text": "<b>Giấy mời</b> họp", "parse_mode": "HTML"}
    ]
    assert an.last_text() == "Giấy mời họp"
    fake.assert_no_violations()


async def test_long_poll_over_http_returns_an_update_enqueued_while_waiting(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.wait_for(fake.wait_for_poller(), timeout=5)
    update = an.text("chào")

    fake.enqueue(update)
    updates = await asyncio.wait_for(poll, timeout=5)

    assert [u.update_id for u in updates] == [update["update_id"]]
    assert updates[0].message is not None and updates[0].message.text == "chào"


async def test_document_upload_over_http_is_captured_and_downloadable(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    content = b"%PDF-1.7 chuong trinh\r\n--not-a-boundary\r\n\x00\xff"

    sent = await bot.send_document(an.id, content, filename="chuong-trinh.pdf", caption="Lịch")

    [call] = fake.calls_to("sendDocument")
    assert call.uploads == {
        "document": UploadedFile("chuong-trinh.pdf", "application/pdf", content)
    }
    assert call.params == {"chat_id": 1001, "caption": "Lịch"}
    assert sent.document is not None
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content
    fake.assert_no_violations()


async def test_ptb_reuses_one_keep_alive_connection_for_successive_requests(
    fake: FakeBotApi, an: FakeUser, bot: Bot, fake_server: FakeBotApiServer
) -> None:
    await bot.send_message(an.id, "Tin 1")
    await bot.send_message(an.id, "Tin 2")

    # getMe (from initialize) and both messages went over the same connection.
    assert fake_server.connections_accepted == 1
    assert [m["text"] for m in an.messages] == ["Tin 1", "Tin 2"]


async def test_two_requests_share_a_connection_until_connection_close(
    fake: FakeBotApi, fake_server: FakeBotApiServer
) -> None:
    first, second = await http_exchange(
        fake_server, [get_me_request(fake, close=False), get_me_request(fake, close=True)]
    )

    assert first.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: keep-alive\r\n" in first
    assert second.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Connection: close\r\n" in second
    body = json.loads(second.partition(b"\r\n\r\n")[2])
    assert body["result"]["username"] == "hoinghi_test_bot"
    assert fake_server.connections_accepted == 1
    assert len(fake.calls_to("getMe")) == 2


def send_message_request(fake: FakeBotApi, content_type: bytes | None, body: bytes) -> bytes:
    """A raw sendMessage request with ``body``, of ``content_type`` (None: no such header)."""
    kind = b"" if content_type is None else b"Content-Type: " + content_type + b"\r\n"
    return (
        f"POST /bot{fake.token}/sendMessage HTTP/1.1\r\n".encode()
        + b"Host: 127.0.0.1\r\n"
        + kind
        + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        + body
    )


async def test_a_json_body_is_read_as_telegram_reads_it_strings_as_text_the_rest_as_json(
    fake: FakeBotApi, an: FakeUser, fake_server: FakeBotApiServer
) -> None:
    buttons = {"inline_keyboard": [[{"text": "Tham dự", "callback_data": "rsvp:yes"}]]}
    body = json.dumps(
        {"chat_id": an.id, "text": "123", "reply_markup": buttons, "protect_content": "true"},
        ensure_ascii=False,
    ).encode()

    [response] = await http_exchange(
        fake_server, [send_message_request(fake, b"application/json", body)]
    )

    assert response.startswith(b"HTTP/1.1 200 OK\r\n")
    assert [call.params for call in fake.calls_to("sendMessage")] == [
        {"chat_id": an.id, "text": "123", "reply_markup": buttons, "protect_content": True}
    ]
    assert an.last_text() == "123"
    fake.assert_no_violations()


async def test_a_json_body_of_any_spelling_of_its_type_is_read_and_a_form_still_is(
    fake: FakeBotApi, an: FakeUser, fake_server: FakeBotApiServer
) -> None:
    as_json = json.dumps({"chat_id": an.id, "text": "Giấy mời"}, ensure_ascii=False).encode()
    as_form = b"chat_id=%d&text=Gi%%E1%%BA%%A5y+m%%E1%%BB%%9Di" % an.id
    requests = [
        send_message_request(fake, b"Application/JSON; charset=utf-8", as_json),
        send_message_request(fake, b"application/x-www-form-urlencoded", as_form),
    ]

    responses = [(await http_exchange(fake_server, [request]))[0] for request in requests]

    assert [response.split(b"\r\n", 1)[0] for response in responses] == [b"HTTP/1.1 200 OK"] * 2
    assert [call.params for call in fake.calls_to("sendMessage")] == [
        {"chat_id": an.id, "text": "Giấy mời"}
    ] * 2
    fake.assert_no_violations()


@pytest.mark.parametrize(
    ("content_type", "body", "why"),
    [
        (b"application/json", b'["chat_id", 1001]', "JSON object expected"),
        (b"application/json", b'{"chat_id": 1001', "can't parse JSON: Expecting ',' delimiter"),
        (b"text/plain", b'{"chat_id": 1001}', "a body of type 'text/plain' is not read"),
        (None, b"chat_id=1001&text=x", "a body of type 'none' is not read"),
    ],
    ids=["json-not-an-object", "json-malformed", "a-type-telegram-does-not-read", "no-type"],
)
async def test_a_body_telegram_would_not_read_as_fields_is_refused_with_400_and_a_violation(
    fake: FakeBotApi,
    fake_server: FakeBotApiServer,
    content_type: bytes | None,
    body: bytes,
    why: str,
) -> None:
    [response] = await http_exchange(fake_server, [send_message_request(fake, content_type, body)])

    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert json.loads(response.partition(b"\r\n\r\n")[2]) == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: undecodable request body",
    }
    [violation] = fake.violations
    assert violation.startswith(f"sendMessage: undecodable request body: Bad Request: {why}")
    assert fake.calls == []


async def test_chunked_body_is_refused_with_411(
    fake: FakeBotApi, fake_server: FakeBotApiServer
) -> None:
    request = (
        f"POST /bot{fake.token}/getMe HTTP/1.1\r\n".encode()
        + b"Host: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )

    [response] = await http_exchange(fake_server, [request])

    assert response.startswith(b"HTTP/1.1 411 Length Required\r\n")
    assert fake.calls == []


async def test_wrong_token_over_http_is_a_401_violation(
    fake: FakeBotApi, fake_server: FakeBotApiServer
) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("999:WRONG", base_url=fake_server.base_url):
            pass

    assert fake.violations == ["request to '/bot999:WRONG/getMe': wrong token or URL"]


async def test_injected_timeout_over_http_arrives_as_timed_out(
    fake: FakeBotApi, an: FakeUser, fake_server: FakeBotApiServer
) -> None:
    # The server keeps silent, so the client's own read timeout fires.
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(fake.token, base_url=fake_server.base_url, request=request) as bot:
        fake.fail_next("sendMessage", timeout=True)
        with pytest.raises(TimedOut):
            await bot.send_message(an.id, "hi")
        sent = await bot.send_message(an.id, "hi")

    assert sent.message_id == 1
    assert [call.error for call in fake.calls_to("sendMessage")] == ["timeout", None]


async def test_stopping_the_server_ends_a_pending_long_poll(
    fake: FakeBotApi, fake_server: FakeBotApiServer, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.wait_for(fake.wait_for_poller(), timeout=5)

    await fake_server.stop()

    with pytest.raises(NetworkError):
        await asyncio.wait_for(poll, timeout=5)


async def test_stopping_the_server_during_a_long_poll_logs_no_error(
    fake: FakeBotApi, fake_server: FakeBotApiServer, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.wait_for(fake.wait_for_poller(), timeout=5)

    with caplog.at_level(logging.ERROR):
        await fake_server.stop()
        await asyncio.gather(poll, return_exceptions=True)

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_bot_in_another_process_sends_a_message_the_fake_records(
    fake: FakeBotApi, an: FakeUser, fake_server: FakeBotApiServer
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SEND_ONE_MESSAGE,
        fake.token,
        fake_server.base_url,
        fake_server.base_file_url,
        str(an.id),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 0, stderr.decode()
    assert [m["text"] for m in an.messages] == ["Giấy mời từ tiến trình khác"]
    assert [call.method for call in fake.calls] == ["getMe", "sendMessage"]
    fake.assert_no_violations()


async def test_an_injected_round_trip_delays_the_request_before_the_fake_and_the_answer_after(
    fake: FakeBotApi, an: FakeUser
) -> None:
    # Telegram counts a message when the request arrives, half a round trip after it left the
    # bot; the answer takes the other half back. The fake must see the request between them.
    waits: list[tuple[float, int]] = []

    async def sleep(seconds: float) -> None:
        waits.append((seconds, len(an.messages)))

    async with FakeBotApiServer(fake, rtt=0.2, sleep=sleep) as served:
        request = HTTPXRequest()
        async with Bot(fake.token, base_url=served.base_url, request=request) as bot:
            waits.clear()  # getMe, when the bot started
            await bot.send_message(an.id, "Xin chào")
    assert waits == [(0.1, 0), (0.1, 1)]
