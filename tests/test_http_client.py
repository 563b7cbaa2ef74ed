"""The bot's HTTP client (handlers/telegram/request.py): aiohttp by default, PTB's httpx on request,
each over real TCP to the fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from telegram import Bot, InputFile, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import Forbidden, NetworkError, TimedOut
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.chat import Inbox
from bot.config import HttpClient, TelegramSettings
from bot.domain.outbound import Button, SendOutcome, TextPart
from bot.services import Services
from bot.texts import load_catalog
from handlers.telegram.app import bot_defaults, build_application
from handlers.telegram.channel import TelegramSender, outcome_of
from handlers.telegram.limiter import RetryingRateLimiter
from handlers.telegram.receiving import UpdatesRequest
from handlers.telegram.render import keyboard, send_part
from handlers.telegram.request import (
    PTB_REQUEST_LOGGER,
    AiohttpRequest,
    UnreadableAnswerFilter,
    _fields,
    _json_body,
    new_request,
    quiet_unreadable_answers,
)
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi, FakeUser, UploadedFile
from tests.test_config import edited, problems

# Loopback traffic must reach the test's servers directly, whatever proxy the machine has.
pytestmark = pytest.mark.usefixtures("no_proxy")


@pytest.fixture
async def bot(fake: FakeBotApi, fake_server: FakeBotApiServer) -> AsyncIterator[Bot]:
    """A bot on aiohttp, as ``hoinghi run`` builds it by default."""
    request = new_request("aiohttp")
    async with Bot(
        fake.token,
        base_url=fake_server.base_url,
        base_file_url=fake_server.base_file_url,
        request=request,
    ) as bot:
        yield bot


async def test_a_message_over_aiohttp_reaches_the_bot_api_with_every_field(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    buttons = {"inline_keyboard": [[{"text": "Tham dự", "callback_data": "rsvp:yes"}]]}

    sent = await bot.send_message(an.id, "<b>Giấy mời</b> dự hội nghị", reply_markup=buttons)

    assert sent.message_id == 1
    assert [call.params for call in fake.calls_to("sendMessage")] == [
        {
            "chat_id": 1001,
            "text": "<b>Giấy mời</b> dự hội nghị",
            "reply_markup": buttons,
        }
    ]
    fake.assert_no_violations()


def replying_bot(which: str, fake: FakeBotApi, server: FakeBotApiServer) -> Bot:
    """The outbox's bare bot, or the application's (its defaults, its rate limiter)."""
    request = new_request("aiohttp")
    if which == "outbox":
        return Bot(fake.token, base_url=server.base_url, request=request)
    return ExtBot(
        fake.token,
        base_url=server.base_url,
        request=request,
        defaults=bot_defaults(ZoneInfo("Asia/Ho_Chi_Minh")),
        rate_limiter=RetryingRateLimiter(),
    )


@pytest.mark.parametrize("which", ["outbox", "application"])
async def test_a_text_part_is_sent_as_send_message_sends_it_and_its_id_is_returned(
    fake: FakeBotApi, an: FakeUser, fake_server: FakeBotApiServer, which: str
) -> None:
    catalog = load_catalog("vi")
    part = TextPart("<b>Đã ghi nhận</b>: đồng chí tham dự.", ((Button("Đổi ý", "rsvp:menu"),),))
    bot = replying_bot(which, fake, fake_server)
    async with bot:
        await bot.send_message(
            an.id,
            part.html,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(part.buttons),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
        message_id = await send_part(bot, an.id, part, catalog)

    by_ptb, ours = fake.calls_to("sendMessage")
    assert ours.params == by_ptb.params
    assert message_id == an.messages[-1]["message_id"] == 2
    fake.assert_no_violations()


async def test_a_text_part_refused_by_telegram_raises_as_send_message_raises(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    fake.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user"
    )

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await send_part(bot, an.id, TextPart("Nhắc hạn"), load_catalog("vi"))


async def test_a_request_without_files_goes_as_utf8_json_over_aiohttp_and_a_form_over_httpx() -> (
    None
):
    # aiohttp: each of PTB's fields as a JSON string, the Vietnamese as UTF-8 (td's HttpReader
    # reads a JSON string as a form field's value); httpx: PTB's own form, percent-encoded.
    seen: list[tuple[str, bytes]] = []

    async def capture(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower().split("\r\n")
        fields = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
        body = await reader.readexactly(int(fields["content-length"]))
        seen.append((fields["content-type"], body))
        answer = b'{"ok":true,"result":true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
        await writer.drain()
        writer.close()

    listening = await asyncio.start_server(capture, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    parameters = {
        "chat_id": 1001,
        "text": "Đồng chí đã xác nhận <b>tham dự</b> & cảm ơn",
        "reply_markup": {"inline_keyboard": [[{"text": "✅ Tham dự", "callback_data": "r:a"}]]},
    }
    data = RequestData([RequestParameter.from_input(k, v) for k, v in parameters.items()])
    async with listening:
        for request in (new_request("aiohttp"), new_request("httpx")):
            await request.initialize()
            try:
                url = f"http://127.0.0.1:{port}/bot1:x/sendMessage"
                assert await request.do_request(url, "POST", data) == (
                    200,
                    b'{"ok":true,"result":true}',
                )
            finally:
                await request.shutdown()

    assert seen == [
        (
            "application/json",
            '{"chat_id":"1001","text":"Đồng chí đã xác nhận <b>tham dự</b> & cảm ơn",'
            '"reply_markup":"{\\"inline_keyboard\\": [[{\\"text\\": \\"\\\\u2705 Tham d'
            '\\\\u1ef1\\", \\"callback_data\\": \\"r:a\\"}]]}"}'.encode(),
        ),
        (
            "application/x-www-form-urlencoded",
            b"chat_id=1001&text=%C4%90%E1%BB%93ng+ch%C3%AD+%C4%91%C3%A3+x%C3%A1c+nh%E1%BA%ADn+%3Cb"
            b"%3Etham+d%E1%BB%B1%3C%2Fb%3E+%26+c%E1%BA%A3m+%C6%A1n&reply_markup=%7B%22inline_keyboa"
            b"rd%22%3A+%5B%5B%7B%22text%22%3A+%22%5Cu2705+Tham+d%5Cu1ef1%22%2C+%22callback_data%22%"
            b"3A+%22r%3Aa%22%7D%5D%5D%7D",
        ),
    ]


@pytest.mark.parametrize(
    "parameters",
    [
        {"callback_query_id": "4411", "text": "Đã ghi nhận: Tham dự", "show_alert": False},
        {"callback_query_id": "4412", "text": None, "show_alert": None, "cache_time": 0},
        {
            "chat_id": -1001234,
            "text": "Đồng chí <b>tham dự</b>",
            "parse_mode": ParseMode.HTML,
            "reply_markup": '{"inline_keyboard": [[{"text": "Đổi ý", "callback_data": "r:m"}]]}',
            "link_preview_options": LinkPreviewOptions(is_disabled=True),
            "disable_notification": True,
            "latitude": 21.0285,
        },
        {"chat_id": 1001, "document": InputFile(b"%PDF-", filename="Tham luận.pdf")},
    ],
    ids=["toast", "empty toast", "message", "document"],
)
def test_the_fields_sent_are_ptbs_json_parameters_each_value_encoded_once(
    parameters: dict[str, object],
) -> None:
    # AiohttpRequest reads RequestData.parameters and encodes each value itself (PTB's
    # json_parameters encodes each twice): the fields, and so the body, must stay PTB's.
    data = RequestData([RequestParameter.from_input(k, v) for k, v in parameters.items()])

    assert _fields(data) == data.json_parameters
    assert list(_fields(data)) == list(data.json_parameters)  # in the same order
    assert _json_body(_fields(data)) == _json_body(data.json_parameters)


async def test_the_same_message_over_aiohttp_and_over_httpx_reaches_the_bot_api_the_same(
    fake: FakeBotApi, an: FakeUser, fake_server: FakeBotApiServer
) -> None:
    buttons = {"inline_keyboard": [[{"text": "✅ Tham dự", "callback_data": "rsvp:yes"}]]}
    for client in ("aiohttp", "httpx"):
        async with Bot(
            fake.token, base_url=fake_server.base_url, request=new_request(client)
        ) as bot:
            await bot.send_message(
                an.id,
                "<b>Giấy mời</b> dự hội nghị sơ kết &amp; 123",
                parse_mode=ParseMode.HTML,
                reply_markup=buttons,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                protect_content=True,
            )

    over_aiohttp, over_httpx = fake.calls_to("sendMessage")
    assert (
        over_aiohttp.params
        == over_httpx.params
        == {
            "chat_id": 1001,
            "text": "<b>Giấy mời</b> dự hội nghị sơ kết &amp; 123",
            "parse_mode": "HTML",
            "reply_markup": buttons,
            "link_preview_options": {"is_disabled": True},
            "protect_content": True,
        }
    )
    fake.assert_no_violations()


async def test_a_document_over_aiohttp_arrives_whole_with_its_vietnamese_name_and_caption(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    # A district's draft goes on to the office under the name its author gave it.
    content = b"PK\x03\x04 tham luan\r\n--not-a-boundary\r\n\x00\xff"
    name = "Tham luận quận Ba Đình (bản 2).docx"

    await bot.send_document(an.id, content, filename=name, caption="Bản thảo")

    [call] = fake.calls_to("sendDocument")
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert call.uploads == {"document": UploadedFile(name, docx, content)}
    assert call.params == {"chat_id": 1001, "caption": "Bản thảo"}
    fake.assert_no_violations()


async def test_a_long_poll_over_aiohttp_returns_an_update_enqueued_while_it_waits(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.wait_for(fake.wait_for_poller(), timeout=5)
    update = an.text("chào")

    fake.enqueue(update)
    updates = await asyncio.wait_for(poll, timeout=5)

    assert [u.update_id for u in updates] == [update["update_id"]]


async def test_successive_requests_over_aiohttp_share_one_kept_alive_connection(
    an: FakeUser, bot: Bot, fake_server: FakeBotApiServer
) -> None:
    await bot.send_message(an.id, "Tin 1")
    await bot.send_message(an.id, "Tin 2")

    assert fake_server.connections_accepted == 1  # getMe from the start, and both messages
    assert [m["text"] for m in an.messages] == ["Tin 1", "Tin 2"]


async def test_an_answer_later_than_the_read_timeout_is_timed_out_and_the_next_goes_through(
    fake: FakeBotApi, an: FakeUser, fake_server: FakeBotApiServer
) -> None:
    request = AiohttpRequest(read_timeout=0.2)
    async with Bot(fake.token, base_url=fake_server.base_url, request=request) as bot:
        fake.fail_next("sendMessage", timeout=True)  # the server keeps silent
        with pytest.raises(TimedOut):
            await bot.send_message(an.id, "Nhắc hạn")
        sent = await bot.send_message(an.id, "Nhắc hạn")

    assert sent.message_id == 1
    assert [call.error for call in fake.calls_to("sendMessage")] == ["timeout", None]


async def test_a_refused_connection_is_a_network_error() -> None:
    port = closed_port()
    bot = Bot(
        "123456:" + "A" * 35, base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest()
    )

    with pytest.raises(NetworkError, match=r"^aiohttp\.ClientConnectorError: Cannot connect"):
        async with bot:
            pass


async def test_an_errors_text_never_holds_the_token_of_the_address_it_names() -> None:
    # A delivery's error is stored and shown to the office; the token is in every address.
    token = "123456:" + "A" * 35
    bot = Bot(token, base_url="http://127.0.0.1:99999/bot", request=AiohttpRequest())

    with pytest.raises(NetworkError) as caught:
        async with bot:
            pass

    assert caught.value.message == "aiohttp.InvalidUrlClientError: http://127.0.0.1:99999"


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_proxy_in_the_environment_carries_the_requests_and_no_proxy_skips_it(
    fake: FakeBotApi, an: FakeUser, fake_server: FakeBotApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An office that reaches Telegram only through its proxy sets HTTPS_PROXY, as for httpx.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    through_proxy = Bot(fake.token, base_url=fake_server.base_url, request=AiohttpRequest())
    with pytest.raises(NetworkError, match=r"^aiohttp\.ClientProxyConnectionError"):
        async with through_proxy:
            pass
    assert fake.calls == []

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with Bot(fake.token, base_url=fake_server.base_url, request=AiohttpRequest()) as direct:
        await direct.send_message(an.id, "Thẳng tới máy chủ")
    assert an.last_text() == "Thẳng tới máy chủ"


async def test_a_proxys_user_and_password_are_sent_apart_and_a_socks_proxy_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://v%C4%83n-ph%C3%B2ng:m%E1%BA%ADt@proxy.local:3128")
    monkeypatch.setenv("HTTP_PROXY", "socks5://127.0.0.1:1080")
    request = AiohttpRequest()
    await request.initialize()
    try:
        address, headers = request._proxy_for("https://api.telegram.org/bot1:x/getMe")
        credentials = base64.b64encode("văn-phòng:mật".encode()).decode()
        assert address == "http://proxy.local:3128"
        assert headers == {"Proxy-Authorization": f"Basic {credentials}"}
        assert request._proxy_for("http://127.0.0.1:8081/bot1:x/getMe") == (None, None)
    finally:
        await request.shutdown()


async def test_a_request_before_initialize_or_after_shutdown_is_refused_plainly() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:1/bot1:x/getMe", "POST")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()  # twice is once
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:1/bot1:x/getMe", "POST")


@pytest.mark.parametrize(("client", "kind"), [("aiohttp", AiohttpRequest), ("httpx", HTTPXRequest)])
def test_the_plans_http_client_is_what_the_bot_its_poll_and_the_outbox_talk_through(
    imported: Services, fake: FakeBotApi, client: str, kind: type
) -> None:
    telegram = imported.config.telegram.model_copy(update={"http_client": client})
    imported.ctx.__dict__["config"] = imported.config.model_copy(update={"telegram": telegram})
    catalog = load_catalog("vi")

    application = build_application(Inbox(imported, catalog), imported, catalog, fake.token)
    sender = TelegramSender.build(fake.token, telegram, catalog)

    assert isinstance(application.bot.request, kind)
    poll = application.bot._request[0]  # the poll's own, its taps reduced
    assert isinstance(poll, UpdatesRequest) and isinstance(poll.inner, kind)
    assert isinstance(sender.bot.request, kind)


def test_aiohttp_is_the_default_http_client() -> None:
    assert TelegramSettings().http_client == "aiohttp"


def test_an_unknown_http_client_is_reported_with_its_key(tmp_path: Path) -> None:
    plan = edited(tmp_path, ('http_client = "aiohttp"', 'http_client = "requests"'))

    assert problems(plan) == [("telegram.http_client", "literal_error")]


# --- answers lost on the way ---------------------------------------------------------------------


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
async def test_a_connection_closed_after_the_request_went_out_may_have_sent_and_a_refused_one_not(
    fake: FakeBotApi, an: FakeUser, fake_server: FakeBotApiServer, client: HttpClient
) -> None:
    """The server hung up once it had read the request (aiohttp's ``ServerDisconnectedError``,
    httpx's ``RemoteProtocolError``): the message may be on her screen, and is doubted as
    after a read timeout. A connection refused (``ClientConnectorError``, ``ConnectError``)
    sent nothing: retried freely."""
    async with Bot(fake.token, base_url=fake_server.base_url, request=new_request(client)) as bot:
        fake.fail_next("sendMessage", dropped=True)
        with pytest.raises(NetworkError) as dropped:
            await bot.send_message(an.id, "Nhắc hạn")
    refused = Bot(
        fake.token, base_url=f"http://127.0.0.1:{closed_port()}/bot", request=new_request(client)
    )
    with pytest.raises(NetworkError) as never_opened:
        async with refused:
            pass

    assert [call.error for call in fake.calls_to("sendMessage")] == ["dropped"]
    assert outcome_of(dropped.value).outcome is SendOutcome.MAYBE_SENT
    assert outcome_of(never_opened.value).outcome is SendOutcome.TRANSIENT


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
async def test_a_proxys_page_is_logged_in_one_short_line_without_its_html(
    fake: FakeBotApi,
    an: FakeUser,
    fake_server: FakeBotApiServer,
    client: HttpClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PTB logged a proxy's page at ERROR with a traceback and its whole HTML (a page may quote
    the address asked for, the token in it): now one warning line. The outbox's own warning
    still names the status."""
    settings = TelegramSettings(
        api_base_url=fake_server.base_url,
        file_base_url=fake_server.base_file_url,
        http_client=client,
    )
    sender = TelegramSender.build(fake.token, settings, load_catalog("vi"))
    fake.fail_next("sendMessage", proxy_page=True, error_code=502, description="Bad Gateway")
    async with sender.bot:
        with caplog.at_level(logging.DEBUG):
            result = await sender.send(str(an.id), TextPart("Nhắc hạn"))

    assert result.outcome is SendOutcome.MAYBE_SENT
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"  # the fake proxy's, as sent
    assert all(page not in r.getMessage() for r in caplog.records)
    logged = [
        (r.name, r.levelname, r.getMessage(), r.exc_info)
        for r in caplog.records
        if r.levelno >= logging.WARNING
    ]
    assert logged == [
        (
            "telegram.request.BaseRequest",
            "WARNING",
            f"an answer that is not JSON ({len(page)} characters; a proxy's page?), not logged",
            None,
        ),
        (
            "handlers.telegram.channel",
            "WARNING",
            "an answer that is not the Bot API's: HTTP 502 (a proxy's page?)",
            None,
        ),
    ]


def test_the_filter_of_unreadable_answers_leaves_any_other_error_of_ptb_as_it_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_unreadable_answers()
    quiet_unreadable_answers()  # twice is once
    logger = logging.getLogger(PTB_REQUEST_LOGGER)
    assert sum(isinstance(f, UnreadableAnswerFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.ERROR, logger=PTB_REQUEST_LOGGER):
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("Something else broke: %s", "details")

    [record] = caplog.records
    assert (record.levelname, record.getMessage()) == ("ERROR", "Something else broke: details")
    assert record.exc_info is not None
