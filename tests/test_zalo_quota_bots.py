"""Several Zalo bots for one meeting (``[[zalo.bots]]``): each runs as its own channel
(``zalo2``, ``zalo3``…) with its token from the variable the plan names, its own adapter, sender
and sending budget, and its own quota; its token is masked in the log like the first bot's."""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import ChannelSetup, channel_secrets, configured_channels, run_refusal
from bot.chat import Inbox
from bot.cli import main
from bot.config import Config, ZaloSettings
from bot.documents.slips import build_slips
from bot.domain.clock import ManualClock
from bot.domain.tokens import format_link_code
from bot.logs import mask_secrets, setup_logging
from bot.services import Services, build_services
from bot.texts import load_catalog
from handlers.zalo.app import hook_path
from handlers.zalo.events import event_of
from storage.models import ChannelIdentity, Delegate
from tests.conftest import EXAMPLE_DELEGATES
from tests.office_support import desk_for, make_staff
from tests.quota_support import link_on
from tests.test_slips import TEXTS, cells, make_slips, open_docx
from tests.web_support import web_for
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
        lan = await world.linked("DB010", "Chị Lan")
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
        # The second bot's replies to her count against its allowance, not the first's.
        assert [(u.quota.channel, u.replies) for u in uses] == [
            ("zalo", 0),
            ("zalo2", len(lan.texts)),
        ]


def three_bots(config: Config, **zalo: object) -> Config:
    """The example plan with three Zalo bots, each with a name and a link."""
    settings = ZaloSettings.model_validate(
        {
            "bot_name": "Bot Hội nghị 1",
            "bot_link": "https://zalo.me/1000000001",
            "bots": [
                {"token_env": "ZALO_BOT_TOKEN_2", "bot_name": "Bot Hội nghị 2",
                 "bot_link": "https://zalo.me/1000000002"},
                {"token_env": "ZALO_BOT_TOKEN_3", "bot_name": "Bot Hội nghị 3",
                 "bot_link": "https://zalo.me/1000000003"},
            ],
            **zalo,
        }
    )  # fmt: skip
    return config.model_copy(update={"zalo": settings})


async def person_id(services: Services, code: str) -> int:
    async with services.ctx.sessions() as session:
        found = await session.scalar(select(Delegate.id).where(Delegate.code == code))
    assert found is not None
    return found


async def test_people_are_given_the_bots_in_turn_up_to_the_limit_and_keep_the_bot_they_linked_to(
    config: Config, imported: Services, clock: ManualClock
) -> None:
    assert await imported.quotas.bots_by_code() == {}  # one bot: nothing to choose
    services = await build_services(
        three_bots(config, linked_people=30), imported.ctx.sessions, clock
    )
    bots = await services.quotas.bots_by_code()
    assert len(bots) == 80
    assert {code for code, bot in bots.items() if bot == 0} == {f"DB{n:03d}" for n in range(1, 31)}
    assert {code for code, bot in bots.items() if bot == 1} == {f"DB{n:03d}" for n in range(31, 61)}
    assert {code for code, bot in bots.items() if bot == 2} == {f"DB{n:03d}" for n in range(61, 81)}
    # DB005 wrote to the third bot after all: that is theirs now; nobody else moves.
    await link_on(services, "zalo3", "DB005")
    again = await services.quotas.bots_by_code()
    assert again == {**bots, "DB005": 2}
    # One person's bot (the personal page) is the same.
    assert await services.quotas.bot_of(await person_id(services, "DB045")) == 1
    assert await services.quotas.bot_of(await person_id(services, "DB005")) == 2
    assert await services.quotas.bot_of(await person_id(services, "DB080")) == 2


async def test_past_every_limit_people_are_given_the_last_bot(
    config: Config, imported: Services, clock: ManualClock
) -> None:
    services = await build_services(
        three_bots(config, linked_people=10), imported.ctx.sessions, clock
    )
    bots = await services.quotas.bots_by_code()
    assert (bots["DB010"], bots["DB011"], bots["DB021"], bots["DB080"]) == (0, 1, 2, 2)


async def test_the_personal_page_names_the_bot_the_person_is_given(
    config: Config, imported: Services, clock: ManualClock
) -> None:
    plan = three_bots(config)  # 50 a bot: DB051 onwards on the second
    services = await build_services(plan, imported.ctx.sessions, clock)
    web = await web_for(services)
    try:
        web.site.config = plan
        first = (await web.open("DB001")).text
        assert "tìm «Bot Hội nghị 1»" in first
        assert 'id="chat-zalo" href="https://zalo.me/1000000001"' in first
        later = (await web.open("DB060")).text
        assert "tìm «Bot Hội nghị 2»" in later
        assert 'id="chat-zalo" href="https://zalo.me/1000000002"' in later
    finally:
        await web.client.aclose()


def test_a_slip_with_its_own_hint_names_its_bot_and_the_others_keep_the_common_hint() -> None:
    own = replace(make_slips(2)[0], code_hint="Trên Zalo, tìm «Bot Hội nghị 2» và gửi mã:\n{code}")
    common = make_slips(2)[1]
    document = open_docx(build_slips([own, common], TEXTS))
    _, first = cells(document.tables[0])
    _, second = cells(document.tables[1])
    assert f"Trên Zalo, tìm «Bot Hội nghị 2» và gửi mã:\n{own.link_code}" in first
    assert not any("Bot Hội nghị 2" in line for line in second)
    assert any(common.link_code in line for line in second)


def test_the_export_names_each_persons_zalo_bot_when_there_are_several(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = office / "config.toml"
    plan.write_text(
        plan.read_text(encoding="utf-8")
        + '\n[zalo]\nbot_name = "Bot Hội nghị 1"\nlinked_people = 50\n\n'
        + '[[zalo.bots]]\ntoken_env = "ZALO_BOT_TOKEN_2"\nbot_name = "Bot Hội nghị 2"\n',
        encoding="utf-8",
    )
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "export", "links.xlsx", "--bot-username", "hoinghi_bot"]) == 0
    rows = list(load_workbook(office / "links.xlsx").active.iter_rows(values_only=True))
    assert rows[0][-4:] == (
        "Mã cá nhân (gõ trên Zalo)",
        "Bot Zalo",
        "Hướng dẫn gửi mã cá nhân (như giấy mời và phiếu in)",
        "Đã gửi giấy mời",
    )
    by_code = {row[0]: row[-3] for row in rows[1:]}
    assert (by_code["DB001"], by_code["DB050"], by_code["DB051"], by_code["DB080"]) == (
        "Bot Hội nghị 1",
        "Bot Hội nghị 1",
        "Bot Hội nghị 2",
        "Bot Hội nghị 2",
    )


async def test_the_invitation_on_the_dashboard_names_the_bot_her_slip_names(
    config: Config, imported: Services, clock: ManualClock
) -> None:
    # 50 a bot: DB001 is given the first bot, DB060 the second — the slips and the personal
    # pages say so; the invitation message to send her named the first bot for everyone.
    services = await build_services(three_bots(config), imported.ctx.sessions, clock)
    await make_staff(services)
    desk = await desk_for(services, chat_bots={"zalo": "", "zalo2": "", "zalo3": ""})
    try:
        await desk.sign_in()
        first = await desk.client.get("/office/delegates/DB001")
        later = await desk.client.get("/office/delegates/DB060")
    finally:
        await desk.client.aclose()
    links = {link.code: link for link in await services.invitations.links()}
    code = format_link_code(links["DB060"].link_code)
    assert (
        "Nếu không mở được đường liên kết, đề nghị đồng chí tìm «Bot Hội nghị 2» trên Zalo và gửi "
        f"mã cá nhân {code}."
    ) in html.unescape(later.text)
    assert "«Bot Hội nghị 1»" not in html.unescape(later.text)
    assert "đề nghị đồng chí tìm «Bot Hội nghị 1» trên Zalo" in html.unescape(first.text)
    slips = await services.quotas.bots_by_code()
    assert (slips["DB001"], slips["DB060"]) == (0, 1)
