"""A tap reaches the bot with the message its button was on reduced to where it is
(``handlers.telegram.receiving.reduced``): by polling, by the webhook, and in the tests' and the
rehearsal's own delivery. Telegram sends that whole message (the card's text, entities and
keyboard) with every tap, and turning it into PTB objects was about half of a tap's parse for a
card with entities (bench/README.md)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import Conflict
from telegram.request import BaseRequest

from bot.chat import Inbox
from bot.services import Services
from bot.texts import load_catalog
from handlers.telegram.app import build_application
from handlers.telegram.receiving import UpdatesRequest, WebhookReceiver, reduced, update_of
from rehearsal.telegram_api import FakeBotApi, FakeUser

CARD = "<b>Thư mời</b> dự Hội nghị sơ kết giữa nhiệm kỳ, <i>8 giờ ngày 25/12</i>."
ATTEND = InlineKeyboardMarkup([[InlineKeyboardButton("✅ Tham dự", callback_data="rsvp:attend")]])


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    """A bot whose poll goes through :class:`UpdatesRequest`, as ``build_application`` wires it."""
    bot = Bot(
        fake.token,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        request=fake.make_request(),
        get_updates_request=UpdatesRequest(fake.make_request()),
    )
    async with bot:
        yield bot


async def card_tap(bot: Bot, user: FakeUser) -> dict[str, Any]:
    """``user`` taps "✅ Tham dự" on the card ``bot`` sent them (Telegram's JSON of the tap)."""
    await bot.send_message(user.id, CARD, parse_mode="HTML", reply_markup=ATTEND)
    return user.tap("✅ Tham dự")


async def test_a_tap_keeps_only_its_messages_id_chat_and_date_and_its_json_is_left_as_it_was(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    tap = await card_tap(bot, an)
    sent = tap["callback_query"]["message"]
    assert {"text", "reply_markup", "from"} <= sent.keys()  # as Telegram sends it
    before = copy.deepcopy(tap)

    kept = reduced(tap)

    assert kept["callback_query"]["message"] == {
        "message_id": sent["message_id"],
        "chat": sent["chat"],
        "date": sent["date"],
    }
    assert {key: value for key, value in kept["callback_query"].items() if key != "message"} == {
        key: value for key, value in tap["callback_query"].items() if key != "message"
    }
    assert kept["update_id"] == tap["update_id"]
    assert tap == before


def test_a_topics_thread_is_kept_with_the_message_and_nothing_else_is() -> None:
    """PTB reads a message's thread only where the message says it is a topic's."""
    message = {"message_id": 7, "chat": {"id": -100, "type": "supergroup"}, "date": 5}
    tap = {
        "update_id": 1,
        "callback_query": {
            "id": "q",
            "from": {"id": 9, "is_bot": False, "first_name": "An"},
            "chat_instance": "i",
            "data": "d",
            "message": {**message, "message_thread_id": 3, "is_topic_message": True, "text": "x"},
        },
    }

    thread = {"message_thread_id": 3, "is_topic_message": True}
    assert reduced(tap)["callback_query"]["message"] == {**message, **thread}


@pytest.mark.parametrize(
    "update",
    [
        {
            "update_id": 1,
            "message": {"message_id": 2, "chat": {"id": 3}, "date": 4, "text": "chào"},
        },
        {"update_id": 1, "callback_query": {"id": "q", "inline_message_id": "m", "data": "d"}},
        {"update_id": 1, "callback_query": "not an object"},
        ["not", "an", "update"],
        None,
    ],
    ids=["a-message", "a-tap-without-its-message", "a-broken-tap", "a-list", "null"],
)
def test_anything_but_a_tap_with_its_message_passes_as_it_is(update: Any) -> None:
    assert reduced(update) is update


async def test_the_poll_gets_taps_reduced_and_every_other_update_whole(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    tap = await card_tap(bot, an)
    fake.enqueue(tap)
    fake.enqueue(an.text("chào"))

    got_tap, got_text = await bot.get_updates(timeout=0)

    query = got_tap.callback_query
    assert query is not None and isinstance(query.message, Message)
    assert query.message.is_accessible
    assert query.data == "rsvp:attend" and query.from_user.id == an.id
    assert query.message.message_id == tap["callback_query"]["message"]["message_id"]
    assert (query.message.chat.id, query.message.chat.type) == (an.id, "private")
    assert (query.message.text, query.message.reply_markup, query.message.from_user) == (
        None,
        None,
        None,
    )
    assert got_text.message is not None and got_text.message.text == "chào"


async def test_a_tap_keeps_its_messages_date_so_one_the_bot_cannot_see_stays_inaccessible(
    an: FakeUser, bot: Bot
) -> None:
    tap = await card_tap(bot, an)
    tap["callback_query"]["message"]["date"] = 0  # how Telegram marks it (the rest as sent)

    query = update_of(tap, bot).callback_query

    assert query is not None and query.message is not None
    assert query.message.is_accessible is False


class _Handled:
    """Stands in for the update processor: every update is handled at once."""

    def outcome(self, _update_id: int) -> asyncio.Future[bool]:
        done = asyncio.get_running_loop().create_future()
        done.set_result(True)
        return done


# A POST as Telegram makes it to the webhook of :func:`webhook`.
POSTED = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "s3cret"}


def webhook(bot: Bot) -> tuple[WebhookReceiver, asyncio.Queue[Any]]:
    """A webhook receiver for ``bot``, and the queue it hands the bot's updates to."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    receiver = WebhookReceiver(
        SimpleNamespace(bot=bot, update_queue=queue),  # type: ignore[arg-type]
        _Handled(),  # type: ignore[arg-type]
        listen="127.0.0.1",
        port=0,
        path="hook",
        url="https://hoinghi.example.vn/hook",
        secret="s3cret",
    )
    return receiver, queue


async def test_the_webhook_hands_the_bot_a_tap_reduced(an: FakeUser, bot: Bot) -> None:
    tap = await card_tap(bot, an)
    receiver, queue = webhook(bot)

    status = await receiver.answer(POSTED, json.dumps(tap).encode())

    assert status == 200
    query = queue.get_nowait().callback_query
    assert query.data == "rsvp:attend" and query.message.chat.id == an.id
    assert (query.message.text, query.message.reply_markup) == (None, None)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"an update"', b"{not json"])
async def test_a_webhook_post_that_is_no_update_is_answered_400(body: bytes, bot: Bot) -> None:
    receiver, queue = webhook(bot)

    assert await receiver.answer(POSTED, body) == 400
    assert queue.empty()


async def test_the_bot_of_build_application_gets_its_taps_reduced_from_its_poll(
    imported: Services, fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    catalog = load_catalog("vi")
    app = build_application(
        Inbox(imported, catalog),
        imported,
        catalog,
        fake.token,
        request=fake.make_request(),
        get_updates_request=fake.make_request(),
    )
    fake.enqueue(await card_tap(bot, an))

    async with app:
        [update] = await app.bot.get_updates(timeout=0)  # as the Poller asks

    query = update.callback_query
    assert query is not None and query.message is not None and query.data == "rsvp:attend"
    assert (query.message.chat.id, query.message.text) == (an.id, None)


class _Answers(BaseRequest):
    """A poll's request that answers every call with ``status`` and ``body``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.answer = (status, json.dumps(body).encode())

    @property
    def read_timeout(self) -> float | None:
        return 7.5

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        return self.answer


async def test_the_polls_timeout_and_telegrams_refusals_are_its_inner_requests() -> None:
    conflict = {
        "ok": False,
        "error_code": 409,
        "description": "Conflict: terminated by other getUpdates request",
    }
    inner = _Answers(409, conflict)
    request = UpdatesRequest(inner)
    bot = Bot(
        "123:abc", request=_Answers(200, {"ok": True, "result": True}), get_updates_request=request
    )

    assert request.read_timeout == 7.5
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await bot.get_updates(timeout=0)
