"""Channels as the core sees them: what a platform can do, who wrote, and where to answer.

References to people, chats and messages are opaque strings tagged with their channel: nothing
here assumes integer ids, their order, or which platform is on the other side. The core asks
what a channel *can do* (:class:`Capabilities`), never which one it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Capabilities:
    """What a messaging platform can carry.

    ``buttons``: choices a person taps (else a numbered menu they answer by typing);
    ``files_out`` / ``files_in``: attachments each way (else links to the personal web page);
    ``reply_threads``: a message can answer a named earlier one (the office's draft comments);
    ``location_pins``: a place as a pin (else the address with a map link); ``html``: the
    catalog's small HTML subset renders (else plain text); ``max_text``: the longest message;
    ``groups``: the bot can sit in a group chat (the office group); ``phone_request``: a button
    that shares the person's own phone number; ``start_payload``: the platform passes a payload
    with a person's first message (Telegram's ``/start <token>`` from a deep link), so opening
    their link links them — without it people link by typing the personal code printed on
    their invitation.
    """

    buttons: bool
    files_out: bool
    files_in: bool
    reply_threads: bool
    location_pins: bool
    html: bool
    max_text: int
    groups: bool = False
    phone_request: bool = False
    start_payload: bool = True


@dataclass(frozen=True)
class ChatAccount:
    """A chat account as a channel adapter sees it: who wrote, and where to answer them
    privately. ``display_name`` is what the platform calls the person (for the office's
    comments), never used to identify them."""

    channel: str
    external_id: str
    chat_address: str
    display_name: str = ""

    @property
    def actor(self) -> str:
        """How the audit log names this account."""
        return f"{self.channel}:{self.external_id}"


@dataclass(frozen=True)
class Chat:
    """The chat an event came from: a person's private chat, or a group (the office's)."""

    address: str
    is_group: bool = False


class FileTooLarge(Exception):
    """The platform refused to hand over a file because of its size."""


class FileUnavailable(Exception):
    """The platform could not hand over a file (gone, or a failure on the way)."""


class FileSource(Protocol):
    """Fetches a file a person sent, by the channel's reference to it."""

    async def fetch(self, file_ref: str) -> bytes:
        """The file's bytes; raises FileTooLarge or FileUnavailable."""
        ...


@dataclass(frozen=True)
class ChannelInfo:
    """The channel an event came through: its name, what it can do, and how to fetch the files
    people send on it."""

    name: str
    capabilities: Capabilities
    files: FileSource | None = None


def place(channel: str, address: str) -> str:
    """A chat as one string: ``telegram:-1001234``, ``zalo:9f3a…``."""
    return f"{channel}:{address}"


def parse_place(value: str) -> tuple[str, str] | None:
    """The channel and address of :func:`place`, or None for anything else."""
    channel, sep, address = value.partition(":")
    if not sep or not channel or not address:
        return None
    return channel, address


@dataclass(frozen=True)
class LinkedChat:
    """A chat account a person linked (not the account her personal page acts as)."""

    channel: str
    linked_at: datetime
    unreachable_at: datetime | None  # since when messages do not reach it (she blocked the bot)
