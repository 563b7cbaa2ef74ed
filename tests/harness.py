"""The real bot (python-telegram-bot Application + services + SQLite) against the fake Bot API."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application

from bot.config import Config
from bot.services import Services
from bot.texts import load_catalog
from handlers.telegram.app import build_application
from schedules.clock import ManualClock
from tests.fakes.telegram_api import FakeBotApi, FakeUser, deliver

ADMIN_ID = 100000001  # in config.example.toml's [office] admin_ids


def wired_config(config: Config, fake: FakeBotApi) -> Config:
    """The plan with the Bot API URLs pointed at the fake."""
    telegram = config.telegram.model_copy(
        update={"api_base_url": fake.base_url, "file_base_url": fake.base_file_url}
    )
    return config.model_copy(update={"telegram": telegram})


@dataclass
class BotHarness:
    """Drives the bot the way Telegram would: one update at a time, awaited to the end."""

    app: Application  # type: ignore[type-arg]
    fake: FakeBotApi
    services: Services
    clock: ManualClock
    tokens: dict[str, str] = field(default_factory=dict)
    _next_user_id: int = 500_000_000

    async def send(self, update: dict[str, Any]) -> None:
        """Deliver one update and wait until every handler for it has finished."""
        await deliver(self.app, update)

    def new_user(self, first_name: str = "Đại biểu") -> FakeUser:
        """A fresh Telegram user with a private chat."""
        self._next_user_id += 1
        return self.fake.user(self._next_user_id, first_name)

    def admin(self) -> FakeUser:
        """The office admin of the example plan."""
        return self.fake.user(ADMIN_ID, "Văn phòng")

    async def open_invitation(self, code: str, user: FakeUser | None = None) -> FakeUser:
        """The delegate with ``code`` opens their personal link."""
        user = user or self.new_user(code)
        await self.send(user.command(f"/start {self.tokens[code]}"))
        return user


async def start_harness(fake: FakeBotApi, services: Services, clock: ManualClock) -> BotHarness:
    """Build and initialise the application as `hoinghi run` does, minus polling."""
    catalog = load_catalog(services.config.meeting.locale)
    app = build_application(
        services,
        catalog,
        fake.token,
        request=fake.make_request(),
        get_updates_request=fake.make_request(),
    )
    await app.initialize()
    links = await services.invitations.links()
    return BotHarness(
        app=app,
        fake=fake,
        services=services,
        clock=clock,
        tokens={link.code: link.token for link in links},
    )
