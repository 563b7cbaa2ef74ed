"""The drafts as their callers know them: one service, ``services.drafts``, whose entry points
belong to the use case modules of this package."""

from __future__ import annotations

from datetime import datetime

from bot.domain.channels import ChatAccount
from bot.domain.typed import typed
from bot.services.context import ServiceContext
from bot.services.drafts.assignments import Assignments
from bot.services.drafts.composing import Composing
from bot.services.drafts.lines import DraftLines
from bot.services.drafts.shared import Pending
from bot.services.drafts.thread import Thread
from bot.services.drafts.uploads import Uploads
from bot.services.drafts.values import DraftResult, DraftStep
from bot.services.drafts.verdicts import Verdicts
from storage import queries
from storage.files import FileStore
from storage.uow import unit_of_work


class DraftService:
    """Assignments, uploads, typed drafts, the office thread and the verdict, under one name.

    Each entry point is the use case's own method (one unit of work, as documented there);
    only :meth:`take_text`, which decides which use case a private text belongs to, is here.
    """

    def __init__(self, ctx: ServiceContext, files: FileStore) -> None:
        self._ctx = ctx
        self.files = files
        self._lines = lines = DraftLines(ctx, files)
        assignments = Assignments(ctx)
        uploads = Uploads(ctx, files, lines)
        composing = Composing(ctx, uploads)
        conversation = Thread(ctx)
        verdicts = Verdicts(ctx)
        # What people and the outbox read (lines.py).
        self.mine = lines.mine
        self.board = lines.board
        self.missing = lines.missing
        self.missing_of_all = lines.missing_of_all
        self.line = lines.line
        self.version_file = lines.version_file
        self.versions = lines.versions
        self.export = lines.export
        self.approved = lines.approved
        # Who speaks on which theme (assignments.py).
        self.sync = assignments.sync
        self.sync_in = assignments.sync_in
        self.assign = assignments.assign
        self.unassign = assignments.unassign
        self.own_deadlines = assignments.own_deadlines
        self.plan_reminders = assignments.plan_reminders
        # Files from speakers (uploads.py).
        self.check_upload = uploads.check_upload
        self.targets = uploads.targets
        self.hold = uploads.hold
        self.take_held = uploads.take_held
        self.store_file = uploads.store_file
        self.store = uploads.store
        # Drafts typed in pieces (composing.py).
        self.compose = composing.compose
        self.add_text = composing.add_text
        self.finish_text = composing.finish_text
        self.store_typed = composing.store_typed
        self.cancel = composing.cancel
        # The thread between the office and the speaker (thread.py).
        self.office_post = conversation.office_post
        self.comment_from_office = conversation.comment_from_office
        self.begin_comment = conversation.begin_comment
        self.pending_comment = conversation.pending_comment
        self.end_comment = conversation.end_comment
        self.begin_reply = conversation.begin_reply
        self.reply_from_speaker = conversation.reply_from_speaker
        self.comment = conversation.comment
        self.thread = conversation.thread
        # The office's verdict (verdicts.py).
        self.set_verdict = verdicts.set_verdict

    @property
    def deadline_at(self) -> datetime:
        """When drafts are due unless their theme says otherwise ([drafts] deadline)."""
        return self._lines.deadline_at

    async def take_text(
        self, account: ChatAccount, text: str, *, event_id: str | None, replied_to: str | None
    ) -> DraftResult:
        """Private text, if it belongs to the drafts: a reply to the office's message first
        (the speaker chose it explicitly), then a piece of a draft being typed, an answer after
        "Trả lời Văn phòng", or a reminder to pick a theme. NOTHING_PENDING otherwise."""
        text = typed(text)
        if replied_to is not None:
            result = await self.reply_from_speaker(
                account, text, event_id=event_id, replied_to=replied_to, after_button=False
            )
            if result.step is not DraftStep.NOTHING_PENDING:
                return result
        async with unit_of_work(self._ctx.sessions) as session:
            ident = await queries.identity(
                session, self._ctx.meeting_id, account.channel, account.external_id
            )
            pending = ident.pending_input if ident is not None else None
        if pending == Pending.TEXT:
            return await self.add_text(account, text, event_id=event_id)
        if pending == Pending.REPLY:
            return await self.reply_from_speaker(account, text, event_id=event_id, replied_to=None)
        if pending == Pending.PICK:
            return DraftResult(DraftStep.PICK_PENDING)
        return DraftResult(DraftStep.NOTHING_PENDING)
