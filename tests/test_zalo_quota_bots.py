"""Several Zalo bots for one meeting (``[[zalo.bots]]``): each runs as its own channel
(``zalo2``, ``zalo3``…) with its token from the variable the plan names, its own adapter, sender
and sending budget, and its own quota; its token is masked in the log like the first bot's."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.app import ChannelSetup, channel_secrets, configured_channels, run_refusal
from bot.chat import Inbox
from bot.config import Config, ZaloSettings
from bot.domain.clock import ManualClock
from bot.logs import mask_secrets, setup_logging
from bot.services import Services, build_services
from bot.texts import load_catalog
from handlers.zalo.app import hook_path
from handlers.zalo.events import event_of
from storage.models import ChannelIdentity, Delegate
from tests.zalo_support import zalo_world

TOKEN_1 = "4821539067:first-bot-secret-of-the-tests"
TOKEN_2 = "5932640178:second-bot-secret-of-the-tests"


def two_bots(config: Config) -> Config:
    """The example plan with a second Zalo bot whose token is in ZALO_BOT_TOKEN_2."""
    settings = ZaloSettings.model_validate(
        {"bots": [{"token_env": "ZALO_BOT_TOKEN_2", "bot_name": "Bot Hội nghị 2"}]}
    )
    return config.model_copy(update={"zalo": settings})


def test_each_further_bot_runs_when_its_own_variable_is_set(config: Config) -> None:
    plan = two_bots(config)
    env = {"ZALO_BOT_TOKEN": TOKEN_1, "ZALO_BOT_TOKEN_2": TOKEN_2}
    entries = configured_channels(env, plan)
    assert [(e.name, e.token_env, e.token(env)) for e in entries] == [
        ("zalo", "ZALO_BOT_TOKEN", TOKEN_1),
        ("zalo2", "ZALO_BOT_TOKEN_2", TOKEN_2),
    ]
    assert [e.name for e in configured_channels({"ZALO_BOT_TOKEN_2": TOKEN_2}, plan)] == ["zalo2"]
    assert [e.name for e in configured_channels(env)] == ["zalo"]  # without the plan: the first
    assert run_refusal({"ZALO_BOT_TOKEN_2": "half a token"}, None, plan) is not None


async def test_a_further_bot_has_its_own_sender_and_budget(
    config: Config, services: Services, clock: ManualClock
) -> None:
    plan = two_bots(config)
    services = await build_services(plan, services.ctx.sessions, clock)
    catalog = load_catalog("vi")
    env = {"ZALO_BOT_TOKEN": TOKEN_1, "ZALO_BOT_TOKEN_2": TOKEN_2}
    first, second = configured_channels(env, plan)
    # One Pacer per bot: the outbox paces each on its own budget, keyed by its channel.
    assert first.budget(services) is not second.budget(services)
    channel = second.build(ChannelSetup(TOKEN_2, services, catalog, Inbox(services, catalog)))
    try:
        assert channel.sender.channel == "zalo2"
    finally:
        await channel.sender.client.close()  # type: ignore[attr-defined]


def test_a_further_bots_updates_come_from_accounts_on_its_own_channel() -> None:
    update = {
        "event_name": "message.text.received",
        "message": {
            "from": {"id": "a1b2", "display_name": "Chị Lan"},
            "chat": {"id": "a1b2", "chat_type": "PRIVATE"},
            "text": "K7PX-M3QD",
            "message_id": "m1",
        },
    }
    event = event_of(update, "zalo2")
    assert event is not None and event.account.channel == "zalo2"
    event = event_of(update)
    assert event is not None and event.account.channel == "zalo"


def test_each_bot_has_its_own_webhook_path_and_the_first_keeps_its_own() -> None:
    secret = "webhook-secret-of-the-tests"
    first, second = hook_path(secret), hook_path(secret, "zalo2")
    assert first == hook_path(secret, "zalo") and first != second
    assert second.startswith("zalo-hook/")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put the root handlers back after a test that sets them."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def test_a_further_bots_token_is_masked_in_the_log(
    config: Config, capsys: pytest.CaptureFixture[str], restored_logging: None
) -> None:
    plan = two_bots(config)
    env = {"ZALO_BOT_TOKEN_2": "opaque-second-bot-token-value"}
    assert "opaque-second-bot-token-value" in channel_secrets(env, plan)
    setup_logging(secrets=channel_secrets({}))
    mask_secrets(channel_secrets(env, plan))
    logging.getLogger("hoinghi").warning("connecting with %s", "opaque-second-bot-token-value")
    err = capsys.readouterr().err
    assert "connecting with" in err and "opaque-second-bot-token-value" not in err


async def test_a_person_links_on_the_second_bot_and_is_counted_there(
    config: Config, imported: Services, clock: ManualClock
) -> None:
    plan = two_bots(config)
    services = await build_services(plan, imported.ctx.sessions, clock)
    async with zalo_world(services, clock, settings=plan.zalo, channel="zalo2") as world:
        await world.linked("DB010", "Chị Lan")
        async with services.ctx.sessions() as session:
            channels = (
                await session.scalars(
                    select(ChannelIdentity.channel)
                    .join(Delegate, Delegate.id == ChannelIdentity.delegate_id)
                    .where(Delegate.code == "DB010")
                )
            ).all()
        assert channels == ["zalo2"]
        uses = await services.quotas.usage()
        assert [(u.quota.channel, u.people) for u in uses] == [("zalo", 0), ("zalo2", 1)]
