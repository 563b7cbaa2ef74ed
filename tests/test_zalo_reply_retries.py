"""The bot's replies on Zalo while the platform refuses for a while (429 with retry_after, 500):
retried in order before the chat's next message, never sent twice, and a menu that never
reached the person does not take the number she types blind (re-test s31, Z7).

The fake platform refuses with the faults injected; the adapter's retries wait in virtual time
(no test sleeps)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.domain.channels import Chat, ChatAccount
from bot.domain.inbound import Text
from bot.domain.outbound import Answer, Button, Outbound, Reply
from bot.domain.rsvp import RsvpStatus
from bot.texts.plain import to_text
from bot.texts.presenters import rsvp_buttons
from handlers.zalo.app import REPLY_PATIENCE
from handlers.zalo.receiving import CHATS_IN_HAND
from storage import queries
from storage.models import ChannelIdentity, OutboundMessage
from storage.queries import MENU_UNSEEN
from storage.uow import unit_of_work
from tests.fakes.zalo_api import FakeZaloUser
from tests.plan_support import rsvp_of
from tests.zalo_support import ZaloWorld

NOTICE = "Kính mời các đồng chí dự họp trù bị lúc 14:00 ngày 27/5."


LONG_429 = {"error_code": 429, "description": "Too Many Requests"}  # retry_after: past patience


def refuse_past_patience(world: ZaloWorld, user: FakeZaloUser, *, times: int = 1) -> None:
    """Zalo refuses ``user``'s next ``times`` texts with a 429 longer than a reply waits."""
    world.fake.fail_next(
        "sendMessage", **LONG_429, retry_after=int(REPLY_PATIENCE) + 1, chat_id=user.id, times=times
    )


def refused_then_accepted(world: ZaloWorld, user: FakeZaloUser) -> list[tuple[str, str]]:
    """Every sendMessage to ``user``, in order: («refused»/«sent», its text's first line)."""
    return [
        ("refused" if call.error_code or call.error else "sent", call.params["text"].split("\n")[0])
        for call in world.fake.calls_to("sendMessage")
        if call.params.get("chat_id") == user.id
    ]


async def broadcasts(world: ZaloWorld) -> int:
    """Notices queued to go (not those still being written)."""
    async with world.services.ctx.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.kind == "broadcast", OutboundMessage.status != "draft")
        )
    return int(count or 0)


async def rsvp_status(world: ZaloWorld, code: str) -> RsvpStatus:
    return RsvpStatus((await rsvp_of(world.services, code)).status)


async def test_the_notice_dialog_under_seconds_of_429_and_500_reaches_the_clerk_whole_in_order(
    world: ZaloWorld,
) -> None:
    """The re-tester's few seconds: 3 × 429 (retry after 3 s), then 2 × 500. Every answer of the
    dialog still reaches the clerk, once each, in order; her «1» is then a choice she saw."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    await world.linked("DB001", "Chị Mai")
    before = len(office.texts)
    world.fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests", retry_after=3, times=3
    )
    world.fake.fail_next("sendMessage", times=2)
    started = await world.type(office, "/thongbao")
    asked = await world.type(office, NOTICE)
    preview = await world.type(office, "1")  # đại biểu đã liên kết
    assert [len(started), len(asked), len(preview)] == [1, 1, 1]
    assert started[0].startswith("📢 Soạn thông báo")
    assert asked[0].startswith("Đề nghị đồng chí chọn đối tượng")
    assert "Sẽ gửi tới: 1 người." in preview[0] and preview[0].endswith(
        "Trả lời 1 – 📤 Gửi ngay · 2 – 🕘 Hẹn giờ gửi · 3 – Hủy"
    )
    assert office.texts[before:] == [*started, *asked, *preview]
    # The refusals were for the first text; it went on its sixth try, the others at once.
    assert refused_then_accepted(world, office)[-8:] == [
        *[("refused", started[0].split("\n")[0])] * 5,
        ("sent", started[0].split("\n")[0]),
        ("sent", asked[0].split("\n")[0]),
        ("sent", preview[0].split("\n")[0]),
    ]
    sent = await world.type(office, "1")  # Gửi ngay: the preview was before her
    assert sent[0].startswith("📤 Đã xếp thông báo")
    assert await broadcasts(world) == 1


async def test_a_preview_zalo_never_takes_does_not_let_a_blind_1_send_the_notice(
    world: ZaloWorld,
) -> None:
    """The preview is refused past the reply's patience: her «1» typed because nothing came is
    not «Gửi ngay». She gets the preview again, headed by why, and is told her «1» was not
    carried out; only a «1» after that sends."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    await world.linked("DB001", "Chị Mai")
    await world.type(office, "/thongbao")
    await world.type(office, NOTICE)
    refuse_past_patience(world, office)
    assert await world.type(office, "1") == []  # the preview did not reach her
    said = await world.type(office, "1")  # typed blind
    assert await broadcasts(world) == 0
    assert len(said) == 3
    assert said[0] == world.catalog.plain("hint.resending")
    assert "Sẽ gửi tới: 1 người." in said[1]
    assert said[2] == (
        "Lựa chọn «📤 Gửi ngay» chưa được thực hiện: câu hỏi của bot chưa tới được đồng chí lúc"
        " đồng chí trả lời (Zalo tạm thời không nhận tin). Đề nghị đồng chí đọc lại câu hỏi ở trên"
        " rồi trả lời.\n\nTrả lời 1 – 📤 Gửi ngay · 2 – 🕘 Hẹn giờ gửi · 3 – Hủy"
    )
    sent = await world.type(office, "1")  # now a choice she saw
    assert sent[0].startswith("📤 Đã xếp thông báo")
    assert await broadcasts(world) == 1


async def test_a_blind_1_while_zalo_still_refuses_the_resent_preview_is_not_taken_either(
    world: ZaloWorld,
) -> None:
    """Review of s31: the preview refused, then her blind «1» answered while Zalo still refused
    the resent preview and the «not carried out» hint — the mark was cleared with the hint
    unsent, so her third blind «1» sent the notice she had never seen. (The hint is now kept
    behind the preview it follows, untried, when the preview's resend is refused.)"""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    await world.linked("DB001", "Chị Mai")
    await world.type(office, "/thongbao")
    await world.type(office, NOTICE)
    for _refused in ("the preview", "the preview resent"):
        refuse_past_patience(world, office)
        assert await world.type(office, "1") == []
    said = await world.type(office, "1")  # still blind: nothing has reached her yet
    assert await broadcasts(world) == 0
    assert said[0] == world.catalog.plain("hint.resending")
    assert said[-1].startswith("Lựa chọn «📤 Gửi ngay» chưa được thực hiện")
    sent = await world.type(office, "1")  # now a choice she saw
    assert sent[0].startswith("📤 Đã xếp thông báo")
    assert await broadcasts(world) == 1


async def test_a_delegate_s_linking_answer_refused_once_by_a_500_still_reaches_her_in_order(
    world: ZaloWorld,
) -> None:
    user = world.fake.user("Chị Mai")
    world.fake.fail_next("sendMessage", chat_id=user.id)  # one 500 on her first reply
    said = await world.type(user, world.codes["DB001"])
    assert said[0] == world.catalog.plain("start.linked")
    assert said[-1].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
    )
    assert [state for state, _ in refused_then_accepted(world, user)] == [
        "refused",
        *["sent"] * len(said),
    ]
    assert len(set(said)) == len(said)  # nothing twice
    await world.type(user, "1")
    assert await rsvp_status(world, "DB001") is RsvpStatus.ATTENDING


async def test_a_delegate_whose_invitation_never_arrived_is_not_recorded_attending_by_a_blind_1(
    world: ZaloWorld,
) -> None:
    """Her code links her, but Zalo refuses the answer past the patience: the «1» she types
    because nothing came is not «Tham dự»; she gets the invitation, then is asked to choose."""
    user = world.fake.user("Chị Mai")
    refuse_past_patience(world, user)
    assert await world.type(user, world.codes["DB001"]) == []
    said = await world.type(user, "1")
    assert await rsvp_status(world, "DB001") is RsvpStatus.NO_ANSWER
    assert said[0] == world.catalog.plain("hint.resending")
    assert said[1] == world.catalog.plain("start.linked")
    assert said[-2].endswith(
        "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
    )
    assert said[-1].startswith("Lựa chọn «✅ Tham dự» chưa được thực hiện")
    await world.type(user, "1")
    assert await rsvp_status(world, "DB001") is RsvpStatus.ATTENDING


async def test_a_confirmation_whose_answer_was_lost_is_not_sent_again(world: ZaloWorld) -> None:
    """A timeout after the request went out: Zalo may have shown it, and has no idempotency
    key; a confirmation is not tried again, nor resent with her next message."""
    user = await world.linked("DB001", "Chị Mai")
    world.fake.fail_next("sendMessage", timeout=True, chat_id=user.id)
    assert await world.type(user, "1") == []  # (the fake dropped it; Zalo might not have)
    assert await rsvp_status(world, "DB001") is RsvpStatus.ATTENDING
    confirmation = to_text(world.catalog.html("rsvp.recorded_attending"))
    tried = [
        call
        for call in world.fake.calls_to("sendMessage")
        if call.params["text"].startswith(confirmation)
    ]
    assert [call.error for call in tried] == ["timeout"]  # tried once
    said = await world.type(user, "Cảm ơn")
    assert said and not any(text.startswith(confirmation) for text in said)
    assert said[0] != world.catalog.plain("hint.resending")


async def test_one_chat_s_next_message_waits_for_its_refused_reply_to_go_first(
    world: ZaloWorld,
) -> None:
    """Two messages of one chat arrive together; the first's answer is refused twice (500):
    the second's answer still comes after it."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    before = len(office.texts)
    world.fake.fail_next("sendMessage", times=2, chat_id=office.id)
    office.text("/thongbao")
    office.text(NOTICE)
    await world.settle()
    said = office.texts[before:]
    assert [text.split("\n")[0][:20] for text in said] == [
        "📢 Soạn thông báo"[:20],
        "Đề nghị đồng chí chọn đối tượng"[:20],
    ]


async def test_by_webhook_too_the_chat_s_next_message_waits_for_its_refused_reply(
    hooked: ZaloWorld,
) -> None:
    """Webhook mode: two POSTs of one chat at once, the first's answer refused twice (500);
    each POST is answered once its update is handled, and the answers come in order."""
    fake = hooked.fake
    office = fake.user("Chị Duyên (Văn phòng)")
    assert await fake.push(office.text(hooked.codes["NV02"])) == 200
    before = len(office.texts)
    fake.fail_next("sendMessage", times=2, chat_id=office.id)
    first, second = office.text("/thongbao"), office.text(NOTICE)
    assert await asyncio.gather(fake.push(first), fake.push(second)) == [200, 200]
    said = office.texts[before:]
    assert len(said) == 2
    assert said[0].startswith("📢 Soạn thông báo")
    assert said[1].startswith("Đề nghị đồng chí chọn đối tượng")


async def test_a_reply_zalo_refuses_for_good_is_not_sent_again_with_her_next_message(
    world: ZaloWorld,
) -> None:
    """A 400 is this message refused, not a busy platform: trying it again, now or with her
    next message, would be refused the same; her next answer comes alone."""
    user = await world.linked("DB001", "Chị Mai")
    world.fake.fail_next(
        "sendMessage", error_code=400, description="Bad Request: injected", chat_id=user.id
    )
    assert await world.type(user, "Xin chào") == []
    tried = len(world.fake.calls_to("sendMessage"))
    said = await world.type(user, "Xin chào")
    assert len(said) == 1 and said[0] != world.catalog.plain("hint.resending")
    assert len(world.fake.calls_to("sendMessage")) == tried + 1


async def test_after_a_restart_a_blind_1_on_a_menu_that_never_arrived_is_still_not_taken(
    world: ZaloWorld,
) -> None:
    """The texts kept to resend live in memory and go with a restart; the menu's unseen mark
    is in the database: her «1» is answered with the choices, not taken; the next «1» is."""
    user = world.fake.user("Chị Mai")
    refuse_past_patience(world, user)
    assert await world.type(user, world.codes["DB001"]) == []
    world.adapter.missed.clear()  # as after a restart
    said = await world.type(user, "1")
    assert said == [
        "Lựa chọn «✅ Tham dự» chưa được thực hiện: câu hỏi của bot chưa tới được đồng chí lúc"
        " đồng chí trả lời (Zalo tạm thời không nhận tin). Đề nghị đồng chí đọc lại câu hỏi ở trên"
        " rồi trả lời.\n\nTrả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử người dự thay"
    ]
    assert await rsvp_status(world, "DB001") is RsvpStatus.NO_ANSWER
    await world.type(user, "1")
    assert await rsvp_status(world, "DB001") is RsvpStatus.ATTENDING


async def test_a_menu_marked_unseen_is_still_superseded_by_a_newer_one_about_the_same_thing(
    world: ZaloWorld,
) -> None:
    """Review of s31: a choice marked unseen («nd:dr:…») read as a menu about «nd», so a newer
    post about a draft kept it beside itself as a menu about something else (and asked back a
    number both had) instead of superseding it, as a newer draft's post does."""
    office = await world.linked("NV02", "Chị Duyên (Văn phòng)")
    now = world.clock.now()
    sessions = world.services.ctx.sessions
    async with unit_of_work(sessions) as session:
        for data in (f"{MENU_UNSEEN}dr:ok:1", "dr:ok:2"):  # the older one marked unseen
            await queries.remember_menu(
                session, "zalo", office.id, [(Button("✅ Chốt bản", data),)],
                sent_first=(now, now - timedelta(minutes=1)),
            )  # fmt: skip
    async with sessions() as session:
        ident = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.chat_address == office.id)
        )
    assert ident is not None
    assert queries.stored_menus(ident.menu) == ((("✅ Chốt bản", "dr:ok:2"),),)


async def test_a_chat_whose_replies_keep_failing_does_not_hold_up_the_other_chats(
    world: ZaloWorld,
) -> None:
    """Review of s31: Zalo refuses Chị Mai's chat and she types on; her messages, each waiting
    behind her first one's retries, took every place of the poller's fetch, so Chị Lan's
    message, next at Zalo, was not even fetched. It is fetched and answered while Chị Mai's
    first answer still waits to be tried again."""
    mai = await world.linked("DB001", "Chị Mai")
    lan = await world.linked("DB002", "Chị Lan")
    retrying, go_on = asyncio.Event(), asyncio.Event()

    async def held(_seconds: float) -> None:  # her retry waits until the test lets it
        retrying.set()
        await go_on.wait()

    world.adapter.sleep = held
    world.fake.fail_next("sendMessage", chat_id=mai.id)  # a 500: tried again after a wait
    mai_before, lan_before = len(mai.texts), len(lan.texts)
    fetched = world.fake.returned
    typed = CHATS_IN_HAND + 8
    for _ in range(typed):
        mai.text("Xin chào")
    lan.text("Xin chào")
    await world.fake.wait_until(lambda: len(lan.texts) > lan_before)
    assert retrying.is_set() and len(mai.texts) == mai_before  # hers still waits
    assert world.fake.returned == fetched + typed + 1  # all of hers fetched, then Chị Lan's
    go_on.set()
    await world.settle()
    assert len(mai.texts) == mai_before + typed  # each of hers answered, once
    assert world.adapter.missed == {}


async def test_once_her_resend_gave_up_too_her_next_message_is_tried_once_not_for_a_minute(
    world: ZaloWorld,
) -> None:
    """Her answer, then its resend with her next message, each refused past the patience:
    Zalo has refused her chat for minutes. Her next message's texts are tried once (not
    waited for another minute, her later messages queued behind), kept again, and go with
    the next message once Zalo takes them."""
    user = await world.linked("DB001", "Chị Mai")
    refuse_past_patience(world, user)
    assert await world.type(user, "Xin chào") == []
    # The resend's header refused: the hint stays kept, the help is kept behind it untried.
    refuse_past_patience(world, user)
    assert await world.type(user, "/trogiup") == []
    world.fake.drop_faults("sendMessage", user.id)
    world.fake.fail_next("sendMessage", chat_id=user.id, times=50)  # 500s: retried on patience
    tried = len(world.fake.calls_to("sendMessage"))
    assert await world.type(user, "/lich") == []
    assert len(world.fake.calls_to("sendMessage")) == tried + 1  # one try, no retries
    world.fake.drop_faults("sendMessage", user.id)
    said = await world.type(user, "Xin chào")
    hint, helped = said[1], said[2]
    assert said[0] == world.catalog.plain("hint.resending")
    contact = world.services.config.office.contact
    assert helped == to_text(world.catalog.html("help.delegate", contact=contact))
    assert said[4] == hint and len(said) == 5  # hello, help, calendar, hello: in order


async def test_a_new_answer_does_not_overtake_the_texts_kept_before_it(world: ZaloWorld) -> None:
    """Review of s31: her answer kept, its resend refused past the patience again with her next
    message, yet that message's answer went (Zalo taking messages again a moment later): she
    read the answer to her latest message before the earlier one. It is kept behind them."""
    user = await world.linked("DB001", "Chị Mai")
    refuse_past_patience(world, user)
    assert await world.type(user, "Xin chào") == []  # (its answer: a hint)
    refuse_past_patience(world, user)  # the resend's first text only
    assert await world.type(user, "/trogiup") == []  # kept behind the hint, not sent
    said = await world.type(user, "Xin chào")
    assert said[0] == world.catalog.plain("hint.resending")
    assert said[1] == said[3]  # the hint, the help, the hint again
    assert said[2] != said[1] and len(said) == 4


async def stored_menus(world: ZaloWorld, user: FakeZaloUser) -> tuple[queries.Menu, ...]:
    async with world.services.ctx.sessions() as session:
        ident = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.chat_address == user.id)
        )
    assert ident is not None
    return queries.stored_menus(ident.menu)


async def test_a_menu_sent_again_is_the_one_her_next_number_answers(world: ZaloWorld) -> None:
    """Review of s31: her invitation refused past the patience, a draft's prompt then reached
    her (the outbox's), and the invitation came again with her next message — below the
    prompt, so the last choices she reads; yet a number was read against the prompt's. The
    menu sent again is stored again: her «1» is «Tham dự»."""
    user = world.fake.user("Chị Mai")
    refuse_past_patience(world, user)
    assert await world.type(user, world.codes["DB001"]) == []
    now = world.clock.now()
    async with unit_of_work(world.services.ctx.sessions) as session:  # as the outbox does
        await queries.remember_menu(
            session, "zalo", user.id, [(Button("✅ Chốt bản", "dr:ok:1"),)],
            sent_first=(now, now - timedelta(minutes=1)),
        )  # fmt: skip
    said = await world.type(user, "/trogiup")
    assert said[0] == world.catalog.plain("hint.resending")
    invitation = [
        (b.label, b.data)
        for row in rsvp_buttons(world.catalog, meeting=world.services.ctx.meeting_id)
        for b in row
    ]
    assert await stored_menus(world, user) == (tuple(invitation),)
    await world.type(user, "1")
    assert await rsvp_status(world, "DB001") is RsvpStatus.ATTENDING


async def test_a_blind_number_for_a_menu_that_came_with_another_gets_that_menu_s_choices(
    world: ZaloWorld,
) -> None:
    """Review of s31: the invitation's menu, marked unseen, stored beside a draft's prompt that
    came with it; her «3» (only the invitation has a third choice) was answered with the
    prompt's choices and no name for what she picked. She is told «👤 Cử người dự thay» was
    not carried out, with the invitation's choices; the prompt's menu is left as it was."""
    user = await world.linked("DB001", "Chị Mai")
    invitation = [
        b for row in rsvp_buttons(world.catalog, meeting=world.services.ctx.meeting_id) for b in row
    ]
    now = world.clock.now()
    async with unit_of_work(world.services.ctx.sessions) as session:
        for menu in (
            [(Button(b.label, MENU_UNSEEN + b.data),) for b in invitation],
            [(Button("✅ Chốt bản", "dr:ok:1"),)],
        ):
            await queries.remember_menu(
                session, "zalo", user.id, menu, sent_first=(now, now - timedelta(minutes=1))
            )
    said = await world.type(user, "3")
    assert said == [
        "Lựa chọn «👤 Cử người dự thay» chưa được thực hiện: câu hỏi của bot chưa tới được đồng"
        " chí lúc đồng chí trả lời (Zalo tạm thời không nhận tin). Đề nghị đồng chí đọc lại câu"
        " hỏi ở trên rồi trả lời.\n\nTrả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự · 3 – 👤 Cử"
        " người dự thay"
    ]
    assert await rsvp_status(world, "DB001") is RsvpStatus.NO_ANSWER


async def test_a_menu_whose_own_text_may_not_have_reached_her_stays_unseen_past_other_resends(
    world: ZaloWorld,
) -> None:
    """Review of s31: her status card (with the invitation's choices) timed out — it may not
    have reached her, so it is not sent again — while an earlier text was kept; that text
    resent cleared the card's mark, and a «1» typed blind was taken as «Tham dự». The mark
    goes only with the menu's own text reaching her."""
    user = await world.linked("DB001", "Chị Mai")
    refuse_past_patience(world, user)
    assert await world.type(user, "/trogiup") == []
    refuse_past_patience(world, user)
    world.fake.fail_next("sendMessage", timeout=True, chat_id=user.id)
    assert await world.type(user, "/trangthai") == []
    await world.type(user, "/trogiup")  # an answer without choices
    said = await world.type(user, "1")  # typed blind
    assert await rsvp_status(world, "DB001") is RsvpStatus.NO_ANSWER
    assert said[-1].startswith("Lựa chọn «✅ Tham dự» chưa được thực hiện")
    await world.type(user, "1")
    assert await rsvp_status(world, "DB001") is RsvpStatus.ATTENDING


async def test_an_answer_that_resends_another_chat_s_kept_menu_stores_it_for_that_chat(
    world: ZaloWorld,
) -> None:
    """Review of s32: an answer with a text for another chat sent that chat's kept texts again
    first, her status card with the invitation's choices among them, but threw away the menu
    they delivered: it stayed marked unseen and her «1», typed with the card before her, was
    asked back. It is stored for her chat: her «1» is «Tham dự»."""
    mai = await world.linked("DB001", "Chị Mai")
    lan = await world.linked("DB002", "Chị Lan")
    refuse_past_patience(world, lan)
    assert await world.type(lan, "/trangthai") == []  # her card kept, its menu unseen
    before = len(lan.texts)
    account = ChatAccount("zalo", mai.id, mai.id)
    event = Text(account=account, chat=Chat(mai.id), text="Xin chào")
    await world.adapter.answer(event, Answer((Reply(Outbound.text("Kính gửi"), to=lan.id),)))
    said = lan.texts[before:]
    assert said[0] == world.catalog.plain("hint.resending") and said[-1] == "Kính gửi"
    invitation = [
        (b.label, b.data)
        for row in rsvp_buttons(world.catalog, meeting=world.services.ctx.meeting_id)
        for b in row
    ]
    assert await stored_menus(world, lan) == (tuple(invitation),)
    await world.type(lan, "1")
    assert await rsvp_status(world, "DB002") is RsvpStatus.ATTENDING


async def test_a_menu_resent_before_the_core_fails_is_the_one_her_next_number_answers(
    world: ZaloWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review of s32: her status card kept, sent again with her next message; the core then
    failed on that message (she was told of the error), and the card's menu, which had reached
    her, stayed marked unseen: her «1» was asked back. It is stored: her «1» is «Tham dự»."""
    user = await world.linked("DB001", "Chị Mai")
    refuse_past_patience(world, user)
    assert await world.type(user, "/trangthai") == []

    async def fails(*_args: object) -> Answer:
        raise RuntimeError("the core failed")

    monkeypatch.setattr(world.adapter.inbox, "handle", fails)
    said = await world.type(user, "Xin chào")
    monkeypatch.undo()
    assert said[0] == world.catalog.plain("hint.resending")
    assert said[-1] == to_text(world.catalog.html("errors.unexpected"))
    await world.type(user, "1")
    assert await rsvp_status(world, "DB001") is RsvpStatus.ATTENDING
