"""How the office gets word to a person a list names (a speaker, a task's assignee)."""

from __future__ import annotations

from enum import StrEnum


class Contact(StrEnum):
    """The one reading every list marks a person by (:func:`bot.services.roster.contact`
    decides it, :func:`bot.texts.presenters.contact_mark` words it)."""

    # A chat that runs here takes her messages (linked, not blocked): the bot tells her.
    CHAT = "chat"
    # No chat does, and her invitation has not gone out: the office sends it first.
    INVITE = "invite"
    # No chat does, and her invitation reached her (or she has none to send, a task contact;
    # or it is the meeting's day, too late to send one): the office phones her.
    PHONE = "phone"


class Reached:
    """What a list's line knows of a person from her :class:`Contact`: mixed into the lines
    that carry one (a speaker's, a task assignee's), so the two readings are written once."""

    contact: Contact

    @property
    def reachable(self) -> bool:
        """What the office sends her reaches her: a chat takes the bot's messages."""
        return self.contact is Contact.CHAT

    @property
    def unsent(self) -> bool:
        """No chat reaches her and her invitation has not gone out: it is sent first."""
        return self.contact is Contact.INVITE
