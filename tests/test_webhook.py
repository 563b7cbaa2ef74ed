"""Webhook mode on loopback: Telegram's POSTs are accepted only with the secret token."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from bot.chat import Inbox
from bot.cli import main
from bot.services import Services
from bot.texts import load_catalog
from handlers.telegram.app import Webhook, build_application, serve
from rehearsal.telegram_api import FakeBotApi, FakeUser
from tests.harness import wired_config

SECRET = "s3cret-token-for-the-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_accepts_telegrams_posts_only_with_the_secret_token(
    imported: Services, fake: FakeBotApi
) -> None:
    services = imported
    services.ctx.__dict__["config"] = wired_config(services.config, fake)
    catalog = load_catalog("vi")
    app = build_application(
        Inbox(services, catalog),
        services,
        catalog,
        fake.token,
        request=fake.make_request(),
        get_updates_request=fake.make_request(),
    )
    port = free_port()
    hook = Webhook("127.0.0.1", port, "https://hoinghi.example.vn/tg/hook", SECRET)
    stop = asyncio.Event()
    running = asyncio.create_task(serve(app, stop, webhook=hook))
    try:
        await fake.wait_until(lambda: bool(fake.calls_to("setWebhook")))
        [call] = fake.calls_to("setWebhook")
        assert call.params["url"] == "https://hoinghi.example.vn/tg/hook"
        assert call.params["secret_token"] == SECRET
        user = fake.user(555_000_111, "An")
        local = f"http://127.0.0.1:{port}/tg/hook"
        async with httpx.AsyncClient() as client:
            for _ in range(50):  # the server may need a moment to accept connections
                try:
                    refused = await client.post(local, json=user.command("/start"))
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            wrong = await client.post(
                local,
                json=user.command("/start"),
                headers={"X-Telegram-Bot-Api-Secret-Token": "not-the-secret-token"},
            )
            assert (refused.status_code, wrong.status_code) == (403, 403)
            assert user.messages == []  # neither reached a handler
            right = await client.post(
                local,
                json=user.command("/start"),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
            assert right.status_code == 200
        await fake.wait_until(lambda: bool(user.messages))
        assert user.last_text().startswith("Kính chào đồng chí! Đây là trợ lý của")
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    fake.assert_no_violations()


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--url", "https://x.vn/h"], "", "Chế độ webhook cần khóa bí mật"),
        (
            ["--url", "http://x.vn/h"],
            SECRET,
            "Cần --url là địa chỉ công khai bắt đầu bằng https://",
        ),
        (["--listen", "8443", "--url", "https://x.vn/h"], SECRET, "Địa chỉ lắng nghe 8443"),
    ],
    ids=["no-secret", "not-https", "bad-listen"],
)
def test_webhook_mode_explains_a_missing_secret_or_a_wrong_address(
    args: list[str],
    env: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:made-up-token-of-the-webhook-tests")
    monkeypatch.setenv("HOINGHI_WEBHOOK_SECRET", env)
    monkeypatch.delenv("HOINGHI_CONFIG", raising=False)
    from tests.conftest import EXAMPLE_CONFIG

    assert main(["--config", str(EXAMPLE_CONFIG), "run", "--webhook", *args]) == 2
    assert expected in capsys.readouterr().err


async def test_webhook_answers_200_only_once_handled_and_503_to_what_a_stop_leaves(
    imported: Services, fake: FakeBotApi
) -> None:
    # Telegram keeps at most max_connections (40) requests open; the 120 /start of this test
    # take four seconds to answer at 30 a second, and the stop comes after the first ten.
    services = imported
    services.ctx.__dict__["config"] = wired_config(services.config, fake)
    port = free_port()
    hook = Webhook("127.0.0.1", port, "https://hoinghi.example.vn/tg/hook", SECRET)
    users = [fake.user(555_100_000 + n, f"Khách {n}") for n in range(120)]
    updates = {user.id: user.command("/start") for user in users}
    # Per user: the status Telegram got ("refused" if it could not connect), and whether the
    # update had been answered by then.
    outcome: dict[int, tuple[int | str, bool]] = {}

    async def post(client: httpx.AsyncClient, user: FakeUser) -> None:
        try:
            response = await client.post(
                f"http://127.0.0.1:{port}/tg/hook",
                json=updates[user.id],
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
            status: int | str = response.status_code
        except httpx.TransportError:
            status = "refused"
        outcome[user.id] = (status, bool(user.messages))

    def application() -> Any:
        catalog = load_catalog("vi")
        return build_application(
            Inbox(services, catalog), services, catalog, fake.token, request=fake.make_request()
        )

    stop = asyncio.Event()
    running = asyncio.create_task(serve(application(), stop, webhook=hook))
    await fake.wait_until(lambda: bool(fake.calls_to("setWebhook")))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=40)) as client:
        posts = [asyncio.create_task(post(client, user)) for user in users]
        await fake.wait_until(lambda: sum(bool(user.messages) for user in users) >= 10)
        stop.set()
        async with asyncio.timeout(10):  # a deadline, not a wait: the stop takes a moment
            await running
            await asyncio.gather(*posts)

    handled = {uid for uid, (status, _) in outcome.items() if status == 200}
    assert 10 <= len(handled) < len(users)
    # A 200 tells Telegram the update is done with: never before it is.
    assert all(answered for status, answered in outcome.values() if status == 200)
    # What the stop left was refused (503) or never reached the bot: Telegram sends it again.
    assert {status for uid, (status, _) in outcome.items() if uid not in handled} <= {
        503,
        "refused",
    }
    assert not any(user.messages for user in users if user.id not in handled)

    # The bot is back: Telegram delivers what it was refused, and each is answered once.
    outcome.clear()
    stop = asyncio.Event()
    running = asyncio.create_task(serve(application(), stop, webhook=hook))
    await fake.wait_until(lambda: len(fake.calls_to("setWebhook")) == 2)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=40)) as client:
        await asyncio.gather(*(post(client, u) for u in users if u.id not in handled))
    stop.set()
    await running
    assert {status for status, _ in outcome.values()} == {200}
    assert [len(user.messages) for user in users] == [1] * len(users)
    fake.assert_no_violations()
