"""One inbound event on its way through the core: who sent it, through which channel, and the
tools every conversation module answers with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.config import Config
from bot.domain.channels import ChannelInfo, ChatAccount
from bot.domain.inbound import Event
from bot.domain.outbound import Answer, Button, Outbound, Reply, Toast
from bot.services.access import Caller, OfficeActor
from bot.texts import Catalog

if TYPE_CHECKING:
    from bot.services import Services

Buttons = tuple[tuple[Button, ...], ...]


@dataclass
class Turn:
    """An event, its channel, and the services; :meth:`caller` is read once, when needed (a
    tap on an RSVP button needs no roles, so it reads none)."""

    event: Event
    channel: ChannelInfo
    services: Services
    catalog: Catalog
    _caller: Caller | None = field(default=None, init=False, repr=False)

    @property
    def config(self) -> Config:
        """The plan."""
        return self.services.config

    @property
    def account(self) -> ChatAccount:
        """Who sent the event."""
        return self.event.account

    @property
    def in_group(self) -> bool:
        """The event came from a group chat."""
        return self.event.in_group

    async def caller(self) -> Caller:
        """Who the sender is: their person on the list, if linked, and their roles."""
        if self._caller is None:
            self._caller = await self.services.access.caller(self.account)
        return self._caller

    def relinked(self) -> None:
        """The event linked its account to a person: who the sender is is read again when
        next needed (read before, to route the typed code, they were nobody)."""
        self._caller = None

    async def office(self) -> OfficeActor | None:
        """The sender as office staff, or None if they are not."""
        return self.services.access.office(await self.caller())

    # --- answering ---------------------------------------------------------------------------

    def html(self, key: str, /, **params: object) -> str:
        """A catalog text as HTML."""
        return self.catalog.html(key, **params)

    def say(self, key: str, buttons: Buttons = (), /, **params: object) -> Answer:
        """One catalog text back to where the event came from."""
        return Answer.say(self.catalog.html(key, **params), buttons)

    def toast(self, key: str, /, *, alert: bool = False, **params: object) -> Toast:
        """A catalog text as a toast."""
        return Toast(self.catalog.plain(key, **params), alert=alert)

    def private(self, outbound: Outbound, *, if_unreachable: Outbound | None = None) -> Reply:
        """A message to the sender's own chat, wherever the event came from."""
        return Reply(outbound, private=True, if_unreachable=if_unreachable)

    def refused(self) -> Answer:
        """An office action tried by someone who is not office staff: a polite refusal in
        private; in a group, where it would only be noise for everyone, nothing."""
        if self.in_group:
            return Answer()
        return self.say("office.refused")

    def not_linked(self) -> Answer:
        """The account is not linked to anyone on the list: how to link, on this channel (where
        no link opens, by sending the personal code)."""
        return self.say(self.not_linked_key, contact=self.config.office.contact)

    @property
    def not_linked_key(self) -> str:
        """The catalog key saying how to link on this channel."""
        return (
            "hint.not_linked" if self.channel.capabilities.start_payload else "hint.not_linked_code"
        )
