"""``/dangnhap``: a one-time link to the office's dashboard, in the staff member's own chat."""

from __future__ import annotations

from bot.chat.turn import Turn
from bot.domain.outbound import Answer
from bot.services.access import OfficeActor
from bot.services.signin import LINK_LIFETIME, LinkStep


async def sign_in(turn: Turn, _office: OfficeActor) -> Answer:
    """A link that opens the dashboard once, within minutes; never shown in a group."""
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
