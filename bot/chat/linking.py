"""Linking a chat account to a person on the list, and the invitation card they then see."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.chat import drafts, tasks
from bot.chat.replies import invitation_card, may_still_come
from bot.chat.turn import Turn
from bot.domain.inbound import Command, PhoneShared, Reachability, Text
from bot.domain.outbound import SILENCE, Answer, Outbound, TextPart
from bot.domain.tokens import code_shaped, find_link_code, format_link_code, looks_like_token
from bot.services.invitations import LinkOutcome, LinkResult
from bot.texts import Html
from bot.texts.formatting import long_date, short_moment
from bot.texts.presenters import rsvp_buttons, withdrawn_notice


async def start(turn: Turn, command: Command) -> Answer:
    """``/start [token]``: open a personal invitation, or explain how to get one."""
    services = turn.services
    if not command.args:
        mine = await services.invitations.whoami(turn.account)
        if mine is not None:
            return await _show_card(turn, mine, intro_key="start.already_linked")
        if not turn.channel.capabilities.start_payload:
            return how_to_link_by_code(turn)
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
    typed = " ".join(command.args)
    if not looks_like_token(command.args[0]) and (
        (code := find_link_code(typed)) is not None or (code := code_shaped(typed)) is not None
    ):
        # «/start K7PX-M3QB»: the personal code, typed after the command (where no link opens,
        # the bot's welcome asks for it); one misread from paper is told it is wrong.
        result = await services.invitations.link_by_code(turn.account, code)
        by_code = True
    else:
        result = await services.invitations.link_by_token(turn.account, command.args[0])
        by_code = False
    if result.told:  # slowed down and told so a moment ago: no answer to a flood
        return SILENCE
    return await answer_link(turn, result, by_code=by_code)


async def by_code(turn: Turn, text: Text) -> Answer:
    """Typed text from an account not linked yet, on a channel whose platform passes no payload
    with a first message: their personal code links them, the way ``/start <token>`` does (the
    same result, card, audit and slowdown); anything else is told how to link, or, while the
    account is slowed down, until when."""
    # A code misread from paper («ABCD-1234»: no code has 0 or 1) is a wrong code, told so.
    code = find_link_code(text.text) or code_shaped(text.text)
    invitations = turn.services.invitations
    if code is None:
        slowed = await invitations.slowdown(turn.account)
        if slowed is None:
            return how_to_link_by_code(turn)
        result = slowed  # asked for her code now, she would send it into silence
    else:
        result = await invitations.link_by_code(turn.account, code)
    if result.told:  # slowed down and told so a moment ago: no answer to a flood
        return SILENCE
    return await answer_link(turn, result, by_code=True)


async def typed_code(turn: Turn, text: Text) -> Answer | None:
    """A linked person's text that is a personal code (or holds one), answered as
    ``/start CODE`` is: her own, sent again by someone unsure the first one worked — already
    linked, and her card; another meeting's (the last conference's slip, typed where no link
    opens) — whose it is, and her invitation here. None for any other text (another person's
    code of this meeting is not read as one: a linked account is never linked again by what it
    types)."""
    code = find_link_code(text.text)
    if code is None:
        return None
    caller = await turn.caller()
    if caller.person is None:
        return None
    invitations = turn.services.invitations
    if await invitations.desk_code(caller.person.id) == format_link_code(code):
        result = await invitations.link_by_code(turn.account, code)
    elif (other := await invitations.other_meeting_code(code)) is not None:
        result = LinkResult(LinkOutcome.OTHER_MEETING, other=other)
    else:
        return None
    if result.told:
        return SILENCE
    return await answer_link(turn, result, by_code=True)


def how_to_link_by_code(turn: Turn) -> Answer:
    """How to link where no link can: send the personal code, and where to find it."""
    return turn.say(
        "start.welcome_code",
        office=turn.config.office.name,
        title=turn.config.meeting.title,
        contact=turn.config.office.contact,
    )


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


async def answer_link(turn: Turn, result: LinkResult, *, by_code: bool = False) -> Answer:
    """What a link attempt says: the card when linked, else why not (a wrong or slowed-down
    personal code in words of its own: the person typed a code, not a link)."""
    if result.outcome in (LinkOutcome.LINKED, LinkOutcome.ALREADY_LINKED):
        # What follows (a speaker's page link, a staff member's role) is the linked person's.
        turn.relinked()
        intro = "start.linked" if result.outcome is LinkOutcome.LINKED else "start.already_linked"
        return await _show_card(turn, result, intro_key=intro)
    if result.outcome is LinkOutcome.OTHER_MEETING:
        return await _other_meeting(turn, result, by_code=by_code)
    key = f"start.{result.outcome.value}"
    if by_code and result.outcome in _CODE_WORDS:
        key = _CODE_WORDS[result.outcome]
    params: dict[str, object] = {"contact": turn.config.office.contact}
    if result.until is not None:  # slowed down after too many wrong links
        params["time"] = _try_again_at(turn, result.until)
    if result.outcome is LinkOutcome.ACCOUNT_TAKEN and result.delegate is not None:
        params["name"] = result.delegate.full_name
    return turn.say(key, **params)


async def _other_meeting(turn: Turn, result: LinkResult, *, by_code: bool) -> Answer:
    """Another meeting's link or code (the last conference's): whose it is; then, for an
    account linked here, her invitation to this meeting as ``/start`` alone shows it, else what
    this bot serves (and, her phone on this meeting's list, that her invitation here comes
    apart). Nothing of the other meeting's person is said."""
    other = result.other
    assert other is not None
    whose = turn.html(
        "start.other_ended" if other.ended else "start.other_elsewhere",
        what=turn.catalog.plain("start.other_what_code" if by_code else "start.other_what_link"),
        meeting=other.title,
        date=long_date(turn.catalog, turn.config.meeting.local(other.starts_at)),
    )
    mine = await turn.services.invitations.whoami(turn.account)
    if mine is not None and mine.delegate is not None and mine.delegate.is_contact:
        return Answer.say(whose).then(await _show_card(turn, mine))
    if mine is not None:
        linked = turn.html("start.other_linked", title=turn.config.meeting.title)
        return await _show_card(turn, mine, intro=Html(f"{whose}\n\n{linked}"))
    here = turn.html(
        "start.other_invited" if other.invited_here else "start.other_here",
        title=turn.config.meeting.title,
        contact=turn.config.office.contact,
    )
    return Answer.say(Html(f"{whose}\n\n{here}"))


def _try_again_at(turn: Turn, until: datetime) -> str:
    """When a slowed-down account may try again, in the meeting's time as a receipt says it
    (``14:05, 28/4``): rounded up to the minute, so that a try at the minute shown counts."""
    local = turn.config.meeting.local(until)
    minute = local.replace(second=0, microsecond=0)
    return short_moment(turn.catalog, minute if minute == local else minute + timedelta(minutes=1))


_CODE_WORDS = {
    LinkOutcome.UNKNOWN_TOKEN: "start.unknown_code",
    LinkOutcome.SLOWED_DOWN: "start.slowed_down_code",
}


async def status(turn: Turn) -> Answer:
    """``/trangthai``: the invitation card with the current answer and, while open, the choices."""
    mine = await turn.services.invitations.whoami(turn.account)
    if mine is None:
        return turn.not_linked()
    return await card(turn, mine)


async def _show_card(
    turn: Turn, result: LinkResult, *, intro_key: str = "start.already_linked", intro: str = ""
) -> Answer:
    # A speaker learns their theme and deadline; the invitation (and its choices) comes last,
    # where the screen ends. Where choices are numbers typed, the speech card before it offers
    # none: its «1 – ✍️ Soạn tham luận» read first would mean another thing than the «1» the
    # bot takes, the invitation's (/thamluan offers it after).
    assert result.delegate is not None
    if result.delegate.is_contact:
        return await _contact_linked(turn, result, again=intro_key == "start.already_linked")
    said = Answer.of(Outbound((TextPart(intro or turn.html(intro_key), ask_phone=False),)))
    invitation = await card(turn, result)
    menu = turn.channel.capabilities.buttons or not any(
        reply.outbound.buttons for reply in invitation.replies
    )
    return said.then(await drafts.mine(turn, quiet=True, menu=menu)).then(invitation)


async def _contact_linked(turn: Turn, result: LinkResult, *, again: bool) -> Answer:
    """A task contact or office staff member linked (or already): she has no invitation, so
    she is told who she is linked as (staff: with her office commands), then her own tasks with
    their choices; never the office's whole board, whose «close» choices would be the newest
    menu where choices are numbers typed."""
    assert result.delegate is not None
    office = (await turn.caller()).is_office
    key = f"start.{'already_linked' if again else 'linked'}_{'office' if office else 'contact'}"
    intro = turn.say(key, name=result.delegate.full_name)
    mine = await tasks.own(turn)
    if mine is None and not office:
        mine = turn.say("task_board.none_for_you", contact=turn.config.office.contact)
    return intro.then(await drafts.mine(turn, quiet=True)).then(mine or Answer())


async def card(turn: Turn, result: LinkResult) -> Answer:
    """The invitation card (a task contact's tasks instead: they have no invitation)."""
    assert result.delegate is not None and result.rsvp is not None
    if result.delegate.is_contact:
        return await tasks.contact_status(turn)
    if result.delegate.withdrawn:
        return Answer.say(withdrawn_notice(turn.catalog, turn.config))
    is_open = turn.services.rsvp.is_open()
    # Never answered or declined, the answers closed, the meeting not over: she may still come
    # (the desk lets her in), and is told what to show there.
    now = turn.services.ctx.clock.now()
    may_come = may_still_come(turn.config, result.rsvp, is_open=is_open, now=now)
    code = None
    if may_come:
        desk = await turn.services.invitations.desk_pass(result.delegate.id)
        # Checked in (a decliner who came after all): in the hall, not asked to come.
        may_come, code = desk.checked_in is None, desk.code
    text = invitation_card(
        turn.catalog, turn.config, result.delegate, result.rsvp, is_open=is_open,
        may_still_come=may_come, desk_code=code,
    )  # fmt: skip
    choices = rsvp_buttons(turn.catalog, turn.config, meeting=turn.services.ctx.meeting_id)
    return Answer.say(text, choices if is_open else ())
