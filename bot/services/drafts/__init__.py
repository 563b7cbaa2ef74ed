"""Speech drafts (tham luận, section IV): who speaks on which theme, the versions they send,
the thread with the office, and the office's verdict.

One module per use case, each public method one unit of work: ``assignments`` (the plan's
speakers and the office's own), ``uploads`` (files checked, held for a theme, stored as
versions), ``composing`` (drafts typed in pieces), ``thread`` (the office's comments and the
speaker's answers), ``verdicts`` (final, or needs revision); ``lines`` reads what they all
show, ``shared`` holds the checks they begin with. Callers use :class:`DraftService`
(``services.drafts``) and the value types, all importable from here.
"""

from bot.services.drafts.service import DraftService
from bot.services.drafts.thread import source_of
from bot.services.drafts.values import (
    ApprovedDraft,
    AssignOutcome,
    AssignResult,
    DraftResult,
    DraftStep,
    DraftSync,
    ExportedDraft,
    HeldUpload,
    ThreadPost,
    VersionFile,
)

__all__ = [
    "ApprovedDraft",
    "AssignOutcome",
    "AssignResult",
    "DraftResult",
    "DraftService",
    "DraftStep",
    "DraftSync",
    "ExportedDraft",
    "HeldUpload",
    "ThreadPost",
    "VersionFile",
    "source_of",
]
