"""Telegram's personal links, apart from the Application: ``invites export`` and ``invites
print`` make them for a bot whose name the office gives, without loading python-telegram-bot."""

from __future__ import annotations

from collections.abc import Callable


def telegram_link_maker(username: str) -> Callable[[str], str]:
    """Makes a person's Telegram link from their token: it opens the bot with ``/start``."""

    def make(token: str) -> str:
        return deep_link(username.lstrip("@"), token)

    return make


def deep_link(bot_username: str, token: str) -> str:
    """The personal link that opens the bot with ``/start <token>``."""
    return f"https://t.me/{bot_username}?start={token}"
