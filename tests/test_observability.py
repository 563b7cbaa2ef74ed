"""Issue 22, observable: /healthz, /readyz and /metrics on the web server, the counts behind
the metrics (sends, 429 pauses, update and request latency), and JSON log lines that keep the
privacy promise of the text ones."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from telegram.error import RetryAfter
from telegram.ext import ApplicationBuilder

import bot.app
from bot.app import Channel, ChannelEntry, ChannelSetup, open_app
from bot.chat import Inbox
from bot.cli import main
from bot.cli.common import load
from bot.config import ConfigError, ZaloSettings, load_config
from bot.domain.outbound import MessageKind
from bot.health import Health
from bot.logs import setup_logging, use_format
from bot.metrics import Metrics
from bot.services import Services
from bot.texts import load_catalog
from handlers.telegram.context import inbox_of_bot_data
from handlers.telegram.limiter import RetryingRateLimiter
from handlers.web.app import build_web_app
from schedules.ratelimit import VirtualTime
from storage.engine import create_engine
from storage.migrate import alembic_config
from tests.channels.text_channel import TextChannel
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi
from tests.fakes.zalo_api import FakeZaloApi
from tests.harness import BotHarness
from tests.test_outbox import MEETING_KINDS, REMINDER_1, linked_answers
from tests.web_support import BASE, web_for, web_setup

BOT_TOKEN = "123456789:AAHkq1_secret-bot-token-for-the-test000"
LINK_TOKEN = "Xq3vB7nR2mK9pL4sT8wY1zA6cD5eF0gH"  # a personal token's shape: 32 base64url
PHONE = "0904111020"


def client_for(app: object, address: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client of ``app`` from ``address`` (no socket)."""
    transport = httpx.ASGITransport(app=app, client=(address, 50000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=BASE)


def metrics_on(services: Services, **kwargs: Any) -> Starlette:
    """The web application of ``services`` with ``[web] metrics = true``."""
    setup = web_setup(services, **kwargs)
    setup.settings = setup.settings.model_copy(update={"metrics": True})
    return build_web_app(setup)


def sample(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one sample in the Prometheus text format, or None when absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(f"{name}{{{wanted}}}" if labels else name) + r" (\S+)"
    found = re.search(rf"^{pattern}$", exposition, re.M)
    return float(found.group(1)) if found else None


# --- /healthz and /readyz ----------------------------------------------------------------------


async def test_healthz_answers_ok_and_is_no_personal_page(services: Services) -> None:
    web = await web_for(services)
    response = await web.client.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok")


async def test_readyz_is_ready_when_the_database_answers_at_the_head_revision(
    services: Services,
) -> None:
    web = await web_for(services)
    response = await web.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok"},
    }


async def test_readyz_names_the_database_when_it_cannot_be_reached(
    services: Services, tmp_path: Path
) -> None:
    gone = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'hoinghi.db'}")
    try:
        app = build_web_app(web_setup(services, health=Health(gone)))
        async with client_for(app) as client:
            response = await client.get("/readyz")
    finally:
        await gone.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "checks": {"database": "failing", "migrations": "failing"},
        "failing": ["database", "migrations"],
    }


@pytest.mark.fresh_database  # it sets the schema's revision back
async def test_readyz_names_the_migrations_when_the_database_is_behind(
    services: Services, engine: AsyncEngine
) -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_revision(scripts.get_current_head())
    assert head is not None and isinstance(head.down_revision, str)
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE alembic_version SET version_num = :older"),
            {"older": head.down_revision},
        )
    web = await web_for(services)
    response = await web.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]


async def test_readyz_names_a_chat_channel_that_is_not_receiving(
    services: Services, engine: AsyncEngine
) -> None:
    health = Health(engine)
    receiving = {"telegram": True, "zalo": False}
    for name in receiving:
        health.channels[name] = lambda name=name: receiving[name]  # type: ignore[misc]
    app = build_web_app(web_setup(services, health=health))
    async with client_for(app) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["failing"] == ["channel:zalo"]
        receiving["zalo"] = True
        assert (await client.get("/readyz")).status_code == 200


# --- /metrics ----------------------------------------------------------------------------------


async def test_metrics_are_off_unless_the_plan_turns_them_on(services: Services) -> None:
    app = build_web_app(web_setup(services))
    async with client_for(app) as client:
        metrics = await client.get("/metrics")
        nobody = await client.get("/nobodys-page")
    assert (metrics.status_code, metrics.text) == (404, nobody.text)  # nothing tells it apart


async def test_metrics_answer_only_local_clients_that_did_not_come_through_the_proxy(
    services: Services,
) -> None:
    app = metrics_on(services)
    async with client_for(app, "127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 200
        proxied = await local.get("/metrics", headers={"x-forwarded-for": "127.0.0.1"})
        assert proxied.status_code == 404
    async with client_for(app, "203.0.113.7") as world:
        assert (await world.get("/metrics")).status_code == 404


async def test_metrics_count_deliveries_by_status_and_requests_by_route_template(
    imported: Services,
) -> None:
    token = (await imported.invitations.links())[0].token
    async with client_for(metrics_on(imported)) as client:
        assert (await client.get(f"/{token}")).status_code == 200
        exposition = (await client.get("/metrics")).text
    assert token not in exposition
    assert sample(exposition, "hoinghi_web_request_seconds_count", route="/{token}") == 1.0
    assert sample(exposition, "hoinghi_outbox_deliveries", status="pending") == 0.0
    assert sample(exposition, "hoinghi_outbox_deliveries", status="sent") == 0.0


async def test_metrics_after_a_send_and_a_429(harness: BotHarness) -> None:
    metrics = Metrics()
    metrics.watch_outbox(harness.outbox.stats)
    metrics.watch_pacers({"telegram": harness.outbox.pacer("telegram")})
    await linked_answers(harness)
    await harness.plan(*MEETING_KINDS)
    harness.clock.set(REMINDER_1)
    harness.fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    await harness.tick()
    harness.clock.advance(timedelta(seconds=7))
    await harness.tick()
    exposition = metrics.exposition({"sent": 1, "not_linked": 75}).decode()
    kind = MessageKind.RSVP_REMINDER.value
    labels = {"channel": "telegram", "kind": kind}
    assert sample(exposition, "hoinghi_sends_total", **labels, outcome="sent") == 1.0
    assert sample(exposition, "hoinghi_sends_total", **labels, outcome="rate_limited") == 1.0
    assert sample(exposition, "hoinghi_rate_limit_pauses_total", channel="telegram") == 1.0
    assert sample(exposition, "hoinghi_outbox_deliveries", status="not_linked") == 75.0


async def test_each_handled_update_is_timed_by_its_channel(harness: BotHarness) -> None:
    metrics = Metrics()
    inbox_of_bot_data(harness.app.bot_data).observers.append(metrics.observe_update)
    await harness.open_invitation("DB001")
    await harness.send(harness.user_for("DB001").tap("✅ Tham dự"))
    exposition = metrics.exposition({}).decode()
    assert sample(exposition, "hoinghi_update_seconds_count", channel="telegram") == 2.0


def test_two_apps_count_apart() -> None:
    first, second = Metrics(), Metrics()
    first.observe_request("/{token}", 0.01)
    counted = first.exposition({}).decode()
    assert sample(counted, "hoinghi_web_request_seconds_count", route="/{token}") == 1.0
    assert "hoinghi_web_request_seconds_count" not in second.exposition({}).decode()


# --- JSON logs ---------------------------------------------------------------------------------


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """The root logger's output, as ``hoinghi`` sets it up, captured; restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging(logging.DEBUG, secrets=[BOT_TOKEN])
    out = io.StringIO()
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    try:
        yield out
    finally:
        root.handlers[:], root.level = handlers, level


def test_json_log_lines_parse_and_hold_no_token_or_phone(log_output: io.StringIO) -> None:
    use_format("json")
    own = logging.getLogger("bot.test")
    own.info("sent to %s with %s", PHONE, BOT_TOKEN, extra={"count": 3, "who": PHONE})
    own.warning("link https://example.org/%s opened", LINK_TOKEN)
    logging.getLogger("telegram.ext").warning("update from +84904111020 at /start %s", LINK_TOKEN)
    try:
        raise ValueError(f"bad token {BOT_TOKEN}")
    except ValueError:
        own.exception("failed")
    output = log_output.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert [line["level"] for line in lines] == ["INFO", "WARNING", "WARNING", "ERROR"]
    assert lines[0]["logger"] == "bot.test"
    assert set(lines[0]) == {"time", "level", "logger", "message", "count"}  # no string extra
    assert lines[0]["count"] == 3
    assert "ValueError" in lines[3]["exception"]
    for secret in (BOT_TOKEN, LINK_TOKEN, PHONE, "904111020"):
        assert secret not in output


def test_text_stays_the_default_log_format(log_output: io.StringIO) -> None:
    logging.getLogger("bot.test").info("hello")
    line = log_output.getvalue().strip()
    assert line.endswith("INFO bot.test: hello")
    assert load_config(EXAMPLE_CONFIG).config.logging.format == "text"


# --- the plan ----------------------------------------------------------------------------------


def test_wrong_logging_format_and_metrics_networks_are_reported_together(tmp_path: Path) -> None:
    plan = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for old, new in (
        ("metrics = false", 'metrics = "yes please"'),
        ('metrics_from = ["127.0.0.1", "::1"]', 'metrics_from = ["127.0.0.1", "nowhere"]'),
        ('format = "text"', 'format = "xml"'),
    ):
        assert old in plan
        plan = plan.replace(old, new, 1)
    path = tmp_path / "config.toml"
    path.write_text(plan, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [(p.key, p.code) for p in caught.value.problems] == [
        ("web.metrics", "bool_type"),  # strict: a quoted word is no true or false
        ("web.metrics_from", "bad_network"),
        ("logging.format", "literal_error"),
    ]


# --- the running app ---------------------------------------------------------------------------


async def test_a_running_app_serves_its_own_readiness_and_metrics(
    office_web: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` wires its channels into /readyz (not ready once one says its platform fails, nor
    after it stops) and its inbox and web server into its own /metrics."""
    plan = office_web / "config.toml"
    plan.write_text(
        plan.read_text(encoding="utf-8").replace("metrics = false", "metrics = true", 1),
        encoding="utf-8",
    )
    platform_answers = [True]
    built: list[TextChannel] = []

    def build_text(setup: ChannelSetup) -> Channel:
        channel = TextChannel(setup.inbox, setup.catalog)
        built.append(channel)

        @asynccontextmanager
        async def receiving() -> AsyncIterator[None]:
            yield

        return Channel(channel, receiving, connected=lambda: platform_answers[0])

    entry = ChannelEntry("text", "HOINGHI_TEXT_TOKEN", re.compile(r"t-\d+"), build_text)
    monkeypatch.setattr(bot.app, "CHANNELS", (bot.app.TELEGRAM, entry))
    started = asyncio.Event()
    monkeypatch.setattr(bot.app, "freeze_startup_heap", started.set)
    assert await asyncio.to_thread(main, ["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    loaded = load_config(plan)
    async with open_app(loaded, load_catalog("vi"), env={"HOINGHI_TEXT_TOKEN": "t-1"}) as app:
        token = (await app.services.invitations.links())[0].token
        stop = asyncio.Event()
        running = asyncio.create_task(app.run(stop))
        try:
            await asyncio.wait_for(started.wait(), timeout=30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.web_port}") as client:
                ready = await client.get("/readyz")
                platform_answers[0] = False
                failing = await client.get("/readyz")
                await built[0].person("Khách").type("/help")
                assert (await client.get(f"/{token}")).status_code == 200
                exposition = (await client.get("/metrics")).text
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=30)
        platform_answers[0] = True
        stopped = await app.health.readiness()
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "channel:text": "ok"}
    assert (failing.status_code, failing.json()["failing"]) == (503, ["channel:text"])
    assert sample(exposition, "hoinghi_update_seconds_count", channel="text") == 1.0
    assert sample(exposition, "hoinghi_web_request_seconds_count", route="/{token}") == 1.0
    assert sample(exposition, "hoinghi_outbox_deliveries", status="sent") is not None
    assert token not in exposition
    assert stopped.failing == ["channel:text"]


async def test_a_zalo_channel_whose_polls_fail_is_not_connected(services: Services) -> None:
    """ "Connected" is honest: receiving, and its last getUpdates did not fail."""
    fake = FakeZaloApi()
    catalog = load_catalog("vi")
    async with FakeBotApiServer(fake) as server:
        zalo = ZaloSettings(api_base_url=server.root_url)
        services.ctx.__dict__["config"] = services.config.model_copy(update={"zalo": zalo})
        setup = ChannelSetup(fake.token, services, catalog, Inbox(services, catalog))
        channel = bot.app.ZALO.build(setup)
        assert channel.connected is not None
        fake.fail_next("getUpdates", error_code=502, description="Bad Gateway", times=100)
        async with channel.receiving():
            started = channel.connected()  # getMe answered, no poll failed yet
            async with asyncio.timeout(10):  # the first getUpdates fails
                while channel.connected():  # noqa: ASYNC110 (turns of the loop, no wait)
                    await asyncio.sleep(0)
    assert started is True


async def test_probes_leave_the_access_log_to_people_and_webhooks_share_one_label(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    hooks: dict[str, Any] = {}
    app = metrics_on(services, hooks=hooks, hook_paths=("zalo-hook/0123456789abcdef01234567",))

    async def answered(headers: Any, body: bytes) -> int:
        return 200

    hooks["zalo-hook/0123456789abcdef01234567"] = answered
    caplog.set_level(logging.INFO, logger="hoinghi.web.access")
    async with client_for(app) as client:
        await client.get("/healthz")
        await client.get("/readyz")
        await client.get("/robots.txt")
        assert (await client.post("/zalo-hook/0123456789abcdef01234567")).status_code == 200
        exposition = (await client.get("/metrics")).text
    access = [r.getMessage() for r in caplog.records if r.name == "hoinghi.web.access"]
    assert [line.rsplit(" ", 2)[0] for line in access] == [
        "GET /robots.txt 200",
        "POST /zalo-hook/0123456789abcdef01234567 200",
    ]
    assert sample(exposition, "hoinghi_web_request_seconds_count", route="(webhook)") == 1.0
    assert "0123456789abcdef01234567" not in exposition
    assert sample(exposition, "hoinghi_web_request_seconds_count", route="/healthz") == 1.0


async def test_each_429_to_a_reply_counts_one_pause_of_the_bots_budget(fake: FakeBotApi) -> None:
    """One chat's 429 (that chat waits) and a second chat's within a second (every chat
    waits): two pauses on the channel's counter."""
    time = VirtualTime()
    limiter = RetryingRateLimiter(max_retries=0, now=time.monotonic, sleep=time.sleep)
    application = fake.wire(ApplicationBuilder()).rate_limiter(limiter).build()
    an, binh = fake.user(1001, "An"), fake.user(1002, "Bình")
    async with application:
        fake.fail_next("sendMessage", error_code=429, description="Too Many", retry_after=4)
        with pytest.raises(RetryAfter):
            await application.bot.send_message(an.id, "An")
        assert limiter.budget.pauses == 1
        time.now += 0.5
        fake.fail_next("sendMessage", error_code=429, description="Too Many", retry_after=4)
        with pytest.raises(RetryAfter):
            await application.bot.send_message(binh.id, "Bình")
    assert limiter.budget.pauses == 2


def test_a_plan_asking_for_json_turns_the_log_to_json_lines(
    log_output: io.StringIO, tmp_path: Path
) -> None:
    plan = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace('format = "text"', 'format = "json"')
    path = tmp_path / "config.toml"
    path.write_text(plan, encoding="utf-8")
    loaded = load(argparse.Namespace(config=str(path)))
    assert not isinstance(loaded, int)
    logging.getLogger("hoinghi").warning("bot @%s started", "hoinghi_bot")
    [line] = log_output.getvalue().splitlines()
    assert json.loads(line)["message"] == "bot @hoinghi_bot started"
