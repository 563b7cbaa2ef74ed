"""``bench/load.py`` over HTTP talks to a copy of its fake served from a process of its own
(``bench.fake_server.ServedCopy``): the copy knows the users, their cards and the taps made
before it started, enforces Telegram's limits, and says afterwards what the bot asked of it."""

from __future__ import annotations

import asyncio

from telegram import Bot

from bench.fake_server import ServedCopy
from handlers.telegram.request import new_request
from tests.fakes.telegram_api import FakeBotApi


async def test_a_served_copy_answers_taps_made_before_it_and_reports_the_bots_requests() -> None:
    fake = FakeBotApi()
    an = fake.user(1001, "An")
    async with fake.make_bot() as bot:
        card = {"inline_keyboard": [[{"text": "✅ Tham dự", "callback_data": "rsvp:attend"}]]}
        await bot.send_message(an.id, "Giấy mời", reply_markup=card)
    tap = an.tap("✅ Tham dự")["callback_query"]

    served = await asyncio.to_thread(ServedCopy, fake, 0.0)
    try:
        request = new_request("aiohttp")
        async with Bot(fake.token, base_url=served.base_url, request=request) as over_http:
            assert await over_http.answer_callback_query(tap["id"], "Đã ghi nhận")
            await over_http.send_message(an.id, "Đồng chí đã xác nhận tham dự.")
        seen = await asyncio.to_thread(served.observed)
    finally:
        await asyncio.to_thread(served.close)

    assert [(call.method, call.error) for call in seen.calls] == [
        ("getMe", None),
        ("answerCallbackQuery", None),
        ("sendMessage", None),
    ]
    assert seen.calls[1].params["text"] == "Đã ghi nhận"
    assert (seen.rate_limited, seen.violations, seen.connections) == (0, (), 1)
    # The copy is the copy's: the fake the bench keeps saw none of it.
    assert [call.method for call in fake.calls] == ["getMe", "sendMessage"]
