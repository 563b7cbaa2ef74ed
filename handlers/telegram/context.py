"""What the Telegram handlers find in python-telegram-bot's ``bot_data``: the core's inbox, the
services (for the adapter's own duties: redelivery, errors) and the catalog."""

from __future__ import annotations

from telegram.ext import ContextTypes

from bot.chat import Inbox
from bot.services import Services
from bot.texts import Catalog

_INBOX = "hoinghi.inbox"
_SERVICES = "hoinghi.services"
_CATALOG = "hoinghi.catalog"

Context = ContextTypes.DEFAULT_TYPE


def install(
    bot_data: dict[str, object], inbox: Inbox, services: Services, catalog: Catalog
) -> None:
    """Put the inbox, the services and the catalog where handlers find them."""
    bot_data[_INBOX] = inbox
    bot_data[_SERVICES] = services
    bot_data[_CATALOG] = catalog


def inbox_of_bot_data(bot_data: dict[str, object]) -> Inbox:
    """The core's entry point for events."""
    inbox = bot_data[_INBOX]
    assert isinstance(inbox, Inbox)
    return inbox


def services_of_bot_data(bot_data: dict[str, object]) -> Services:
    """The services built by the composition root."""
    services = bot_data[_SERVICES]
    assert isinstance(services, Services)
    return services


def catalog_of_bot_data(bot_data: dict[str, object]) -> Catalog:
    """The text catalog in the meeting's locale."""
    catalog = bot_data[_CATALOG]
    assert isinstance(catalog, Catalog)
    return catalog


def services_of(context: Context) -> Services:
    """The services, from a handler's context."""
    return services_of_bot_data(context.bot_data)


def catalog_of(context: Context) -> Catalog:
    """The catalog, from a handler's context."""
    return catalog_of_bot_data(context.bot_data)
