"""Linking a chat account to a person on the list, and the invitation card they then see."""

from __future__ import annotations

from bot.chat import drafts, tasks
from bot.chat.replies import invitation_card
from bot.chat.turn import Turn
from bot.domain.inbound import Command, PhoneShared, Reachability
from bot.domain.outbound import SILENCE, Answer, Outbound, TextPart
from bot.services.invitations import LinkOutcome, LinkResult
from bot.texts.presenters import rsvp_buttons


async def start(turn: Turn, command: Command) -> Answer:
    """``/start [token]``: open a personal invitation, or explain how to get one."""
    services = turn.services
    if not command.args:
        mine = await services.invitations.whoami(turn.account)
        if mine is not None:
            return await _show_card(turn, mine, intro_key="start.already_linked")
        return Answer.of(
            Outbound(
                (
                    TextPart(
                        turn.html(
                            "start.welcome",
                            office=turn.config.office.name,
                            title=turn.config.meeting.title,
                        ),
                        ask_phone=turn.channel.capabilities.phone_request,
                    ),
                )
            )
        )
    result = await services.invitations.link_by_token(turn.account, command.args[0])
    if result.told:  # slowed down and told so already in this window: no answer to a flood
        return SILENCE
    return await answer_link(turn, result)


async def phone(turn: Turn, shared: PhoneShared) -> Answer:
    """Link by a shared phone number, if it is the sender's own and matches one person."""
    if not shared.own:
        return Answer.of(
            Outbound(
                (
                    TextPart(
                        turn.html("start.phone_not_own"),
                        ask_phone=turn.channel.capabilities.phone_request,
                    ),
                )
            )
        )
    result = await turn.services.invitations.link_by_phone(turn.account, shared.phone)
    return await answer_link(turn, result)


async def reachability(turn: Turn, change: Reachability) -> Answer:
    """The person blocked the bot (or came back): the outbox stops (or resumes) sending."""
    await turn.services.invitations.set_reachable(
        turn.account, reachable=change.reachable, reason=change.reason
    )
    return Answer()


async def answer_link(turn: Turn, result: LinkResult) -> Answer:
    """What a link attempt says: the card when linked, else why not."""
    if result.outcome in (LinkOutcome.LINKED, LinkOutcome.ALREADY_LINKED):
        intro = "start.linked" if result.outcome is LinkOutcome.LINKED else "start.already_linked"
        return await _show_card(turn, result, intro_key=intro)
    params: dict[str, object] = {"contact": turn.config.office.contact}
    if result.retry_after is not None:  # slowed down after too many wrong links
        params["minutes"] = max(1, -(-int(result.retry_after.total_seconds()) // 60))
    if result.outcome is LinkOutcome.ACCOUNT_TAKEN and result.delegate is not None:
        params["name"] = result.delegate.full_name
    return turn.say(f"start.{result.outcome.value}", **params)


async def status(turn: Turn) -> Answer:
    """``/trangthai``: the invitation card with the current answer and, while open, the choices."""
    mine = await turn.services.invitations.whoami(turn.account)
    if mine is None:
        return turn.not_linked()
    return await card(turn, mine)


async def _show_card(turn: Turn, result: LinkResult, *, intro_key: str) -> Answer:
    # A speaker learns their theme and deadline; the invitation (and its choices) comes last,
    # where the screen ends.
    intro = Answer.of(Outbound((TextPart(turn.html(intro_key), ask_phone=False),)))
    return intro.then(await drafts.mine(turn, quiet=True)).then(await card(turn, result))


async def card(turn: Turn, result: LinkResult) -> Answer:
    """The invitation card (a task contact's tasks instead: they have no invitation)."""
    assert result.delegate is not None and result.rsvp is not None
    if result.delegate.is_contact:
        return await tasks.board(turn)
    is_open = turn.services.rsvp.is_open()
    text = invitation_card(turn.catalog, turn.config, result.delegate, result.rsvp, is_open=is_open)
    return Answer.say(text, rsvp_buttons(turn.catalog) if is_open else ())
