"""Telegram on the rehearsal's stage: the bot's real Telegram adapter talking to the simulated
Bot API (:mod:`rehearsal.telegram_api`), and the simulated people's hands on it.

The bot runs as ``hoinghi run`` builds it — the Application with its handlers, its rate limiter
and its command menus, and the outbox's own sender — only its requests go to the fake, in this
process. People and the office act as Telegram users do: they open their link, tap buttons,
type, reply and send documents; a step is answered when the bot's reply reached their chat.

Zalo, the second simulated channel, has its module beside this one (:mod:`rehearsal.zalo`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.chat import Inbox
from bot.config import Config
from bot.services import Services
from bot.texts import Catalog
from handlers.telegram.app import build_application
from handlers.telegram.channel import TelegramSender
from handlers.telegram.limiter import RetryingRateLimiter
from handlers.telegram.links import telegram_link_maker
from handlers.telegram.receiving import update_of
from rehearsal.people import SIMULATED, TRIES
from rehearsal.telegram_api import ApiCall, FakeBotApi, FakeGroup, FakeUser, JsonDict
from schedules.ratelimit import VirtualTime

BOT_USERNAME = "hoinghi_dien_tap_bot"
# The office's group and first staff member, for a plan that names none.
OFFICE_CHAT = -1009999999999
ADMIN_ID = 900_000_001

# How an update reaches the bot's Application (:func:`deliver`).
Deliver = Callable[[Any, JsonDict], Awaitable[None]]


async def deliver(app: Any, update: JsonDict) -> None:
    """Hand ``update`` to the bot's Application as its polling and its webhook do (the message a
    tap's button was on reduced to where it is: :func:`handlers.telegram.receiving.update_of`),
    and wait until it is handled."""
    await app.process_update(update_of(update, app.bot))


def configured(config: Config, fake: FakeBotApi) -> Config:
    """The plan pointed at the simulated Bot API, with an office group and staff to play."""
    office = config.office.model_copy(
        update={
            "chat_id": config.office.chat_id or OFFICE_CHAT,
            "admin_ids": config.office.admin_ids or [ADMIN_ID],
        }
    )
    return config.model_copy(
        update={
            "office": office,
            "telegram": config.telegram.model_copy(
                update={"api_base_url": fake.base_url, "file_base_url": fake.base_file_url}
            ),
        }
    )


@dataclass
class TelegramStage:
    """The bot on the simulated Telegram, and the people who talk to it there."""

    fake: FakeBotApi
    app: Any  # the bot's Application: python-telegram-bot's types stay in the adapter
    sender: TelegramSender  # the outbox's
    office: FakeGroup
    admin: FakeUser
    deliver: Deliver
    users: dict[str, FakeUser] = field(default_factory=dict)

    async def send(self, update: JsonDict) -> None:
        """Hand ``update`` to the bot, as Telegram would."""
        await self.deliver(self.app, update)

    async def ask(self, update: JsonDict) -> bool:
        """Send ``update`` and say whether the bot's answer reached its person."""
        before = len(self.fake.calls)
        await self.send(update)
        return answered(update, self.fake.calls[before:])

    def user(self, code: str, name: str) -> FakeUser:
        """The Telegram user who plays the person ``code`` (made on first use)."""
        if code not in self.users:
            first = name.split()[-1] if name.split() else code
            self.users[code] = self.fake.user(
                800_000_000 + len(self.users), f"{first} ({SIMULATED})"
            )
        return self.users[code]

    async def tap(self, user: FakeUser, label: str) -> str | None:
        """Tap the button ``label`` on the newest message that carries it, again while the
        bot's answer does not arrive (as a person would); the tapped button's data once
        answered, None if there is no such button or no answer came."""
        for _ in range(TRIES):
            message = latest_with(user, label)
            if message is None:
                return None
            update = user.tap(label, message=message)
            if await self.ask(update):
                return str(update["callback_query"]["data"])
        return None

    async def insist(
        self, make: Callable[[], JsonDict], *, until: Callable[[], bool] | None = None
    ) -> bool:
        """Send what ``make`` builds (a command, a tap); send it again while the bot's answer
        does not arrive, or ``until`` does not hold, as a person would: whether it finally did."""
        for _ in range(TRIES):
            if await self.ask(make()) and (until is None or until()):
                return True
        return False

    def office_messages(self) -> list[JsonDict]:
        """Everything the bot posted in the office's group."""
        return self.fake.messages_to(self.office.id)

    def latest_office_post(self, prefix: str, contains: str | None = None) -> JsonDict | None:
        """The newest post in the office's group that starts with ``prefix`` (and has
        ``contains`` in its text or buttons)."""
        for message in reversed(self.office_messages()):
            text = message.get("caption") or message.get("text") or ""
            markup = str(message.get("reply_markup") or "")
            if text.startswith(prefix) and (
                contains is None or contains in text or contains in markup
            ):
                return message
        return None

    def retries(self) -> tuple[int, int]:
        """How often the bot retried its own replies, and gave up, on the platform's faults."""
        limiter = self.app.bot.rate_limiter
        if not isinstance(limiter, RetryingRateLimiter):
            return 0, 0
        return sum(limiter.retried.values()), sum(limiter.gave_up.values())

    async def shutdown(self) -> None:
        """Stop the bot's Application and the outbox's Bot."""
        await self.app.shutdown()
        await self.sender.bot.shutdown()


async def open_telegram(
    config: Config,
    catalog: Catalog,
    services: Services,
    inbox: Inbox,
    fake: FakeBotApi,
    deliver: Deliver,
) -> TelegramStage:
    """The bot's Telegram adapter started on ``fake``, with the office's group and staff."""
    chat_id = config.office.chat_id
    assert chat_id is not None
    office = fake.group(chat_id, f"Văn phòng ({SIMULATED})")
    admin = fake.user(config.office.admin_ids[0], f"Cán bộ Văn phòng ({SIMULATED})")
    app = build_application(
        inbox,
        services,
        catalog,
        fake.token,
        request=fake.make_request(),
        get_updates_request=fake.make_request(),
    )
    limiter = app.bot.rate_limiter
    if isinstance(limiter, RetryingRateLimiter):
        # The bot's retries of its replies wait in virtual time, as the outbox's pacer does.
        replies_time = VirtualTime()
        limiter.use_time(replies_time.monotonic, replies_time.sleep)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)  # the command menus, as `hoinghi run` publishes them
    inbox.links.append(telegram_link_maker(app.bot.username))
    sender = TelegramSender.build(fake.token, config.telegram, catalog, request=fake.make_request())
    await sender.bot.initialize()
    return TelegramStage(fake, app, sender, office, admin, deliver)


def latest_with(user: FakeUser, label: str) -> JsonDict | None:
    """The newest message in ``user``'s chat that carries the button ``label``."""
    for message in reversed(user.messages):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(button.get("text") == label for row in rows for button in row):
            return message
    return None


def answered(update: JsonDict, calls: Sequence[ApiCall]) -> bool:
    """Whether the bot's answer to ``update`` reached its person: a message in the chat it came
    from, or a toast with text on the tap. The calls are those made while it was handled (the
    rehearsal is sequential); a call that failed, however often retried, answered nothing."""
    query = update.get("callback_query") or {}
    message = update.get("message") or query.get("message") or {}
    chat = message.get("chat", {}).get("id")
    for call in calls:
        if call.error is not None or call.error_code is not None:
            continue
        if call.method == "answerCallbackQuery":
            if call.params.get("callback_query_id") == query.get("id") and call.params.get("text"):
                return True
        elif _is_message(call) and call.params.get("chat_id") == chat:
            return True
    return False


def _is_message(call: ApiCall) -> bool:
    return call.method.startswith("send") and call.method != "sendChatAction"
