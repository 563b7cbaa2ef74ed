"""The simulated Zalo Bot API holds the adapter to the platform's rules as the reference states
them (shared/reference/zalo-bot-api.md), and the small client speaks it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from handlers.zalo.client import ZaloApiError, ZaloClient, ZaloNetworkError
from tests.fakes.server import FakeBotApiServer
from tests.fakes.zalo_api import FakeZaloApi, ZaloSpecViolation


async def post(fake: FakeZaloApi, method: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=fake.transport) as http:
        return await http.post(f"{fake.base_url}/bot{fake.token}/{method}", **kwargs)


def client_of(fake: FakeZaloApi) -> ZaloClient:
    return ZaloClient(fake.token, base_url=fake.base_url, transport=fake.transport)


async def test_get_updates_returns_one_update_object_and_an_idle_poll_ends_with_408() -> None:
    fake = FakeZaloApi()
    user = fake.user("An")
    first, second = user.text("xin chào"), user.sticker()
    answer = (await post(fake, "getUpdates", json={"timeout": 0})).json()
    assert answer == {"ok": True, "result": first}
    assert "update_id" not in answer["result"]
    assert (await post(fake, "getUpdates", json={"timeout": 0})).json()["result"] == second
    idle = await post(fake, "getUpdates", json={"timeout": 0})
    assert idle.status_code == 408 and idle.json()["ok"] is False
    client = client_of(fake)
    assert await client.get_update(0) is None  # 408 is "nothing yet" to the client
    await client.close()
    fake.assert_no_violations()


async def test_users_have_opaque_hex_ids_and_messages_have_string_ids() -> None:
    fake = FakeZaloApi()
    update = fake.user("An").text("1")
    message = update["message"]
    assert re.fullmatch(r"[0-9a-f]{20}", message["from"]["id"])
    assert message["chat"] == {"id": message["from"]["id"], "chat_type": "PRIVATE"}
    assert isinstance(message["message_id"], str)
    assert update["event_name"] == "message.text.received"


@pytest.mark.parametrize(
    ("method", "body", "why"),
    [
        ("sendDocument", {"chat_id": "x", "document": "a"}, "unknown method 'sendDocument'"),
        ("sendMessage", {"text": "chào"}, "chat_id is missing"),
        ("sendMessage", {"chat_id": "x", "text": ""}, "text is missing or empty"),
        ("sendMessage", {"chat_id": "x", "text": "a" * 2001}, "text of 2001 characters"),
        ("sendMessage", {"chat_id": "x", "text": "a", "reply_markup": {}}, "reply_markup"),
        ("sendPhoto", {"chat_id": "x", "photo": "AgAD-file-id"}, "photo is not a URL"),
        ("sendPhoto", {"chat_id": "x", "photo": "https://a.test/p.jpg", "document": "d"}, "a file"),
    ],
)
async def test_what_the_platform_refuses_is_a_violation_that_fails_the_test(
    method: str, body: dict[str, Any], why: str
) -> None:
    fake = FakeZaloApi()
    response = await post(fake, method, json=body)
    assert response.status_code in (400, 404) and response.json()["ok"] is False
    with pytest.raises(ZaloSpecViolation, match=re.escape(why)):
        fake.assert_no_violations()


async def test_a_file_upload_is_a_violation() -> None:
    fake = FakeZaloApi()
    await post(fake, "sendMessage", files={"document": ("a.pdf", b"%PDF")}, data={"chat_id": "x"})
    with pytest.raises(ZaloSpecViolation, match="a file was sent"):
        fake.assert_no_violations()


async def test_a_blocked_user_or_one_who_never_wrote_is_refused_without_a_violation() -> None:
    fake = FakeZaloApi()
    client = client_of(fake)
    user, silent = fake.user("An"), fake.user("Bình")
    user.text("chào")
    await client.send_message(user.id, "Kính chào đồng chí")
    assert user.texts == ["Kính chào đồng chí"]
    user.block()
    with pytest.raises(ZaloApiError) as blocked:
        await client.send_message(user.id, "Thông báo")
    with pytest.raises(ZaloApiError) as never:
        await client.send_message(silent.id, "Thông báo")
    await client.close()
    assert (blocked.value.status, never.value.status) == (403, 403)
    fake.assert_no_violations()


async def test_injected_faults_come_as_errors_a_timeout_or_a_refusal_with_a_2xx_status() -> None:
    fake = FakeZaloApi()
    client = client_of(fake)
    user = fake.user("An")
    user.text("chào")
    fake.fail_next("sendMessage", error_code=500)
    fake.fail_next("sendMessage", timeout=True)
    fake.fail_next("sendMessage", error_code=-32, description="Quota exceeded", status=200)
    with pytest.raises(ZaloApiError, match="500"):
        await client.send_message(user.id, "1")
    with pytest.raises(ZaloNetworkError):
        await client.send_message(user.id, "2")
    with pytest.raises(ZaloApiError) as ok_false:
        await client.send_message(user.id, "3")
    assert (ok_false.value.status, ok_false.value.code) == (200, -32)
    await client.send_message(user.id, "4")
    await client.close()
    assert user.texts == ["4"]


async def test_a_redelivered_message_keeps_its_message_id() -> None:
    fake = FakeZaloApi()
    update = fake.user("An").text("1")
    fake.redeliver(update)
    client = client_of(fake)
    first, again = await client.get_update(0), await client.get_update(0)
    await client.close()
    assert first == again == update


async def test_webhooks_need_a_secret_of_8_to_256_characters_and_block_get_updates() -> None:
    fake = FakeZaloApi()
    client = client_of(fake)
    assert await client.get_webhook_info() is None  # none set: 404
    await client.set_webhook("https://hoinghi.example.vn/zalo-hook/x", "s3cret-s3cret")
    assert (await client.get_webhook_info() or {})["url"].endswith("/zalo-hook/x")
    with pytest.raises(ZaloApiError):
        await client.get_update(0)
    await client.delete_webhook()
    with pytest.raises(ZaloApiError):
        await client.set_webhook("https://hoinghi.example.vn/h", "short")
    await client.close()
    assert len(fake.violations) == 2  # getUpdates beside a webhook, and the short secret


async def test_the_fake_is_served_over_loopback_http_under_bot_token_method() -> None:
    fake = FakeZaloApi()
    async with FakeBotApiServer(fake) as server:
        client = ZaloClient(fake.token, base_url=server.root_url)
        me = await client.get_me()
        await client.close()
    assert me == {
        "id": fake.bot_id,
        "account_name": fake.bot_name,
        "account_type": "BASIC",
        "can_join_groups": False,
    }
    assert [call.method for call in fake.calls] == ["getMe"]


async def test_the_fake_enforces_a_configured_rate_with_429_and_retry_after() -> None:
    now = [100.0]
    fake = FakeZaloApi(messages_per_second=2, clock=lambda: now[0])
    user = fake.user("An")
    user.text("chào")
    client = client_of(fake)
    await client.send_message(user.id, "1")
    await client.send_message(user.id, "2")
    with pytest.raises(ZaloApiError) as refused:
        await client.send_message(user.id, "3")
    now[0] += 1.0
    await client.send_message(user.id, "4")
    await client.close()
    assert (refused.value.status, refused.value.retry_after) == (429, 1.0)
    assert (user.texts, fake.rate_limited) == (["1", "2", "4"], 1)
