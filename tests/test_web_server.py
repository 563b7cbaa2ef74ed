"""The web server for real on loopback: `run` with no chat token serves the pages alone, and
Telegram's webhook is answered on the same port."""

from __future__ import annotations

import asyncio
import html
import os
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import bot.app
from bot.app import (
    App,
    Channel,
    ChannelEntry,
    ChannelSetup,
    open_app,
    run_refusal,
    webhook_mount,
)
from bot.chat import Inbox
from bot.cli import main
from bot.config import load_config
from bot.services import Services
from bot.texts import load_catalog
from handlers.telegram.app import Webhook, build_application, serve
from handlers.web.app import build_web_app
from handlers.web.server import serving
from rehearsal.telegram_api import FakeBotApi
from tests.channels.text_channel import TextChannel
from tests.conftest import EXAMPLE_DELEGATES
from tests.harness import wired_config
from tests.office_support import Desk, hidden, make_staff, text_of
from tests.quota_support import link_on
from tests.web_support import web_setup

SECRET = "s3cret-token-for-the-test"


async def test_run_without_a_chat_token_serves_the_personal_pages_alone(
    office_web: Path,
) -> None:
    assert await asyncio.to_thread(main, ["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    loaded = load_config(office_web / "config.toml")
    assert run_refusal({}, loaded.config.web) is None
    async with open_app(loaded, load_catalog("vi"), env={}) as app:
        assert app.channels() == []
        token = (await app.services.invitations.links())[0].token
        stop = asyncio.Event()
        running = asyncio.create_task(app.run(stop))
        try:
            await asyncio.wait_for(app.web_serving.wait(), timeout=30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.web_port}") as client:
                page = await client.get(f"/{token}")
                home = await client.get("/")
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=30)
    assert page.status_code == 200 and "Thứ Ba, ngày 28/5/2024, từ 08:00 đến 11:30" in page.text
    assert home.status_code == 200 and token not in home.text
    assert page.headers["referrer-policy"] == "no-referrer"


@asynccontextmanager
async def office_while_running(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` running as ``hoinghi run`` runs it, and a client on its web port signed in as the
    office's staff member; the app stopped after."""
    started = asyncio.Event()
    monkeypatch.setattr(bot.app, "freeze_startup_heap", started.set)
    await make_staff(app.services)
    stop = asyncio.Event()
    running = asyncio.create_task(app.run(stop))
    try:
        await asyncio.wait_for(started.wait(), timeout=30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.web_port}") as client:
            await Desk(app.services, client).sign_in()
            yield client
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=30)


async def test_run_without_a_chat_token_previews_a_notice_as_read_on_pages_only(
    office_web: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages only (no chat token), two invitees linked on Telegram in an earlier run: the
    preview counts nobody reachable by message (no chat runs to write to them) and says the 80
    will read it on their pages, as the outbox will record it; it said «Sẽ gửi tới: 2 người»."""
    assert await asyncio.to_thread(main, ["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    loaded = load_config(office_web / "config.toml")
    async with open_app(loaded, load_catalog("vi"), env={}) as app:
        await link_on(app.services, "telegram", "DB002", "DB003")
        async with office_while_running(app, monkeypatch) as client:
            form = hidden((await client.get("/office/notices")).text, "form-notice")
            shown = await client.post(
                "/office/notices/preview",
                data={**form, "body": "Họp trù bị lúc 14:00.", "audience": "everyone"},
            )
    assert shown.status_code == 200
    assert text_of(shown.text, "notice-count") == (
        "Đối tượng: Mọi khách mời (người chưa liên kết được liệt kê để gọi điện)\nSẽ hiện trên"
        " trang cá nhân của 80 người: các đồng chí này sẽ thấy thông báo khi truy cập trang cá"
        " nhân (không đồng chí nào nhận qua tin nhắn)."
    )
    assert text_of(shown.text, "to-call-title") == "Không nhận được qua tin nhắn (80)"


async def test_a_running_apps_overview_names_the_token_variable_of_a_chat_that_does_not_run(
    office_web: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Restarted without TELEGRAM_BOT_TOKEN, two invitees linked on Telegram before: start-up
    named the variable, the overview's «Telegram: … máy này không chạy kênh Telegram» did not,
    and the clerk did not know what to ask the technician for. It names it as start-up does."""
    assert await asyncio.to_thread(main, ["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    loaded = load_config(office_web / "config.toml")
    async with open_app(loaded, load_catalog("vi"), env={}) as app:
        await link_on(app.services, "telegram", "DB002", "DB003")
        async with office_while_running(app, monkeypatch) as client:
            page = (await client.get("/office/")).text
    assert text_of(page, "reach-idle-telegram") == (
        "Telegram: 2 đại biểu đã liên kết tài khoản từ trước, nhưng máy này không chạy kênh"
        " Telegram vì chưa đặt token (TELEGRAM_BOT_TOKEN), nên bot không gửi tin nhắn được cho các"
        " đồng chí này; người chưa trả lời trong số đó nằm trong danh sách cần gọi điện thoại."
    )


async def test_a_running_app_tells_the_dashboards_invitation_which_chat_takes_the_code(
    office_web: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The chat channels `run` starts reach the dashboard: with one running (not Telegram,
    # whose bot's name comes with it), the invitation tells her to send the code to the bot.
    def build_text(setup: ChannelSetup) -> Channel:
        @asynccontextmanager
        async def receiving() -> AsyncIterator[None]:
            yield

        return Channel(TextChannel(setup.inbox, setup.catalog), receiving)

    entry = ChannelEntry("text", "HOINGHI_TEXT_TOKEN", re.compile(r"t-\d+"), build_text)
    monkeypatch.setattr(bot.app, "CHANNELS", (bot.app.TELEGRAM, entry))
    assert await asyncio.to_thread(main, ["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    loaded = load_config(office_web / "config.toml")
    async with (
        open_app(loaded, load_catalog("vi"), env={"HOINGHI_TEXT_TOKEN": "t-1"}) as app,
        office_while_running(app, monkeypatch) as client,
    ):
        page = await client.get("/office/delegates/DB010")
    assert page.status_code == 200
    assert "cho bot của hội nghị." in html.unescape(page.text)


def test_run_says_when_it_serves_the_web_alone_naming_every_chats_token(
    office_web: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Restarted without ZALO_BOT_TOKEN, the line named TELEGRAM_BOT_TOKEN alone.
    import bot.cli.run as run_module

    async def no_run(self: object, **kwargs: object) -> None:  # start-up said, then done
        return None

    monkeypatch.setattr(run_module.App, "run", no_run)
    assert main(["run"]) == 0
    assert (
        " INFO hoinghi: Chưa đặt token kênh trò chuyện nào (TELEGRAM_BOT_TOKEN, ZALO_BOT_TOKEN): "
        "chỉ chạy trang web http://127.0.0.1:8080 (lắng nghe tại 127.0.0.1:"
    ) in capsys.readouterr().err


async def test_telegrams_webhook_is_answered_on_the_web_servers_port(
    imported: Services, fake: FakeBotApi
) -> None:
    services = imported
    services.ctx.__dict__["config"] = wired_config(services.config, fake)
    catalog = load_catalog("vi")
    hooks: dict[str, object] = {}
    setup = web_setup(services, hooks=hooks, hook_paths=("tg/hook",))
    application = build_application(
        Inbox(services, catalog), services, catalog, fake.token, request=fake.make_request()
    )
    async with serving(build_web_app(setup), host="127.0.0.1", port=0) as port:
        hook = Webhook("127.0.0.1", port, "https://hoinghi.example.vn/tg/hook", SECRET,
                       mount=webhook_mount(setup.hooks))  # fmt: skip
        local = f"http://127.0.0.1:{port}/tg/hook"
        user = fake.user(555_000_222, "An")
        async with httpx.AsyncClient() as client:
            before = await client.post(local, json=user.command("/start"))
            stop = asyncio.Event()
            running = asyncio.create_task(serve(application, stop, webhook=hook))
            await fake.wait_until(lambda: bool(fake.calls_to("setWebhook")))
            wrong = await client.post(local, json=user.command("/start"))
            right = await client.post(
                local,
                json=user.command("/start"),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
            stop.set()
            await asyncio.wait_for(running, 10)
            after = await client.post(
                local,
                json=user.command("/help"),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
    # Not listening yet: Telegram tries again later; no secret: refused; after the stop: again.
    assert (before.status_code, wrong.status_code, right.status_code) == (503, 403, 200)
    assert after.status_code == 503
    assert [m for m in user.messages if m.get("text", "").startswith("Kính chào")]
    assert fake.calls_to("setWebhook")[0].params["url"] == "https://hoinghi.example.vn/tg/hook"
    fake.assert_no_violations()


def _server_side(port: int, peer: tuple[str, int]) -> list[socket.socket]:
    """This process's sockets of the connection from ``peer`` to ``port`` (duplicates of the
    server's own, read through /proc/self/fd)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:  # not a socket
            continue
        try:
            ours = sock.family == socket.AF_INET and sock.getsockname()[1] == port
            if ours and sock.getpeername() == peer:
                found.append(sock)
                continue
        except OSError:  # a listener (no peer) or not an internet socket
            pass
        sock.close()
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd (Linux)")
async def test_the_web_servers_connections_send_without_waiting_for_acks() -> None:
    # Nagle's algorithm on a keep-alive connection held an answer's body (written after its
    # head) until the client's delayed ACK of the head: ~40 ms on every request after the
    # first. TCP_NODELAY on the server's side of each connection is what prevents it.
    async def hello(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"hello"})

    async with serving(hello, host="127.0.0.1", port=0) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            accepted = _server_side(port, writer.get_extra_info("sockname"))
            try:
                assert len(accepted) == 1
                assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            finally:
                for sock in accepted:
                    sock.close()
        finally:
            writer.close()


def test_run_names_its_chats_and_the_one_left_idle_as_the_office_reads_them(
    office_web: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # «chạy cùng các kênh trò chuyện: zalo. Chưa đặt token (TELEGRAM_BOT_TOKEN) nên các kênh
    # đó không chạy»: the internal name in lower case, and a plural for the one channel.
    import bot.cli.run as run_module

    async def no_run(self: object, **kwargs: object) -> None:  # start-up said, then done
        return None

    monkeypatch.setattr(run_module.App, "run", no_run)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:" + "a" * 40)
    assert main(["run"]) == 0
    err = capsys.readouterr().err
    assert (
        "chạy cùng kênh trò chuyện Zalo. Chưa đặt token (TELEGRAM_BOT_TOKEN) nên Telegram không "
        "chạy: đại biểu đã liên kết trên Telegram không nhận được tin nhắn."
    ) in err
