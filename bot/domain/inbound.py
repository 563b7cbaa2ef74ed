"""What a channel hands the core: neutral events, each from an identified account.

A channel adapter turns its platform's updates into these and nothing else: a command, a typed
text, an action (a button tapped, or a numbered choice typed), a file, a shared phone number, a
change in whether the person can be reached. ``event_id`` is the channel's own identity for the
event (Telegram's ``update_id``, another platform's message id): a copy delivered again carries
the same one and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.channels import Chat, ChatAccount


@dataclass(frozen=True, kw_only=True)
class Inbound:
    """Who sent it, in which chat, under which identity of the channel's."""

    account: ChatAccount
    chat: Chat
    event_id: str | None = None

    @property
    def in_group(self) -> bool:
        """Sent in a group chat rather than privately to the bot."""
        return self.chat.is_group


@dataclass(frozen=True, kw_only=True)
class Command(Inbound):
    """``/name args…``: a command, with its words."""

    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Text(Inbound):
    """Typed text; ``reply_to`` names the bot's message it answers, where the channel has
    reply threads (a platform message id, as the outbox recorded it)."""

    text: str
    reply_to: str | None = None


@dataclass(frozen=True, kw_only=True)
class Action(Inbound):
    """A choice the core offered, by the action data it carried."""

    data: str


@dataclass(frozen=True, kw_only=True)
class FileIn(Inbound):
    """A file a person sent: its name, the size the platform announced, and the channel's
    reference to fetch it by."""

    name: str
    size: int | None
    file_ref: str
    caption: str = ""
    reply_to: str | None = None


@dataclass(frozen=True, kw_only=True)
class PhoneShared(Inbound):
    """A phone number shared through the platform; ``own`` when it is the sender's own."""

    phone: str
    own: bool


@dataclass(frozen=True, kw_only=True)
class Reachability(Inbound):
    """The person blocked the bot, or came back."""

    reachable: bool
    reason: str


@dataclass(frozen=True, kw_only=True)
class Unsupported(Inbound):
    """Something the core cannot read (a sticker, a photo, a voice note): it gets a hint."""

    reply_to: str | None = None


Event = Command | Text | Action | FileIn | PhoneShared | Reachability | Unsupported
