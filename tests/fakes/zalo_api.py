"""The simulated Zalo Bot API the tests use lives in the product (``rehearsal/``), as the
Telegram one does."""

from rehearsal.zalo_api import (
    TEXT_LIMIT,
    WEBHOOK_HEADER,
    FakeZaloApi,
    FakeZaloUser,
    ZaloCall,
    ZaloSpecViolation,
)

__all__ = [
    "TEXT_LIMIT",
    "WEBHOOK_HEADER",
    "FakeZaloApi",
    "FakeZaloUser",
    "ZaloCall",
    "ZaloSpecViolation",
]
