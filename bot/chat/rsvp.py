"""Answering the invitation: the three choices and the typed answers that follow them."""

from __future__ import annotations

from bot.chat import linking, replies
from bot.chat.general import welcome_closing
from bot.chat.turn import Turn
from bot.domain.inbound import Action, Text
from bot.domain.outbound import Answer, Button
from bot.domain.rsvp import parse_day_action, parse_rsvp_action, rsvp_action_meeting
from bot.services.rsvp import RsvpResult, RsvpStep
from bot.texts import Html
from bot.texts.presenters import (
    add_day_buttons,
    ask_days,
    cancel_buttons,
    day_buttons,
    deadline_text,
    decline_buttons,
    phone_buttons,
    reason_menu,
    rsvp_buttons,
    same_unit_words,
    unit_buttons,
    withdrawn_notice,
)


async def on_action(turn: Turn, action: Action) -> Answer:
    """Tham dự / Không tham dự / Cử người dự thay (or their follow-ups)."""
    choice = parse_day_action(action.data) or parse_rsvp_action(action.data)
    if choice is None:
        return Answer(toast=turn.toast("hint.stale_button", alert=True))
    meeting = rsvp_action_meeting(action.data)
    if meeting is not None and meeting != turn.services.ctx.meeting_id:
        # A button of an earlier meeting's invitation (her account came with her to this
        # one): it answers nothing here; she is shown this meeting's invitation instead.
        other = turn.say("rsvp.other_meeting", title=turn.config.meeting.title)
        return other.then(await linking.status(turn))
    result = await turn.services.rsvp.choose(turn.account, choice)
    if result.step is RsvpStep.NOTHING_PENDING:  # «Cùng đơn vị» or «Bỏ qua» of an old question
        return Answer(toast=turn.toast("hint.stale_button", alert=True))
    if result.step is RsvpStep.UNCHANGED:
        # A second tap or a redelivered update: nothing changed, and a toast says so.
        return Answer(toast=turn.toast("rsvp.unchanged"))
    toast = turn.toast("rsvp.toast_recorded") if result.step is RsvpStep.RECORDED else None
    return Answer((await _reply(turn, result)).privately().replies, toast)


async def on_text(turn: Turn, text: Text) -> Answer | None:
    """A typed reason, substitute name, position, unit or phone; None when nothing of the RSVP
    waits."""
    result = await turn.services.rsvp.submit_text(
        turn.account, text.text, event_id=text.event_id, same_unit=same_unit_words(turn.catalog)
    )
    if result.step is RsvpStep.DUPLICATE:
        return Answer()  # a redelivered message: it was answered the first time
    if result.step in (RsvpStep.NOTHING_PENDING, RsvpStep.NOT_LINKED):
        return None
    return (await _reply(turn, result)).privately()


async def _reply(turn: Turn, result: RsvpResult) -> Answer:
    """:func:`reply`, but past the deadline one who declined or never answered and chooses
    again (a decliner who can come after all, most likely) is told she may still come, with
    her code for the desk, rather than only that her answer stands."""
    if result.step is RsvpStep.CLOSED and result.rsvp is not None:
        person = (await turn.caller()).person
        welcome = None if person is None else await welcome_closing(turn, person.id, result.rsvp)
        if welcome is not None:
            return Answer.say(welcome)
    return reply(turn, result)


def reply(turn: Turn, result: RsvpResult) -> Answer:
    """What the bot says after an RSVP step."""
    catalog, config = turn.catalog, turn.config
    meeting = turn.services.ctx.meeting_id
    step = result.step
    if step in (RsvpStep.RECORDED, RsvpStep.CONFIRMED):
        assert result.rsvp is not None
        recorded = replies.recorded(
            catalog, config, result.rsvp, result.previous, own_unit=result.own_unit
        )
        more = add_day_buttons(catalog, config, result.rsvp.days, meeting, result.rsvp.mark())
        if more:  # «Dự thêm ngày 19/12»: a meeting of three days or more
            recorded = Html(f"{recorded}\n{catalog.html('rsvp.add_days')}")
        return Answer.say(recorded, (*_to_change(turn), *more))
    if step is RsvpStep.ASK_DAYS:
        shown = result.rsvp.mark() if result.rsvp is not None else None
        return Answer.say(ask_days(catalog, config), day_buttons(catalog, config, meeting, shown))
    if step is RsvpStep.OUTDATED:
        # A day's button of a message older than her last answer: that answer stands, said
        # with the way to change it (the invitation's choices; on Zalo, under this message).
        assert result.rsvp is not None
        answer = replies.answer(catalog, result.rsvp, own_unit=result.own_unit)
        return turn.say("rsvp.outdated", _to_change(turn), answer=answer)
    if step is RsvpStep.UNCHANGED:
        return turn.say("rsvp.unchanged")
    if step is RsvpStep.NOTHING_TO_CANCEL:
        return turn.say("rsvp.nothing_to_cancel")
    if step is RsvpStep.ASK_REASON:
        if turn.channel.capabilities.buttons:
            return Answer.say(
                replies.ask_reason(catalog, result.previous), decline_buttons(catalog, meeting)
            )
        # Numbers typed: the invitation's 1 and 3 keep their meaning under the question.
        asked = replies.ask_reason(catalog, result.previous, typed=True)
        return Answer.say(asked, reason_menu(catalog, config, meeting=meeting))
    if step is RsvpStep.ASK_SUBSTITUTE_NAME:
        return turn.say("rsvp.ask_substitute_name", cancel_buttons(catalog, meeting))
    if step is RsvpStep.ASK_SUBSTITUTE_POSITION:
        return turn.say(
            "rsvp.ask_substitute_position", cancel_buttons(catalog, meeting),
            name=result.substitute_name or "",
        )  # fmt: skip
    if step is RsvpStep.ASK_SUBSTITUTE_UNIT:
        return turn.say(
            "rsvp.ask_substitute_unit", unit_buttons(catalog, result.own_unit, meeting),
            name=result.substitute_name or "",
        )  # fmt: skip
    if step is RsvpStep.ASK_SUBSTITUTE_PHONE:
        return turn.say(
            "rsvp.ask_substitute_phone",
            phone_buttons(catalog, meeting),
            name=result.substitute_name or "",
        )
    if step is RsvpStep.SUBSTITUTE_IS_DELEGATE:
        # The question ended: the three choices under it, «Tham dự» the one she likely meant.
        return turn.say(
            "rsvp.substitute_is_delegate", rsvp_buttons(catalog, config, meeting=meeting)
        )
    if step is RsvpStep.SUBSTITUTE_IS_INVITED:
        # The question ended: the three choices under it, «Không tham dự» if she cannot come.
        return turn.say(
            "rsvp.substitute_is_invited", rsvp_buttons(catalog, config, meeting=meeting),
            name=result.substitute_name or "", code=result.invitee_code or "",
        )  # fmt: skip
    if step is RsvpStep.NOT_A_NAME:  # still asked: only «Hủy» under it
        return turn.say(
            "rsvp.not_a_name", cancel_buttons(catalog, meeting), typed=result.typed or ""
        )
    if step is RsvpStep.NOT_A_PHONE:
        return turn.say(
            "rsvp.not_a_phone", phone_buttons(catalog, meeting), typed=result.typed or ""
        )
    if step is RsvpStep.CANCELLED:
        assert result.rsvp is not None
        answer = replies.answer(catalog, result.rsvp, own_unit=result.own_unit)
        return turn.say("rsvp.cancelled", _to_change(turn), answer=answer)
    if step is RsvpStep.CLOSED:
        assert result.rsvp is not None
        return turn.say(
            "rsvp.closed",
            deadline=deadline_text(catalog, config),
            answer=replies.answer(catalog, result.rsvp, own_unit=result.own_unit),
            contact=config.office.contact,
        )
    if step is RsvpStep.WITHDRAWN:
        return Answer.say(withdrawn_notice(catalog, config))
    if step is RsvpStep.TOO_LONG:
        return turn.say(
            "rsvp.too_long",
            cancel_buttons(catalog, meeting),
            limit=catalog.number(result.limit or 0),
        )
    if step is RsvpStep.EMPTY:
        return turn.say("rsvp.empty", cancel_buttons(catalog, meeting))
    # NOT_LINKED from a choice: the account was unlinked since the card was sent
    return turn.not_linked()


def _to_change(turn: Turn) -> tuple[tuple[Button, ...], ...]:
    """Where choices are numbers typed (Zalo), the invitation's three again under the answer:
    the numbers a person scrolls up to are the newest menu once more, not a finished prompt's
    «Hủy». Buttons stay on the invitation's card, so a channel with them needs none here."""
    if turn.channel.capabilities.buttons:
        return ()
    return rsvp_buttons(turn.catalog, turn.config, meeting=turn.services.ctx.meeting_id)
