"""The Zalo adapter's parts: the webhook on the web server and its secret, one person's messages
in order, the poller's back-off and quick stop, the outbox sender's reading of Zalo's refusals,
the ``[zalo]`` section, and the channel beside Telegram in the composition root."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

import pytest

import bot.app
from bot.app import CHANNELS, ZALO, configured_channels
from bot.config import ConfigError, ZaloSettings, load_config
from bot.domain.clock import ManualClock
from bot.domain.outbound import SendOutcome, TextPart
from bot.domain.rsvp import RsvpStatus
from bot.services import Services
from handlers.zalo.app import hook_path
from handlers.zalo.channel import ZaloSender
from handlers.zalo.receiving import Dispatcher, Poller
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.zalo_api import FakeZaloApi
from tests.plan_support import rsvp_of
from tests.zalo_support import WEBHOOK_SECRET, ZaloWorld, zalo_client, zalo_world


async def test_webhook_mode_sets_the_webhook_and_handles_posts_with_the_secret(
    hooked: ZaloWorld,
) -> None:
    fake = hooked.fake
    assert fake.webhook_secret == WEBHOOK_SECRET
    assert fake.webhook_url.endswith(hook_path(WEBHOOK_SECRET))
    user = fake.user("Chị Mai")
    assert await fake.push(user.text(f"/start {hooked.tokens['DB001']}")) == 200
    assert await fake.push(user.text("1")) == 200  # answered once handled
    assert (await rsvp_of(hooked.services, "DB001")).status == RsvpStatus.ATTENDING
    assert not fake.calls_to("getUpdates")


async def test_a_webhook_post_with_a_wrong_secret_is_refused_and_not_handled(
    hooked: ZaloWorld,
) -> None:
    fake = hooked.fake
    user = fake.user("Chị Mai")
    assert await fake.push(user.text(f"/start {hooked.tokens['DB001']}")) == 200
    answered = len(user.texts)
    forged = user.text("2")
    assert await fake.push(forged, secret=WEBHOOK_SECRET[:-1] + "X") == 403
    assert await fake.push(forged, secret="") == 403
    assert len(user.texts) == answered
    assert (await rsvp_of(hooked.services, "DB001")).status == RsvpStatus.NO_ANSWER


async def test_one_persons_messages_are_handled_in_order_and_others_meanwhile() -> None:
    release = asyncio.Event()
    log: list[str] = []

    async def handle(update: dict[str, Any]) -> None:
        text = update["message"]["text"]
        log.append(f"start {text}")
        if text == "a1":
            await release.wait()
        log.append(f"end {text}")

    def update(chat: str, text: str) -> dict[str, Any]:
        return {"message": {"chat": {"id": chat}, "from": {"id": chat}, "text": text}}

    dispatcher = Dispatcher(handle)
    first = dispatcher.submit(update("a", "a1"))
    second = dispatcher.submit(update("a", "a2"))
    other = dispatcher.submit(update("b", "b1"))
    await other
    assert log == ["start a1", "start b1", "end b1"]  # a2 waits for a1; b1 does not
    release.set()
    assert await first and await second
    assert log[3:] == ["end a1", "start a2", "end a2"]


async def test_typed_answers_that_arrive_together_are_taken_in_order(
    imported: Services, clock: ManualClock
) -> None:
    async with zalo_world(imported, clock) as world:
        user = await world.linked("DB002", "Anh Hùng")
        user.text("2")  # Không tham dự → asks a reason
        user.text("Bận công tác")  # the reason, queued before the first is fetched
        await world.settle()
        rsvp = await rsvp_of(world.services, "DB002")
    assert (rsvp.status, rsvp.reason) == (RsvpStatus.DECLINED, "Bận công tác")


async def test_the_poller_backs_off_on_errors_and_takes_408_as_nothing_yet() -> None:
    fake = FakeZaloApi()
    waits: list[float] = []
    handled: list[str] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def handle(update: dict[str, Any]) -> None:
        handled.append(update["message"]["text"])

    fake.fail_next("getUpdates", error_code=502, description="Bad Gateway", times=3)
    fake.fail_next("getUpdates", timeout=True)
    async with zalo_client(fake) as client:
        poller = Poller(client, Dispatcher(handle), timeout=1, sleep=no_sleep)
        await poller.start()
        await fake.wait_until(lambda: any(c.status == 408 for c in fake.calls_to("getUpdates")))
        assert waits == [1.0, 2.0, 4.0, 8.0]  # then an idle poll: 408 is no failure, no wait
        fake.user("An").text("xin chào")
        await fake.wait_until(lambda: bool(handled))
        await poller.stop()
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert handled == ["xin chào"]
    fake.assert_no_violations()


async def test_a_stop_cuts_a_waiting_long_poll_at_once() -> None:
    fake = FakeZaloApi()

    async def handle(update: dict[str, Any]) -> None:
        raise AssertionError("nothing was sent")

    async with zalo_client(fake) as client:
        poller = Poller(client, Dispatcher(handle), timeout=600)
        await poller.start()
        await fake.wait_for_poller()
        await asyncio.wait_for(poller.stop(), timeout=5)  # not the poll's ten minutes


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ({"error_code": 403, "description": "Forbidden: user blocked the bot"}, "blocked"),
        ({"error_code": 400, "description": "User not found"}, "blocked"),
        ({"error_code": 429, "description": "Too Many Requests", "retry_after": 7}, "rate_limited"),
        ({"error_code": 500}, "transient"),
        ({"error_code": 502, "description": "Bad Gateway"}, "transient"),  # Zalo's own JSON
        # The request went out and no answer of Zalo's came: it may have been delivered.
        ({"timeout": True}, "maybe_sent"),
        ({"proxy_page": True, "error_code": 502, "description": "Bad Gateway"}, "maybe_sent"),
        ({"proxy_page": True, "error_code": 504, "description": "Gateway Timeout"}, "maybe_sent"),
        # A company proxy's own refusal (HTML, not Zalo's JSON): nothing went, and it is not
        # the person blocking the bot (it was read as «blocked», then «failed» for a 407).
        ({"proxy_page": True, "error_code": 403, "description": "Forbidden"}, "transient"),
        ({"proxy_page": True, "error_code": 407, "description": "Proxy Auth"}, "transient"),
        ({"error_code": 400, "description": "Bad Request: message rejected"}, "failed"),
        ({"error_code": -201, "description": "Message rejected", "status": 200}, "failed"),
    ],
)
async def test_the_sender_maps_zalos_refusals_to_what_the_outbox_does(
    fault: dict[str, Any], outcome: str
) -> None:
    fake = FakeZaloApi()
    user = fake.user("An")
    user.text("chào")
    fake.fail_next("sendMessage", **fault)
    async with zalo_client(fake) as client:
        sender = ZaloSender(client, catalog=None)  # type: ignore[arg-type]  # send() needs none
        result = await sender.send(user.id, TextPart("Thông báo"))
        sent = await sender.send(user.id, TextPart("Thông báo"))
    assert result.outcome == SendOutcome(outcome)
    if outcome == "rate_limited":
        assert result.retry_after == 7
    assert sent.outcome == SendOutcome.SENT and sent.platform_message_id


async def test_a_blocked_user_is_blocked_for_the_sender_without_an_injected_fault() -> None:
    fake = FakeZaloApi()
    user = fake.user("An")
    user.text("chào")
    user.block()
    async with zalo_client(fake) as client:
        sender = ZaloSender(client, catalog=None)  # type: ignore[arg-type]  # send() needs none
        result = await sender.send(user.id, TextPart("x"))
    assert result.outcome == SendOutcome.BLOCKED


def test_the_zalo_section_has_conservative_defaults_and_every_mistake_is_reported(
    tmp_path: Path,
) -> None:
    defaults = load_config(EXAMPLE_CONFIG).config.zalo
    assert defaults == ZaloSettings()
    assert defaults.api_base_url == "https://bot-api.zaloplatforms.com"
    assert (defaults.messages_per_second, defaults.webhook) == (5.0, False)
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    wrong = '\n[zalo]\napi_base_url = "ftp://zalo"\nmessages_per_second = 0\nwebhok = true\n'
    path = tmp_path / "config.toml"
    path.write_text(text + wrong, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [(p.key, p.code) for p in caught.value.problems] == [
        ("zalo.api_base_url", "bad_url"),
        ("zalo.messages_per_second", "greater_than"),
        ("zalo.webhok", "extra_forbidden"),
    ]


def test_telegram_and_zalo_run_side_by_side_or_either_alone_or_neither() -> None:
    assert [entry.name for entry in CHANNELS] == ["telegram", "zalo"]
    both = {"TELEGRAM_BOT_TOKEN": "1:" + "a" * 35, "ZALO_BOT_TOKEN": "42:" + "b" * 20}
    assert [e.name for e in configured_channels(both)] == ["telegram", "zalo"]
    assert [e.name for e in configured_channels({"ZALO_BOT_TOKEN": "42:x"})] == ["zalo"]
    assert [e.name for e in configured_channels({"TELEGRAM_BOT_TOKEN": "1:x"})] == ["telegram"]
    assert configured_channels({}) == []
    assert ZALO.token_state({"ZALO_BOT_TOKEN": "42:" + "b" * 20}) == "set"
    assert ZALO.token_state({"ZALO_BOT_TOKEN": '"42:bbb"'}) == "malformed"
    assert ZALO.links is None  # no link payload on Zalo: the paper keeps Telegram's link
    assert bot.app._linking_channel().name == "telegram"


def test_the_zalo_budget_is_paced_by_its_own_messages_per_second(services: Services) -> None:
    config = services.config.model_copy(update={"zalo": ZaloSettings(messages_per_second=2.5)})
    services.ctx.__dict__["config"] = config
    assert ZALO.budget(services).limits.overall_per_second == 2.5
    assert bot.app.TELEGRAM.budget(services).limits.overall_per_second == 30.0


async def test_hoinghi_runs_telegram_and_zalo_side_by_side_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.app import open_app
    from bot.texts import load_catalog
    from tests.fakes.server import FakeBotApiServer
    from tests.fakes.telegram_api import FakeBotApi
    from tests.test_crash import toml_document

    telegram, zalo = FakeBotApi(), FakeZaloApi()
    telegram.group(-1001000000001, "Văn phòng")  # the example's office group
    started = asyncio.Event()
    monkeypatch.setattr(bot.app, "freeze_startup_heap", started.set)
    async with FakeBotApiServer(telegram) as tg_server, FakeBotApiServer(zalo) as zalo_server:
        plan = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
        plan["database"] = {"url": f"sqlite+aiosqlite:///{tmp_path / 'both.db'}"}
        plan.pop("web", None)
        plan["telegram"] = {
            "api_base_url": tg_server.base_url,
            "file_base_url": tg_server.base_file_url,
        }
        plan["zalo"] = {"api_base_url": zalo_server.root_url}
        path = tmp_path / "config.toml"
        path.write_text(toml_document(plan), encoding="utf-8")
        env = {"TELEGRAM_BOT_TOKEN": telegram.token, "ZALO_BOT_TOKEN": zalo.token}
        async with open_app(load_config(path), load_catalog("vi"), env=env) as app:
            assert [entry.name for entry in app.channels()] == ["telegram", "zalo"]
            stop = asyncio.Event()
            running = asyncio.create_task(app.run(stop))
            await asyncio.wait_for(started.wait(), timeout=30)
            user = zalo.user("Chị Mai")
            user.text("/help")
            await zalo.wait_until(lambda: bool(user.texts), limit=30)
            stop.set()
            await asyncio.wait_for(running, timeout=30)
    assert "/trangthai" in user.texts[0]
    assert telegram.calls_to("getUpdates") and zalo.calls_to("getUpdates")
    telegram.assert_no_violations()
    zalo.assert_no_violations()


async def test_zalo_webhook_mode_without_a_web_server_or_a_secret_is_refused_in_words(
    imported: Services,
) -> None:
    from bot.app import ChannelSetup
    from bot.chat import Inbox
    from bot.errors import ChannelUnavailable
    from bot.texts import load_catalog

    catalog = load_catalog("vi")
    config = imported.config.model_copy(update={"zalo": ZaloSettings(webhook=True)})
    imported.ctx.__dict__["config"] = config
    setup = ChannelSetup("42:" + "z" * 20, imported, catalog, Inbox(imported, catalog), env={})
    with pytest.raises(ChannelUnavailable) as refused:
        ZALO.build(setup)
    assert refused.value.reason == "zalo_webhook"
    said = catalog.plain(f"cli.channel_{refused.value.reason}", env="", detail="")
    assert "ZALO_WEBHOOK_SECRET" in said and "[web]" in said


async def test_an_update_whose_handling_fails_is_logged_and_the_next_ones_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handled: list[str] = []

    async def handle(update: dict[str, Any]) -> None:
        if update["message"]["text"] == "boom":
            raise RuntimeError("a bug")
        handled.append(update["message"]["text"])

    def update(text: str) -> dict[str, Any]:
        return {"message": {"chat": {"id": "c"}, "from": {"id": "c"}, "text": text}}

    dispatcher = Dispatcher(handle)
    assert await dispatcher.submit(update("boom"))
    assert await dispatcher.submit(update("after"))
    assert handled == ["after"]
    assert "unexpected error while handling a zalo update" in caplog.text
