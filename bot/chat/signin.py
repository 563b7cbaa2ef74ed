"""``/dangnhap``: a one-time link to the office's dashboard (or, for the check-in role, the
reception desk's pages), in the staff member's own chat."""

from __future__ import annotations

from bot.chat.turn import Turn
from bot.domain.outbound import Answer
from bot.services.access import Role
from bot.services.signin import LINK_LIFETIME, LinkStep


async def sign_in(turn: Turn) -> Answer:
    """A link that opens the dashboard once, within minutes, for office or check-in staff;
    never shown in a group, where staff are told to ask in private. Anyone else is refused as
    for an office command."""
    caller = await turn.caller()
    if not (caller.is_office or Role.CHECKIN in caller.roles):
        return turn.refused()
    if turn.in_group:
        return turn.say("signin.private_only")
    web = turn.config.web
    if web is None:
        return turn.say("signin.no_web")
    result = await turn.services.signin.link_for_account(turn.account)
    if result.step is LinkStep.NOT_A_PERSON:
        return turn.say("signin.not_a_person")
    if result.step is not LinkStep.ISSUED or result.secret is None:
        return turn.refused()
    return turn.say(
        "signin.link",
        link=web.office_url(f"signin/{result.secret}"),
        minutes=int(LINK_LIFETIME.total_seconds() // 60),
    )
