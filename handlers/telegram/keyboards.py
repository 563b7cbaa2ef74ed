"""Buttons. Callback data names an action only, never a record: who pressed decides whose
answer changes, so forged data cannot touch another delegate."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from bot.domain.outbound import Button
from bot.services.rsvp import RsvpChoice, rsvp_action
from bot.texts import Catalog

RSVP_PATTERN = r"^rsvp:[a-z_]{1,20}$"


def _button(catalog: Catalog, choice: RsvpChoice) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        catalog.plain(f"buttons.{choice.value}"), callback_data=rsvp_action(choice)
    )


def rsvp_keyboard(catalog: Catalog) -> InlineKeyboardMarkup:
    """Tham dự / Không tham dự / Cử người dự thay."""
    return InlineKeyboardMarkup(
        [
            [_button(catalog, RsvpChoice.ATTEND)],
            [_button(catalog, RsvpChoice.DECLINE)],
            [_button(catalog, RsvpChoice.SUBSTITUTE)],
        ]
    )


def decline_keyboard(catalog: Catalog) -> InlineKeyboardMarkup:
    """Decline without a reason, or cancel."""
    return InlineKeyboardMarkup(
        [[_button(catalog, RsvpChoice.DECLINE_WITHOUT_REASON), _button(catalog, RsvpChoice.CANCEL)]]
    )


def cancel_keyboard(catalog: Catalog) -> InlineKeyboardMarkup:
    """Cancel what the bot is asking for."""
    return InlineKeyboardMarkup([[_button(catalog, RsvpChoice.CANCEL)]])


def share_phone_keyboard(catalog: Catalog) -> ReplyKeyboardMarkup:
    """A one-time button that shares the user's own phone number."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(catalog.plain("buttons.share_phone"), request_contact=True)]],
        one_time_keyboard=True,
        resize_keyboard=True,
    )


def markup(rows: tuple[tuple[Button, ...], ...]) -> InlineKeyboardMarkup | None:
    """The core's channel-neutral buttons as an inline keyboard (None for no buttons)."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows]
    )
