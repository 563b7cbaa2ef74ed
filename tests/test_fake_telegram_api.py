"""The fake Bot API, driven through the real python-telegram-bot HTTP stack."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import warnings
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, RetryAfter, TimedOut
from telegram.ext import (
    ApplicationBuilder,
    CallbackContext,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from tests.fakes.telegram_api import FakeBotApi, FakeUser, SpecViolation, deliver

RSVP_KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Có mặt", callback_data="rsvp:yes")],
        [InlineKeyboardButton("Vắng", callback_data="rsvp:no")],
    ]
)


async def raw_request(bot: Bot, method: str, params: dict[str, Any]) -> Any:
    """Call ``method`` bypassing PTB's typed wrappers, to send what PTB itself never would."""
    with warnings.catch_warnings():
        # PTB nags that a typed method exists; bypassing it is the point here.
        warnings.simplefilter("ignore", PTBUserWarning)
        return await bot.do_api_request(method, api_kwargs=params)


@pytest.fixture
def fake() -> FakeBotApi:
    return FakeBotApi()


@pytest.fixture
def an(fake: FakeBotApi) -> FakeUser:
    return fake.user(1001, "An", last_name="Nguyễn", username="an_nguyen")


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    async with fake.make_bot() as bot:
        yield bot


async def test_sent_message_is_recorded_and_visible_in_the_chat(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    sent = await bot.send_message(
        an.id, "<b>Xin chào</b> An &amp; Bình", parse_mode="HTML", reply_markup=RSVP_KEYBOARD
    )

    assert sent.message_id == 1
    assert sent.text == "Xin chào An & Bình"
    assert [call.params for call in fake.calls_to("sendMessage")] == [
        {
            "chat_id": 1001,
            "text": "<b>Xin chào</b> An &amp; Bình",
            "parse_mode": "HTML",
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": "Có mặt", "callback_data": "rsvp:yes"}],
                    [{"text": "Vắng", "callback_data": "rsvp:no"}],
                ]
            },
        }
    ]
    [stored] = fake.messages_to(an.id)
    assert {k: v for k, v in stored.items() if k != "date"} == {
        "message_id": 1,
        "from": {
            "id": 123456,
            "is_bot": True,
            "first_name": "Hội nghị (test)",
            "username": "hoinghi_test_bot",
        },
        "chat": {
            "id": 1001,
            "type": "private",
            "first_name": "An",
            "last_name": "Nguyễn",
            "username": "an_nguyen",
        },
        "text": "Xin chào An & Bình",
        "reply_markup": fake.calls[-1].params["reply_markup"],
    }
    assert an.last_text() == "Xin chào An & Bình"
    fake.assert_no_violations()


async def test_message_ids_increase_per_chat(fake: FakeBotApi, an: FakeUser, bot: Bot) -> None:
    binh = fake.user(1002, "Bình")
    an.text("chào bot")  # the user's own message takes id 1 in this private chat

    ids = [
        (await bot.send_message(an.id, "1")).message_id,
        (await bot.send_message(binh.id, "2")).message_id,
        (await bot.send_message(an.id, "3")).message_id,
    ]

    assert ids == [2, 1, 3]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<b>Ngô & Co</b>", "bare '&' at offset 7 is not an entity (escape it as &amp;)"),
        ("Điểm < 5", "'<' at offset 5 does not start a tag (escape it as &lt;)"),
        ("<b>Ngô", 'can\'t find end tag for "b"'),
        ("<b><i>x</b></i>", 'unexpected end tag "b" at offset 7'),
        ("<div>x</div>", 'unsupported tag "div" at offset 0'),
        ('<span class="x">x</span>', 'tag "span" at offset 0 needs class="tg-spoiler"'),
    ],
)
async def test_malformed_telegram_html_is_a_violation(
    fake: FakeBotApi, an: FakeUser, bot: Bot, text: str, reason: str
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(an.id, text, parse_mode="HTML")

    assert fake.violations == [f"sendMessage: Bad Request: can't parse entities: {reason}"]
    assert fake.messages_to(an.id) == []


async def test_unescaped_user_name_is_a_violation_but_escaped_one_is_fine(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    name = "<b>Ngô & Co"

    with pytest.raises(BadRequest):
        await bot.send_message(an.id, f"Chào {name}", parse_mode="HTML")
    sent = await bot.send_message(an.id, "Chào &lt;b&gt;Ngô &amp; Co", parse_mode="HTML")

    assert len(fake.violations) == 1
    assert sent.text == "Chào <b>Ngô & Co"


async def test_text_length_is_counted_after_html_parsing(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    await bot.send_message(an.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(an.id, "&amp;" * 4096, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message text is too long"):
        await bot.send_message(an.id, "<i>" + "a" * 4097 + "</i>", parse_mode="HTML")

    assert fake.violations == [
        "sendMessage: Bad Request: message text is too long: "
        "4097 characters after entities parsing, max 4096"
    ]
    assert [len(m["text"]) for m in an.messages] == [4096, 4096]


async def test_empty_text_after_parsing_is_a_violation(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(an.id, "<b> </b>", parse_mode="HTML")

    assert fake.violations == ["sendMessage: Bad Request: message text is empty"]


async def test_caption_longer_than_1024_characters_is_a_violation(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    with pytest.raises(BadRequest):
        await bot.send_document(an.id, b"x", filename="a.txt", caption="c" * 1025)

    assert fake.violations == [
        "sendDocument: Bad Request: message caption is too long: "
        "1025 characters after entities parsing, max 1024"
    ]


async def test_captions_are_parsed_as_telegram_html_like_texts(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_document(an.id, b"x", filename="a.txt", caption="Tệp <1>", parse_mode="HTML")
    await bot.send_document(
        an.id, b"x", filename="a.txt", caption="<b>Ngô</b> &amp; Co", parse_mode="HTML"
    )
    await bot.send_document(an.id, b"x", filename="a.txt", caption="Tệp <1> & Co")

    assert fake.violations == [
        "sendDocument: Bad Request: can't parse entities: '<' at offset 4 does not start a tag "
        "(escape it as &lt;)"
    ]
    assert [m["caption"] for m in an.messages] == ["Ngô & Co", "Tệp <1> & Co"]


async def test_captions_inside_a_media_group_are_checked_like_any_caption(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    file_id = (await bot.send_document(an.id, b"x", filename="a.txt")).document.file_id

    def group(caption: str) -> list[InputMediaDocument]:
        return [InputMediaDocument(file_id, caption=caption, parse_mode="HTML")] * 2

    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_media_group(an.id, group("<a href='x'>"))
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_media_group(an.id, group("<b>" + "c" * 1025 + "</b>"))
    await bot.send_media_group(an.id, group("<b>" + "c" * 1024 + "</b>"))

    assert fake.violations == [
        "sendMediaGroup: Bad Request: can't parse entities: can't find end tag for \"a\"",
        "sendMediaGroup: Bad Request: media[0] caption is too long: "
        "1025 characters after entities parsing, max 1024",
    ]


async def test_callback_data_is_limited_to_64_utf8_bytes(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    fits = "ư" * 32  # 32 characters, 64 bytes
    too_long = "a" + fits  # 33 characters, 65 bytes

    await bot.send_message(
        an.id,
        "ok",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data=fits)]]),
    )
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(
            an.id,
            "no",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("x", callback_data=too_long)]]
            ),
        )

    assert fake.violations == [
        "sendMessage: Bad Request: BUTTON_DATA_INVALID: "
        "reply_markup.inline_keyboard[0][0].callback_data is 65 bytes, must be 1-64"
    ]


async def test_button_without_action_and_unknown_button_field_are_violations(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    markups: list[Any] = [
        {"inline_keyboard": [[{"text": "Trống"}]]},
        {"inline_keyboard": [[{"text": "x", "callback_data": "a", "colour": "red"}]]},
        {"keyboard": [[{"text": ""}]]},
    ]
    for markup in markups:
        with pytest.raises(BadRequest):
            await raw_request(
                bot, "sendMessage", {"chat_id": an.id, "text": "t", "reply_markup": markup}
            )

    assert fake.violations == [
        "sendMessage: Bad Request: reply_markup.inline_keyboard[0][0]: "
        "a button needs exactly one action field, got []",
        "sendMessage: Bad Request: reply_markup.inline_keyboard[0][0]: "
        "unknown field(s) ['colour'] in InlineKeyboardButton",
        "sendMessage: Bad Request: reply_markup.keyboard[0][0]: keyboard button text is empty",
    ]


async def test_unknown_parameter_is_a_violation(fake: FakeBotApi, an: FakeUser, bot: Bot) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(an.id, "hi", api_kwargs={"bogus": 1})

    assert fake.violations == [
        "sendMessage: Bad Request: unknown parameter 'bogus' for sendMessage"
    ]
    assert fake.calls_to("sendMessage")[0].params["bogus"] == 1
    with pytest.raises(SpecViolation, match="1 Bot API violation"):
        fake.assert_no_violations()


async def test_missing_required_parameter_is_a_violation(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    with pytest.raises(BadRequest):
        await raw_request(bot, "sendMessage", {"chat_id": an.id})

    assert fake.violations == [
        "sendMessage: Bad Request: parameter 'text' is required for sendMessage"
    ]


async def test_unknown_method_is_a_violation_answered_404(fake: FakeBotApi, bot: Bot) -> None:
    # PTB turns the real server's 404 into InvalidToken, and do_api_request into this.
    with pytest.raises(EndPointNotFound):
        await raw_request(bot, "sendTeleport", {"chat_id": 1})

    assert fake.violations == ["sendTeleport: unknown method 'sendTeleport'"]


async def test_sending_to_an_unknown_chat_is_a_violation(fake: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "hi")

    assert fake.violations == ["sendMessage: Bad Request: chat not found: 424242"]


async def test_injected_429_arrives_as_retry_after(
    fake: FakeBotApi, an: FakeUser, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # opt in to PTB's non-deprecated timedelta
    fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 7", retry_after=7
    )

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(an.id, "hi")
    retried = await bot.send_message(an.id, "hi")

    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    assert retried.message_id == 1
    assert [call.error_code for call in fake.calls_to("sendMessage")] == [429, None]
    fake.assert_no_violations()


async def test_injected_403_arrives_as_forbidden(fake: FakeBotApi, an: FakeUser, bot: Bot) -> None:
    fake.fail_next("sendMessage", error_code=403, description="Forbidden: user is deactivated")

    with pytest.raises(Forbidden, match=r"(?i)Forbidden: user is deactivated"):
        await bot.send_message(an.id, "hi")


async def test_injected_failure_does_not_hide_a_violation(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    fake.fail_next("sendMessage", error_code=500, description="Internal Server Error")

    with pytest.raises(Exception, match="Internal Server Error"):
        await bot.send_message(an.id, "1 < 2", parse_mode="HTML")

    assert len(fake.violations) == 1


async def test_injected_timeout_arrives_as_timed_out(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    fake.fail_next("sendMessage", timeout=True)

    with pytest.raises(TimedOut):
        await bot.send_message(an.id, "hi")

    assert fake.calls_to("sendMessage")[0].error == "timeout"
    assert fake.messages_to(an.id) == []


async def test_blocked_user_arrives_as_forbidden_and_is_not_a_violation(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    update = fake.block(an.id)

    with pytest.raises(Forbidden, match=r"(?i)Forbidden: bot was blocked by the user"):
        await bot.send_message(an.id, "hi")

    member = Update.de_json(update, bot).my_chat_member
    assert member is not None
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("member", "kicked")
    fake.assert_no_violations()


async def test_tap_produces_callback_query_carrying_the_button_data(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    sent = await bot.send_message(an.id, "Bạn có tham dự?", reply_markup=RSVP_KEYBOARD)

    update = Update.de_json(an.tap("Vắng"), bot)

    query = update.callback_query
    assert query is not None
    assert query.data == "rsvp:no"
    assert query.from_user is not None and query.from_user.id == an.id
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert await query.answer("Đã ghi nhận") is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer()  # as for a redelivered update: refused, but not a bot bug
    assert fake.violations == []


async def test_tap_on_a_missing_button_lists_the_available_ones(an: FakeUser, bot: Bot) -> None:
    await bot.send_message(an.id, "Bạn có tham dự?", reply_markup=RSVP_KEYBOARD)

    with pytest.raises(LookupError, match=r"available: \['Có mặt', 'Vắng'\]"):
        an.tap("Có")


async def test_edit_updates_the_stored_message_and_drops_its_keyboard_when_omitted(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    sent = await bot.send_message(an.id, "Bạn có tham dự?", reply_markup=RSVP_KEYBOARD)

    await bot.edit_message_text("Đã trả lời: có", chat_id=an.id, message_id=sent.message_id)

    [current] = an.messages
    assert current["text"] == "Đã trả lời: có"
    assert "reply_markup" not in current
    assert "edit_date" in current
    fake.assert_no_violations()


async def test_identical_edit_is_refused_as_not_modified_without_a_violation(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    sent = await bot.send_message(an.id, "Giữ nguyên")

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Giữ nguyên", chat_id=an.id, message_id=sent.message_id)

    fake.assert_no_violations()


async def test_editing_a_message_that_never_existed_is_a_violation(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    with pytest.raises(BadRequest):
        await bot.edit_message_text("x", chat_id=an.id, message_id=99)

    assert fake.violations == [
        "editMessageText: Bad Request: message to edit not found: 99 never existed in 1001"
    ]


async def test_get_updates_long_poll_returns_an_update_enqueued_while_waiting(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.wait_for(fake.wait_for_poller(), timeout=5)
    update = an.text("chào")

    fake.enqueue(update)
    updates = await asyncio.wait_for(poll, timeout=5)

    assert [u.update_id for u in updates] == [update["update_id"]]
    assert updates[0].message is not None and updates[0].message.text == "chào"
    # Asking from the next offset confirms the update, so nothing is left.
    assert await bot.get_updates(offset=update["update_id"] + 1, timeout=0) == ()


async def test_send_document_captures_the_uploaded_bytes(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    content = b"%PDF-1.7 chuong trinh"

    sent = await bot.send_document(an.id, content, filename="chuong-trinh.pdf", caption="Lịch")

    [call] = fake.calls_to("sendDocument")
    assert call.files == {"document": content}
    assert call.params == {"chat_id": 1001, "caption": "Lịch"}
    assert sent.document is not None and sent.document.file_name == "chuong-trinh.pdf"
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content


async def test_document_sent_by_a_user_can_be_downloaded_by_the_bot(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    content = b"PK\x03\x04 danh sach dai bieu"
    update = an.document("dai-bieu.xlsx", content, "application/vnd.ms-excel")

    file_id = update["message"]["document"]["file_id"]
    telegram_file = await bot.get_file(file_id)

    assert bytes(await telegram_file.download_as_bytearray()) == content
    fake.assert_no_violations()


async def test_share_contact_of_someone_else_carries_a_different_user_id(an: FakeUser) -> None:
    own = an.share_contact("+84901234567")["message"]["contact"]
    other = an.share_contact("+84907654321", own=False)["message"]["contact"]

    assert own["user_id"] == an.id
    assert other["user_id"] != an.id


async def test_deliver_runs_a_real_application_handler(fake: FakeBotApi, an: FakeUser) -> None:
    async def start(update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"args={context.args}")

    app = fake.wire(ApplicationBuilder()).build()
    app.add_handler(CommandHandler("start", start))

    async with app:
        await deliver(app, an.command("/start abc"))

    assert an.last_text() == "args=['abc']"
    fake.assert_no_violations()


async def test_polling_application_answers_an_enqueued_update(
    fake: FakeBotApi, an: FakeUser
) -> None:
    handled = asyncio.Event()

    async def echo(update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Bạn nói: {update.effective_message.text}")
        handled.set()

    app = fake.wire(ApplicationBuilder()).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=30)
        await app.start()
        fake.enqueue(an.text("xin chào"))
        await asyncio.wait_for(handled.wait(), timeout=5)
        await app.updater.stop()
        await app.stop()
        # The updater confirmed the update on shutdown, so the queue is drained.
        assert (await app.bot.get_webhook_info()).pending_update_count == 0

    assert an.last_text() == "Bạn nói: xin chào"
    fake.assert_no_violations()


async def test_reply_keyboard_is_tracked_as_chat_state_not_echoed_in_the_message(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    share = ReplyKeyboardMarkup([[KeyboardButton("Gửi số điện thoại", request_contact=True)]])

    sent = await bot.send_message(an.id, "Xin số điện thoại", reply_markup=share)
    shown = an.reply_keyboard
    await bot.send_message(an.id, "Cảm ơn", reply_markup=ReplyKeyboardRemove())

    assert sent.reply_markup is None
    assert shown == {"keyboard": [[{"text": "Gửi số điện thoại", "request_contact": True}]]}
    assert an.reply_keyboard is None
    fake.assert_no_violations()


async def test_my_commands_round_trip_per_language_and_invalid_names_are_violations(
    fake: FakeBotApi, bot: Bot
) -> None:
    await bot.set_my_commands([BotCommand("start", "Bắt đầu")], language_code="vi")
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("Lich-hop", "Lịch họp")])

    assert await bot.get_my_commands(language_code="vi") == (BotCommand("start", "Bắt đầu"),)
    assert await bot.get_my_commands() == ()
    assert fake.violations == [
        "setMyCommands: Bad Request: BOT_COMMAND_INVALID: commands[0].command 'Lich-hop'"
    ]


async def test_group_command_reaches_the_bot_from_the_group_chat(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    group = fake.group(-1001234567890, "Ban tổ chức")

    update = Update.de_json(group.command(an, "/agenda@hoinghi_test_bot ngày 2"), bot)
    assert update.message is not None
    await update.message.reply_text("Chương trình ngày 2")

    assert update.message.chat.type == "supergroup"
    assert update.message.from_user is not None and update.message.from_user.id == an.id
    assert group.last_text() == "Chương trình ngày 2"
    assert an.messages == []


async def test_spec_path_decides_which_methods_exist(tmp_path: Path) -> None:
    spec = tmp_path / "api.json"
    get_me = {"name": "getMe", "returns": ["User"], "fields": []}
    spec.write_text(json.dumps({"methods": {"getMe": get_me}, "types": {}}), encoding="utf-8")
    fake = FakeBotApi(spec_path=spec)
    fake.user(1001, "An")

    async with fake.make_bot() as bot:
        with pytest.raises(EndPointNotFound):
            await raw_request(bot, "sendMessage", {"chat_id": 1001, "text": "hi"})

    assert fake.violations == ["sendMessage: unknown method 'sendMessage'"]


# --- flood limits ----------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> FakeBotApi:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # RetryAfter.retry_after as a timedelta
    return FakeBotApi(enforce_limits=True, clock=clock)


@pytest.fixture
async def limited_bot(limited: FakeBotApi) -> AsyncIterator[Bot]:
    async with limited.make_bot() as bot:
        yield bot


async def test_31st_message_in_one_second_is_refused_with_retry_after_1_and_not_stored(
    limited: FakeBotApi, limited_bot: Bot
) -> None:
    users = [limited.user(2001 + n, f"Đại biểu {n}") for n in range(31)]
    for user in users[:30]:
        await limited_bot.send_message(user.id, "Giấy mời")

    with pytest.raises(RetryAfter) as caught:
        await limited_bot.send_message(users[30].id, "Giấy mời")

    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    assert users[30].messages == []
    assert limited.rate_limited == 1
    assert limited.calls_to("sendMessage")[-1].error_code == 429
    assert limited.calls_to("sendMessage")[-1].error == "Too Many Requests: retry after 1"
    assert limited.sent_counts() == Counter({user.id: 1 for user in users[:30]})
    limited.assert_no_violations()


async def test_fourth_quick_message_to_a_private_chat_is_refused_until_a_second_passes(
    limited: FakeBotApi, limited_bot: Bot, clock: FakeClock
) -> None:
    an = limited.user(1001, "An")
    for n in range(3):
        await limited_bot.send_message(an.id, f"Tin {n}")

    with pytest.raises(RetryAfter) as caught:
        await limited_bot.send_message(an.id, "Tin 3")
    clock.advance(1)
    await limited_bot.send_message(an.id, "Tin 3 (gửi lại)")

    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    assert [m["text"] for m in an.messages] == ["Tin 0", "Tin 1", "Tin 2", "Tin 3 (gửi lại)"]
    assert [call.error_code for call in limited.calls_to("sendMessage")] == [
        None,
        None,
        None,
        429,
        None,
    ]
    assert limited.rate_limited == 1


async def test_21st_message_to_a_group_within_60_seconds_waits_for_the_oldest_to_expire(
    limited: FakeBotApi, limited_bot: Bot, clock: FakeClock
) -> None:
    group = limited.group(-1001234567890, "Ban tổ chức")
    for n in range(20):  # one a second: t = 0 … 19
        await limited_bot.send_message(group.id, f"Tin {n}")
        clock.advance(1)
    clock.advance(5)  # t = 25; the first message (t = 0) leaves the window at t = 60

    with pytest.raises(RetryAfter) as caught:
        await limited_bot.send_message(group.id, "Tin 20")
    clock.advance(35)
    await limited_bot.send_message(group.id, "Tin 20 (gửi lại)")

    assert caught.value.retry_after == dtm.timedelta(seconds=35)
    assert len(group.messages) == 21
    assert group.last_text() == "Tin 20 (gửi lại)"
    assert limited.rate_limited == 1


async def test_a_chat_over_its_own_limit_is_refused_until_retry_after_and_no_other_chat_is(
    limited: FakeBotApi, limited_bot: Bot, clock: FakeClock
) -> None:
    group = limited.group(-1001234567890, "Ban tổ chức")
    an = limited.user(1001, "An")
    for n in range(20):
        await limited_bot.send_message(group.id, f"Tin {n}")
    clock.advance(25)
    with pytest.raises(RetryAfter) as first:
        await limited_bot.send_message(group.id, "Tin 20")
    clock.advance(5)

    # The group's own limit: the bot ignored retry_after there, 30 of 35 s remain; An's chat
    # is under every limit, and Telegram refuses only the chat that went over.
    with pytest.raises(RetryAfter) as penalty:
        await limited_bot.send_message(group.id, "Tin 20")
    await limited_bot.send_message(an.id, "Chào An")

    assert first.value.retry_after == dtm.timedelta(seconds=35)
    assert penalty.value.retry_after == dtm.timedelta(seconds=30)
    assert limited.rate_limited == 2
    assert [m["text"] for m in an.messages] == ["Chào An"]
    assert limited.sent_counts() == Counter({group.id: 20, an.id: 1})


async def test_sending_to_any_chat_during_the_overall_retry_after_penalty_is_refused(
    limited: FakeBotApi, limited_bot: Bot, clock: FakeClock
) -> None:
    users = [limited.user(2001 + n, f"Đại biểu {n}") for n in range(31)]
    an = limited.user(1001, "An")
    for user in users[:30]:
        await limited_bot.send_message(user.id, "Giấy mời")
    with pytest.raises(RetryAfter):
        await limited_bot.send_message(users[30].id, "Giấy mời")
    clock.advance(0.5)
    # The window has room again at t = 1; the bot ignored retry_after, so every chat waits.
    with pytest.raises(RetryAfter) as penalty:
        await limited_bot.send_message(an.id, "Chào An")
    clock.advance(0.5)
    await limited_bot.send_message(an.id, "Chào An")

    assert penalty.value.retry_after == dtm.timedelta(seconds=1)
    assert limited.rate_limited == 2
    assert [m["text"] for m in an.messages] == ["Chào An"]


async def test_limits_are_off_by_default(fake: FakeBotApi, an: FakeUser, bot: Bot) -> None:
    for n in range(100):
        await bot.send_message(an.id, f"Tin {n}")

    assert len(an.messages) == 100
    assert fake.rate_limited == 0
    assert fake.sent_counts() == Counter({an.id: 100})


async def test_sent_counts_count_only_delivered_messages(
    limited: FakeBotApi, limited_bot: Bot
) -> None:
    an = limited.user(1001, "An")
    binh = limited.user(1002, "Bình")
    group = limited.group(-100, "Tổ thư ký")
    limited.block(binh.id)
    incoming = an.text("Cho tôi xin chương trình")

    await limited_bot.send_document(an.id, b"%PDF", filename="chuong-trinh.pdf")
    await limited_bot.copy_message(group.id, an.id, incoming["message"]["message_id"])
    await limited_bot.send_chat_action(an.id, "typing")  # a status, not a message
    with pytest.raises(BadRequest):
        await limited_bot.send_message(an.id, "<b>unclosed", parse_mode="HTML")
    with pytest.raises(Forbidden):
        await limited_bot.send_message(binh.id, "Giấy mời")
    await limited_bot.send_message(an.id, "Tin 2")
    await limited_bot.send_message(an.id, "Tin 3")
    with pytest.raises(RetryAfter):
        await limited_bot.send_message(an.id, "Tin 4")

    assert limited.sent_counts() == Counter({an.id: 3, group.id: 1})
    assert limited.violations == [
        "sendMessage: Bad Request: can't parse entities: can't find end tag for \"b\""
    ]


def test_the_shipped_bot_api_spec_is_the_official_list_beside_the_repository() -> None:
    from rehearsal.telegram_api import DEFAULT_SPEC_PATH

    shared = Path(__file__).resolve().parents[2] / "shared" / "telegram-bot-api" / "api.min.json"
    if not shared.exists():
        pytest.skip("the shared copy of api.min.json is not beside this checkout")
    assert DEFAULT_SPEC_PATH.read_bytes() == shared.read_bytes()
