"""Zalo on the rehearsal's stage: the bot's real Zalo adapter and the outbox's ZaloSender
talking to the simulated Zalo Bot API (:mod:`rehearsal.zalo_api`), and the hands of the
simulated people who use Zalo.

Zalo passes no payload with a person's first message, so they link by typing the personal code
printed on their invitation; they answer by typing the numbers of the menus the bot ends its
messages with, or the keywords. The rehearsal is sequential: each update a person sends is
handed to the adapter at once (as its poller would hand it), and the bot's answers are what
reached their chat while it was handled.

Under faults the platform has a bad day on the outbox's sends (5xx, timeouts, 429s, injected
with the fake's own ``fail_next`` just before the send they hit), on the bot's replies (a few
seconds of a busy platform: the first two sends of an answer refused, 429 or 500; the answer
must still arrive whole, in order), and some of what people type is delivered to the bot
twice, as Zalo may (the same message id): the copy must do nothing.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.chat import Inbox
from bot.config import ZaloSettings
from bot.domain.channels import Capabilities
from bot.domain.outbound import Outbound, Part, SendResult
from bot.domain.ports import ChannelSender
from bot.services import Services
from bot.texts import Catalog
from handlers.zalo.app import ZaloAdapter, build_adapter
from handlers.zalo.channel import ZaloSender
from rehearsal.faults import Faults
from rehearsal.people import SIMULATED
from rehearsal.zalo_api import FakeZaloApi, FakeZaloUser
from schedules.ratelimit import Limits, Pacer, VirtualTime

# A numbered choice in a menu line: "Trả lời 1 – ✅ Tham dự · 2 – ❌ Không tham dự".
_CHOICE = re.compile(r"(\d+) – ([^·\n]+)")


@dataclass
class ZaloStage:
    """The bot on the simulated Zalo, and the people who talk to it there."""

    fake: FakeZaloApi
    adapter: ZaloAdapter
    sender: ZaloSender  # the outbox's
    settings: ZaloSettings
    codes: dict[str, str] = field(default_factory=dict)  # personal codes, as printed
    users: dict[str, FakeZaloUser] = field(default_factory=dict)
    replies: Counter[str] = field(default_factory=Counter)  # answers to their own messages
    blocked: set[str] = field(default_factory=set)  # codes of those who blocked the bot
    bad_day: ZaloBadDay | None = None
    copies: int = 0  # updates delivered to the bot a second time
    answered_copies: int = 0  # copies the bot answered (a copy must do nothing)
    comment: str | None = None  # the office's comment on a draft typed on Zalo
    comment_reached: bool = False

    def user(self, code: str, name: str) -> FakeZaloUser:
        """The Zalo user who plays the person ``code`` (made on first use)."""
        if code not in self.users:
            first = name.split()[-1] if name.split() else code
            self.users[code] = self.fake.user(f"{first} ({SIMULATED})")
        return self.users[code]

    async def type(self, code: str, text: str) -> list[str]:
        """``code``'s person types ``text``; the texts the bot answered with (none if its
        answer did not arrive). Under faults the platform may deliver it twice."""
        user = self.users[code]
        before = len(user.texts)
        update = user.text(text)
        if self.bad_day is not None:
            self.bad_day.before_reply(user.id)
        await self.adapter.handle(update)
        if self.bad_day is not None:  # an answer of no message leaves its faults unused
            self.bad_day.replies_unhit += self.fake.drop_faults("sendMessage", user.id)
        said = user.texts[before:]
        if self.bad_day is not None and self.bad_day.redeliver():
            self.copies += 1
            after = len(user.texts)
            await self.adapter.handle(update)  # the same message id again
            self.answered_copies += int(len(user.texts) > after)
        self.replies[code] += len(user.texts) - before
        return said

    async def choose(self, code: str, label: str) -> list[str] | None:
        """Type the number of ``label`` in the newest menu ``code``'s person received; what
        the bot answered, or None when no menu they have offers it."""
        number = choice(self.users[code].texts, label)
        if number is None:
            return None
        return await self.type(code, number)

    @property
    def outbox_sender(self) -> ChannelSender:
        """The sender the outbox is given: on a bad day, one whose sends the platform fails."""
        if self.bad_day is None:
            return self.sender
        return FaultySender(self.sender, self.bad_day)

    def pacer(self) -> Pacer:
        """The outbox's Zalo budget, waiting in virtual time."""
        time = VirtualTime()
        limits = Limits(overall_per_second=self.settings.messages_per_second)
        return Pacer(limits, now=time.monotonic, sleep=time.sleep)

    async def shutdown(self) -> None:
        """Close the adapter's and the outbox's clients."""
        await self.adapter.handled.flush()
        await self.adapter.services.quotas.flush()  # the replies counted, stored
        await self.adapter.client.close()
        await self.sender.client.close()


def choice(texts: Sequence[str], label: str) -> str | None:
    """The number of the choice ``label`` in the newest of ``texts`` that offers it."""
    wanted = label.strip()
    for text in reversed(texts):
        for number, shown in _CHOICE.findall(text):
            if shown.strip() == wanted:
                return str(number)
    return None


async def open_zalo(
    services: Services, catalog: Catalog, inbox: Inbox, fake: FakeZaloApi
) -> ZaloStage:
    """The bot's Zalo adapter and the outbox's sender, on ``fake`` in process."""
    settings = services.config.zalo
    time = VirtualTime()  # the replies' budget waits in virtual time too
    budget = Pacer(
        Limits(overall_per_second=settings.messages_per_second), now=time.monotonic,
        sleep=time.sleep,
    )  # fmt: skip
    adapter, sender = build_adapter(
        fake.token, settings, inbox, services, catalog, budget=budget, transport=fake.transport
    )
    adapter.now, adapter.sleep = time.monotonic, time.sleep  # a reply's retries too
    adapter.bot_id = str((await adapter.client.get_me()).get("id") or "")
    return ZaloStage(fake, adapter, sender, settings)


@dataclass
class ZaloBadDay:
    """The simulated Zalo's faults, rolled from the seed: on the outbox's sends, and copies of
    what people type."""

    fake: FakeZaloApi
    faults: Faults
    rng: random.Random
    injected: Counter[str] = field(default_factory=Counter)  # by kind, as the Telegram chaos
    # The replies' faults: rolled on their own dice, so the outbox's stay those of the seed.
    reply_rng: random.Random | None = None
    replies_injected: Counter[str] = field(default_factory=Counter)
    replies_unhit: int = 0  # refusals injected for an answer that sent nothing

    def before_reply(self, address: str) -> None:
        """Perhaps make the platform refuse the first two sends of the bot's next answer to
        ``address`` (429, or 500): a few seconds of a busy platform."""
        if self.reply_rng is None:
            return
        roll, faults = self.reply_rng.random(), self.faults
        if roll < faults.burst_rate * 10:
            self.fake.fail_next(
                "sendMessage", error_code=429, description="Too Many Requests",
                retry_after=faults.burst_retry_after, times=2, chat_id=address,
            )  # fmt: skip
            self.replies_injected["429"] += 2
        elif roll < faults.burst_rate * 10 + faults.error_rate:
            self.fake.fail_next("sendMessage", times=2, chat_id=address)
            self.replies_injected["5xx"] += 2

    def before_send(self, address: str) -> None:
        """Perhaps make the platform fail the next send to ``address``."""
        roll, faults = self.rng.random(), self.faults
        if roll < faults.error_rate:
            self.fake.fail_next(
                "sendMessage", error_code=502, description="Bad Gateway", chat_id=address
            )
            self.injected["5xx"] += 1
        elif roll < faults.error_rate + faults.timeout_rate:
            self.fake.fail_next("sendMessage", timeout=True, chat_id=address)
            self.injected["timeout"] += 1
        elif roll < faults.error_rate + faults.timeout_rate + faults.burst_rate:
            self.fake.fail_next(
                "sendMessage", error_code=429, description="Too Many Requests",
                retry_after=faults.burst_retry_after, chat_id=address,
            )  # fmt: skip
            self.injected["429"] += 1

    def redeliver(self) -> bool:
        """Whether the platform delivers this update to the bot a second time."""
        return self.rng.random() < self.faults.redelivery_rate


class FaultySender:
    """The outbox's ZaloSender on a bad day: the platform may fail each send."""

    def __init__(self, inner: ZaloSender, bad_day: ZaloBadDay) -> None:
        self.inner = inner
        self.channel: str = inner.channel
        self.capabilities: Capabilities = inner.capabilities
        self._bad_day = bad_day

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        """The parts as the ZaloSender prepares them."""
        return self.inner.prepare(outbound)

    async def send(self, address: str, part: Part) -> SendResult:
        """Send through the ZaloSender, perhaps into a fault of the platform."""
        self._bad_day.before_send(address)
        return await self.inner.send(address, part)
