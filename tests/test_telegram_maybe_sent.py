"""A message the outbox sends on Telegram whose send may have gone, as on Zalo
(``tests/test_zalo_maybe_sent.py``): a read timeout after the request went out, a connection
closed or reset while the bot waited for the answer, or a proxy's 5xx page, may hide a
delivered message, and the Bot API has no key to spot a copy; it is tried once more at most,
then reported as one that may have arrived. A timeout or a failure while connecting sent
nothing and is retried as any error. A proxy's own HTML 403/407 is the office's network
refusing the request, not the person blocking the bot."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp.client_reqrep import ConnectionKey
from sqlalchemy import select
from telegram.error import NetworkError, TimedOut

from bot.domain.outbound import MessageKind, SendOutcome
from handlers.telegram.channel import maybe_sent, outcome_of
from storage.models import ChannelIdentity, Delegate, Delivery, OutboundMessage
from tests.harness import OFFICE_CHAT, BotHarness
from tests.test_outbox import deliveries, reminder_for_one, texts

REMINDER = "chưa xác nhận"


async def settled(harness: BotHarness) -> None:
    """Ticks with the clock past every retry's wait in between (the longest back-off is
    5 minutes; twelve rounds are past any)."""
    for _ in range(12):
        await harness.tick()
        harness.clock.advance(timedelta(minutes=6))


def tries(harness: BotHarness, chat: int) -> int:
    """How many times the bot sent the reminder to ``chat``, whatever came back."""
    return sum(
        REMINDER in str(call.params.get("text", ""))
        for call in harness.fake.calls
        if call.method == "sendMessage" and call.params.get("chat_id") == chat
    )


async def the_reminders_delivery(harness: BotHarness, code: str) -> Delivery:
    async with harness.services.ctx.sessions() as session:
        delivery = await session.scalar(
            select(Delivery)
            .join(Delegate, Delegate.id == Delivery.delegate_id)
            .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
            .where(Delegate.code == code, OutboundMessage.kind == MessageKind.RSVP_REMINDER)
        )
    assert delivery is not None
    return delivery


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"timeout": True}, id="read-timeout"),
        pytest.param(
            {"proxy_page": True, "error_code": 502, "description": "Bad Gateway"}, id="proxy-502"
        ),
        pytest.param({"dropped": True}, id="connection-dropped"),
    ],
)
async def test_a_reminder_whose_answer_is_lost_every_time_is_sent_twice_at_most_and_reported(
    harness: BotHarness, fault: dict[str, Any]
) -> None:
    """Before, a Telegram timeout was retried up to ``max_attempts`` (10): ten tries of one
    reminder, each one a copy she may read. Now two, and the office's report says, in the
    words Zalo's report uses, that she may have it."""
    chat = await reminder_for_one(harness)
    harness.fake.fail_next("sendMessage", **fault, times=9, chat_id=chat)
    await settled(harness)
    assert tries(harness, chat) == 2
    delivery = await the_reminders_delivery(harness, "DB005")
    assert delivery.status == "failed"
    assert delivery.maybe_sent_at is not None
    report = texts(harness, OFFICE_CHAT)[-1]
    assert "Gửi không thành công (1):" in report
    [line] = [line for line in report.split("\n") if "DB005" in line]
    assert line.startswith("• DB005 — Ngô Thị Bích Hạnh: có thể đã nhận được tin (bot đã gửi lúc ")
    assert line.endswith(
        "); bot không gửi thêm để tránh một tin tới nhiều lần, nếu cần chắc chắn đề nghị gọi điện."
    )
    if fault.get("proxy_page"):  # its error in the Vietnamese line: a code, not English prose
        assert "nhưng không nhận được xác nhận: HTTP 502 (proxy))" in line


async def test_a_reminder_whose_first_answer_is_lost_is_tried_once_more_and_counts_as_sent(
    harness: BotHarness,
) -> None:
    chat = await reminder_for_one(harness)
    harness.fake.fail_next("sendMessage", timeout=True, chat_id=chat)
    await settled(harness)
    assert (tries(harness, chat), sum(REMINDER in t for t in texts(harness, chat))) == (2, 1)
    delivery = await the_reminders_delivery(harness, "DB005")
    assert (delivery.status, delivery.attempts, delivery.maybe_sent_at) == ("sent", 2, None)


async def test_a_timeout_while_connecting_sent_nothing_and_is_retried_like_any_error(
    harness: BotHarness,
) -> None:
    """Nothing went: four tries are no copies, and it is not doubted."""
    chat = await reminder_for_one(harness)
    harness.fake.fail_next("sendMessage", connect_timeout=True, times=3, chat_id=chat)
    await settled(harness)
    assert (tries(harness, chat), sum(REMINDER in t for t in texts(harness, chat))) == (4, 1)
    delivery = await the_reminders_delivery(harness, "DB005")
    assert (delivery.status, delivery.maybe_sent_at) == ("sent", None)


@pytest.mark.parametrize(
    ("cause", "outcome"),
    [
        pytest.param(httpx.ReadTimeout("read"), "maybe_sent", id="httpx-read"),
        pytest.param(httpx.WriteTimeout("write"), "maybe_sent", id="httpx-write"),
        pytest.param(httpx.ConnectTimeout("connect"), "transient", id="httpx-connect"),
        pytest.param(httpx.PoolTimeout("pool"), "transient", id="httpx-pool"),
        pytest.param(aiohttp.SocketTimeoutError("read"), "maybe_sent", id="aiohttp-read"),
        pytest.param(aiohttp.ConnectionTimeoutError("connect"), "transient", id="aiohttp-connect"),
        pytest.param(TimeoutError(), "maybe_sent", id="aiohttp-total"),
    ],
)
def test_a_timeout_may_have_sent_unless_it_came_while_connecting(
    cause: BaseException, outcome: str
) -> None:
    """Both HTTP clients the bot may use (``[telegram] http_client``): PTB's ``TimedOut``
    keeps the client's timeout as its cause."""
    error = TimedOut()
    error.__cause__ = cause
    assert outcome_of(error).outcome == SendOutcome(outcome)


@pytest.mark.parametrize(
    ("cause", "outcome"),
    [
        pytest.param(
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "maybe_sent",
            id="httpx-server-disconnected",
        ),
        pytest.param(httpx.ReadError("Connection reset by peer"), "maybe_sent", id="httpx-reset"),
        pytest.param(httpx.ConnectError("Connection refused"), "transient", id="httpx-connect"),
        pytest.param(
            httpx.ProxyError("407 Proxy Authentication Required"),
            "transient",
            id="httpx-proxy-tunnel",
        ),
        pytest.param(
            aiohttp.ServerDisconnectedError(), "maybe_sent", id="aiohttp-server-disconnected"
        ),
        pytest.param(
            aiohttp.ClientOSError(104, "Connection reset by peer"), "maybe_sent", id="aiohttp-reset"
        ),
        pytest.param(
            aiohttp.ClientPayloadError("Response payload is not completed"),
            "maybe_sent",
            id="aiohttp-cut-answer",
        ),
        pytest.param(
            aiohttp.ClientConnectorError(
                ConnectionKey("api.telegram.org", 443, True, True, None, None, None),
                OSError(111, "Connection refused"),
            ),
            "transient",
            id="aiohttp-connect",
        ),
        pytest.param(None, "transient", id="telegram-5xx"),
    ],
)
def test_a_connection_that_broke_after_the_request_went_out_may_have_sent(
    cause: BaseException | None, outcome: str
) -> None:
    """A connection closed or reset while the bot waited for the answer was tried again as one
    that never opened: the message may have reached her (Zalo's rule says so). Both HTTP
    clients: PTB's ``NetworkError`` keeps the client's error as its cause; without one it is
    Telegram's own answer (a 5xx), which says nothing went."""
    error = NetworkError("Bad Gateway" if cause is None else f"{type(cause).__name__}")
    error.__cause__ = cause
    assert outcome_of(error).outcome == SendOutcome(outcome)
    assert maybe_sent(error) is (outcome == "maybe_sent")


@pytest.mark.parametrize("status", [403, 407])
async def test_a_proxys_html_refusal_is_not_the_person_blocking_the_bot(
    harness: BotHarness, status: int
) -> None:
    """A company proxy's HTML 403 was read as «she blocked the bot»: marked unreachable, put on
    the list to phone, never tried again. Now it is retried, and she is not marked."""
    chat = await reminder_for_one(harness)
    harness.fake.fail_next(
        "sendMessage", proxy_page=True, error_code=status, description="Access Denied",
        chat_id=chat,
    )  # fmt: skip
    await settled(harness)
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"sent": 1, "not_linked": 75}
    assert sum(REMINDER in t for t in texts(harness, chat)) == 1
    async with harness.services.ctx.sessions() as session:
        ident = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.external_id == str(chat))
        )
    assert ident is not None and ident.unreachable_at is None


async def test_a_proxy_refusing_every_try_is_reported_as_the_offices_network_not_a_block(
    harness: BotHarness,
) -> None:
    chat = await reminder_for_one(harness)
    harness.fake.fail_next(
        "sendMessage", proxy_page=True, error_code=403, description="Forbidden", times=10,
        chat_id=chat,
    )  # fmt: skip
    await settled(harness)
    assert await deliveries(harness, MessageKind.RSVP_REMINDER) == {"failed": 1, "not_linked": 75}
    report = texts(harness, OFFICE_CHAT)[-1]
    assert "Cần gọi điện thoại (0) — " in report  # she is not on the list to phone
    assert "\nGửi không thành công (1):\n" in report
    assert (
        "\n• DB005 — Ngô Thị Bích Hạnh: chưa gửi được do mạng của cơ quan (máy chủ proxy hoặc "
        "tường lửa) chặn kết nối tới nền tảng, không phải do đại biểu chặn bot; đề nghị bộ phận "
        "kỹ thuật kiểm tra mạng rồi gửi lại." in report
    )


async def test_a_reply_refused_by_a_proxys_page_is_logged_as_the_proxys_not_as_a_block(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """PTB raises «Forbidden» for a proxy's HTML 403 too: the error handler's line said
    «Forbidden», read in the log as the person blocking the bot. Now it names the proxy."""
    user = await harness.open_invitation("DB002")
    harness.fake.fail_next(
        "sendMessage", proxy_page=True, error_code=403, description="Forbidden", chat_id=user.id
    )
    with caplog.at_level(logging.WARNING, logger="handlers.telegram.errors"):
        await harness.send(user.command("/help"))
    [logged] = [r.getMessage() for r in caplog.records if r.name == "handlers.telegram.errors"]
    assert re.fullmatch(
        r"telegram error while handling update \d+ \(message\): HTTP 403 from a proxy", logged
    )


@pytest.mark.parametrize(
    ("status", "ptb_reads_it_as"),
    [(404, "InvalidToken"), (401, "InvalidToken"), (409, "Conflict")],
)
async def test_a_reply_met_by_any_proxy_page_is_one_log_line_without_the_page_and_no_apology(
    harness: BotHarness, caplog: pytest.LogCaptureFixture, status: int, ptb_reads_it_as: str
) -> None:
    """PTB reads a proxy's HTML 404 or 401 as «InvalidToken» and its 409 as «Conflict», not as
    a NetworkError: the error handler logged it as a bug of the bot, its traceback quoting the
    proxy's whole page (which may hold the address asked for, the token in it), apologised to
    the person and told the office's group «the bot failed». It is the office's network, as
    a proxy's 403 or 5xx page is: one line naming the status, the page kept out."""
    user = await harness.open_invitation("DB002")
    before, office_before = len(user.messages), len(texts(harness, OFFICE_CHAT))
    harness.fake.fail_next(
        "sendMessage", proxy_page=True, error_code=status, description="X", chat_id=user.id
    )
    with caplog.at_level(logging.DEBUG):
        await harness.send(user.command("/help"))

    logged = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "handlers.telegram.errors"
    ]
    assert len(logged) == 1
    assert logged[0][0] == "WARNING"
    assert re.fullmatch(
        rf"telegram error while handling update \d+ \(message\): HTTP {status} from a proxy",
        logged[0][1],
    ), ptb_reads_it_as
    for record in caplog.records:
        shown = record.getMessage() + (
            logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        )
        assert "<html" not in shown, record.name
    assert user.messages[before:] == []  # no «something went wrong» for the network's refusal
    assert texts(harness, OFFICE_CHAT)[office_before:] == []


async def test_a_tap_answered_through_a_proxys_400_page_logs_its_status_not_the_page(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """A tap's answer refused by a proxy's HTML 400 (PTB's «BadRequest», its message holding
    the whole page) was logged with that message: the status alone now."""
    user = await harness.open_invitation("DB030")
    harness.fake.fail_next(
        "answerCallbackQuery", proxy_page=True, error_code=400, description="Bad Request"
    )
    with caplog.at_level(logging.DEBUG, logger="handlers.telegram.inbound"):
        await harness.send(user.tap("✅ Tham dự"))

    logged = [r.getMessage() for r in caplog.records if r.name == "handlers.telegram.inbound"]
    assert logged == ["callback query not answered: HTTP 400 from a proxy"]
