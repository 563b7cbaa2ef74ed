"""The simulated Bot API the tests use lives in the product (``hoinghi rehearse`` runs on it)."""

from rehearsal.telegram import deliver
from rehearsal.telegram_api import (
    OVERALL_LIMIT,
    OVERALL_WINDOW,
    FakeBotApi,
    FakeGroup,
    FakeUser,
    SpecViolation,
    UploadedFile,
)

__all__ = [
    "OVERALL_LIMIT",
    "OVERALL_WINDOW",
    "FakeBotApi",
    "FakeGroup",
    "FakeUser",
    "SpecViolation",
    "UploadedFile",
    "deliver",
]
