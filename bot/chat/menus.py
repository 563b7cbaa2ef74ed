"""Choices on a channel without buttons: a numbered menu the person answers by typing.

The last choices sent to an account are kept with it (``ChannelIdentity.menu``, written when an
answer or an outbox message offers them). A number picks one of them; so does the option's own
words, case and diacritics ignored ("tham du" is "✅ Tham dự"). Only the newest menu counts: a
number it does not have is not taken as an answer to an older one (the invitation's choices
typed in words answer it whatever came since); nor, while the bot asks for a
reason or a name, as that text (a reason «3»): the person is told which numbers there are.

Except for menus that reached her together: messages the bot wrote first within
``MENUS_TOGETHER`` of each other, about different things (the RSVP chase and the speech
reminder, due the same minute; two drafts' posts still supersede each other), read as one
batch, and she may answer any of them. A number only one of them has picks it; a
number several have is asked back with their choices as a new short menu («1 – ✅ Tham dự ·
2 – ✍️ Soạn tham luận…»), never taken as the newest's. An answer to what she typed is a menu
of its own again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.chat.turn import Turn
from bot.domain.channels import ChatAccount
from bot.domain.inbound import Action, Text
from bot.domain.outbound import Answer, Button
from bot.domain.typed import fold
from bot.services.rsvp import AWAITING
from bot.texts.presenters import rsvp_buttons
from storage import queries
from storage.uow import unit_of_work

if TYPE_CHECKING:
    from bot.services import Services

_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
UNSEEN = queries.MENU_UNSEEN  # a choice of a menu whose message did not reach the person


def offered(answer: Answer) -> tuple[Button, ...]:
    """The choices an answer ends with (those of its last message that offers any)."""
    for reply in reversed(answer.replies):
        rows = reply.outbound.buttons
        if rows:
            return tuple(button for row in rows for button in row)
    return ()


async def remember(turn: Turn, answer: Answer) -> None:
    """Keep the choices ``answer`` offers as the account's menu (nothing offered: kept as is,
    so a hint does not take away the choices the person was answering)."""
    choices = offered(answer)
    if not choices:
        return
    async with unit_of_work(turn.services.ctx.sessions) as session:
        await queries.remember_menu(
            session,
            turn.account.channel,
            turn.account.chat_address,
            ((b,) for b in choices),
        )


@dataclass(frozen=True)
class NotOnMenu:
    """A number the account's newest menu does not have, typed while the bot asks for a reason
    or a name: no answer to anything (not a reason «3», nor a substitute called «2»), and said
    so with the menu it has."""

    number: int
    labels: tuple[str, ...]

    def answer(self, turn: Turn) -> Answer:
        """Which numbers there are to type."""
        options = turn.catalog.plain("menu.separator").join(
            turn.catalog.plain("menu.option", number=number, label=label)
            for number, label in enumerate(self.labels, start=1)
        )
        return turn.say("hint.not_on_menu", number=self.number, options=options)


@dataclass(frozen=True)
class AskBack:
    """A number several menus that reached the person together have: which one she means is
    asked, with those choices as a new menu (typed next as usual)."""

    number: int
    choices: tuple[tuple[str, str], ...]

    def answer(self, turn: Turn) -> Answer:
        """The choices the number stands for, numbered anew."""
        buttons = tuple((Button(label, data),) for label, data in self.choices)
        return turn.say("hint.which_menu", buttons, number=self.number, count=len(self.choices))


async def choice(turn: Turn, text: Text) -> Action | NotOnMenu | AskBack | None:
    """The choice typed ``text`` picks from the account's menu, as the action it carries;
    :class:`NotOnMenu` for a number the menu does not have; :class:`AskBack` for a number
    several menus that arrived together have; None when it picks none (then it is free text
    for whatever the bot asked)."""
    if turn.channel.capabilities.buttons:
        return None
    async with turn.services.ctx.sessions() as session:
        ident = await queries.identity(
            session, turn.services.ctx.meeting_id, turn.account.channel, turn.account.external_id
        )
    menus = queries.stored_menus(ident.menu) if ident else ()
    if not menus:
        return await _invitation_choice(turn, text) if ident else None
    menu = menus[0]
    picked: str | None = None
    number = _NUMBER.match(text.text)
    if number is not None:
        index = int(number.group(1)) - 1
        # In the order they arrived (one choice offered twice is one), the invitation's first:
        # the answer the office waits for most.
        candidates = list(dict.fromkeys(m[index] for m in reversed(menus) if 0 <= index < len(m)))
        if len(candidates) > 1:
            invitation = {
                b.data
                for row in rsvp_buttons(
                    turn.catalog, turn.config, meeting=turn.services.ctx.meeting_id
                )
                for b in row
            }
            candidates.sort(key=lambda choice: choice[1] not in invitation)
            return AskBack(index + 1, tuple(candidates))
        if not candidates:
            # The answer to a reason or a name is never a bare number: a slip for a choice.
            if ident is not None and ident.pending_input in AWAITING:
                return NotOnMenu(index + 1, tuple(label for label, _ in menu))
            return None  # free text for whatever was asked (a task's note may be «50»)
        picked = candidates[0][1]
    else:
        typed = fold(text.text)
        picked = next(
            (data for m in menus for label, data in m if typed and fold(label) == typed), None
        )
        if picked is None:
            return await _invitation_choice(turn, text)
    if ident is not None and queries.sent_first(ident.menu) and not picked.startswith(UNSEEN):
        # She answered one of them: what the bot sends first next arrives after her answer,
        # not together with these (an answer without choices leaves the menu as it is). Not
        # for a choice of a menu she has not seen: that menu is found by :func:`on_unseen`,
        # whose answer brings its choices as her menu.
        async with unit_of_work(turn.services.ctx.sessions) as session:
            await queries.remember_menu(
                session,
                turn.account.channel,
                turn.account.chat_address,
                ((Button(label, data),) for label, data in menu),
            )
    return Action(account=text.account, chat=text.chat, event_id=text.event_id, data=picked)


async def _invitation_choice(turn: Turn, text: Text) -> Action | None:
    """The invitation's choice an invitee typed in words («tham du», «khong tham du») when the
    newest menu is another's: a task's reminder or a draft's prompt came after the card, and
    «tham du» was refused, or kept as a piece of the draft being typed. Numbers stay the
    newest menu's: a «1» means what the last message offered."""
    typed = fold(text.text)
    if not typed:
        return None
    choices = [
        button
        for row in rsvp_buttons(turn.catalog, turn.config, meeting=turn.services.ctx.meeting_id)
        for button in row
    ]
    picked = next((b.data for b in choices if fold(b.label) == typed), None)
    if picked is None:
        return None
    caller = await turn.caller()
    if caller.person is None or caller.person.is_contact:
        return None
    return Action(account=text.account, chat=text.chat, event_id=text.event_id, data=picked)


async def _rewrite(
    services: Services,
    account: ChatAccount,
    rewrite: Callable[[str], str],
    which: Callable[[queries.Menu], bool],
) -> queries.Menu:
    """Rewrite the data of the choices of the account's stored menu ``which`` picks, newest
    first (the others, and when they came, kept as they are); that menu as it was (none:
    empty)."""
    async with unit_of_work(services.ctx.sessions) as session:
        ident = await queries.identity(
            session, services.ctx.meeting_id, account.channel, account.external_id
        )
        stored = ident.menu if ident else None
        found = next(
            ((at, m) for at, m in enumerate(queries.menus_in(stored)) if m and which(m)), None
        )
        if found is None:
            return ()
        at, menu = found
        await queries.rewrite_menu(
            session,
            account.channel,
            account.chat_address,
            stored,
            [[label, rewrite(data)] for label, data in menu],
            position=at,
        )
    return menu


def _hidden(data: str) -> str:
    return data if data.startswith(UNSEEN) else UNSEEN + data


def _shown(data: str) -> str:
    return data.removeprefix(UNSEEN)


def _of(choices: Sequence[Button]) -> Callable[[queries.Menu], bool]:
    """Whether a stored menu is the one of ``choices`` (marked unseen or not)."""
    wanted = [_shown(button.data) for button in choices]
    return lambda menu: [_shown(data) for _, data in menu] == wanted


async def unseen(services: Services, account: ChatAccount, choices: Sequence[Button]) -> None:
    """The menu of ``choices`` did not reach the account: its choices are not taken until it
    has. Only that menu is marked, wherever it is stored (one stored since, that reached her,
    keeps counting; one that replaced it is marked nothing)."""
    await _rewrite(services, account, _hidden, _of(choices))


async def shown(services: Services, account: ChatAccount, choices: Sequence[Button]) -> None:
    """The menu of ``choices`` reached the account after all (sent again), after whatever it
    had: kept as its menu, as an answer's is, and its choices count."""
    async with unit_of_work(services.ctx.sessions) as session:
        await queries.remember_menu(
            session,
            account.channel,
            account.chat_address,
            ((Button(button.label, _shown(button.data)),) for button in choices),
        )


async def on_unseen(turn: Turn, action: Action) -> Answer:
    """A choice picked from a menu that never reached the person: not taken; she is told so,
    with the choices of that menu (the newest, or one that came with it) as the answer's own
    menu, which counts once this answer reaches her (it is marked unseen again if it does not:
    a «1» typed blind again is not taken either)."""
    picked_from = await _rewrite(
        turn.services, turn.account, _shown, lambda menu: action.data in (d for _, d in menu)
    )
    picked = next((label for label, data in picked_from if data == action.data), "")
    buttons = tuple((Button(label, _shown(data)),) for label, data in picked_from)
    return turn.say("hint.unseen_choice", buttons, choice=picked)
