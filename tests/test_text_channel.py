"""The proof that the core is channel-neutral: a test-only text channel (numbered menus, no files,
no buttons, no link payload, string ids) plays the plan through the core alone — linking by a
typed personal code, the RSVP with a reason and with a substitute, a task report, a typed speech
draft with an office comment and a verdict, a notice, and the morning programme — with no line
of ``bot/`` written for it and no Telegram running at all."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import build_outbox
from bot.chat import Inbox
from bot.domain.channels import ChatAccount
from bot.domain.clock import ManualClock
from bot.domain.drafts import DraftStatus
from bot.domain.rsvp import RsvpStatus
from bot.domain.tokens import format_link_code
from bot.services import Services
from bot.texts import load_catalog
from bot.texts.plain import to_text
from schedules.outbox import Outbox
from schedules.ratelimit import Limits, Pacer, VirtualTime
from storage.models import AuditEntry, LinkFailure, SpeechAssignment
from tests.channels.text_channel import TextChannel, TextPerson
from tests.conftest import ROOT, morning_programme_due
from tests.plan_support import rsvp_of
from tests.zalo_support import prepare_plan

CONTACTS = ROOT / "examples" / "contacts.csv"


@dataclass
class World:
    services: Services
    channel: TextChannel
    outbox: Outbox
    clock: ManualClock
    tokens: dict[str, str]
    codes: dict[str, str]  # each person's personal code, as printed: "K7PX-3QBM"

    async def tick(self) -> None:
        """The outbox's tick, twice: what is due, then the reports it queued."""
        await self.outbox.tick()
        await self.outbox.tick()

    async def linked(self, code: str, name: str) -> TextPerson:
        """``code`` opens their invitation on the text channel by typing their personal code."""
        person = self.channel.person(name)
        await person.type(self.codes[code])
        return person


@pytest.fixture
async def world(imported: Services, clock: ManualClock) -> World:
    """The example plan with its contacts, NV02 of the office as staff, and the text channel
    as the only channel running."""
    return await text_world(imported, clock)


async def text_world(imported: Services, clock: ManualClock) -> World:
    """What the ``world`` fixture gives (for other modules' fixtures)."""
    await prepare_plan(imported)
    catalog = load_catalog("vi")
    channel = TextChannel(Inbox(imported, catalog), catalog)
    time = VirtualTime()
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    outbox = build_outbox(imported, catalog, {channel.channel: channel}, pacer=pacer)
    links = await imported.invitations.links()
    tokens = {link.code: link.token for link in links}
    codes = {link.code: format_link_code(link.link_code) for link in links}
    return World(imported, channel, outbox, clock, tokens, codes)


def account_of(person: TextPerson) -> ChatAccount:
    """The account the text channel reports for ``person``."""
    return ChatAccount("text", person.id, person.id, person.name)


async def test_a_person_links_by_typing_the_start_command_and_reads_the_card_with_a_menu(
    world: World,
) -> None:
    person = world.channel.person("Chị Mai")
    said = await person.type(f"/start {world.tokens['DB001']}")
    card = "\n".join(said[1:])
    assert said[0] == world.channel.catalog.plain("start.linked")
    assert card.startswith("Kính gửi đồng chí Phạm Thị Thanh Mai\n")
    assert "🗺 Xem bản đồ đường đến hội trường (https://maps.google.com/?q=" in card
    assert "<" not in card and "&amp;" not in card  # plain text, entities decoded once
    assert card.endswith("Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay")
    assert len(said) == 3 and all(len(text) <= 1000 for text in said)  # cut at line ends


@pytest.mark.parametrize(
    "typing",
    [
        str.lower,
        lambda code: code.replace("-", ""),
        lambda code: f" {code.replace('-', ' ')} ",
        lambda code: f"/start {code}",
        lambda code: f"Mã của tôi là {code}, cảm ơn.",
        lambda code: f"Mã: «{code.lower()}»",
    ],
    ids=["lowercase", "no dash", "spaces", "after /start", "in a sentence", "in quotes"],
)
async def test_a_person_links_by_typing_their_code_however_written_as_by_the_start_link(
    world: World, typing: Callable[[str], str]
) -> None:
    person = world.channel.person("Chị Mai")
    said = await person.type(typing(world.codes["DB001"]))
    assert said[0] == world.channel.catalog.plain("start.linked")
    assert said[1].startswith("Kính gửi đồng chí Phạm Thị Thanh Mai\n")
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
    )
    assert len(said) == 3
    async with world.services.ctx.sessions() as session:
        linked = (
            await session.execute(
                select(AuditEntry.actor, AuditEntry.after).where(
                    AuditEntry.action == "identity.linked"
                )
            )
        ).all()
    assert linked == [
        (f"text:{person.id}", {"channel": "text", "external_id": person.id, "via": "code"})
    ]
    assert (await person.type("1"))[0].startswith("✅ Đã ghi nhận: đồng chí tham dự")


async def test_wrong_codes_are_answered_then_slow_the_account_down_with_wrong_links(
    world: World,
) -> None:
    catalog, contact = world.channel.catalog, world.services.config.office.contact
    stranger = world.channel.person("Người lạ")
    wrong = "BBBB-BBBB"
    assert wrong not in world.codes.values()
    for _ in range(2):  # wrong links count too: one slowdown for both
        await stranger.type(f"/start {'x' * 32}")
    for _ in range(3):
        assert await stranger.type(wrong) == [catalog.plain("start.unknown_code", contact=contact)]
    assert await stranger.type(world.codes["DB001"]) == [
        catalog.plain("start.slowed_down_code", time="10:00, 18/5", contact=contact)
    ]
    assert await stranger.type(world.codes["DB001"]) == []  # told a moment ago: a flood gets none
    assert await world.services.invitations.whoami(account_of(stranger)) is None
    world.clock.advance(timedelta(hours=1))
    assert (await stranger.type(world.codes["DB001"]))[0] == catalog.plain("start.linked")


async def test_caplai_gives_a_new_code_and_the_old_one_stops_working_at_once(
    world: World,
) -> None:
    office = await world.linked("NV02", "Văn phòng")
    old = world.codes["DB001"]
    asked = (await office.type("/caplai DB001"))[-1]
    assert asked.endswith(
        "Trả lời 1 – 🔑 Cấp lại đường liên kết · 2 – Không, giữ đường liên kết hiện có"
    )
    reply = (await office.type("1"))[-1]
    found = re.search(r"Mã cá nhân mới [^:]*: ([0-9A-Z]{4}-[0-9A-Z]{4}); mã cũ", reply)
    assert found is not None and found[1] != old
    late = world.channel.person("Chị Mai")
    assert (await late.type(old))[0].startswith("Mã này không đúng hoặc đã hết hiệu lực.")
    assert (await late.type(found[1]))[0] == world.channel.catalog.plain("start.linked")


@pytest.mark.parametrize("first", ["Xin chào", "/start", "123", "K7PX-3QB"])
async def test_a_first_message_that_is_no_code_is_told_how_to_link(
    world: World, first: str
) -> None:
    config = world.services.config
    explained = to_text(
        world.channel.catalog.html(
            "start.welcome_code",
            office=config.office.name,
            title=config.meeting.title,
            contact=config.office.contact,
        )
    )
    person = world.channel.person("Chị Mai")
    assert await person.type(first) == [explained]
    assert "mã cá nhân gồm 8 ký tự" in explained and "trang cá nhân" in explained
    assert await world.services.invitations.whoami(account_of(person)) is None


@pytest.mark.parametrize("typed", ["/trangthai", "/lich", "/nhiemvu", "/thamluan"])
async def test_a_command_before_linking_says_to_send_the_personal_code_where_no_link_opens(
    world: World, typed: str
) -> None:
    contact = world.services.config.office.contact
    said = await world.channel.person("Chị Mai").type(typed)
    assert said == [world.channel.catalog.plain("hint.not_linked_code", contact=contact)]
    assert "mã cá nhân gồm 8 ký tự" in said[0] and "đường liên kết" not in said[0]


async def test_two_codes_in_one_message_link_neither(world: World) -> None:
    person = world.channel.person("Chị Mai")
    await person.type(f"{world.codes['DB001']} hoặc {world.codes['DB002']}")
    assert await world.services.invitations.whoami(account_of(person)) is None


async def test_a_phone_number_among_words_is_not_read_as_a_wrong_code(world: World) -> None:
    # «098 5367 2894» holds two groups of four digits: read as a code, it was a wrong one,
    # counted towards the slowdown.
    person = world.channel.person("Chị Mai")
    said = await person.type("SĐT của tôi 098 5367 2894")
    assert said[0].startswith("Kính chào đồng chí!")  # how to link, not «Mã này không đúng»
    async with world.services.ctx.sessions() as session:
        failures = await session.scalar(select(func.count()).select_from(LinkFailure))
    assert failures == 0


async def test_a_linked_persons_later_text_is_not_taken_as_a_code(world: World) -> None:
    mai = await world.linked("DB001", "Chị Mai")
    said = await mai.type(world.codes["DB002"])
    assert not any(text.startswith(("Tài khoản này", "Mã này", "Kính chào")) for text in said)
    mine = await world.services.invitations.whoami(account_of(mai))
    assert mine is not None and mine.delegate is not None and mine.delegate.code == "DB001"
    diep = world.channel.person("Chị Diệp")  # DB002's code still opens DB002's invitation
    assert (await diep.type(world.codes["DB002"]))[0] == world.channel.catalog.plain("start.linked")


async def test_rsvp_by_numbers_with_a_reason_then_a_substitute(world: World) -> None:
    person = await world.linked("DB001", "Chị Mai")
    said = await person.type("2")  # Không tham dự
    assert "lý do" in said[-1]
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – Không nêu lý do · 3 – 👤 Cử người dự thay · 4 – Hủy"
    )
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.DECLINED
    said = await person.type("Bận công tác tại Trung ương")
    declined = await rsvp_of(world.services, "DB001")
    assert (declined.status, declined.reason) == (
        RsvpStatus.DECLINED,
        "Bận công tác tại Trung ương",
    )
    assert "Trước đó" not in said[-1]  # the reason completes the decline; it replaces nothing

    await person.type("/trangthai")
    await person.type("cu nguoi du thay")  # the option's words, without diacritics
    await person.type("Đồng chí Nguyễn Thị Lan")  # the bot says «đồng chí» itself
    await person.type("Phó Chủ tịch Hội LHPN Việt Nam")
    await person.type("1")  # Cùng đơn vị
    said = await person.type("1")  # Bỏ qua (the phone)
    substitute = await rsvp_of(world.services, "DB001")
    assert (substitute.status, substitute.substitute_name) == (
        RsvpStatus.SUBSTITUTE,
        "Nguyễn Thị Lan",
    )
    assert substitute.substitute_position == "Phó Chủ tịch Hội LHPN Việt Nam"
    assert "Nguyễn Thị Lan" in said[-1]


async def test_after_the_reason_a_number_picks_from_the_invitation_not_the_reason_prompt(
    world: World,
) -> None:
    # «1 – Không nêu lý do» was still the newest menu after the reason was typed: a later «1»
    # declined again and erased the reason. The answer now offers the invitation's choices,
    # so «1» is the «✅ Tham dự» the person reads under it.
    person = await world.linked("DB001", "Chị Mai")
    await person.type("2")  # Không tham dự
    said = await person.type("Bận công tác tại Trung ương")
    declined = await rsvp_of(world.services, "DB001")
    assert (declined.status, declined.reason) == (
        RsvpStatus.DECLINED,
        "Bận công tác tại Trung ương",
    )
    assert "1 – ✅ Tham dự" in said[-1] and "Không nêu lý do" not in said[-1]
    await person.type("1")
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.ATTENDING


async def test_a_number_the_newest_menu_does_not_have_is_no_answer(world: World) -> None:
    person = await world.linked("DB001", "Chị Mai")
    said = await person.type("7")
    assert (await rsvp_of(world.services, "DB001")).status == RsvpStatus.NO_ANSWER
    contact = world.services.config.office.contact
    assert said == [world.channel.catalog.plain("hint.use_buttons", contact=contact)]


async def test_a_number_the_questions_menu_does_not_have_is_taken_as_no_reason_nor_name(
    world: World,
) -> None:
    person = await world.linked("DB001", "Chị Mai")
    await person.type("2")  # Không tham dự: the reason, please (1 Tham dự … 4 Hủy)
    said = await person.type("5")
    assert said[0] == (
        "Không có lựa chọn số 5. Đề nghị đồng chí gõ một trong các số: 1 – ✅ Tham dự · "
        "2 – Không nêu lý do · 3 – 👤 Cử người dự thay · 4 – Hủy; hoặc gõ /trangthai để xem lại "
        "giấy mời."
    )
    declined = await rsvp_of(world.services, "DB001")
    assert (declined.status, declined.reason) == (RsvpStatus.DECLINED, None)
    await person.type("Bận công tác")  # the question still stands
    assert (await rsvp_of(world.services, "DB001")).reason == "Bận công tác"
    await person.type("/trangthai")
    await person.type("3")  # Cử người dự thay: the name, please
    said = await person.type("2")
    assert said[0].startswith("Không có lựa chọn số 2.")
    assert (await rsvp_of(world.services, "DB001")).substitute_name is None


async def test_a_number_is_a_task_note_when_the_bot_asks_for_a_note(world: World) -> None:
    contact = await world.linked("NV03", "Chị Nga")
    await contact.type("/nhiemvu")
    await contact.type("2")  # 🔄 Đang thực hiện: a note, please (1 – Hủy)
    said = await contact.type("50")  # per cent done: the note, not a choice the menu lacks
    assert not said[0].startswith("Không có lựa chọn")
    [line] = [t for t in await world.services.tasks.office_board() if t.key == "VI.1.1"]
    assert [a.note for a in line.assignments if a.code == "NV03"] == ["50"]


async def test_a_task_contact_reports_a_task_done_by_number(world: World) -> None:
    contact = await world.linked("NV03", "Chị Nga")
    said = await contact.type("/nhiemvu")
    assert "VI.1.1" in said[-1]
    assert "1 – ✅ Đã hoàn thành" in said[-1]
    await contact.type("1")
    [line] = [t for t in await world.services.tasks.office_board() if t.key == "VI.1.1"]
    assert [a.status.value for a in line.assignments if a.code == "NV03"] == ["done"]


async def test_where_the_bot_takes_no_files_a_speaker_is_sent_to_their_page_for_one(
    world: World,
) -> None:
    speaker = await world.linked("DB031", "Chị Vân")
    said = await speaker.type("/thamluan")
    page = world.services.config.web.link(world.tokens["DB031"])  # type: ignore[union-attr]
    assert f"xin tải lên trang cá nhân: {page}" in said[-1]
    assert "vào cuộc trò chuyện này dưới dạng tệp" not in said[-1]


async def test_a_speaker_linking_by_code_where_no_files_come_is_sent_to_her_page_at_once(
    world: World,
) -> None:
    # The code is read before the link (is the sender linked?): the screen that follows must
    # know her as linked, not tell her to send her file to the office as if she had no page.
    speaker = world.channel.person("Chị Vân")
    said = await speaker.type(world.codes["DB031"])
    page = world.services.config.web.link(world.tokens["DB031"])  # type: ignore[union-attr]
    assert said[0] == world.channel.catalog.plain("start.linked")
    [speech] = [text for text in said if "Tham luận được phân công" in text]
    assert f"xin tải lên trang cá nhân: {page}" in speech
    assert "xin gửi Văn phòng" not in speech
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
    )


async def test_the_office_is_not_told_a_comment_or_verdict_reached_a_speaker_no_chat_reaches(
    world: World,
) -> None:
    # She sent her draft from her personal page and is on no chat: «Đã chuyển góp ý tới …» and
    # «Bot đã báo người viết» were untrue (the report a second later said «Chưa liên kết: 1»).
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    services = world.services
    opened = await services.invitations.open_page(world.tokens["DB031"], channel="web", client="c")
    assert opened.account is not None
    [line] = [line for line in await services.drafts.board() if line.code == "DB031"]
    await services.drafts.store_typed(opened.account, line.id, "Kính thưa các đồng chí.")
    await world.tick()
    assert office.last.endswith("3 – 💬 Góp ý bản này")
    await office.type("3")
    said = await office.type("Đề nghị bổ sung số liệu về hội viên mới.")
    assert said == [
        "Đã lưu góp ý cho đồng chí Nguyễn Thị Lan Phương (Hội LHPN quận Ba Đình), nhưng người"
        " viết chưa kết nối kênh nhắn tin (hoặc đã chặn bot) nên bot không gửi tin được: đề nghị"
        " gọi điện báo. Người viết xem được trên trang cá nhân của mình."
        "\n\nTrả lời 1 – ✅ Chốt bản 1 · 2 – ✏️ Cần chỉnh sửa · 3 – 💬 Góp ý bản này"
    ]
    await office.type("/thamluan")
    await office.type("1")  # Mở tham luận 1.1: the post's choices again
    await office.type("1")  # ✅ Chốt bản 1
    said = await office.type("1")  # ✅ Xác nhận chốt bản 1
    assert said == [
        "✅ Trần Thị Mỹ Duyên đã chốt tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương"
        " (bản 1). Người viết chưa kết nối kênh nhắn tin (hoặc đã chặn bot) nên bot không báo"
        " được: đề nghị gọi điện báo. Người viết xem được trên trang cá nhân của mình."
    ]


async def test_the_question_before_a_typed_verdict_does_not_promise_to_tell_an_unreached_speaker(
    world: World,
) -> None:
    # «khi đó bot sẽ báo người viết» was untrue for a speaker on no chat: the question says, as
    # the verdict and the comment do, that the bot cannot tell her and she is to be phoned.
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    services = world.services
    opened = await services.invitations.open_page(world.tokens["DB031"], channel="web", client="c")
    assert opened.account is not None
    [line] = [line for line in await services.drafts.board() if line.code == "DB031"]
    await services.drafts.store_typed(opened.account, line.id, "Kính thưa các đồng chí.")
    await world.tick()
    said = await office.type("2")  # ✏️ Cần chỉnh sửa, from the post's choices
    assert said == [
        "Đồng chí chọn đề nghị chỉnh sửa bản 1 tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan"
        " Phương (Hội LHPN quận Ba Đình). Đề nghị đồng chí xác nhận. Người viết chưa kết nối kênh"
        " nhắn tin (hoặc đã chặn bot) nên bot không báo được: đề nghị gọi điện báo. Người viết"
        " xem được trên trang cá nhân của mình.\n\n"
        "Trả lời 1 – ✏️ Xác nhận đề nghị chỉnh sửa bản 1 · 2 – Không, để sau"
    ]


async def test_a_staff_member_with_a_task_is_shown_her_own_tasks_on_trangthai_not_the_board(
    world: World,
) -> None:
    # Linking showed her own task with its report choices, and /trangthai then the office's
    # whole board, whose «Kết thúc theo dõi …» choices a «1» typed next would have answered.
    staff = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    linked = staff.read[-1]
    said = await staff.type("/trangthai")
    assert said == [linked]
    assert said[0].startswith("VI.1.2 — ") and said[0].endswith(
        "Trả lời 1 – ✅ Đã hoàn thành · 2 – ⏳ Đang thực hiện · 3 – 🆘 Cần hỗ trợ · 4 – 📎 Gửi sản phẩm"
    )
    said = await staff.type("/nhiemvu")  # the office's board is /nhiemvu's
    assert said[0].startswith("📋 Nhiệm vụ chuẩn bị hội nghị")


async def test_the_office_help_says_how_to_comment_on_each_chat_by_name(world: World) -> None:
    # «nơi không trả lời được từng tin» described the platform, not what she does on Zalo.
    staff = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    said = "\n".join(await staff.type("/help"))
    assert "nơi không trả lời được" not in said
    assert (
        "\nGóp ý tham luận: trên Telegram, trả lời (reply) bài đăng của bản tham luận; trên Zalo,"
        " gõ số của lựa chọn «💬 Góp ý bản này» dưới bài đăng rồi gõ góp ý. Chốt bài hoặc đề nghị"
        " chỉnh sửa: chọn «✅ Chốt bản …» hoặc «✏️ Cần chỉnh sửa» dưới bài đăng (trên Zalo, bot"
        " hỏi lại một lần để đồng chí xác nhận); bot báo người viết, người chưa kết nối kênh nhắn"
        " tin thì bot nhắc Văn phòng gọi điện.\n" in said
    )
    assert (
        "/start — xem cách liên kết tài khoản với giấy mời: mở đường liên kết riêng trong giấy"
        " mời, hoặc trên Zalo gõ mã cá nhân in trên giấy mời\n" in said
    )


async def test_a_staff_member_linking_is_told_her_office_role_and_shown_her_own_tasks(
    world: World,
) -> None:
    # She has no invitation: «liên kết với giấy mời» was untrue, her office role went unsaid,
    # and (the caller read before the code linked her) the screen depended on the channel.
    staff = world.channel.person("Chị Duyên (Văn phòng)")
    said = await staff.type(world.codes["NV02"])
    assert said[0] == (
        "Tài khoản của đồng chí đã được liên kết với tên đồng chí Trần Thị Mỹ Duyên, cán bộ Văn"
        " phòng phụ trách hội nghị. Gõ /help để xem các lệnh của Văn phòng (như /thongke,"
        " /thamluan, /nhiemvu); /dangnhap để nhận đường liên kết đăng nhập trang điều hành."
    )
    # Her own task with her report's choices: not the office's board, whose «Kết thúc theo
    # dõi …» choices a «1» typed next would have answered.
    assert len(said) == 2 and said[1].startswith("VI.1.2 — ")
    assert "• Trần Thị Mỹ Duyên (Văn phòng Hội LHPN thành phố): chưa báo cáo" in said[1]
    assert said[1].endswith("Trả lời 1 – ✅ Đã hoàn thành · 2 – ⏳ Đang thực hiện"
                            " · 3 – 🆘 Cần hỗ trợ · 4 – 📎 Gửi sản phẩm")  # fmt: skip
    said = await staff.type("/start")
    assert said[0].startswith(
        "Tài khoản này đã được liên kết với tên đồng chí Trần Thị Mỹ Duyên, cán bộ Văn phòng"
    )
    contact = world.channel.person("Anh Thịnh")
    said = await contact.type(world.codes["NV07"])  # a contact with no task
    assert said == [
        "Tài khoản của đồng chí đã được liên kết với tên đồng chí Ngô Đức Thịnh. Xin trân trọng"
        " cảm ơn đồng chí!",
        "Đồng chí chưa được giao nhiệm vụ chuẩn bị nào. Cần hỗ trợ, xin liên hệ đồng chí Trần Thu"
        " Hà, Phó Chánh Văn phòng, điện thoại 024 3834 5678.",
    ]
    assert not any("giấy mời" in text for text in said)


async def test_where_the_bot_takes_no_files_a_deliverable_is_asked_as_a_link_or_on_the_page(
    world: World,
) -> None:
    contact = await world.linked("NV03", "Chị Nga")
    said = await contact.type("/nhiemvu")
    assert "4 – 📎 Gửi sản phẩm" in said[-1]
    said = await contact.type("4")
    page = world.services.config.web.link(world.tokens["NV03"])  # type: ignore[union-attr]
    assert said[0].startswith(
        "Đề nghị đồng chí gửi đường liên kết (https://…) tới sản phẩm của nhiệm vụ VI.1.1."
    )
    assert f"xin tải lên trang cá nhân: {page}" in said[0]


async def test_a_typed_draft_gets_an_office_comment_and_a_verdict_without_telegram(
    world: World,
) -> None:
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    speaker = await world.linked("DB031", "Chị Vân")
    said = await speaker.type("/thamluan")
    assert "1 – ✍️ Soạn tham luận 1.1 bằng tin nhắn" in said[-1]
    await speaker.type("1")
    await speaker.type("Kính thưa các đồng chí, quận Hoàn Kiếm báo cáo kết quả nửa nhiệm kỳ.")
    said = await speaker.type("1")  # ✅ Xong, gửi bản này
    assert "bản 1" in said[-1]

    await world.tick()  # the version goes to the office: no group here, so to its staff
    post = office.last
    assert "Nguyễn Thị Lan Phương" in post and "Chị Vân" not in post  # the list's name
    assert post.endswith("Trả lời 1 – ✅ Chốt bản 1 · 2 – ✏️ Cần chỉnh sửa · 3 – 💬 Góp ý bản này")
    await office.type("3")
    said = await office.type("Đề nghị bổ sung số liệu về hội viên mới.")
    assert said[-1].startswith("Đã chuyển góp ý")
    await world.tick()
    assert "Đề nghị bổ sung số liệu về hội viên mới." in "\n".join(speaker.read[-2:])

    said = await office.type("1")  # the post's menu still stands: ✅ Chốt bản 1
    # Typed, a verdict names the draft and asks once more: a «1» meant for another menu (the
    # next page of /chuatraloi) approved a draft that had just arrived.
    assert said == [
        "Đồng chí chọn chốt bản 1 tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương (Hội"
        " LHPN quận Ba Đình). Đề nghị đồng chí xác nhận; khi đó bot sẽ báo người viết.\n\n"
        "Trả lời 1 – ✅ Xác nhận chốt bản 1 · 2 – Không, để sau"
    ]
    said = await office.type("2")
    assert said == [
        "Chưa ghi nhận gì cho tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương (bản 1)."
        "\n\nTrả lời 1 – ✅ Chốt bản 1 · 2 – ✏️ Cần chỉnh sửa · 3 – 💬 Góp ý bản này"
    ]  # the post's choices again, not the question's «1 – Xác nhận»
    await world.tick()
    assert "đã chốt" not in speaker.last
    await office.type("1")  # ✅ Chốt bản 1
    said = await office.type("1")  # ✅ Xác nhận chốt bản 1
    assert said == [
        "✅ Trần Thị Mỹ Duyên đã chốt tham luận chủ đề 1.1 của đồng chí Nguyễn Thị Lan Phương "
        "(bản 1). Bot đã báo người viết."
    ]  # the staff member's name from the list, not what the platform calls her
    await world.tick()
    assert "đã chốt" in speaker.last
    async with world.services.ctx.sessions() as session:
        status = await session.scalar(
            select(SpeechAssignment.status).where(SpeechAssignment.theme_key == "1.1")
        )
    assert status == DraftStatus.FINAL


async def test_a_notice_by_numbers_reaches_everyone_linked_on_the_text_channel(
    world: World,
) -> None:
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    readers = [await world.linked(code, code) for code in ("DB001", "DB002", "DB003")]
    await office.type("/thongbao")
    await office.type("Kính mời các đồng chí dự họp trù bị lúc 14:00 ngày 27/5.")
    said = await office.type("1")  # đại biểu đã liên kết
    assert "Sẽ gửi tới: 3 người." in said[-1]  # NV02 of the office is no delegate
    await office.type("1")  # Gửi ngay
    await world.tick()
    for reader in readers:
        assert "Kính mời các đồng chí dự họp trù bị" in reader.last


async def test_the_morning_programme_reaches_the_confirmed_as_text_with_the_map_link(
    world: World,
) -> None:
    person = await world.linked("DB001", "Chị Mai")
    await person.type("1")  # Tham dự
    await morning_programme_due(world.services, world.clock)
    before = len(person.read)
    await world.tick()
    programme = "\n".join(person.read[before:])
    assert "Hội trường Hội LHPN Hà Nội" in programme
    assert "https://maps.google.com/?q=21.029850,105.785230" in programme
    assert "07:30–08:00: Đón tiếp đại biểu" in programme
    # The .ics cannot travel on this channel: it links to the download on the personal page.
    assert programme.endswith(f"Tải về: http://127.0.0.1:8080/{world.tokens['DB001']}/lich.ics")
