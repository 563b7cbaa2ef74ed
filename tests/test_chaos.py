"""A bad day of the Bot API: the fake's seeded chaos, and the bot retrying its own replies.

``FakeBotApi.chaos`` answers calls at random (from a seed) with 502, timeouts and bursts of
429; ``RetryingRateLimiter`` makes the bot's replies survive them while the outbox keeps its
own retry policy. Nothing here sleeps: the limiter waits on a ``VirtualTime``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ExtBot

from handlers.telegram.limiter import RetryingRateLimiter
from rehearsal.telegram_api import CHAOS_EXEMPT, Chaos
from schedules.ratelimit import Pacer, VirtualTime
from storage.models import Delegate, Rsvp
from tests.fakes.telegram_api import FakeBotApi, FakeUser
from tests.harness import OFFICE_CHAT, BotHarness


class Scripted(random.Random):
    """A random source that plays back the given rolls, for faults at chosen calls."""

    def __init__(self, *rolls: float) -> None:
        super().__init__()
        self.rolls = list(rolls)

    def random(self) -> float:
        return self.rolls.pop(0)


@pytest.fixture
async def bot(fake: FakeBotApi) -> AsyncIterator[Bot]:
    """A bare Bot, as the outbox's sender has: no limiter, no retries."""
    async with fake.make_bot() as bot:
        yield bot


@pytest.fixture
def time() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def app(fake: FakeBotApi, time: VirtualTime) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """An application whose bot retries through ``RetryingRateLimiter`` in virtual time."""
    limiter = RetryingRateLimiter(max_retries=3, now=time.monotonic, sleep=time.sleep)
    application = fake.wire(ApplicationBuilder()).rate_limiter(limiter).build()
    async with application:
        yield application


def limiter_of(app: Application) -> RetryingRateLimiter:  # type: ignore[type-arg]
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, RetryingRateLimiter)
    return limiter


def outcomes(fake: FakeBotApi) -> list[object]:
    """Per call the bot made (bar getMe), the error code, "timeout", or None for success."""
    return [
        call.error_code or call.error
        for call in fake.calls
        if call.method not in ("getMe", "getUpdates")
    ]


# --- the fake's chaos ----------------------------------------------------------------------------


def test_chaos_injects_each_kind_at_about_its_rate() -> None:
    chaos = Chaos(random.Random(8), error_rate=0.10, timeout_rate=0.03, burst_rate=0.01)
    calls = 20_000
    faults = [chaos.roll("sendMessage") for _ in range(calls)]

    # A burst of 3 takes no roll for its last two calls: 20,000 calls take about 19,608 rolls.
    rolls = calls / (1 + 2 * 0.01)
    assert chaos.rolls == calls
    assert abs(chaos.injected["5xx"] - 0.10 * rolls) < 0.1 * 0.10 * rolls
    assert abs(chaos.injected["timeout"] - 0.03 * rolls) < 0.15 * 0.03 * rolls
    assert chaos.injected["429"] % 3 == 0  # whole bursts (the last one ended within the run)
    assert abs(chaos.injected["429"] / 3 - 0.01 * rolls) < 0.2 * 0.01 * rolls
    assert sum(fault is not None for fault in faults) == chaos.total
    assert chaos.by_method == Counter({("sendMessage", k): n for k, n in chaos.injected.items()})


def test_the_same_seed_gives_the_same_faults_to_the_same_calls() -> None:
    first, second = Chaos(random.Random(60)), Chaos(random.Random(60))
    methods = ["sendMessage", "answerCallbackQuery", "sendDocument"] * 300

    assert [first.roll(m) for m in methods] == [second.roll(m) for m in methods]
    assert first.injected == second.injected and first.total > 0


def test_chaos_refuses_rates_that_cannot_be_rolled() -> None:
    with pytest.raises(ValueError, match="add up to at most 1"):
        Chaos(random.Random(1), error_rate=0.8, timeout_rate=0.3)
    with pytest.raises(ValueError, match="at least 0"):
        Chaos(random.Random(1), burst_rate=-0.1)
    with pytest.raises(ValueError, match="burst"):
        Chaos(random.Random(1), burst_length=0)


async def test_a_5xx_from_chaos_arrives_as_network_error_and_sends_nothing(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    chaos = fake.chaos(random.Random(1), error_rate=1.0, timeout_rate=0.0, burst_rate=0.0)

    with pytest.raises(NetworkError, match="Bad Gateway") as caught:
        await bot.send_message(an.id, "hi")

    assert not isinstance(caught.value, BadRequest)
    assert fake.calls_to("sendMessage")[0].error_code == 502
    assert an.messages == []
    assert chaos.injected == Counter({"5xx": 1})


async def test_a_timeout_from_chaos_arrives_as_timed_out_before_anything_is_sent(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    chaos = fake.chaos(random.Random(1), error_rate=0.0, timeout_rate=1.0, burst_rate=0.0)

    with pytest.raises(TimedOut):
        await bot.send_message(an.id, "hi")

    assert fake.calls_to("sendMessage")[0].error == "timeout"
    assert an.messages == []
    assert chaos.injected == Counter({"timeout": 1})


async def test_a_burst_answers_429_to_the_next_calls_of_any_method_then_ends(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    # 0.135 falls in the burst band (after 0.10 for 5xx and 0.03 for timeouts); 0.5 in none.
    chaos = fake.chaos(Scripted(0.135, 0.5), burst_length=3, burst_retry_after=2)

    for send in (
        lambda: bot.send_message(an.id, "1"),
        lambda: bot.send_chat_action(an.id, "typing"),
        lambda: bot.send_message(an.id, "2"),
    ):
        with pytest.raises(RetryAfter):
            await send()
    sent = await bot.send_message(an.id, "3")

    assert outcomes(fake) == [429, 429, 429, None]
    assert {call.error for call in fake.calls[-4:-1]} == {"Too Many Requests: retry after 2"}
    assert [m["text"] for m in an.messages] == ["3"] and sent.text == "3"
    assert chaos.injected == Counter({"429": 3})
    assert chaos.by_method == Counter({("sendMessage", "429"): 2, ("sendChatAction", "429"): 1})
    assert chaos.rolls == 4  # every eligible call counts, though the burst took one roll


async def test_an_invalid_call_is_still_a_violation_under_chaos_and_takes_no_roll(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    chaos = fake.chaos(random.Random(1), error_rate=1.0, timeout_rate=0.0, burst_rate=0.0)

    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(an.id, "1 < 2", parse_mode="HTML")

    assert len(fake.violations) == 1 and fake.violations[0].startswith("sendMessage: ")
    assert chaos.rolls == 0 and chaos.total == 0


async def test_set_up_calls_updates_and_file_downloads_are_never_faulted(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    document = an.document("a.txt", b"hello", "text/plain")["message"]["document"]
    chaos = fake.chaos(random.Random(1), error_rate=1.0, timeout_rate=0.0, burst_rate=0.0)

    assert (await bot.get_me()).id == fake.bot_user["id"]
    assert await bot.set_my_commands([("help", "Help")])
    assert [c.command for c in await bot.get_my_commands()] == ["help"]
    assert await bot.delete_my_commands()
    assert await bot.get_updates(timeout=0) == ()
    assert await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    assert await bot.delete_webhook()
    file = await bot.get_file(document["file_id"])
    assert bytes(await file.download_as_bytearray()) == b"hello"
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(an.id, "hi")

    assert {"getMe", "setMyCommands", "getFile", "getUpdates"} <= CHAOS_EXEMPT
    assert chaos.rolls == 1 and chaos.injected == Counter({"5xx": 1})


async def test_fail_next_goes_before_chaos_and_takes_no_roll(
    fake: FakeBotApi, an: FakeUser, bot: Bot
) -> None:
    chaos = fake.chaos(random.Random(1), error_rate=1.0, timeout_rate=0.0, burst_rate=0.0)
    fake.fail_next("sendMessage", error_code=403, description="Forbidden: user is deactivated")

    with pytest.raises(Forbidden):
        await bot.send_message(an.id, "hi")
    assert chaos.rolls == 0
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(an.id, "hi")
    assert chaos.rolls == 1


# --- the bot retrying its own replies ------------------------------------------------------------


async def test_a_502_then_success_delivers_exactly_one_message(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
) -> None:
    fake.fail_next("sendMessage", error_code=502, description="Bad Gateway")

    sent = await app.bot.send_message(an.id, "hi")

    assert [m["text"] for m in an.messages] == ["hi"] and sent.message_id == 1
    assert outcomes(fake) == [502, None]
    assert time.slept == 0.5
    assert limiter_of(app).retried == Counter({"NetworkError": 1})


async def test_a_timeout_then_success_delivers_exactly_one_message(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
) -> None:
    fake.fail_next("sendMessage", timeout=True)

    await app.bot.send_message(an.id, "hi")

    assert [m["text"] for m in an.messages] == ["hi"]
    assert outcomes(fake) == ["timeout", None]
    assert limiter_of(app).retried == Counter({"TimedOut": 1})


async def test_a_reply_whose_answer_may_be_lost_is_tried_once_more_at_most(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
) -> None:
    """A read timeout after the request went out may hide a reply Telegram delivered, and the
    Bot API has no key to spot a copy: four tries were four copies she may read. As the
    outbox does (tests/test_telegram_maybe_sent.py), one more try at most, then given up."""
    fake.fail_next("sendMessage", timeout=True, times=10)

    with pytest.raises(TimedOut):
        await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == ["timeout", "timeout"]
    assert limiter_of(app).retried == Counter({"TimedOut": 1})
    assert limiter_of(app).gave_up == Counter({"TimedOut": 1})


async def test_a_reply_that_timed_out_connecting_is_retried_as_any_network_failure(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
) -> None:
    """A timeout while connecting sent nothing: no copy to fear, the usual three retries."""
    fake.fail_next("sendMessage", connect_timeout=True, times=3)

    await app.bot.send_message(an.id, "hi")

    assert [m["text"] for m in an.messages] == ["hi"]
    assert limiter_of(app).retried == Counter({"TimedOut": 3})


async def test_a_toast_whose_answer_may_be_lost_keeps_its_retries(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
) -> None:
    """A toast answered twice shows nothing twice, and one never answered leaves her tap
    spinning: a toast keeps every retry whatever its timeout."""
    fake.fail_next("answerCallbackQuery", timeout=True, times=10)

    with pytest.raises(TimedOut):
        await app.bot.answer_callback_query("q1")

    assert outcomes(fake) == ["timeout"] * 4
    assert limiter_of(app).gave_up == Counter({"TimedOut": 1})


async def test_a_reply_that_met_a_proxys_5xx_page_is_tried_once_more_at_most(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
) -> None:
    """A proxy's 502 page came after the request went out: it says nothing of what Telegram
    did with it. The outbox doubted it, the replies did not (four tries, four copies she may
    read): one rule now (``handlers.telegram.channel.maybe_sent``), one more try at most."""
    fake.fail_next(
        "sendMessage", proxy_page=True, error_code=502, description="Bad Gateway", times=10
    )

    with pytest.raises(NetworkError):
        await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == [502, 502]
    assert limiter_of(app).gave_up == Counter({"NetworkError": 1})


async def test_a_reply_to_the_office_group_whose_answer_may_be_lost_is_tried_once_more_at_most(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
) -> None:
    """The office's group reads copies too: a message to it doubted as one to a person."""
    fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    fake.fail_next("sendMessage", timeout=True, times=10)

    with pytest.raises(TimedOut):
        await app.bot.send_message(OFFICE_CHAT, "hi")

    assert outcomes(fake) == ["timeout", "timeout"]
    assert limiter_of(app).gave_up == Counter({"TimedOut": 1})


async def test_a_reply_whose_connection_dropped_after_it_went_out_is_tried_once_more_at_most(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
) -> None:
    """The server closed the connection while the bot waited for the answer: the message may
    be on her screen, as after a read timeout."""
    fake.fail_next("sendMessage", dropped=True, times=10)

    with pytest.raises(NetworkError, match="RemoteProtocolError"):
        await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == ["dropped", "dropped"]
    assert limiter_of(app).gave_up == Counter({"NetworkError": 1})


async def test_a_reply_whose_connection_never_opened_keeps_its_retries(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
) -> None:
    """Nothing went: no copy to fear, the usual three retries, and one message."""
    fake.fail_next("sendMessage", connect_error=True, times=3)

    await app.bot.send_message(an.id, "hi")

    assert [m["text"] for m in an.messages] == ["hi"]
    assert limiter_of(app).retried == Counter({"NetworkError": 3})


async def test_a_toast_whose_connection_dropped_keeps_its_retries(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
) -> None:
    fake.fail_next("answerCallbackQuery", dropped=True, times=10)

    with pytest.raises(NetworkError):
        await app.bot.answer_callback_query("q1")

    assert outcomes(fake) == ["dropped"] * 4


async def test_a_bad_request_is_never_retried(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
) -> None:
    fake.fail_next("sendMessage", error_code=400, description="Bad Request: chat is being migrated")

    with pytest.raises(BadRequest, match="Chat is being migrated"):
        await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == [400]
    assert time.slept == 0 and not limiter_of(app).retried


async def test_forbidden_is_never_retried(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
) -> None:
    await app.bot.send_message(an.id, "before")
    fake.calls.clear()
    fake.block(an.id)

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == [403]
    assert time.slept == 0 and not limiter_of(app).retried


async def test_network_retries_are_bounded_with_doubling_backoff(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
) -> None:
    fake.fail_next("sendMessage", error_code=502, description="Bad Gateway", times=10)

    with pytest.raises(NetworkError, match="Bad Gateway"):
        await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == [502] * 4  # the first try and three retries
    assert time.slept == 0.5 + 1.0 + 2.0
    assert limiter_of(app).gave_up == Counter({"NetworkError": 1})
    assert an.messages == []


async def test_a_429_holds_the_bot_for_retry_after_in_injected_time_then_delivers(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
) -> None:
    fake.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 7", retry_after=7
    )

    await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == [429, None]
    assert time.slept == pytest.approx(7.1)  # retry_after + 0.1, as AIORateLimiter waits
    assert [m["text"] for m in an.messages] == ["hi"]


async def test_429_retries_are_bounded_by_max_retries(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
) -> None:
    fake.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 1",
        retry_after=1,
        times=10,
    )

    with pytest.raises(RetryAfter):
        await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == [429] * 4
    assert limiter_of(app).gave_up == Counter({"RetryAfter": 1})


def too_many(fake: FakeBotApi, retry_after: int, *, times: int = 1) -> None:
    fake.fail_next(
        "sendMessage",
        error_code=429,
        description=f"Too Many Requests: retry after {retry_after}",
        retry_after=retry_after,
        times=times,
    )


async def test_the_429_a_request_gives_up_on_still_pauses_the_next_request(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
) -> None:
    too_many(fake, 1, times=4)
    with pytest.raises(RetryAfter):
        await app.bot.send_message(an.id, "given up")
    assert time.slept == pytest.approx(3 * 1.1)  # waited before each of the three retries

    await app.bot.send_message(an.id, "next")

    assert time.slept == pytest.approx(4 * 1.1)  # the fourth 429 held the next request too
    assert outcomes(fake) == [429, 429, 429, 429, None]
    assert [m["text"] for m in an.messages] == ["next"]


async def test_a_toast_is_answered_at_once_during_a_429_pause(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
) -> None:
    query_id = an.tap_data("x")["callback_query"]["id"]
    limiter_of(app).flood_retries = 0
    too_many(fake, 20)
    with pytest.raises(RetryAfter):
        await app.bot.send_message(an.id, "hi")  # gives up at once: a pause of 20.1 s begins

    assert await app.bot.answer_callback_query(query_id, text="Đã ghi nhận.")
    assert time.slept == 0
    await app.bot.send_message(an.id, "after")
    assert time.slept == pytest.approx(20.1)
    assert outcomes(fake) == [429, None, None]


async def test_a_pause_lengthened_while_a_request_waits_is_waited_out(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
) -> None:
    # While "a" waits out its 2.1 s pause, a request for no chat is refused for 5 s (Telegram
    # refusing the bot as a whole) and gives up: the pause now ends 5.1 s after that, and "a"
    # must wait for it too.
    limiter_of(app).flood_retries = 0  # the other request gives up at once; "a" may retry once
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await time.sleep(seconds)
        if len(waits) == 1:
            fake.fail_next("setMyCommands", error_code=429, description="Too Many", retry_after=5)
            with pytest.raises(RetryAfter):
                await app.bot.set_my_commands([("help", "Trợ giúp")])

    limiter_of(app).use_time(time.monotonic, sleep)
    too_many(fake, 2)

    await app.bot.send_message(an.id, "a", rate_limit_args=1)

    assert waits == [pytest.approx(2.1), pytest.approx(5.1)]
    assert outcomes(fake) == [429, 429, None]
    assert [m["text"] for m in an.messages] == ["a"]


async def test_a_request_queued_when_a_pause_begins_queues_again_after_it(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "a", for the office group, has passed the pause check and waits for its turn in
    # AIORateLimiter's pacing of groups when a request for no chat takes a 429 (Telegram
    # refusing the bot as a whole). "a" must not go out when its turn comes, during the pause,
    # nor in a burst at the pause's end: it waits the pause out and takes a new turn.
    office = fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    limiter_of(app).flood_retries = 0  # the other request gives up on its 429 at once
    pacing = AIORateLimiter.process_request
    turns: list[str | None] = []

    async def queue(self: AIORateLimiter, *args: Any) -> Any:
        text = args[4].get("text")  # data: the request's parameters
        turns.append(text)
        if turns == ["a"]:
            fake.fail_next("setMyCommands", error_code=429, description="Too Many", retry_after=3)
            with pytest.raises(RetryAfter):
                await app.bot.set_my_commands([("help", "Trợ giúp")])
        return await pacing(self, *args)

    monkeypatch.setattr(AIORateLimiter, "process_request", queue)

    await app.bot.send_message(OFFICE_CHAT, "a")

    assert turns == ["a", "a"]  # the commands, for no chat, skip the groups' pacing
    assert outcomes(fake) == [429, None]  # the commands refused, then "a" sent once
    assert time.slept == pytest.approx(3.1)
    assert office.last_text() == "a"


async def test_a_retry_after_a_429_takes_a_new_turn_in_the_pacing(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
    time: VirtualTime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slot = Pacer.slot
    turns: list[float] = []  # when each try asked the budget for its start

    def paced(self: Pacer, chat: str | None, *, urgent: bool = False) -> Any:
        turns.append(time.monotonic())
        return slot(self, chat, urgent=urgent)

    monkeypatch.setattr(Pacer, "slot", paced)
    too_many(fake, 1)
    fake.fail_next("sendMessage", error_code=502, description="Bad Gateway")

    await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == [429, 502, None]
    # Each try asks the budget anew: after the 429's second and its 0.1 s margin, then after
    # the 502's backoff of half a second.
    assert turns == [0.0, pytest.approx(1.1), pytest.approx(1.6)]


async def test_a_reply_survives_a_chaos_burst_and_5xx_on_the_way(
    app: Application,  # type: ignore[type-arg]
    fake: FakeBotApi,
    an: FakeUser,
) -> None:
    # A burst of three 429s, then a 502, then through: five tries, one message.
    fake.chaos(Scripted(0.135, 0.05, 0.5), burst_length=3)

    await app.bot.send_message(an.id, "hi")

    assert outcomes(fake) == [429, 429, 429, 502, None]
    assert [m["text"] for m in an.messages] == ["hi"]


# --- in the real bot -----------------------------------------------------------------------------


async def test_the_bots_replies_retry_but_the_outbox_sends_with_a_bare_bot(
    harness: BotHarness,
) -> None:
    assert isinstance(harness.app.bot.rate_limiter, RetryingRateLimiter)
    sender_bot = harness.outbox.senders["telegram"].bot  # type: ignore[attr-defined]
    assert type(sender_bot) is Bot and not isinstance(sender_bot, ExtBot)


async def test_a_tap_answered_through_5xx_and_a_timeout_is_recorded_and_confirmed_once(
    harness: BotHarness,
) -> None:
    time = VirtualTime()
    limiter_of(harness.app).use_time(time.monotonic, time.sleep)
    user = await harness.open_invitation("DB030")
    before = len(user.messages)
    harness.fake.fail_next("answerCallbackQuery", error_code=502, description="Bad Gateway")
    harness.fake.fail_next("sendMessage", timeout=True)

    await harness.send(user.tap("✅ Tham dự"))

    new = [m["text"] for m in user.messages[before:]]
    assert len(new) == 1 and new[0].startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị.")
    answers = harness.fake.calls_to("answerCallbackQuery")
    assert [(a.error_code, a.params["text"]) for a in answers] == [
        (502, "Đã ghi nhận."),
        (None, "Đã ghi nhận."),
    ]
    async with harness.services.ctx.sessions() as session:
        status = await session.scalar(
            select(Rsvp.status)
            .join(Delegate, Delegate.id == Rsvp.delegate_id)
            .where(Delegate.code == "DB030")
        )
    assert status == "attending"
    assert time.slept == 1.0  # two retries of 0.5 s each, in virtual time
