"""Typed access to what handlers need from python-telegram-bot's context and updates."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.services import Services
from bot.services.invitations import ChatAccount
from bot.texts import Catalog

CHANNEL = "telegram"
_SERVICES = "hoinghi.services"
_CATALOG = "hoinghi.catalog"

Context = ContextTypes.DEFAULT_TYPE


def install(bot_data: dict[str, object], services: Services, catalog: Catalog) -> None:
    """Put the services and the catalog where handlers find them."""
    bot_data[_SERVICES] = services
    bot_data[_CATALOG] = catalog


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


def account_of(update: Update) -> ChatAccount:
    """The chat account that sent ``update`` (a private chat: the user is the chat)."""
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    # Delegates talk to the bot in private, where the chat id is the user id; a button on an
    # old message may come without its chat, so the user id is the address that always works.
    return ChatAccount(channel=CHANNEL, external_id=str(user.id), chat_address=str(user.id))
