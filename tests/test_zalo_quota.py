"""A Zalo bot's monthly allowance (a free bot: about 50 people and 3,000 messages a month,
reported by third parties): counted from the database per bot — accounts linked on its channel,
parts sent this calendar month in Vietnam time — and the office warned once past the threshold
and once at the limit, per bot and month, whichever process counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from bot.chat import Inbox, replies
from bot.config import Config, ZaloSettings
from bot.domain.channels import ChannelInfo, Chat, ChatAccount
from bot.domain.clock import ManualClock
from bot.domain.inbound import Command
from bot.domain.outbound import DeliveryStatus, MessageKind
from bot.domain.quotas import QuotaLevel
from bot.services import Services, build_services
from bot.services.access import Role
from bot.services.quotas import QuotaService
from bot.texts import load_catalog
from bot.texts.plain import to_text
from storage.models import OutboundMessage, ReplyCount
from tests.channels.text_channel import CAPABILITIES as CAPABILITIES_OF_TEXT
from tests.conftest import local
from tests.office_support import desk_for, make_staff, text_of
from tests.quota_support import link_on, sent_on
from tests.zalo_support import zalo_world

# 1 December 2026, 00:00 in Vietnam is 30 November 2026, 17:00 UTC.
DECEMBER_STARTS = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def with_zalo(config: Config, **zalo: object) -> Config:
    """The example plan with these ``[zalo]`` keys."""
    settings = ZaloSettings.model_validate({**config.zalo.model_dump(), **zalo})
    return config.model_copy(update={"zalo": settings})


async def quota_notes(services: Services) -> list[tuple[str, str, dict[str, object]]]:
    """The quota notes queued for the office: key, template, values."""
    async with services.ctx.sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.dedupe_key.like("quota:%"))
            .order_by(OutboundMessage.id)
        )
        return [
            (str(row.dedupe_key), row.params["template"], row.params["values"])
            for row in rows
            if row.params is not None
        ]


@pytest.fixture
def december(clock: ManualClock) -> ManualClock:
    """The clock on 1 December 2026, 00:00 in Vietnam."""
    clock.set(DECEMBER_STARTS)
    return clock


async def test_the_month_is_the_calendar_month_in_vietnam_time(
    imported: Services, december: ManualClock
) -> None:
    # 23:59 on 30/11 in Vietnam is November's; 00:00 on 1/12 is December's (both are 30/11 UTC).
    await sent_on(imported, "zalo", datetime(2026, 11, 30, 16, 59, tzinfo=UTC), 7)
    await sent_on(imported, "zalo", DECEMBER_STARTS, 3)
    [use] = await imported.quotas.usage()
    assert (use.quota.channel, use.month_key, use.month, use.messages) == ("zalo", "2026-12", 12, 3)
    december.set(local(2026, 11, 30, 23, 59))
    [use] = await imported.quotas.usage()
    assert (use.month_key, use.messages) == ("2026-11", 7)
    # Into January: December's three no longer count.
    december.set(local(2027, 1, 1, 0, 0))
    [use] = await imported.quotas.usage()
    assert (use.month_key, use.messages) == ("2027-01", 0)


async def test_messages_count_every_part_sent_on_that_bot_only(
    imported: Services, december: ManualClock
) -> None:
    now = december.now()
    await sent_on(imported, "zalo", now, 4)
    await sent_on(imported, "zalo", now, 2, parts=3)  # a long message went as three
    await sent_on(imported, "zalo", now, 5, status=DeliveryStatus.FAILED)
    await sent_on(imported, "zalo", now, 5, status=DeliveryStatus.BLOCKED)
    await sent_on(imported, "telegram", now, 9)
    await sent_on(imported, "zalo2", now, 6)
    [use] = await imported.quotas.usage()
    assert use.messages == 4 + 2 * 3


async def test_parts_sent_of_a_delivery_that_then_failed_count_in_the_month_they_went(
    imported: Services, december: ManualClock
) -> None:
    """Zalo counted the parts that went before a delivery ended failed (a maybe-sent part
    tried twice, a refusal of the last part), or while it is still being sent: they count,
    in the month of their last update."""
    now = december.now()
    await sent_on(imported, "zalo", now, 2, parts=3, parts_sent=2, status=DeliveryStatus.FAILED)
    await sent_on(imported, "zalo", now, 1, parts=3, parts_sent=1, status=DeliveryStatus.PENDING)
    await sent_on(imported, "zalo", now, 5, status=DeliveryStatus.FAILED)  # nothing went
    # November's failed delivery is November's.
    await sent_on(
        imported,
        "zalo",
        datetime(2026, 11, 30, 16, 59, tzinfo=UTC),
        parts=3,
        parts_sent=2,
        status=DeliveryStatus.FAILED,
    )
    [use] = await imported.quotas.usage()
    assert use.messages == 2 * 2 + 1


async def test_a_part_whose_send_got_no_answer_counts_once_as_zalo_probably_took_it(
    imported: Services, december: ManualClock
) -> None:
    """A send with no answer (a timeout after the request went out) was not counted at all:
    the month's figure ran low by every doubtful send. Now the doubtful part counts once,
    whether its one more try also got no answer (failed) or is still to come (pending)."""
    now = december.now()
    await sent_on(imported, "zalo", now, 2, status=DeliveryStatus.FAILED, maybe_sent=True)
    await sent_on(
        imported, "zalo", now, parts=3, parts_sent=1, status=DeliveryStatus.FAILED,
        maybe_sent=True,
    )  # fmt: skip
    await sent_on(imported, "zalo", now, status=DeliveryStatus.PENDING, maybe_sent=True)
    await sent_on(imported, "zalo", now, 5, status=DeliveryStatus.FAILED)  # nothing went
    await sent_on(imported, "telegram", now, status=DeliveryStatus.FAILED, maybe_sent=True)
    [use] = await imported.quotas.usage()
    assert use.messages == 2 + (1 + 1) + 1


async def test_people_count_every_account_linked_on_that_bot(imported: Services) -> None:
    await link_on(imported, "zalo", "DB001", "DB002", "DB003")
    await link_on(imported, "telegram", "DB004")
    await link_on(imported, "zalo2", "DB005")
    [use] = await imported.quotas.usage()
    assert (use.people, use.messages) == (3, 0)


async def test_each_extra_bot_is_counted_under_its_own_channel(
    config: Config, imported: Services, clock: ManualClock
) -> None:
    plan = with_zalo(config, bots=[{"token_env": "ZALO_BOT_TOKEN_2"}])
    services = await build_services(plan, imported.ctx.sessions, clock)
    await link_on(services, "zalo", "DB001")
    await link_on(services, "zalo2", "DB002", "DB003")
    await sent_on(services, "zalo2", clock.now(), 4)
    uses = await services.quotas.usage()
    assert [(u.quota.channel, u.quota.label, u.people, u.messages) for u in uses] == [
        ("zalo", "Zalo", 1, 0),
        ("zalo2", "Zalo 2", 2, 4),
    ]


async def test_the_office_is_warned_once_past_the_threshold_and_once_at_the_limit(
    config: Config, imported: Services, december: ManualClock
) -> None:
    services = await build_services(
        with_zalo(config, monthly_messages=10, warn_at=0.8), imported.ctx.sessions, december
    )
    now = december.now()
    await sent_on(services, "zalo", now, 7)
    assert await services.quotas.check() == []  # 7 of 10: under 80%
    await sent_on(services, "zalo", now, 1)
    assert await services.quotas.check() == ["quota:zalo:2026-12:messages:near"]
    assert await services.quotas.check() == []  # once
    await sent_on(services, "zalo", now, 1)
    assert await services.quotas.check() == []  # 9 of 10: still only near
    await sent_on(services, "zalo", now, 1)
    assert await services.quotas.check() == ["quota:zalo:2026-12:messages:full"]
    await sent_on(services, "zalo", now, 5)
    assert await services.quotas.check() == []  # over the limit: noted already
    assert await quota_notes(services) == [
        (
            "quota:zalo:2026-12:messages:near",
            "quota.messages_near",
            {"bot": "Zalo", "used": "8", "limit": "10", "month": 12, "percent": 80},
        ),
        (
            "quota:zalo:2026-12:messages:full",
            "quota.messages_full",
            {"bot": "Zalo", "used": "10", "limit": "10", "month": 12, "percent": 80},
        ),
    ]
    # A new month starts from nothing, and warns again when it gets there.
    december.set(local(2027, 1, 3, 9, 0))
    assert await services.quotas.check() == []
    await sent_on(services, "zalo", december.now(), 8)
    assert await services.quotas.check() == ["quota:zalo:2027-01:messages:near"]


async def test_a_jump_past_the_limit_sends_the_limits_note_alone(
    imported: Services, december: ManualClock
) -> None:
    await sent_on(imported, "zalo", december.now(), 3001)
    assert await imported.quotas.check() == ["quota:zalo:2026-12:messages:full"]
    [(_, template, values)] = await quota_notes(imported)
    # Thousands grouped as the plan's language writes them.
    assert (template, values["used"], values["limit"]) == ("quota.messages_full", "3.001", "3.000")


async def test_people_past_the_threshold_and_at_the_limit_are_noted_once_each(
    config: Config, imported: Services, clock: ManualClock
) -> None:
    services = await build_services(
        with_zalo(config, linked_people=5, warn_at=0.6), imported.ctx.sessions, clock
    )
    await link_on(services, "zalo", "DB001", "DB002")
    assert await services.quotas.check() == []
    await link_on(services, "zalo", "DB003")
    assert await services.quotas.check() == ["quota:zalo:2024-05:people:near"]
    await link_on(services, "zalo", "DB004", "DB005")
    assert await services.quotas.check() == ["quota:zalo:2024-05:people:full"]
    assert await services.quotas.check() == []


async def test_a_second_process_finds_the_note_in_the_database_and_does_not_repeat_it(
    imported: Services, december: ManualClock
) -> None:
    await sent_on(imported, "zalo", december.now(), 2500)
    assert await imported.quotas.check() == ["quota:zalo:2026-12:messages:near"]
    # Another process (or this one after a restart): no memory but the database.
    other = QuotaService(imported.ctx, imported.config.quotas())
    assert await other.check() == []
    assert len(await quota_notes(imported)) == 1


async def test_the_note_is_an_office_note_the_outbox_sends_to_the_office(
    imported: Services, december: ManualClock
) -> None:
    await sent_on(imported, "zalo", december.now(), 2412)
    await imported.quotas.check()
    async with imported.ctx.sessions() as session:
        note = await session.scalar(
            select(OutboundMessage).where(OutboundMessage.dedupe_key.like("quota:%"))
        )
    assert note is not None
    assert (note.kind, note.audience, note.report_to) == (
        MessageKind.OFFICE_NOTE,
        "office",
        "office",
    )
    catalog = load_catalog("vi")
    assert note.params is not None
    text = to_text(catalog.html(note.params["template"], **note.params["values"]))
    assert text == (
        "⚠️ Zalo: bot đã gửi 2.412/3.000 tin trong tháng 12 (kể cả tin trả lời), quá 80% hạn"
        " mức tháng của một bot Zalo miễn phí. Đề nghị Văn phòng cân nhắc trước khi gửi thông"
        " báo chung."
    )


async def test_thongke_shows_each_bot_in_use_with_its_figures(
    imported: Services, december: ManualClock
) -> None:
    catalog = load_catalog("vi")
    assert replies.quota_lines(catalog, await imported.quotas.usage()) == []  # Zalo unused
    await link_on(imported, "zalo", *(f"DB{number:03d}" for number in range(1, 39)))
    await sent_on(imported, "zalo", december.now(), 2412)
    await imported.access.grant(imported.access.local_operator(), "DB080", Role.OFFICE)
    await link_on(imported, "text", "DB080")
    inbox = Inbox(imported, catalog)
    account = ChatAccount("text", "text-DB080", "text-DB080", "Staff")
    answer = await inbox.handle(
        Command(account=account, chat=Chat("text-DB080"), event_id="e1", name="thongke", args=()),
        ChannelInfo("text", CAPABILITIES_OF_TEXT),
    )
    [reply] = answer.replies
    text = to_text(reply.outbound.parts[0].html)  # type: ignore[union-attr]
    assert text.endswith(
        "Hạn mức bot (bot miễn phí)\nZalo: 38/50 người, 2.412/3.000 tin tháng 12"
        " (trong đó 0 tin trả lời)"
    )


async def test_the_quota_figures_count_the_bots_replies_with_its_own_sends(
    imported: Services, december: ManualClock
) -> None:
    """On Zalo nearly every message is a reply (the s31 re-test: 19 deliveries, about 95
    accepted): the figure the overview and /thongke give against the allowance is both, the
    replies named, and no sentence says the replies are left out any more."""
    await make_staff(imported)
    desk = await desk_for(imported)
    try:
        await desk.sign_in()
        await link_on(imported, "zalo", "DB001")
        await sent_on(imported, "zalo", december.now(), 19)
        imported.quotas.replied("zalo", 76)
        page = (await desk.client.get("/office/")).text
        assert text_of(page, "quota-zalo") == (
            "Zalo: 1/50 người, 95/3.000 tin tháng 12 (trong đó 76 tin trả lời)"
        )
        assert 'id="quota-replies"' not in page
    finally:
        await desk.client.aclose()
    catalog = load_catalog("vi")
    lines = replies.quota_lines(catalog, await imported.quotas.usage())
    assert [to_text(line) for line in lines] == [
        "\nHạn mức bot (bot miễn phí)",
        "Zalo: 1/50 người, 95/3.000 tin tháng 12 (trong đó 76 tin trả lời)",
    ]


async def test_replies_count_in_the_calendar_month_in_vietnam_time_they_were_sent(
    imported: Services, december: ManualClock
) -> None:
    """A reply at 23:59 on 30/11 in Vietnam is November's, one a minute later December's,
    though both are 30/11 in UTC; January starts from none."""
    december.set(local(2026, 11, 30, 23, 59))
    imported.quotas.replied("zalo", 2)
    december.set(DECEMBER_STARTS)
    imported.quotas.replied("zalo", 3)
    imported.quotas.replied("zalo")
    imported.quotas.replied("telegram", 9)  # no allowance: not counted
    imported.quotas.replied("zalo2", 9)  # no such bot in this plan
    [use] = await imported.quotas.usage()
    assert (use.month_key, use.sent, use.replies, use.messages) == ("2026-12", 0, 4, 4)
    december.set(local(2026, 11, 30, 23, 59))
    [use] = await imported.quotas.usage()
    assert (use.month_key, use.replies) == ("2026-11", 2)
    december.set(local(2027, 1, 1, 0, 0))
    [use] = await imported.quotas.usage()
    assert (use.month_key, use.replies, use.in_use) == ("2027-01", 0, False)
    async with imported.ctx.sessions() as session:
        rows = (
            await session.execute(
                select(ReplyCount.channel, ReplyCount.month, ReplyCount.messages).order_by(
                    ReplyCount.month
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [("zalo", "2026-11", 2), ("zalo", "2026-12", 4)]


async def test_replies_counted_by_two_processes_at_once_add_up(
    config: Config, imported: Services, december: ManualClock
) -> None:
    """Each process counts its own bot's replies into the same row: the database adds
    (``messages = messages + n``), so neither overwrites the other's."""
    other = await build_services(config, imported.ctx.sessions, december)
    for _ in range(5):
        imported.quotas.replied("zalo", 2)
        other.quotas.replied("zalo", 3)
    await asyncio.gather(imported.quotas.flush(), other.quotas.flush())
    imported.quotas.replied("zalo")
    [mine], [theirs] = await imported.quotas.usage(), await other.quotas.usage()
    assert (mine.replies, theirs.replies) == (26, 26)


async def test_the_warning_threshold_counts_the_replies_with_the_deliveries(
    config: Config, imported: Services, december: ManualClock
) -> None:
    services = await build_services(
        with_zalo(config, monthly_messages=10, warn_at=0.8), imported.ctx.sessions, december
    )
    await sent_on(services, "zalo", december.now(), 5)
    services.quotas.replied("zalo", 2)
    assert await services.quotas.check() == []  # 7 of 10
    services.quotas.replied("zalo")
    assert await services.quotas.check() == ["quota:zalo:2026-12:messages:near"]
    services.quotas.replied("zalo", 2)
    assert await services.quotas.check() == ["quota:zalo:2026-12:messages:full"]
    assert [values["used"] for _, _, values in await quota_notes(services)] == ["8", "10"]


def test_levels_are_ok_near_and_full_at_the_threshold_and_the_limit(config: Config) -> None:
    [quota] = config.quotas()
    assert (quota.monthly_messages, quota.linked_people, quota.warn_at) == (3000, 50, 0.8)
    assert quota.level(2399, 3000) is QuotaLevel.OK
    assert quota.level(2400, 3000) is QuotaLevel.NEAR
    assert quota.level(2999, 3000) is QuotaLevel.NEAR
    assert quota.level(3000, 3000) is QuotaLevel.FULL
    assert quota.zone == "Asia/Ho_Chi_Minh"


async def test_the_dashboard_overview_shows_each_bot_in_use_with_its_figures(
    imported: Services, december: ManualClock
) -> None:
    await make_staff(imported)
    desk = await desk_for(imported)
    try:
        await desk.sign_in()
        page = (await desk.client.get("/office/")).text
        assert 'id="quota-zalo"' not in page  # no Zalo bot in use: no line
        await link_on(imported, "zalo", *(f"DB{number:03d}" for number in range(1, 39)))
        await sent_on(imported, "zalo", december.now(), 600)
        imported.quotas.replied("zalo", 1799)
        page = (await desk.client.get("/office/")).text
        assert text_of(page, "quota-zalo") == (
            "Zalo: 38/50 người, 2.399/3.000 tin tháng 12 (trong đó 1.799 tin trả lời)"
        )
        assert 'id="quota-zalo" class="warn"' not in page  # 38 and 2,399: under 80% both
        imported.quotas.replied("zalo", 13)  # 2,412 with the replies: past 2,400
        live = (await desk.client.get("/office/live")).text
        assert 'id="quota-zalo" class="warn"' in live
        assert text_of(live, "quota-zalo") == (
            "Zalo: 38/50 người, 2.412/3.000 tin tháng 12 (trong đó 1.812 tin trả lời)"
        )
    finally:
        await desk.client.aclose()


def test_extra_bots_are_validated_and_named_zalo2_zalo3(config: Config) -> None:
    plan = with_zalo(
        config,
        bots=[
            {"token_env": "ZALO_BOT_TOKEN_2", "bot_name": "Hội nghị 2"},
            {"token_env": "ZALO_BOT_TOKEN_3", "bot_link": "https://zalo.me/3"},
        ],
    )
    assert plan.zalo.channels() == ["zalo", "zalo2", "zalo3"]
    assert [quota.label for quota in plan.quotas()] == ["Zalo", "Zalo 2", "Zalo 3"]


@pytest.mark.parametrize(
    ("zalo", "code"),
    [
        ({"bots": [{"token_env": "zalo_bot_token_2"}]}, "bad_env_name"),
        ({"bots": [{"token_env": "ZALO_BOT_TOKEN"}]}, "duplicate_key"),
        ({"bots": [{"token_env": "ZALO_2"}, {"token_env": "ZALO_2"}]}, "duplicate_key"),
        ({"bots": [{"token_env": "ZALO_2", "bot_link": "zalo.me/2"}]}, "bad_url"),
        ({"bots": [{"token_env": "ZALO_2", "token": "4821:secret"}]}, "extra_forbidden"),
        ({"bots": [{"token_env": f"ZALO_{n}"} for n in range(2, 11)]}, "too_long"),
        ({"warn_at": 1.0}, "less_than"),
        ({"warn_at": 0}, "greater_than"),
        ({"monthly_messages": 0}, "greater_than_equal"),
        ({"linked_people": 0}, "greater_than_equal"),
    ],
)
def test_wrong_zalo_quota_and_bot_keys_are_refused_with_their_reason(
    zalo: dict[str, object], code: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ZaloSettings.model_validate(zalo)
    assert [error["type"] for error in caught.value.errors()] == [code]


async def test_a_zalo_linked_staff_member_reads_the_warning_on_zalo_once(
    imported: Services, clock: ManualClock
) -> None:
    settings = ZaloSettings(monthly_messages=20, warn_at=0.5)
    services = await build_services(
        imported.config.model_copy(update={"zalo": settings}), imported.ctx.sessions, clock
    )
    async with zalo_world(services, clock, settings=settings) as world:
        office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
        linking = len(office.texts)  # the bot's replies to her code: the month's too
        assert linking > 0
        await sent_on(services, "zalo", clock.now(), 10 - linking)  # half the month's 20
        assert await services.quotas.check() == ["quota:zalo:2024-05:messages:near"]
        await world.tick()
        assert office.last_text == (
            "⚠️ Zalo: bot đã gửi 10/20 tin trong tháng 5 (kể cả tin trả lời), quá 50% hạn mức"
            " tháng của một bot Zalo miễn phí. Đề nghị Văn phòng cân nhắc trước khi gửi thông"
            " báo chung."
        )
        read = len(office.texts)
        assert await services.quotas.check() == []
        await world.tick()
        assert len(office.texts) == read
        # /thongke on Zalo: the note's own part counts too (11 sent now).
        said = await world.type(office, "/thongke")
        assert f"Zalo: 1/50 người, 11/20 tin tháng 5 (trong đó {linking} tin trả lời)" in said[-1]
