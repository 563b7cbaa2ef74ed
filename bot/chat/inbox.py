"""The one entry point for everything people send: which use case an event is for, whether the
sender may run it, and what the bot answers.

Channel adapters call :meth:`Inbox.handle` with a neutral event and render the :class:`Answer`.
They hold no permission check and no routing: a new channel cannot forget one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum, auto
from typing import TYPE_CHECKING

from bot.chat import drafts, general, linking, menus, notices, office, rsvp, signin, tasks
from bot.chat.office import LinkMaker
from bot.chat.turn import Turn
from bot.domain.channels import ChannelInfo, ChatAccount
from bot.domain.inbound import (
    Action,
    Command,
    Event,
    FileIn,
    PhoneShared,
    Reachability,
    Text,
    Unsupported,
)
from bot.domain.outbound import Answer, Button
from bot.services.access import OfficeActor
from bot.texts import Catalog

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


class Who(Enum):
    """Who may run a command: anyone (the use case decides what they see), or office staff."""

    ANYONE = auto()
    OFFICE = auto()


@dataclass(frozen=True)
class Route:
    """A command: what runs it, who may, and whether it works in a group chat (elsewhere than
    private, a command that does not is ignored, as a person's own things are shown privately)."""

    run: Callable[[Turn, Command, OfficeActor | None], Awaitable[Answer]]
    who: Who = Who.ANYONE
    in_groups: bool = True


def _anyone(handler: Callable[[Turn], Awaitable[Answer]]) -> Route:
    async def run(turn: Turn, _command: Command, _office: OfficeActor | None) -> Answer:
        return await handler(turn)

    return Route(run)


def _private(handler: Callable[[Turn, Command], Awaitable[Answer]]) -> Route:
    async def run(turn: Turn, command: Command, _office: OfficeActor | None) -> Answer:
        return await handler(turn, command)

    return Route(run, in_groups=False)


def _office(handler: Callable[[Turn, OfficeActor], Awaitable[Answer]]) -> Route:
    async def run(turn: Turn, _command: Command, office: OfficeActor | None) -> Answer:
        assert office is not None
        return await handler(turn, office)

    return Route(run, Who.OFFICE)


def _office_args(handler: Callable[[Turn, Command, OfficeActor], Awaitable[Answer]]) -> Route:
    async def run(turn: Turn, command: Command, office: OfficeActor | None) -> Answer:
        assert office is not None
        return await handler(turn, command, office)

    return Route(run, Who.OFFICE)


async def _status(turn: Turn, _command: Command) -> Answer:
    return await linking.status(turn)


async def _calendar(turn: Turn, _command: Command) -> Answer:
    return await general.calendar(turn)


async def _documents(turn: Turn, _command: Command) -> Answer:
    return await general.documents(turn)


class Inbox:
    """Routes events to use cases and answers them; one per process, shared by the channels."""

    def __init__(
        self, services: Services, catalog: Catalog, links: Sequence[LinkMaker] = ()
    ) -> None:
        self._services = services
        self._catalog = catalog
        self.links: list[LinkMaker] = list(links)
        # Told each event's channel and the seconds its handling took (bot.metrics).
        self.observers: list[Callable[[str, float], None]] = []
        self.commands: dict[str, Route] = {
            "start": _private(linking.start),
            "trangthai": _private(_status),
            "lich": _private(_calendar),
            "tailieu": _private(_documents),
            "help": _anyone(general.help_text),
            "trogiup": _anyone(general.help_text),
            "nhiemvu": _anyone(tasks.board),
            "thamluan": _anyone(drafts.board),
            "thongke": _office(office.counts),
            "chuatraloi": _office(office.unanswered),
            "baocao": _office(office.report),
            "thongbao": _office(notices.start),
            "lichthongbao": _office(notices.listing),
            "phancong": _office_args(drafts.assign),
            "caplai": _office_args(office.reissue),
            "golienket": _office_args(office.unlink),
            # A sign-in link is a key: made in a private chat only, for the office or the
            # check-in desk's staff (the use case refuses anyone else, and in a group tells
            # staff where to ask).
            "dangnhap": _anyone(signin.sign_in),
        }
        self.actions: dict[str, Callable[[Turn, Action], Awaitable[Answer]]] = {
            "rsvp": rsvp.on_action,
            "task": tasks.on_action,
            "dr": drafts.on_action,
            "bc": notices.on_action,
            "un": office.on_action,
            "ri": self._reissue_chosen,
            "nd": menus.on_unseen,  # a choice of a menu that never reached the person
        }

    async def _reissue_chosen(self, turn: Turn, action: Action) -> Answer:
        return await office.on_reissue(turn, action, self.links)

    async def handle(self, event: Event, channel: ChannelInfo) -> Answer:
        """Everything the bot answers to ``event`` from ``channel``."""
        started = time.perf_counter()
        turn = Turn(event, channel, self._services, self._catalog)
        if not isinstance(event, Reachability):
            self._services.activity.seen(event.account)  # messages go where people are
        answer = await self._route(turn, event)
        if not channel.capabilities.buttons and not event.in_group:
            await menus.remember(turn, answer)
        if self.observers:
            took = time.perf_counter() - started
            for observe in self.observers:
                observe(channel.name, took)
        return answer

    async def unseen(self, account: ChatAccount, choices: Sequence[Button]) -> None:
        """The menu of ``choices`` sent to ``account`` did not reach it (the platform refused
        the message): a number typed next is not taken as its choice (:mod:`bot.chat.menus`)."""
        await menus.unseen(self._services, account, choices)

    async def shown(self, account: ChatAccount, choices: Sequence[Button]) -> None:
        """The menu of ``choices`` reached ``account`` after all (sent again), after what it
        had: the one a number typed next answers."""
        await menus.shown(self._services, account, choices)

    async def flush(self) -> None:
        """Return once what the events so far left to store in passing is stored."""
        await self._services.activity.flush()

    async def _route(self, turn: Turn, event: Event) -> Answer:
        match event:
            case Command():
                return await self._command(turn, event)
            case Action():
                return await self._action(turn, event)
            case Text():
                return await self._text(turn, event)
            case FileIn():
                return await self._file(turn, event)
            case PhoneShared():
                return await linking.phone(turn, event) if not event.in_group else Answer()
            case Reachability():
                return await linking.reachability(turn, event)
            case Unsupported():
                if event.in_group:
                    return await drafts.on_group_reply(turn, event)
                if not turn.channel.capabilities.files_in:  # it cannot be read here at all
                    return await general.unreadable(turn)
                return await general.unsupported(turn)
        raise TypeError(f"not an event: {event!r}")

    async def _command(self, turn: Turn, command: Command) -> Answer:
        route = self.commands.get(command.name.casefold())
        if route is None or (command.in_group and not route.in_groups):
            # An unknown command in private gets the usual hint; in a group, silence.
            return Answer() if command.in_group else await general.hint(turn)
        actor = None
        if route.who is Who.OFFICE:
            actor = await turn.office()
            if actor is None:
                return turn.refused()
        return await route.run(turn, command, actor)

    async def _action(self, turn: Turn, action: Action) -> Answer:
        prefix = action.data.partition(":")[0]
        handler = self.actions.get(prefix)
        if handler is None:
            return general.stale(turn)
        return await handler(turn, action)

    async def _text(self, turn: Turn, text: Text) -> Answer:
        if text.in_group:
            return await drafts.on_group_reply(turn, text)
        if not turn.channel.capabilities.start_payload:
            # No link can carry a token here: whoever is not linked yet (nor staff by a
            # bootstrap id) links by typing their personal code. A linked person's text is
            # never read as one.
            caller = await turn.caller()
            if not caller.linked and not caller.roles:
                return await linking.by_code(turn, text)
        # Her own code again (unsure the first one worked) or the last meeting's, on any
        # channel: answered as «/start CODE» is, not taken as a dialog's text.
        code = await linking.typed_code(turn, text)
        if code is not None:
            return code
        chosen = await menus.choice(turn, text)
        if isinstance(chosen, menus.NotOnMenu | menus.AskBack):
            return chosen.answer(turn)
        if chosen is not None:
            return await self._action(turn, chosen)
        # A notice waiting for a choice is asked last: a text another dialog waits for is its.
        dialogs = (
            notices.on_text,
            tasks.on_text,
            drafts.on_text,
            rsvp.on_text,
            notices.on_stray_text,
        )
        for dialog in dialogs:
            answer = await dialog(turn, text)
            if answer is not None:
                return answer
        return await general.hint(turn)

    async def _file(self, turn: Turn, sent: FileIn) -> Answer:
        if sent.in_group:
            return await drafts.on_group_reply(turn, sent)
        for take in (tasks.on_file, drafts.on_file):
            answer = await take(turn, sent)
            if answer is not None:
                return answer
        return await general.hint(turn)
