"""The simulated Bot API the tests use lives in the product (``hoinghi rehearse`` runs on it)."""

from handlers.telegram.simulator import (
    OVERALL_LIMIT,
    OVERALL_WINDOW,
    FakeBotApi,
    FakeGroup,
    FakeUser,
    SpecViolation,
    UploadedFile,
    deliver,
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
