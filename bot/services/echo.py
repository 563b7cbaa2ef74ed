"""Telling a person in their chat what they just did on their personal page: the page shows
the confirmation, and a person linked on a chat channel reads the same words there, as if
they had answered in chat. The outbox decides which of their accounts gets it."""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.outbound import MessageKind
from bot.services import roster
from bot.services.context import ServiceContext
from bot.services.queueing import queue_to_person
from storage.uow import reading, unit_of_work


class Echo:
    """Queues a page's confirmations to the person's chat."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def to_chat(self, person_id: int, html: str) -> bool:
        """Queue ``html`` (catalog HTML) to the person's chat; False, and nothing queued, when
        no chat reaches them: the page was all they used, they blocked the bot, or their chat
        does not run here (no token: as the overview and the outbox count them)."""
        now = self._ctx.clock.now()
        chat = select(roster.reachable(self._ctx.chats.names, person_id))
        # Most people answer on their page alone: that they chat nowhere is only read, so
        # their answer does not queue a second time for the writer's lock.
        if not await reading(self._ctx.sessions, lambda connection: connection.scalar(chat)):
            return False
        async with unit_of_work(self._ctx.sessions) as session:
            if not await session.scalar(chat):  # unlinked in between
                return False
            queue_to_person(
                session,
                meeting_id=self._ctx.meeting_id,
                kind=MessageKind.ECHO,
                person_id=person_id,
                now=now,
                params={"html": html},
                report_to=None,  # the page showed it already: the office hears nothing of it
            )
            return True
