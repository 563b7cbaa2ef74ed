"""One chat flooding the bot holds back that chat, not everybody.

Telegram takes about one message a second per private chat, with short bursts, and answers a
chat that gets more with 429 for that chat. The bot's replies keep to that pace per chat
(``RetryingRateLimiter``), a 429 holds back the chat it refused, and a chat sending more updates
than a person ever does has the excess dropped unanswered (``ChatOrderedUpdateProcessor``'s
per-chat budget). Time here is :class:`SteppedTime`: it moves only when a test moves it, so a
wait for Telegram's pace is a wait a test can see, and nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from telegram import Update
from telegram.error import RetryAfter
from telegram.ext import Application, ApplicationBuilder, MessageHandler, filters

from bot.chat import Inbox
from bot.services import Services
from bot.texts import load_catalog
from handlers.telegram.app import build_application, serve
from handlers.telegram.limiter import _CHATS_KEPT, CHAT_BURST, RetryingRateLimiter, _Chat
from handlers.telegram.updates import ChatOrderedUpdateProcessor, _Budget
from schedules.ratelimit import VirtualTime
from tests.fakes.telegram_api import FakeBotApi, FakeUser
from tests.harness import OFFICE_CHAT, wired_config

WELCOME = "Kính chào đồng chí! Đây là trợ lý của"


class SteppedTime:
    """A clock that moves only when the test calls :meth:`advance`; ``sleep`` waits for it."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        """The current time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Return once the clock has been moved ``seconds`` on."""
        if seconds <= 0:
            return
        woken = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, woken))
        await woken

    @property
    def sleeping(self) -> int:
        """How many sleeps wait for the clock."""
        return sum(1 for _, woken in self._sleepers if not woken.done())

    def advance(self, seconds: float) -> None:
        """Move the clock on and wake the sleeps that are over."""
        self.now += seconds
        for until, woken in self._sleepers:
            if until <= self.now + 1e-9 and not woken.done():
                woken.set_result(None)
        self._sleepers = [(until, w) for until, w in self._sleepers if not w.done()]


async def settled() -> None:
    """Let every task that can run, run (scheduling points only: the clock does not move)."""
    for _ in range(50):
        await asyncio.sleep(0)


# --- the replies' limiter --------------------------------------------------------------------


@pytest.fixture
def steps() -> SteppedTime:
    return SteppedTime()


@pytest.fixture
def limited(steps: SteppedTime) -> FakeBotApi:
    """A fake Bot API that enforces Telegram's limits on the stepped clock."""
    return FakeBotApi(enforce_limits=True, clock=steps.monotonic)


@pytest.fixture
async def paced(limited: FakeBotApi, steps: SteppedTime) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """An application whose bot sends through ``RetryingRateLimiter`` on the stepped clock."""
    limiter = RetryingRateLimiter(max_retries=3, now=steps.monotonic, sleep=steps.sleep)
    application = limited.wire(ApplicationBuilder()).rate_limiter(limiter).build()
    async with application:
        yield application


def texts(user: FakeUser) -> list[str]:
    return [str(message["text"]) for message in user.messages]


async def test_replies_to_one_chat_go_three_at_once_then_one_a_second_and_others_do_not_wait(
    paced: Application,  # type: ignore[type-arg]
    limited: FakeBotApi,
    steps: SteppedTime,
) -> None:
    an, binh = limited.user(1001, "An"), limited.user(1002, "Bình")
    sends = [asyncio.create_task(paced.bot.send_message(an.id, f"An {n}")) for n in range(6)]
    await limited.wait_until(lambda: len(an.messages) == CHAT_BURST and steps.sleeping == 1)
    # An's fourth waits for her chat's pace; Bình's message does not wait behind it (a guard:
    # were it held, it would wait for a clock that does not move).
    await asyncio.wait_for(paced.bot.send_message(binh.id, "Bình 0"), timeout=10)
    assert texts(binh) == ["Bình 0"] and len(an.messages) == CHAT_BURST
    for second in range(1, 4):
        steps.advance(1)
        await limited.wait_until(lambda second=second: len(an.messages) == CHAT_BURST + second)
        await settled()
        assert len(an.messages) == CHAT_BURST + second  # one a second, not a burst
    await asyncio.gather(*sends)
    assert texts(an) == [f"An {n}" for n in range(6)]  # in the order they were asked for
    assert limited.rate_limited == 0


async def test_pacing_on_a_virtual_clock_ends_although_float_rounding_leaves_a_tiny_wait(
    fake: FakeBotApi,
) -> None:
    # After a wait, float rounding can leave a few ulps to wait, which adding to the clock does
    # not move it by: such a wait must count as none, or the pacing spins for ever (it did in a
    # rehearsal). From 0.1, the fourth message back to back meets one.
    time = VirtualTime(start=0.1)
    sleeps = 0

    async def sleep(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        assert sleeps < 100, "the pacing never ends"  # VirtualTime.sleep never yields
        await time.sleep(seconds)

    limiter = RetryingRateLimiter(now=time.monotonic, sleep=sleep)
    application = fake.wire(ApplicationBuilder()).rate_limiter(limiter).build()
    an = fake.user(1001, "An")
    async with application:
        for n in range(8):
            await application.bot.send_message(an.id, f"Tin {n}")
    assert len(an.messages) == 8
    assert time.slept == pytest.approx(8 - CHAT_BURST)  # one a second after the burst


async def test_a_429_for_one_chat_holds_back_that_chat_only(
    paced: Application,  # type: ignore[type-arg]
    limited: FakeBotApi,
    steps: SteppedTime,
) -> None:
    an, binh = limited.user(1001, "An"), limited.user(1002, "Bình")
    limited.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests", retry_after=30,
        chat_id=an.id,
    )  # fmt: skip
    to_an = asyncio.create_task(paced.bot.send_message(an.id, "An"))
    await limited.wait_until(lambda: steps.sleeping == 1)  # An's chat waits out its 30 s

    # Not held: no sleep, the clock stays (a guard: held, it would wait for ever).
    await asyncio.wait_for(paced.bot.send_message(binh.id, "Bình"), timeout=10)

    assert texts(binh) == ["Bình"] and an.messages == [] and steps.now == 0
    steps.advance(30.1)
    await to_an
    assert texts(an) == ["An"]


async def test_429s_for_two_chats_within_a_second_hold_back_every_chat(
    fake: FakeBotApi,
) -> None:
    # Telegram refusing two chats at once is refusing the bot (its 30 messages a second).
    time = VirtualTime()
    limiter = RetryingRateLimiter(max_retries=0, now=time.monotonic, sleep=time.sleep)
    application = fake.wire(ApplicationBuilder()).rate_limiter(limiter).build()
    an, binh, chi = fake.user(1001, "An"), fake.user(1002, "Bình"), fake.user(1003, "Chi")
    async with application:
        fake.fail_next("sendMessage", error_code=429, description="Too Many", retry_after=4)
        with pytest.raises(RetryAfter):
            await application.bot.send_message(an.id, "An")
        time.now += 0.5
        fake.fail_next("sendMessage", error_code=429, description="Too Many", retry_after=4)
        with pytest.raises(RetryAfter):
            await application.bot.send_message(binh.id, "Bình")
        await application.bot.send_message(chi.id, "Chi")
    assert time.slept == pytest.approx(4.1)  # Chi waited for the pause of every chat
    assert texts(chi) == ["Chi"]


async def test_a_429_for_no_chat_holds_back_every_chat(fake: FakeBotApi) -> None:
    time = VirtualTime()
    limiter = RetryingRateLimiter(max_retries=0, now=time.monotonic, sleep=time.sleep)
    application = fake.wire(ApplicationBuilder()).rate_limiter(limiter).build()
    an = fake.user(1001, "An")
    async with application:
        fake.fail_next("setMyCommands", error_code=429, description="Too Many", retry_after=6)
        with pytest.raises(RetryAfter):
            await application.bot.set_my_commands([("help", "Trợ giúp")])
        await application.bot.send_message(an.id, "An")
    assert time.slept == pytest.approx(6.1)
    assert texts(an) == ["An"]


# --- the per-chat budget of the update processor ---------------------------------------------


@dataclass
class Handled:
    """A handler that records the texts it handled; the first one is held until let go."""

    log: list[str]
    hold: asyncio.Event
    began: asyncio.Event

    async def handle(self, update: Update, context: Any) -> None:
        assert update.effective_message is not None
        text = update.effective_message.text or ""
        self.log.append(text)
        self.began.set()
        if text == "a1":
            await self.hold.wait()


async def test_a_chat_over_its_budget_has_its_excess_and_its_waiting_updates_dropped() -> None:
    fake, clock = FakeBotApi(), VirtualTime()
    processor = ChatOrderedUpdateProcessor(8, chat_updates_per_minute=5, now=clock.monotonic)
    app = fake.wire(ApplicationBuilder()).concurrent_updates(processor).build()
    handled = Handled([], asyncio.Event(), asyncio.Event())
    app.add_handler(MessageHandler(filters.TEXT, handled.handle))
    alice, bob = fake.user(1, "Alice"), fake.user(2, "Bob")

    async def hand_over(raw: dict[str, Any]) -> tuple[asyncio.Task[None], asyncio.Future[bool]]:
        update = Update.de_json(raw, app.bot)
        outcome = processor.outcome(update.update_id)
        task = asyncio.create_task(processor.process_update(update, app.process_update(update)))
        return task, outcome

    async with app:
        first, _ = await hand_over(alice.text("a1"))
        await handled.began.wait()  # a1 is being handled; a2 … a5 wait for Alice's turn
        waiting = [await hand_over(alice.text(f"a{n}")) for n in range(2, 6)]
        await settled()
        over = [await hand_over(alice.text(f"a{n}")) for n in range(6, 9)]  # the budget is 5
        other, other_outcome = await hand_over(bob.text("b1"))
        await asyncio.gather(*(task for task, _ in waiting + over), other)
        # Dropped: done with, so confirmed to Telegram, and never handled.
        assert all(outcome.result() for _, outcome in waiting + over)
        assert handled.log == ["a1", "b1"] and other_outcome.result()
        handled.hold.set()
        await first
        clock.now += 60  # a minute later the budget is whole again
        later, _ = await hand_over(alice.text("a9"))
        await later
    assert handled.log == ["a1", "b1", "a9"]
    assert processor.dropped == 7


class _CountedBudget(_Budget):
    """The processor's per-chat budget, counting the chats it looks at."""

    looked = 0

    def _left(self, chat: int, now: float) -> float:
        self.looked += 1
        return super()._left(chat, now)


def test_a_new_chat_past_the_remembered_thousands_looks_at_a_few_chats_not_at_every_one() -> None:
    """Thousands of people tapping within a second: none of their budgets is whole again, so
    none may be forgotten; a new chat's update must not look them all over to find that out."""
    clock = VirtualTime()
    budget = _CountedBudget(30, clock.monotonic)
    for chat in range(_Budget.KEPT + 2_000):
        clock.now += 0.0001
        assert budget.take(chat)
    budget.looked = 0

    assert budget.take(10_000_001)

    assert budget.looked <= 2  # its own budget, and the chat heard from longest ago
    assert len(budget._chats) == _Budget.KEPT + 2_001  # none was whole: none forgotten


def test_past_the_remembered_chats_whole_budgets_are_forgotten_and_a_spent_one_is_not() -> None:
    clock = VirtualTime()
    budget = _Budget(30, clock.monotonic)
    for _ in range(30):  # chat 0 spends its minute's budget
        assert budget.take(0)
    assert not budget.take(0)
    for chat in range(1, _Budget.KEPT):  # one update each: 29 left, whole again in 2 s
        assert budget.take(chat)
    clock.now += 1
    assert budget.take(-5)  # a new chat past the remembered: none is whole, none forgotten
    assert len(budget._chats) == _Budget.KEPT + 1
    assert not budget.take(0)  # half an update refilled: still spent

    clock.now += 3  # every budget whole again but chat 0's
    assert budget.take(-6)

    assert list(budget._chats) == [0, -6]
    assert budget.take(0) and budget.take(0)  # 2 refilled in the 3 s since its last
    assert not budget.take(0)


def test_a_new_chat_past_the_limiters_kept_thousands_looks_at_a_few_chats_not_at_every_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Thousands of replies within three seconds: no chat's bucket is full again, so none may
    be forgotten; a reply to a new chat must not look them all over to find that out."""
    clock = VirtualTime()
    limiter = RetryingRateLimiter(now=clock.monotonic, sleep=clock.sleep)
    for chat in range(_CHATS_KEPT + 2_000):
        clock.now += 0.0001
        limiter._chat(chat).spend(clock.now)
    looked: list[_Chat] = []
    idle = _Chat.idle

    def counted(chat: _Chat, now: float) -> bool:
        looked.append(chat)
        return idle(chat, now)

    monkeypatch.setattr(_Chat, "idle", counted)

    limiter._chat(10_000_001)

    assert len(looked) == 1  # the chat asked for longest ago: not idle, so none behind it is
    assert len(limiter._chats) == _CHATS_KEPT + 2_001


def test_past_the_limiters_kept_chats_idle_ones_are_forgotten_and_a_paused_or_busy_one_is_not() -> (
    None
):
    clock = VirtualTime()
    limiter = RetryingRateLimiter(now=clock.monotonic, sleep=clock.sleep)
    limiter._chat(0).paused_until = 10.0  # a 429 paused it
    for chat in range(1, _CHATS_KEPT):
        limiter._chat(chat).spend(clock.now)  # full again in a second
    clock.now += 5
    limiter._chat(-5)  # every bucket full, but the paused chat at the front: none forgotten
    assert len(limiter._chats) == _CHATS_KEPT + 1

    limiter._chat(7).requests = 1  # a message waiting for its turn: asked for last
    clock.now += 6  # the pause is over
    limiter._chat(-6)

    assert list(limiter._chats) == [7, -6]
    assert limiter._chat(7).requests == 1  # the same state, not a new one


# --- the whole bot, polling ------------------------------------------------------------------


@pytest.fixture
async def flood_bot(
    imported: Services, limited: FakeBotApi, steps: SteppedTime
) -> AsyncIterator[tuple[Application, asyncio.Event]]:  # type: ignore[type-arg]
    """``hoinghi run``'s application, polling the limited fake; its replies on the stepped clock.
    Yields it and the event that stops it."""
    limited.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    imported.ctx.__dict__["config"] = wired_config(imported.config, limited)
    catalog = load_catalog("vi")
    app = build_application(
        Inbox(imported, catalog),
        imported,
        catalog,
        limited.token,
        request=limited.make_request(),
        get_updates_request=limited.make_request(),
    )
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, RetryingRateLimiter)
    limiter.use_time(steps.monotonic, steps.sleep)
    stop = asyncio.Event()
    running = asyncio.create_task(serve(app, stop, grace=1.0))
    try:
        yield app, stop
    finally:
        stop.set()
        steps.advance(3600)  # whatever still waits for Telegram's pace goes now
        await running
    limited.assert_no_violations()


async def test_a_chat_flooding_500_messages_delays_nobody_and_is_dropped_not_answered(
    flood_bot: tuple[Application, asyncio.Event],  # type: ignore[type-arg]
    limited: FakeBotApi,
    steps: SteppedTime,
) -> None:
    app, _ = flood_bot
    flooder, other = limited.user(610_000_001, "Spam"), limited.user(610_000_002, "Lan")
    for n in range(500):
        limited.enqueue(flooder.text(f"quảng cáo {n}"))
    limited.enqueue(other.command("/start"))

    # Lan is answered, and the whole flood is taken off Telegram's queue (the bot long-polls
    # again: it holds nothing), before the clock moves at all: nothing waited for the
    # flooder's pace.
    await limited.wait_until(lambda: bool(other.messages))
    await asyncio.wait_for(limited.wait_for_poller(), timeout=10)
    assert limited.unconfirmed() == []
    assert other.last_text().startswith(WELCOME) and steps.now == 0
    assert 1 <= len(flooder.messages) <= CHAT_BURST
    processor = app.update_processor
    assert isinstance(processor, ChatOrderedUpdateProcessor)
    assert processor.dropped >= 500 - 30  # [telegram] chat_updates_per_minute
    assert limited.rate_limited == 0  # and Telegram was never asked for too much
    print(
        f"500-message flood: the other chat answered at {steps.now:.0f} s on Telegram's clock; "
        f"the flooder got {len(flooder.messages)} replies, {processor.dropped} updates dropped"
    )


async def test_a_429_for_the_flooders_chat_does_not_hold_back_anybody_else(
    flood_bot: tuple[Application, asyncio.Event],  # type: ignore[type-arg]
    limited: FakeBotApi,
    steps: SteppedTime,
) -> None:
    flooder, other = limited.user(610_000_001, "Spam"), limited.user(610_000_002, "Lan")
    limited.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 30",
        retry_after=30, chat_id=flooder.id,
    )  # fmt: skip
    limited.enqueue(flooder.text("quảng cáo"))
    await limited.wait_until(lambda: steps.sleeping == 1)  # the flooder's reply waits 30 s
    limited.enqueue(other.command("/start"))

    await limited.wait_until(lambda: bool(other.messages))

    assert other.last_text().startswith(WELCOME) and steps.now == 0
    assert flooder.messages == []
    steps.advance(30.1)
    await limited.wait_until(lambda: bool(flooder.messages))
