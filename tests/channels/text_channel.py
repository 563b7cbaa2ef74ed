"""A chat platform of text only, for tests: no buttons (numbered menus), no files, no HTML, no
reply threads, no payload with a first message (people link by typing their personal code),
opaque string ids. It plugs into the core exactly as a real adapter does — events
to :class:`bot.chat.Inbox`, answers and outbox parts rendered with what it can do — and no line
of ``bot/`` knows it exists."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.chat import Inbox
from bot.domain.channels import Capabilities, ChannelInfo, Chat, ChatAccount
from bot.domain.inbound import Command, Event, Text
from bot.domain.outbound import (
    Answer,
    Outbound,
    Part,
    SendOutcome,
    SendResult,
    TextPart,
    VenuePart,
)
from bot.texts import Catalog
from bot.texts.plain import render_plain

NAME = "text"
CAPABILITIES = Capabilities(
    buttons=False,
    files_out=False,
    files_in=False,
    reply_threads=False,
    location_pins=False,
    html=False,
    max_text=1000,
    start_payload=False,  # no link carries a token here: people type their personal code
)


@dataclass
class TextPerson:
    """Someone on the text platform: an opaque id, and what they have read so far."""

    channel: TextChannel
    id: str
    name: str
    read: list[str] = field(default_factory=list)

    @property
    def last(self) -> str:
        """The last message they received."""
        return self.read[-1]

    async def type(self, text: str) -> list[str]:
        """Type a message to the bot; returns the messages the bot answered with."""
        before = len(self.read)
        await self.channel.deliver(self, text)
        return self.read[before:]


@dataclass
class TextChannel:
    """The platform and its adapter in one: people type, the adapter hands the core events and
    shows them its answers; the outbox sends through :meth:`send`."""

    inbox: Inbox
    catalog: Catalog
    channel: str = NAME
    capabilities: Capabilities = CAPABILITIES
    people: dict[str, TextPerson] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    log: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def person(self, name: str) -> TextPerson:
        """A new person with an id such platforms give: a string, no order to rely on."""
        person_id = f"u{next(self._ids):04x}z"
        person = self.people[person_id] = TextPerson(self, person_id, name)
        return person

    async def deliver(self, person: TextPerson, text: str) -> None:
        """What the adapter does with a typed message: an event to the core, its answer shown."""
        account = ChatAccount(NAME, person.id, person.id, person.name)
        base = {"account": account, "chat": Chat(person.id), "event_id": f"e{next(self._ids)}"}
        event: Event
        if text.startswith("/"):
            name, *args = text[1:].split()
            event = Command(**base, name=name, args=tuple(args))
        else:
            event = Text(**base, text=text)
        answer = await self.inbox.handle(event, ChannelInfo(NAME, CAPABILITIES))
        self._show(person, answer)

    def _show(self, person: TextPerson, answer: Answer) -> None:
        for reply in answer.replies:
            for text in render_plain(reply.outbound, self.catalog, CAPABILITIES):
                person.read.append(text)
        if answer.toast is not None and not answer.replies:
            person.read.append(answer.toast.text)  # no taps here: a toast is a message

    # --- the outbox's side (ChannelSender) -----------------------------------------------------

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        """Each message this platform shows; the choices ride on the last piece of a part, so
        the outbox remembers them as the person's menu."""
        parts: list[Part] = []
        for part in outbound.parts:
            texts = render_plain(Outbound((part,)), self.catalog, CAPABILITIES)
            choices = () if isinstance(part, VenuePart) else part.buttons
            parts += [TextPart(text) for text in texts[:-1]]
            parts.append(TextPart(texts[-1], choices))
        return parts

    async def send(self, address: str, part: Part) -> SendResult:
        """Show a prepared part to the person at ``address``."""
        assert isinstance(part, TextPart)
        assert len(part.html) <= CAPABILITIES.max_text
        self.people[address].read.append(part.html)
        return SendResult(SendOutcome.SENT, platform_message_id=f"m{next(self._ids)}")
