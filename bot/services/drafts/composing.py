"""Typed drafts: a speaker types a draft over several messages, then "Xong" stores the pieces
as one version (or "Hủy" drops them)."""

from __future__ import annotations

from bot.domain.channels import ChatAccount
from bot.domain.drafts import MAX_TEXT_DRAFT
from bot.services.context import ServiceContext
from bot.services.drafts.lines import TEXT_SUFFIX
from bot.services.drafts.shared import DraftUseCase, Pending, pending_id
from bot.services.drafts.uploads import Uploads
from bot.services.drafts.values import DraftResult, DraftStep
from storage import queries
from storage.models import SpeechAssignment
from storage.uow import unit_of_work


class Composing(DraftUseCase):
    """A draft typed in pieces, kept on its assignment until it is finished or cancelled."""

    def __init__(self, ctx: ServiceContext, uploads: Uploads) -> None:
        super().__init__(ctx)
        self._uploads = uploads

    async def compose(self, account: ChatAccount, assignment_id: int) -> DraftResult:
        """Start (or resume) typing a draft: every text until "Xong" belongs to it."""
        return await self._ask(account, assignment_id, Pending.TEXT, DraftStep.COMPOSING)

    async def add_text(
        self, account: ChatAccount, text: str, *, event_id: str | None
    ) -> DraftResult:
        """A piece of a typed draft; NOTHING_PENDING when the account is not typing one."""
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            if ident is None or ident.pending_input != Pending.TEXT:
                return DraftResult(DraftStep.NOTHING_PENDING)
            if not queries.first_time(ident, event_id):
                return DraftResult(DraftStep.REPEATED)
            found = await self._own(session, account, pending_id(ident))
            if isinstance(found, DraftResult):
                ident.pending_input = ident.pending_data = None
                return found
            _, row = found
            chunk = text.strip()
            if not chunk:
                return DraftResult(DraftStep.EMPTY)
            chunks = list(row.text_buffer or [])
            total = sum(len(c) for c in chunks) + len(chunk)
            if total > MAX_TEXT_DRAFT:
                return DraftResult(
                    DraftStep.TOO_LONG,
                    draft=await self._line(session, row.id),
                    chunks=len(chunks),
                    chars=total - len(chunk),
                )
            row.text_buffer = [*chunks, chunk]  # a new list, so the JSON column is saved
            return DraftResult(
                DraftStep.CHUNK_ADDED,
                draft=await self._line(session, row.id),
                chunks=len(chunks) + 1,
                chars=total,
            )

    async def finish_text(self, account: ChatAccount, assignment_id: int) -> DraftResult:
        """ "Xong": the typed pieces become one version, stored as a UTF-8 text file."""
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                return found
            ident, row = found
            chunks = list(row.text_buffer or [])
            if ident.pending_input == Pending.TEXT:
                ident.pending_input = ident.pending_data = None
            theme_key = row.theme_key
        if not chunks:
            return DraftResult(DraftStep.EMPTY)
        result = await self._store_text(account, assignment_id, theme_key, "\n\n".join(chunks))
        if result.step in (DraftStep.RECEIVED, DraftStep.DUPLICATE):
            async with unit_of_work(self._ctx.sessions) as session:
                stored = await session.get(SpeechAssignment, assignment_id)
                if stored is not None:
                    stored.text_buffer = None
        return result

    async def store_typed(self, account: ChatAccount, assignment_id: int, text: str) -> DraftResult:
        """A draft typed whole (the personal page's text box): one version, stored as the
        pieces "Xong" joins are, under the same limit."""
        text = text.replace("\r\n", "\n").strip()
        if not text:
            return DraftResult(DraftStep.EMPTY)
        if len(text) > MAX_TEXT_DRAFT:
            return DraftResult(DraftStep.TOO_LONG, chars=len(text))
        async with self._ctx.sessions() as session:
            row = await session.get(SpeechAssignment, assignment_id)
            theme_key = row.theme_key if row is not None else str(assignment_id)
        return await self._store_text(account, assignment_id, theme_key, text)

    async def _store_text(
        self, account: ChatAccount, assignment_id: int, theme_key: str, text: str
    ) -> DraftResult:
        """``text`` as a version: a UTF-8 text file named after its theme."""
        return await self._uploads.store(
            account,
            assignment_id,
            name=f"tham-luan-{theme_key}{TEXT_SUFFIX}",
            content=text.encode("utf-8-sig"),  # the BOM tells Word it is UTF-8
            file_ref=None,
            kind="text",
        )

    async def cancel(
        self, account: ChatAccount, assignment_id: int, *, typing: bool
    ) -> DraftResult:
        """Stop typing a draft (``typing``: its pieces are dropped) or stop answering the
        office (a draft being typed is kept)."""
        wanted = Pending.TEXT if typing else Pending.REPLY
        async with unit_of_work(self._ctx.sessions) as session:
            found = await self._own(session, account, assignment_id)
            if isinstance(found, DraftResult):
                return found
            ident, row = found
            dropped = typing and bool(row.text_buffer)
            if typing:
                row.text_buffer = None
            waiting = ident.pending_input == wanted and pending_id(ident) == row.id
            if waiting:
                ident.pending_input = ident.pending_data = None
            if not waiting and not dropped:
                return DraftResult(DraftStep.NOTHING_PENDING)
            return DraftResult(DraftStep.CANCELLED, draft=await self._line(session, row.id))
