"""The outbox's Zalo channel: prepared plain texts sent with sendMessage, and Zalo's answers
mapped to what the outbox does next, as :class:`handlers.telegram.channel.TelegramSender` does
for Telegram's.

Zalo does not document its error codes (see ``shared/reference/zalo-bot-api.md``), so the
mapping goes by what an answer says, cautiously: 429 (or a description of too many requests)
pauses the channel for ``retry_after``; 403, or a refusal that names a block, an unknown or
unfollowed user, means the person cannot be reached (blocked: never retried, on the office's
list to phone); a 5xx or 408 Zalo answered, or a connection that never opened, is tried again by
the outbox's durable rules; a request that went out and got no answer (a timeout, a dropped
connection, a proxy's error page that is not Zalo's JSON) may have been delivered: the outbox
tries it once more at most (``maybe_sent``: Zalo has no idempotency key, so every try may be
a copy the person reads); a proxy's own 4xx page (an HTML 403 or 407) is the office's network
refusing the request, not the person: tried again, and reported as that; anything else is
this message refused (failed, not retried). Each send is tried once here: the outbox counts
the attempts.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.outbound import (
    PROXY_REFUSED,
    Outbound,
    Part,
    SendOutcome,
    SendResult,
    TextPart,
)
from bot.texts import Catalog
from handlers.zalo.client import ZaloApiError, ZaloClient, ZaloNetworkError
from handlers.zalo.events import CHANNEL
from handlers.zalo.render import CAPABILITIES, prepare

# Words in a refusal that mean the person cannot be reached at all (not a bug in the message).
_UNREACHABLE = ("block", "not found", "not follow", "unfollow", "not interact", "forbidden")
_FLOOD = ("too many", "rate limit")
DEFAULT_RETRY_AFTER = 5.0  # seconds, when a 429 does not say


class ZaloSender:
    """Sends outbox parts through the Zalo Bot API."""

    capabilities = CAPABILITIES

    def __init__(self, client: ZaloClient, catalog: Catalog, *, channel: str = CHANNEL) -> None:
        self.client = client
        self._catalog = catalog
        self.channel = channel  # the outbox paces and records each bot under its own

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        """Plain texts within 2,000 characters, cut at line ends; a menu rides on the last."""
        return prepare(outbound, self._catalog)

    async def send(self, address: str, part: Part) -> SendResult:
        """Send one prepared part and say how it went; Zalo's refusals become outcomes."""
        if not isinstance(part, TextPart):  # prepare() makes text parts only
            return SendResult(SendOutcome.FAILED, error="not a text part")
        try:
            sent = await self.client.send_message(address, part.html)
        except ZaloNetworkError as exc:
            outcome = SendOutcome.MAYBE_SENT if exc.maybe_sent else SendOutcome.TRANSIENT
            return SendResult(outcome, error=str(exc))
        except ZaloApiError as exc:
            return outcome_of(exc)
        message_id = sent.get("message_id")
        return SendResult(
            SendOutcome.SENT, platform_message_id=None if message_id is None else str(message_id)
        )


def outcome_of(error: ZaloApiError) -> SendResult:
    """What the outbox does with one of Zalo's refusals."""
    said = error.description.lower()
    code = error.code
    text = f"{code} {error.description}"[:200]
    if code == 429 or error.status == 429 or any(word in said for word in _FLOOD):
        wait = error.retry_after if error.retry_after is not None else DEFAULT_RETRY_AFTER
        return SendResult(SendOutcome.RATE_LIMITED, retry_after=wait, error=text)
    if not error.from_platform and 400 <= error.status < 500 and error.status != 408:
        # A proxy's or firewall's own page (an HTML 403/407): it refused the request, so
        # nothing went, and it says nothing of the person; tried again, the office told why.
        return SendResult(SendOutcome.TRANSIENT, error=PROXY_REFUSED)
    if code == 403 or error.status == 403 or any(word in said for word in _UNREACHABLE):
        return SendResult(SendOutcome.BLOCKED, error=text)
    if code >= 500 or error.status >= 500 or code == 408:
        # Zalo's own refusal was not sent; a proxy's page says nothing of what Zalo did.
        outcome = SendOutcome.TRANSIENT if error.from_platform else SendOutcome.MAYBE_SENT
        return SendResult(outcome, error=text)
    return SendResult(SendOutcome.FAILED, error=text)
